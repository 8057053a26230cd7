#!/usr/bin/env bash
# The dispatch benchmark (issue 11, DESIGN.md §9): queue-to-claim latency with 10 idle supervisors
# long-polling 2 `agentctl serve` replicas (goal p99 <= 50 ms), and 1,000 queued emitter sessions drained by
# pull against the same supervisors driven by direct POST /execute in the same run (goal ratio >= 0.90).
# What is measured, and how, is in scripts/bench/dispatch.py. Release build, PostgreSQL (DATABASE_URL as the
# admin URL when set, otherwise a throwaway cluster of scripts/pg.sh); as root (agents run as `nobody`).
# SUPS, MAX_SESSIONS, SESSIONS, SAMPLES and EMIT_LINES change the sizes.
#
#   scripts/bench.sh dispatch        (or scripts/bench-dispatch.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> release build (agentctl, agent-supervisor)" >&2
cargo build --release -q --locked -p control-plane -p agent-supervisor --bin agentctl --bin agent-supervisor

# shellcheck source=lib/throwaway-db.sh
source scripts/lib/throwaway-db.sh
throwaway_db agentctl_dispatch
python3 scripts/bench/dispatch.py target/release/agentctl target/release/agent-supervisor "$DB_URL"
