#!/usr/bin/env bash
# The quickstart (README): the whole system on one machine, then the transcript of one real agent session.
#
#   scripts/quickstart.sh ["prompt"]
#   scripts/quickstart.sh --ui ["prompt"]     the same, then keeps running: open the web UI it prints, Ctrl-C stops
#
# Starts `agentctl serve` on an embedded SQLite file, `fake-anthropic` (unless ANTHROPIC_API_KEY is set, in
# which case the real API is used), and one `agent-supervisor` that pulls its work from the control plane;
# then defines the agent of examples/agents/quickstart.yaml (`agentctl agents apply`), queues a session of
# it (`agentctl run --agent quickstart -f`: a real Claude Agent SDK session on whichever runtime claims it)
# and prints its transcript. Everything lives in a temporary directory and is stopped on exit. Needs cargo
# and node (npm); as root, agents run as `nobody`.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
keep_ui=
if [[ ${1:-} == --ui ]]; then
    keep_ui=1
    shift
fi
prompt=${1:-"Where am I? Run one shell command to find out."}

log() { printf '==> %s\n' "$*" >&2; }

log "building (cargo build)"
cargo build --quiet --bins -p agent-supervisor -p control-plane -p fake-anthropic
bin=$repo/target/debug

if [[ ! -d agent-runner/node_modules/@anthropic-ai/claude-agent-sdk ]]; then
    log "installing the Agent SDK (npm ci in agent-runner/)"
    (cd agent-runner && npm ci --no-audit --no-fund --loglevel=error)
fi

work=$(mktemp -d /tmp/agent-studio-quickstart.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_http() {
    for _ in $(seq 100); do
        node -e "fetch('$1').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" && return 0
        sleep 0.1
    done
    echo "quickstart: $1 did not come up; logs are in $work" >&2
    return 1
}

agent_env=(--agent-env CLAUDE_CODE_MAX_RETRIES=0 --agent-env CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1)
if [[ -n "${ANTHROPIC_API_KEY:-}" ]]; then
    # The supervisor keeps the key (credential-proxy mode): agents reach the API through its loopback proxy.
    log "using the real Anthropic API (ANTHROPIC_API_KEY is set; the supervisor holds it, agents never see it)"
    agent_env=()
else
    # The fake model plays the quickstart agent: it loads the agent's skill, follows it (reads the file the
    # agent definition places in the workspace) and answers from what the shell printed.
    cat >"$work/model.json" <<'JSON'
{"turns": [
  {"text": "I'll load the house rules first.", "toolUse": {"name": "Skill", "input": {"skill": "house-rules"}}},
  {"text": "The rules say to read notes/welcome.md first, so I'll look around.",
   "toolUse": {"name": "Bash", "input": {"command": "pwd && ls && cat notes/welcome.md && date", "description": "Where am I, and what is this workspace for"}}},
  {"text": "Here is what I found:\n{{tool_result}}"}
 ],
 "finalText": "You are in a session workspace of the Agent Studio quickstart (fake-anthropic's scripted answer)."}
JSON
    "$bin/fake-anthropic" --listen 127.0.0.1:0 --scenario "$work/model.json" >"$work/fake-anthropic.out" 2>"$work/fake-anthropic.log" &
    pids+=($!)
    for _ in $(seq 100); do [[ -s $work/fake-anthropic.out ]] && break; sleep 0.05; done
    api=$(head -n1 "$work/fake-anthropic.out")
    log "fake-anthropic on $api (set ANTHROPIC_API_KEY to use the real API)"
    agent_env+=(--agent-env "ANTHROPIC_BASE_URL=http://$api" --agent-env "ANTHROPIC_API_KEY=sk-fake-quickstart-key")
fi

key=$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')
token=$(node -e 'console.log(require("crypto").randomBytes(16).toString("hex"))')
cp_port=$(free_port)
# Secrets through the environment: a command line is readable by every process on the host.
INTERNAL_API_KEY=$key AGENTCTL_API_TOKENS=$token DATABASE_URL="sqlite://$work/agentctl.db" \
    "$bin/agentctl" serve --listen "127.0.0.1:$cp_port" 2>"$work/agentctl.log" &
pids+=($!)
wait_http "http://127.0.0.1:$cp_port/health"
log "control plane on 127.0.0.1:$cp_port (SQLite $work/agentctl.db)"

sup_port=$(free_port)
# The supervisor pulls its work from the control plane (the default with --control-plane-url): nothing dials it.
INTERNAL_API_KEY=$key "$bin/agent-supervisor" --listen "127.0.0.1:$sup_port" --runtime-id quickstart-runtime \
    --workspace "$work/workspace" --state-dir "$work/state" \
    --runner "node $repo/agent-runner/run.mjs" --run-as nobody --no-auth \
    --control-plane-url "http://127.0.0.1:$cp_port" ${agent_env[@]+"${agent_env[@]}"} 2>"$work/supervisor.log" &
pids+=($!)
wait_http "http://127.0.0.1:$sup_port/health"
log "supervisor on 127.0.0.1:$sup_port, pulling from the control plane"

export AGENTCTL_URL=http://127.0.0.1:$cp_port AGENTCTL_TOKEN=$token
log "agentctl agents apply -f examples/agents/quickstart.yaml"
"$bin/agentctl" agents apply -f examples/agents/quickstart.yaml
log "agentctl run --agent quickstart -f --prompt \"$prompt\""
echo
"$bin/agentctl" run --agent quickstart --prompt "$prompt" -f
echo
"$bin/agentctl" sessions
"$bin/agentctl" runtimes

if [[ -n $keep_ui ]]; then
    echo
    log "web UI: http://127.0.0.1:$cp_port/  (sign in with the API token $token)"
    log "running until Ctrl-C"
    wait
fi
