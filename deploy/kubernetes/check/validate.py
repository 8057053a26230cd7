"""Validates rendered kustomizations offline: every object against the Kubernetes schemas of each pinned
version, strictly (an unknown field is an error), KEDA's kinds against the schemas vendored in ../schemas (a
ScaledJob's jobTargetRef, a JobSpec, against the Kubernetes schemas as a Job), and then the rules of policy.py. An object of any other kind is an error: nothing goes unvalidated.

    validate.py [-k VERSION]... NAME=RENDERED.yaml...    exit 1 when anything is wrong
    validate.py --self-test NAME=RENDERED.yaml...        exit 1 unless every broken copy is caught (the
                                                         cases of selftest_jobs.py for a rendering with a
                                                         ScaledJob, else selftest.py's)

Run with the Python that has kubernetes-validate installed (scripts/k8s.sh does).
"""
import argparse
import functools
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate.utils as kv
import yaml

import policy

# kubernetes-validate reads a kind's schema and the whole definitions file (megabytes of JSON) for every object
# it validates: keep each parsed once. The schemas are only read, never changed.
kv.schema_contents = functools.lru_cache(maxsize=None)(kv.schema_contents)

SCHEMAS = pathlib.Path(__file__).resolve().parent.parent / "schemas"
# Kinds Kubernetes itself does not define, each with the schema we keep for it.
CUSTOM = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh/scaledobject-v1alpha1.json",
    ("keda.sh/v1alpha1", "ScaledJob"): "keda.sh/scaledjob-v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh/triggerauthentication-v1alpha1.json",
}


def load(path):
    with open(path) as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


@functools.lru_cache(maxsize=None)
def custom_validator(api_version, kind):
    schema = json.loads((SCHEMAS / CUSTOM[(api_version, kind)]).read_text())
    return jsonschema.Draft202012Validator(schema)


def schema_errors(obj, versions):
    key = (obj.get("apiVersion"), obj.get("kind"))
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    if key in CUSTOM:
        errors = [f"{where}: {'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                  for e in custom_validator(*key).iter_errors(obj)]
        if key[1] == "ScaledJob" and not errors:
            # jobTargetRef is a batch/v1 JobSpec: the Kubernetes schemas know it, pod template and all.
            errors = kubernetes_errors(job_of(obj), versions, where, rename=("spec", "spec.jobTargetRef"))
        return errors
    return kubernetes_errors(obj, versions, where)


def job_of(scaled_job):
    """The Job a ScaledJob's jobTargetRef describes, as KEDA creates it."""
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": scaled_job["metadata"]["name"]},
            "spec": scaled_job["spec"]["jobTargetRef"]}


def kubernetes_errors(obj, versions, where, rename=None):
    """Errors of `obj` against the Kubernetes schemas; `rename` (old, new) replaces the first part of each
    path, for an object validated as a part of another."""
    errors = []
    for version in versions:
        try:
            kv.validate(obj, version, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(root)"
            if rename and (path == rename[0] or path.startswith(rename[0] + ".")):
                path = rename[1] + path[len(rename[0]):]
            errors.append(f"{where}: Kubernetes {version}: {path}: {e.message}")
        except kv.SchemaNotFoundError:
            errors.append(f"{where}: no schema for {obj.get('apiVersion')} {obj.get('kind')} in Kubernetes "
                          f"{version} or schemas/")
    return errors


SCHEMA_ERRORS = {}


def cached_schema_errors(obj, versions):
    """schema_errors, kept per object content: the self-test's broken copies change one object each, so
    every other one is validated once, not once per copy."""
    key = (json.dumps(obj, sort_keys=True, default=repr), tuple(versions))
    if key not in SCHEMA_ERRORS:
        SCHEMA_ERRORS[key] = schema_errors(obj, versions)
    return SCHEMA_ERRORS[key]


def errors_of(objs, versions):
    errors = [e for obj in objs for e in cached_schema_errors(obj, versions)]
    # The rules read fields the schemas guarantee: on an invalid rendering they would only add noise.
    return errors or policy.check(objs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", "--kubernetes-version", action="append", dest="versions")
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("renderings", nargs="+", metavar="NAME=RENDERED.yaml")
    args = parser.parse_args()
    versions = args.versions or ["1.30.0", kv.latest_version()]
    failed = False
    for rendering in args.renderings:
        label, _, path = rendering.rpartition("=")
        label = label or path
        objs = load(path)
        if args.self_test:
            import selftest
            import selftest_jobs
            # A rendering with the ScaledJob variant gets the cases about it.
            cases = selftest_jobs.CASES if any(o["kind"] == "ScaledJob" for o in objs) else selftest.CASES
            failed |= not selftest.run(objs, lambda o: errors_of(o, versions), cases)
            continue
        errors = errors_of(objs, versions)
        for error in errors:
            print(f"ERROR {label}: {error}")
        if errors:
            failed = True
            continue
        kinds = sorted({o["kind"] for o in objs if (o["apiVersion"], o["kind"]) in CUSTOM})
        expects = sorted({secret for _, secret, _, _ in policy.secret_refs(objs)}
                         - {o["metadata"]["name"] for o in objs if o["kind"] == "Secret"})
        print(f"ok {label}: {len(objs)} objects valid against Kubernetes {', '.join(versions)} (strict)"
              + (f", {', '.join(kinds)} against schemas/" if kinds else "")
              + "; policy holds"
              + (f"; expects Secrets {', '.join(expects)}" if expects else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
