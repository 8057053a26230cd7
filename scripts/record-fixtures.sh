#!/usr/bin/env bash
# Records the control plane's transcript fixtures through the real system.
#
#   scripts/record-fixtures.sh
#
# The files it writes, control-plane/tests/it/fixtures/recorded-{success,failed,cancelled}.jsonl, are data:
# recorded once and committed, re-recorded only by running this script again (say, after an SDK upgrade), then
# reviewed as a diff. Each holds one session's events exactly as the supervisor ships them to the control plane
# (one Event JSON per line: sessionId, seq, ts, source, type, data), its own session.started/session.finished
# included.
#
# It starts `fake-anthropic` (built-in scenarios) and `agent-supervisor` without a control plane (the supervisor
# serves `GET /sessions/{id}/events` from its local log), then runs the real Agent SDK three times, mirroring
# supervisor/tests/it/sdk.rs:
#   fixture-success    "Where am I?": one Bash tool call, then a final text;
#   fixture-failed     the same with maxTurns 1: a result with subtype error_max_turns;
#   fixture-cancelled  scenario:sleep, cancelled with POST /sessions/{id}/cancel while its `sleep` runs.
# Needs root (agents run as `nobody`), cargo, node (npm), curl. Everything else lives in a temporary directory
# and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=$repo/control-plane/tests/it/fixtures
deadline_s=120

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'record-fixtures: %s\n' "$*" >&2
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root: the supervisor runs agents as user nobody"

log "building (cargo build)"
cargo build --quiet --bins -p agent-supervisor -p fake-anthropic
bin=$repo/target/debug

if [[ ! -d agent-runner/node_modules/@anthropic-ai/claude-agent-sdk ]]; then
    log "installing the Agent SDK (npm ci in agent-runner/)"
    (cd agent-runner && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d /tmp/record-fixtures.XXXXXX)
# The agents' user must reach its working directory below this one.
chmod 755 "$work"
pids=()
cleanup() {
    local rc=$?
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if ((rc != 0)); then
        printf 'record-fixtures: failed; logs kept in %s\n' "$work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# Waits until `$@` succeeds, for at most $deadline_s seconds.
wait_for() {
    local what=$1
    shift
    local until=$((SECONDS + deadline_s))
    until "$@"; do
        ((SECONDS < until)) || die "$what: not within ${deadline_s}s"
        sleep 0.1
    done
}

# The value of a top-level field of the JSON object on stdin.
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(v??"")})' "$1"; }

"$bin/fake-anthropic" --listen 127.0.0.1:0 >"$work/fake-anthropic.out" 2>"$work/fake-anthropic.log" &
pids+=($!)
wait_for "fake-anthropic address" test -s "$work/fake-anthropic.out"
api=$(head -n1 "$work/fake-anthropic.out")
log "fake-anthropic on $api"

# No ANTHROPIC_API_KEY (credential-proxy mode) and no control plane from the caller's environment.
env -u ANTHROPIC_API_KEY -u CONTROL_PLANE_URL -u INTERNAL_API_KEY -u SUPERVISOR_TOKEN LOG_FORMAT=json \
    "$bin/agent-supervisor" --listen 127.0.0.1:0 --workspace "$work/workspace" --state-dir "$work/state" \
    --runner "node $repo/agent-runner/run.mjs" --run-as nobody --no-auth --runtime-id rt-fixtures --grace 3s \
    --agent-env "ANTHROPIC_BASE_URL=http://$api" --agent-env ANTHROPIC_API_KEY=sk-fake-key-for-fixtures \
    --agent-env CLAUDE_CODE_MAX_RETRIES=0 --agent-env CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 \
    2>"$work/supervisor.log" &
pids+=($!)
wait_for "supervisor start" grep -qs '"message":"listening"' "$work/supervisor.log"
sup=http://$(grep -m1 '"message":"listening"' "$work/supervisor.log" | json_field addr)
log "supervisor on $sup"

execute() {
    local id=$1 prompt=$2 options=$3
    curl -sS --fail-with-body -o /dev/null -H 'content-type: application/json' \
        -d "{\"agentId\":\"fixture-agent\",\"sessionId\":\"$id\",\"prompt\":\"$prompt\",\"options\":$options}" \
        "$sup/execute"
}
status() { curl -sS --fail-with-body "$sup/sessions/$1" | json_field status; }
finished() { [[ ! $(status "$1") =~ ^(pending|running)$ ]]; }
# The agent's `sleep` is running: a process named sleep among the descendants of the agent (the pid of
# session.started). The CLI may start its tools in sessions of their own, so the tree is walked by parent pid.
sleeping() {
    local root
    root=$(curl -sS --fail-with-body "$sup/sessions/$1" | json_field pid)
    [[ -n $root ]] && ps -e -o pid=,ppid=,comm= | awk -v root="$root" '
        { parent[$1] = $2; name[$1] = $3 }
        END {
            for (pid in name) {
                if (name[pid] != "sleep") continue
                for (p = pid; p in parent && p != 0; p = parent[p]) if (p == root) exit 0
            }
            exit 1
        }'
}

execute fixture-success "Where am I?" '{"model":"claude-sonnet-4-5"}'
execute fixture-failed "Where am I?" '{"model":"claude-sonnet-4-5","maxTurns":1}'
execute fixture-cancelled "scenario:sleep please wait" '{"model":"claude-sonnet-4-5"}'

wait_for "fixture-cancelled reaching its sleep" sleeping fixture-cancelled
curl -sS --fail-with-body -o /dev/null -X POST "$sup/sessions/fixture-cancelled/cancel"
log "cancelled fixture-cancelled mid-tool"

# The fixtures are replaced only when all three sessions ended as intended.
declare -A expected=([success]=succeeded [failed]=failed [cancelled]=cancelled)
for name in success failed cancelled; do
    id=fixture-$name
    wait_for "$id to finish" finished "$id"
    got=$(status "$id")
    [[ $got == "${expected[$name]}" ]] || die "$id ended $got, not ${expected[$name]}"
    curl -sS --fail-with-body "$sup/sessions/$id/events" >"$work/recorded-$name.jsonl"
done
for name in success failed cancelled; do
    cp "$work/recorded-$name.jsonl" "$out/recorded-$name.jsonl"
done

log "recorded"
for name in success failed cancelled; do
    file=$out/recorded-$name.jsonl
    node -e '
        const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
        const finished = lines.at(-1).data;
        console.log(`${process.argv[2]}: ${lines.length} events, status ${finished.status}, ` +
            `numTurns ${finished.numTurns}, totalCostUsd ${finished.totalCostUsd}`);
        console.log("  " + lines.map(e => e.type + (e.data.subtype ? ":" + e.data.subtype : "")).join(" "));
    ' "$file" "${file#"$repo"/}"
done
