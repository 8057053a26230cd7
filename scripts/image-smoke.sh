#!/usr/bin/env bash
# Smoke test of the runtime image: one real SDK session through the supervisor, against fake-anthropic.
#
#   scripts/image-smoke.sh
#
# With a Docker engine: builds Dockerfile.runtime, runs it, POSTs /execute and checks the transcript.
# Without one (our machines, DESIGN §7): says so, and runs the same checks on the image's layout instead:
# the static musl supervisor at /usr/local/bin/agent-supervisor as PID 1 of a fresh PID and mount namespace
# (unshare, as root), the runner at /opt/agent-runner with its node_modules, skills/ at the CLI's managed
# skills directory, and the agent dropped to a uid of its own (group `agent`). All of these paths exist only inside
# the namespace; the host is not changed. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

fail() { echo "image-smoke: FAIL: $*" >&2; exit 1; }
step() { printf '==> %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || fail "needs root (PID namespaces, dropping the agent to another user)"
[[ -d agent-runner/node_modules/@anthropic-ai/claude-agent-sdk ]] || (cd agent-runner && npm ci --no-audit --no-fund)

work=$(mktemp -d /tmp/image-smoke.XXXXXX)
chmod 0755 "$work"
pids=()
sup_pid=
cleanup() {
    # `unshare --fork` ignores SIGTERM while it waits: stop its PID 1, the supervisor, which drains and exits.
    [[ -n $sup_pid ]] && kill -TERM "$sup_pid" 2>/dev/null
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        timeout 20 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

step "fake-anthropic"
cargo build --quiet --locked -p fake-anthropic
target/debug/fake-anthropic --listen 127.0.0.1:0 --scenario fake-anthropic/scenarios/context.json \
    >"$work/fake.out" 2>"$work/fake.err" &
pids+=($!)
for _ in $(seq 100); do [[ -s $work/fake.out ]] && break; sleep 0.1; done
api=$(head -1 "$work/fake.out")
[[ -n $api ]] || fail "fake-anthropic did not start: $(cat "$work/fake.err")"

port=$(free_port)
token=smoke-token-$RANDOM$RANDOM
agent_env=(
    --agent-env "ANTHROPIC_BASE_URL=http://$api"
    --agent-env CLAUDE_CODE_MAX_RETRIES=0
    --agent-env CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
)

if timeout 10 docker info >/dev/null 2>&1; then
    step "docker: build Dockerfile.runtime"
    image=agent-studio/runtime:smoke
    docker build -f Dockerfile.runtime -t "$image" .
    container=$(docker run -d --rm --network host -e SUPERVISOR_TOKEN="$token" \
        -e SUPERVISOR_LISTEN="127.0.0.1:$port" "$image" "${agent_env[@]}")
    pids=()
    trap 'docker rm -f "$container" >/dev/null 2>&1 || true; cleanup' EXIT
else
    echo "image-smoke: no Docker engine answers (docker info failed): checking the image's layout instead" >&2
    step "static supervisor (x86_64-unknown-linux-musl, release)"
    rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || true
    CC_x86_64_unknown_linux_musl=${CC_x86_64_unknown_linux_musl:-gcc} \
        cargo build --quiet --release --locked --target x86_64-unknown-linux-musl -p agent-supervisor
    bin=target/x86_64-unknown-linux-musl/release/agent-supervisor
    file "$bin" | grep -qE 'static(ally|-pie) linked' || fail "$bin is not static: $(file "$bin")"

    step "image layout in $work/root"
    root=$work/root
    mkdir -p "$root/host-local-bin" "$root/workspace" "$root/state"
    cp "$bin" "$root/agent-supervisor"
    # /etc as in the image: the host's, plus user `agent` (uid 1000, taking the uid over as the image takes
    # it from `node`) and the skills in the CLI's managed directory.
    cp -a /etc "$root/etc"
    sed -i -E '/^[^:]*:[^:]*:1000:/d; /^agent:/d' "$root/etc/passwd"
    sed -i -E '/^[^:]*:[^:]*:1000:/d; /^agent:/d' "$root/etc/group"
    [[ -f $root/etc/shadow ]] && sed -i -E '/^agent:/d' "$root/etc/shadow"
    echo 'agent:x:1000:1000::/home/agent:/bin/bash' >>"$root/etc/passwd"
    echo 'agent:x:1000:' >>"$root/etc/group"
    mkdir -p "$root/etc/claude-code/.claude"
    cp -r skills "$root/etc/claude-code/.claude/skills"
    chown 1000:1000 "$root/workspace"
    chmod 0700 "$root/state"

    step "supervisor as PID 1 (unshare --pid --fork --mount-proc)"
    # The mounts live in the new mount namespace only. `exec` keeps the supervisor at PID 1.
    SUPERVISOR_TOKEN=$token LOG_FORMAT=json SUPERVISOR_LISTEN="127.0.0.1:$port" \
    SUPERVISOR_WORKSPACE="$root/workspace" SUPERVISOR_STATE_DIR="$root/state" \
    unshare --pid --fork --mount-proc --propagation private --kill-child bash -c '
        set -euo pipefail
        root=$1; repo=$2; shift 2
        mount --bind /usr/local/bin "$root/host-local-bin"
        mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin
        for f in "$root"/host-local-bin/*; do ln -s "$f" /usr/local/bin/; done
        cp "$root/agent-supervisor" /usr/local/bin/agent-supervisor
        mount -t tmpfs -o mode=0755 tmpfs /opt
        mkdir /opt/agent-runner
        mount --bind -o ro "$repo/agent-runner" /opt/agent-runner
        mount --bind "$root/etc" /etc
        exec /usr/local/bin/agent-supervisor "$@"
    ' image-smoke "$root" "$repo" "${agent_env[@]}" >"$work/sup.out" 2>"$work/sup.err" &
    pids+=($!)
fi

base=http://127.0.0.1:$port
step "wait for /health"
healthy=
for _ in $(seq 300); do
    if curl -fsS "$base/health" >"$work/health.json" 2>/dev/null; then healthy=1; break; fi
    sleep 0.1
done
[[ -n $healthy ]] || fail "the supervisor never answered /health: $(tail -20 "$work/sup.err" 2>/dev/null)"
jq -e '.status == "ok"' "$work/health.json" >/dev/null || fail "health: $(cat "$work/health.json")"

if [[ -z ${container:-} ]]; then
    # The supervisor is PID 1 of its namespace: its pid there is the last NSpid field.
    sup_pid=$(awk '{print $1}' "/proc/${pids[-1]}/task/${pids[-1]}/children")
    nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$sup_pid/status")
    [[ $nspid == 1 ]] || fail "the supervisor is pid $nspid in its namespace, not 1"
    /usr/local/bin/agent-supervisor healthcheck --listen "127.0.0.1:$port" 2>/dev/null \
        || "$root/agent-supervisor" healthcheck --listen "127.0.0.1:$port" \
        || fail "agent-supervisor healthcheck failed"
fi

step "POST /execute"
csv=$'name,age,joined\nann,34,2024-01-02\nbob,,2023-05-06\n'
body=$(jq -n --arg csv "$csv" '{agentId: "smoke", sessionId: "smoke-1",
    prompt: "scenario:image take stock of the workspace", env: {ANTHROPIC_API_KEY: "sk-smoke-key-0123456789"},
    files: [{path: "input/data.csv", content: $csv, encoding: "utf8"}]}')
code=$(curl -sS -o "$work/execute.json" -w '%{http_code}' -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' -d "$body" "$base/execute")
[[ $code == 202 ]] || fail "POST /execute answered $code: $(cat "$work/execute.json")"

status=
for _ in $(seq 900); do
    curl -fsS -H "Authorization: Bearer $token" "$base/sessions/smoke-1" >"$work/session.json"
    status=$(jq -r .status "$work/session.json")
    [[ $status == pending || $status == running ]] || break
    sleep 0.1
done
curl -fsS -H "Authorization: Bearer $token" "$base/sessions/smoke-1/events" >"$work/events.ndjson"
[[ $status == succeeded ]] || fail "session ended $status: $(cat "$work/session.json")"

step "check the transcript"
events=$work/events.ndjson
jq -se 'map(select(.type == "system" and .data.subtype == "init")) | .[0].data.skills
        | index("workspace-inventory") and index("csv-profile")' "$events" >/dev/null \
    || fail "the image's skills are not in the SDK's init message"
answer=$(jq -sr 'map(select(.type == "assistant")) | last | .data.message.content | map(.text // "") | join("")' "$events")
# Each session runs as a uid of its own from --uid-range (default 20000-20999), with no passwd entry.
uid=$(grep -m1 -xE '[0-9]+' <<<"$answer" || true)
[[ -n $uid && $uid -ge 20000 && $uid -le 20999 ]] || fail "the agent did not run as a uid of 20000-20999: $answer"
grep -q $'input/data.csv' <<<"$answer" || fail "the inventory script did not list the input: $answer"
grep -q 'age: integer, 1 empty, min 34 max 34' <<<"$answer" || fail "the csv-profile script did not run: $answer"
grep -q 'sk-smoke-key' "$events" && fail "the API key appears in the transcript"
echo "image-smoke: ok (session smoke-1 succeeded; the agent ran as uid $uid with the image's skills)" >&2
