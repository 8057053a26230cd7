#!/usr/bin/env bash
# The trigger intake benchmark (issue 12, DESIGN.md §10): signed webhooks at RATE/s (default 200) beside the
# same server's GET /health at the same rate, on the embedded SQLite default and on PostgreSQL (DATABASE_URL
# as the admin URL when set, otherwise a throwaway cluster of scripts/pg.sh). Goal: webhook p99 <= 20 ms; the
# figure is the ratio to /health measured in the same run. What is measured, and how: scripts/bench/hooks.py.
# RATE, DURATION (seconds, default 15) and WORKERS (connections per stream) change the sizes.
#
#   scripts/bench.sh hooks        (or scripts/bench-hooks.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> release build (agentctl)" >&2
cargo build --release -q --locked -p control-plane --bin agentctl

cleanup() {
    if [[ -n "${db:-}" ]]; then psql -q "$DATABASE_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; fi
    if [[ -n "${STARTED_PG:-}" ]]; then scripts/pg.sh stop; fi
}
trap cleanup EXIT
if [[ -z "${DATABASE_URL:-}" ]]; then
    eval "$(scripts/pg.sh start)"
    STARTED_PG=1
fi
db="agentctl_hooks_$$"
psql -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
python3 scripts/bench/hooks.py target/release/agentctl "${DATABASE_URL%/*}/$db"
