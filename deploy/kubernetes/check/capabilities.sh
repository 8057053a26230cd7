#!/usr/bin/env bash
# Proves the runtime's capability list (base/runtime/deployment.yaml) is what the supervisor needs: a session
# runs, is cancelled and has its directories taken back under exactly those capabilities, with no_new_privs
# (allowPrivilegeEscalation: false), as in the pod; and with each one removed, the supervisor fails the way
# that capability is there for. Needs root, setpriv and a built supervisor:
#
#   cargo build -p agent-supervisor && deploy/kubernetes/check/capabilities.sh [target/debug/agent-supervisor]
set -euo pipefail
cd "$(dirname "$0")/../../.."
supervisor=$(realpath "${1:-target/debug/agent-supervisor}")
python=${K8S_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-studio/k8s-tools}/bin/python
[[ -x $python ]] || python=python3

# The manifest's list, lower case for setpriv.
mapfile -t caps < <("$python" - <<'EOF'
import yaml
docs = [d for d in yaml.safe_load_all(open("deploy/kubernetes/base/runtime/deployment.yaml")) if d]
spec = docs[0]["spec"]["template"]["spec"]
supervisor = next(c for c in spec["containers"] if c["name"] == "supervisor")
for cap in supervisor["securityContext"]["capabilities"]["add"]:
    print(cap.lower())
EOF
)
echo "the manifest adds: ${caps[*]}"

# Runs one session (cancelled after it wrote its files) under the capabilities in $1 (comma-separated, may
# be empty); prints the supervisor's log and, last, the owners of the session's directories.
session() {
    local keep=$1 dir port pid status deadline
    dir=$(mktemp -d /tmp/k8s-capabilities.XXXXXX)
    chmod 0755 "$dir"
    port=$((20000 + RANDOM % 20000))
    setpriv --bounding-set "-all${keep:+,+${keep//,/,+}}" --inh-caps=-all --no-new-privs -- \
        "$supervisor" --listen "127.0.0.1:$port" --workspace "$dir/ws" --state-dir "$dir/state" \
        --runner "/bin/sh -c 'cat >/dev/null; mkdir made; echo x > made/file; echo ready; exec sleep 60'" \
        --run-as nobody --uid-range 30000-30019 --max-sessions 2 --no-auth --no-pull --grace 1s \
        > "$dir/log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 30))
    until curl -fs "127.0.0.1:$port/health" >/dev/null; do
        ((SECONDS < deadline)) || { cat "$dir/log"; echo "no /health" >&2; return 1; }
        sleep 0.1
    done
    curl -s -XPOST "127.0.0.1:$port/execute" -H 'content-type: application/json' \
        -d '{"agentId":"caps","sessionId":"s1","prompt":"-"}' >> "$dir/log"
    # Cancel once the agent wrote its files (or at once, when it never started), then wait for the end.
    deadline=$((SECONDS + 30))
    until [[ -e $dir/ws/sessions/s1/made/file ]] || grep -q spawn_failed "$dir/log"; do
        ((SECONDS < deadline)) || break
        sleep 0.05
    done
    curl -s -XPOST "127.0.0.1:$port/sessions/s1/cancel" >/dev/null || true
    deadline=$((SECONDS + 30))
    while status=$(curl -s "127.0.0.1:$port/sessions/s1" | "$python" -c 'import json,sys; print(json.load(sys.stdin).get("status"))'); do
        [[ $status == running || $status == starting ]] || break
        ((SECONDS < deadline)) || break
        sleep 0.05
    done
    # The uid is taken back after the end: wait for the directories' owner to settle.
    deadline=$((SECONDS + 10))
    while [[ -d $dir/ws/sessions/s1 && $(stat -c %u "$dir/ws/sessions/s1") != 0 ]] && ((SECONDS < deadline)); do
        grep -q "directories back" "$dir/log" && break
        sleep 0.05
    done
    kill -TERM "$pid"
    wait "$pid" || true
    cat "$dir/log"
    echo "status=$status owners=$(stat -c %u "$dir/ws/sessions/s1" "$dir/ws/homes/s1" 2>/dev/null | tr '\n' ' ')"
    rm -rf "$dir"
}

failed=0
expect() {
    local what=$1 keep=$2 pattern=$3 clean=${4:-} out
    out=$(session "$keep")
    if grep -qE -- "$pattern" <<<"$out" && ! { [[ -n $clean ]] && grep -qE 'not permitted|Permission denied' <<<"$out"; }; then
        echo "ok: $what"
    else
        echo "$out"
        echo "FAILED: $what: expected /$pattern/" >&2
        failed=1
    fi
}
without() {
    local drop=$1 cap kept=()
    for cap in "${caps[@]}"; do [[ $cap == "$drop" ]] || kept+=("$cap"); done
    (IFS=,; echo "${kept[*]}")
}

all=$(IFS=,; echo "${caps[*]}")
expect "with the manifest's capabilities a session runs, is cancelled (no EPERM, no EACCES) and its directories come back to root" \
    "$all" "status=cancelled owners=0 0 $" clean
for cap in "${caps[@]}"; do
    case $cap in
        setuid | setgid) pattern='spawn runner .*Operation not permitted' ;;
        chown) pattern='prepare session error=' ;;
        kill) pattern='signal process group.*Operation not permitted' ;;
        dac_override) pattern="take the session's directories back.*Permission denied" ;;
        *) pattern='(unknown capability: add its failure here)^' ;;
    esac
    expect "without ${cap^^} the supervisor fails as the manifest says" "$(without "$cap")" "$pattern"
done
exit $failed
