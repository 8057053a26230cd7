#!/usr/bin/env bash
# The scale simulation (issue 14, DESIGN.md §12): one machine standing in for a cluster. N supervisors (default
# 40) pull emitter sessions from 2 `agentctl serve` replicas on one PostgreSQL, reached through a round-robin TCP
# balancer (the Kubernetes Service stand-in); M sessions (default 4,000) are queued through the public API and,
# while they run: kill -9 a replica (and start it again), kill -9 five supervisors (fresh processes on the same
# state dirs), restart PostgreSQL, drain five supervisors. Prints one table; exits 1 when a must-be-0 row (lost
# otherwise, started twice, never finished, missing, duplicated, …) is not 0. What is measured, and how, is in
# scripts/scale/scale.py and scripts/scale/report.py.
#
#   scripts/scale.sh [--quick] [N] [M]      (or env SUPS / SESSIONS; EMIT_LINES, EMIT_PAUSE, MAX_SESSIONS, BACKLOG)
#
# Full: release build. --quick (CI): 10 supervisors, 400 short sessions, the debug binaries `cargo test
# --workspace` built. PostgreSQL: DATABASE_URL as the admin URL when set (a database of its own is created and
# dropped), else a throwaway cluster of scripts/pg.sh. The restart fault needs a cluster of scripts/pg.sh
# (AGENTCTL_PG_DIR): with an external DATABASE_URL it is skipped, loudly. Run as root (agents run as `nobody`).
# KEEP_LOGS=1 keeps the run's directory (process logs, state dirs) after a passing run.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=
if [[ "${1:-}" == "--quick" ]]; then
    quick=1
    shift
fi
if [[ -n "$quick" ]]; then
    export SUPS=${1:-${SUPS:-10}} SESSIONS=${2:-${SESSIONS:-400}}
    export EMIT_LINES=${EMIT_LINES:-10} EMIT_PAUSE=${EMIT_PAUSE:-0.05} RESTART_AFTER=${RESTART_AFTER:-3}
    export DEADLINE=${DEADLINE:-300}
    bin=target/debug
    for b in agentctl agent-supervisor examples/balancer; do
        if [[ ! -x "$bin/$b" ]]; then
            echo "scale.sh --quick: $bin/$b is missing (cargo test --workspace builds it)" >&2
            exit 2
        fi
    done
else
    export SUPS=${1:-${SUPS:-40}} SESSIONS=${2:-${SESSIONS:-4000}}
    bin=target/release
    echo "==> release build (agentctl, agent-supervisor, balancer)" >&2
    cargo build --release -q --locked -p control-plane -p agent-supervisor --bin agentctl --bin agent-supervisor \
        --example balancer
fi
if (( SUPS < 10 )); then
    echo "scale.sh: at least 10 supervisors (five are killed, five others drained)" >&2
    exit 2
fi

# shellcheck source=lib/throwaway-db.sh
source scripts/lib/throwaway-db.sh
throwaway_db agentctl_scale
if [[ -z "${AGENTCTL_PG_DIR:-}" ]]; then
    echo "scale.sh: WARNING: DATABASE_URL is external (no AGENTCTL_PG_DIR): the PostgreSQL restart is SKIPPED" >&2
fi
python3 scripts/scale/scale.py "$bin/agentctl" "$bin/agent-supervisor" "$bin/examples/balancer" \
    "$DB_URL"
