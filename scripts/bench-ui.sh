#!/usr/bin/env bash
# The web UI benchmark (issue 13, DESIGN.md §11): the session page of a 100,000-event session (goals: first
# byte <= 100 ms, <= 200 KB of HTML) and the sessions list over 100,000 sessions (<= 100 ms), beside GET /health
# of the same server in the same run, on the embedded SQLite default and on PostgreSQL (DATABASE_URL as the
# admin URL when set, otherwise a throwaway cluster of scripts/pg.sh). What is measured: scripts/bench/ui.py.
# SESSIONS, EVENTS and ROUNDS change the sizes.
#
#   scripts/bench.sh ui        (or scripts/bench-ui.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> release build (agentctl)" >&2
cargo build --release -q --locked -p control-plane --bin agentctl

# shellcheck source=lib/throwaway-db.sh
source scripts/lib/throwaway-db.sh
throwaway_db agentctl_ui
python3 scripts/bench/ui.py target/release/agentctl "$DB_URL"
