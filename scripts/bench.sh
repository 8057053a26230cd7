#!/usr/bin/env bash
# Benchmarks (speed and memory goals are measured here, never asserted in tests).
#
#   scripts/bench.sh                 the supervisor (static musl build), the control plane, dispatch, hooks, then the UI
#   scripts/bench.sh supervisor      only the supervisor
#   scripts/bench.sh dispatch        only the dispatch benchmark (scripts/bench-dispatch.sh: pull vs POST /execute)
#   scripts/bench.sh hooks           only the trigger intake benchmark (scripts/bench-hooks.sh: webhooks vs /health)
#   scripts/bench.sh ui              only the web UI benchmark (scripts/bench-ui.sh: big session page and list vs /health)
#
# Machines are shared and noisy: every goal is stated as a ratio or a bound measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

if [[ $what == all || $what == supervisor ]]; then
    echo "==> static build (x86_64-unknown-linux-musl, release, stripped)" >&2
    rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1 || true
    # ring (TLS) builds its C with the system gcc; musl-gcc is not needed for this freestanding code.
    CC_x86_64_unknown_linux_musl=${CC_x86_64_unknown_linux_musl:-gcc} \
        cargo build --quiet --release --locked --target x86_64-unknown-linux-musl -p agent-supervisor
    bin=target/x86_64-unknown-linux-musl/release/agent-supervisor
    python3 scripts/bench/supervisor.py "$bin"
fi

if [[ $what == all || $what == control-plane ]] && [[ -x scripts/bench-cp.sh ]]; then
    scripts/bench-cp.sh
fi

if [[ $what == all || $what == dispatch ]]; then
    scripts/bench-dispatch.sh
fi

if [[ $what == all || $what == hooks ]]; then
    scripts/bench-hooks.sh
fi

if [[ $what == all || $what == ui ]]; then
    scripts/bench-ui.sh
fi
