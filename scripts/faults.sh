#!/usr/bin/env bash
# The delivery fault suite (issue 4): every case of supervisor/tests/it/faults/, with an oracle, and a
# table of results at the end.
#
#   scripts/faults.sh           the quick variants (what CI runs as part of `cargo test`)
#   scripts/faults.sh --full    FAULTS_FULL=1: the long variants, and the 1 GiB backlog
#
# The PostgreSQL cases need a server: a throwaway cluster (scripts/pg.sh) is started unless DATABASE_URL
# is set (or AGENTCTL_SKIP_POSTGRES=1). Root is required (tmpfs mounts, agents run as user nobody).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
--full) export FAULTS_FULL=1 ;;
"") ;;
*)
    echo "usage: scripts/faults.sh [--full]" >&2
    exit 2
    ;;
esac

if [[ -z "${DATABASE_URL:-}" && "${AGENTCTL_SKIP_POSTGRES:-}" != 1 ]]; then
    eval "$(scripts/pg.sh start)"
    trap 'scripts/pg.sh stop >/dev/null 2>&1 || true' EXIT
fi

log=$(mktemp /tmp/faults.XXXXXX.log)
status=0
cargo test -p agent-supervisor --test it faults -- --nocapture --test-threads=1 2>&1 | tee "$log" || status=$?

printf '\n==> results (%s)\n' "$log"
grep -m1 '^FAULTS|case' "$log" | sed 's/^FAULTS//' || true
# One row per case, in case order (the tests run in module order).
grep '^FAULTS|' "$log" | grep -v '^FAULTS|case' | sed 's/^FAULTS//' | sort -t'|' -k2,2n || true
grep -E '^test faults::.*(FAILED|ok)$|^FAULTS_|^test result' "$log" || true
exit "$status"
