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

# shellcheck source=lib/throwaway-db.sh
source scripts/lib/throwaway-db.sh
throwaway_db agentctl_hooks
python3 scripts/bench/hooks.py target/release/agentctl "$DB_URL"
