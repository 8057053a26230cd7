#!/usr/bin/env bash
# Benchmarks of the control plane (numbers go in the closing note of a change that touches ingest or follow):
#   1. ingest through the HTTP API into PostgreSQL with 1, 8 and 64 concurrent senders, against a raw COPY of
#      the same rows into the same table in the same run (target: >= 0.75x the COPY rate);
#   2. follow latency, event answered 200 by replica B -> seen by an SSE follower on replica A, at 5,000
#      events/s (target: p99 <= 250 ms);
#   3. idle RSS of `agentctl serve` on SQLite (target: <= 20 MiB);
#   4. with a cluster of scripts/pg.sh: PostgreSQL restarted under ingest, the control plane recovers by itself.
# Uses $DATABASE_URL (admin URL) when set, otherwise starts a throwaway cluster with scripts/pg.sh.
# EVENTS (default 100000) sets the events per ingest run, BATCH (default 1800) the events per request: a
# supervisor with a backlog sends full batches (closed at 1 MiB or 2,000 events; 1,800 of these ~540-byte
# events are 947 KiB), two requests in flight. The COPY runs before and after each HTTP run; the ratio uses
# their mean.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p control-plane --bin agentctl --example bench
BIN=target/release/agentctl
BENCH=target/release/examples/bench
EVENTS=${EVENTS:-100000}
BATCH=${BATCH:-1800}

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -n "${STARTED_PG:-}" ]]; then scripts/pg.sh stop; fi
    rm -rf "${TMP:-}"
}
trap cleanup EXIT
TMP=$(mktemp -d)

if [[ -z "${DATABASE_URL:-}" ]]; then
    eval "$(scripts/pg.sh start)"
    STARTED_PG=1
fi
db="agentctl_bench_$$"
psql -q "$DATABASE_URL" -c "CREATE DATABASE $db" >/dev/null
PG_URL="${DATABASE_URL%/*}/$db"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KEY=bench-key
TOKEN=bench-token
serve() { # serve PORT DATABASE_URL
    # Secrets through the environment: `serve` refuses them on its command line.
    RUST_LOG=warn DATABASE_URL="$2" INTERNAL_API_KEY="$KEY" AGENTCTL_API_TOKENS="$TOKEN" \
        "$BIN" serve --listen "127.0.0.1:$1" >"$TMP/serve-$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        curl -fsS "http://127.0.0.1:$1/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$TMP/serve-$1.log" >&2
    return 1
}

A=$(free_port); serve "$A" "$PG_URL"
B=$(free_port); serve "$B" "$PG_URL"

echo "== ingest (PostgreSQL, HTTP vs COPY, $EVENTS events per run, $BATCH per request)"
for senders in 1 8 64; do
    "$BENCH" ingest --url "http://127.0.0.1:$A" --key "$KEY" --database-url "$PG_URL" \
        --senders "$senders" --events "$EVENTS" --batch "$BATCH"
done
echo "   context: one sender with one request in flight, and with half-size batches"
"$BENCH" ingest --url "http://127.0.0.1:$A" --key "$KEY" --database-url "$PG_URL" \
    --senders 1 --events "$EVENTS" --batch "$BATCH" --in-flight 1
"$BENCH" ingest --url "http://127.0.0.1:$A" --key "$KEY" --database-url "$PG_URL" \
    --senders 1 --events "$EVENTS" --batch $((BATCH / 2))

if [[ -n "${AGENTCTL_PG_DIR:-}" ]]; then
    echo "== PostgreSQL restarted (-m immediate) under ingest: senders retry 503s, every event stored once"
    "$BENCH" ingest --url "http://127.0.0.1:$A" --key "$KEY" --database-url "$PG_URL" \
        --senders 8 --events "$EVENTS" --batch 100 --no-copy &
    ingest=$!
    pids+=("$ingest")
    sleep 1
    scripts/pg.sh restart immediate
    wait "$ingest"
fi

echo "== follow latency across replicas"
"$BENCH" follow --ingest-url "http://127.0.0.1:$B" --follow-url "http://127.0.0.1:$A" \
    --key "$KEY" --token "$TOKEN" --rate 5000 --seconds 10

echo "== idle RSS (SQLite)"
S=$(free_port); serve "$S" "sqlite://$TMP/idle.db"
sleep 3
pid=${pids[-1]}
echo "agentctl serve idle RSS: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$pid/status")"
