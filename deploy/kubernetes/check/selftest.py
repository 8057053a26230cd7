"""The validation's own test: a rendering that passes, then broken copies of it, each of which must fail with
the error it is about. A check that cannot fail would pass them all."""
import base64
import copy


def find(objs, kind, name):
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


def container(objs, workload, name):
    return next(c for c in find(objs, "Deployment", workload)["spec"]["template"]["spec"]["containers"]
                if c["name"] == name)


def env(objs, name, value):
    """Sets the supervisor's variable `name` to a plain value."""
    for var in container(objs, "runtime", "supervisor")["env"]:
        if var["name"] == name:
            var.pop("valueFrom", None)
            var["value"] = value


def typo(objs):
    container(objs, "agentctl", "agentctl")["imagePulPolicy"] = "Always"


def replicas_as_text(objs):
    find(objs, "Deployment", "agentctl")["spec"]["replicas"] = "two"


def scaler_typo(objs):
    find(objs, "ScaledObject", "runtime")["spec"]["pollingIntervall"] = 15


def scaler_target_as_number(objs):
    find(objs, "ScaledObject", "runtime")["spec"]["triggers"][0]["metadata"]["targetQueryValue"] = 4


def scaler_without_query(objs):
    del find(objs, "ScaledObject", "runtime")["spec"]["triggers"][0]["metadata"]["query"]


def auth_without_key(objs):
    del find(objs, "TriggerAuthentication", "runtime-queue")["spec"]["secretTargetRef"][0]["key"]


def unknown_kind(objs):
    objs.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})


def short_grace(objs):
    find(objs, "Deployment", "runtime")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30


def drain_on_argv(objs):
    container(objs, "runtime", "supervisor")["args"].append("--drain-timeout=20m")


def no_drain(objs):
    env(objs, "SUPERVISOR_DRAIN_TIMEOUT", "0s")


def key_in_plain_text(objs):
    env(objs, "INTERNAL_API_KEY", "not-from-a-secret")


def key_on_argv(objs):
    container(objs, "runtime", "supervisor")["args"].append("--internal-api-key=x")


def capabilities_kept(objs):
    del container(objs, "runtime", "supervisor")["securityContext"]["capabilities"]["drop"]


def no_limits(objs):
    del container(objs, "agentctl", "agentctl")["resources"]["limits"]


def no_liveness(objs):
    del container(objs, "runtime", "supervisor")["livenessProbe"]


def writable_root(objs):
    container(objs, "agentctl", "agentctl")["securityContext"]["readOnlyRootFilesystem"] = False


def token_mounted(objs):
    find(objs, "ServiceAccount", "runtime")["automountServiceAccountToken"] = True


def slots_differ(objs):
    env(objs, "SUPERVISOR_MAX_SESSIONS", "8")


def labels_differ(objs):
    env(objs, "SUPERVISOR_LABELS", "pool=gpu")


def short_cooldown(objs):
    find(objs, "ScaledObject", "runtime")["spec"]["cooldownPeriod"] = 60


def service_selects_nothing(objs):
    find(objs, "Service", "agentctl")["spec"]["selector"] = {"app.kubernetes.io/name": "agentctl-typo"}


def secret_key_missing(objs):
    for var in container(objs, "agentctl", "agentctl")["env"]:
        if var["name"] == "DATABASE_URL":
            var["valueFrom"]["secretKeyRef"]["key"] = "uri"


def real_looking_secret(objs):
    secret = next(o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"].startswith("runtime-anthropic"))
    secret["data"]["api-key"] = base64.b64encode(b"sk-ant-api03-0123456789abcdef").decode()


CASES = [
    ("a typo'd field of a container is refused by the strict schema", typo, "imagePulPolicy"),
    ("replicas given as text is refused by the schema", replicas_as_text, "'two' is not of type"),
    ("a typo'd field of the ScaledObject is refused by its schema", scaler_typo, "pollingIntervall"),
    ("a target value that is a number, not a string, is refused", scaler_target_as_number, "is not of type 'string'"),
    ("a postgresql trigger without its query is refused", scaler_without_query, "'query' is a required property"),
    ("a secretTargetRef without a key is refused", auth_without_key, "'key' is a required property"),
    ("a kind no schema knows is an error, not a skip", unknown_kind, "no schema for example.com/v1 Widget"),
    ("a grace period shorter than the drain is refused", short_grace, "terminationGracePeriodSeconds 30 <"),
    ("a drain timeout on argv wins over the variable", drain_on_argv, "drain 1200 + grace 10"),
    ("a drain timeout of 0 is refused", no_drain, "--drain-timeout is 0"),
    ("a credential given as a plain value is refused", key_in_plain_text, "INTERNAL_API_KEY holds a credential"),
    ("a credential on argv is refused", key_on_argv, "--internal-api-key on argv"),
    ("a container that keeps its capabilities is refused", capabilities_kept, "drop must hold ALL"),
    ("a container without limits is refused", no_limits, "no resources.limits.cpu"),
    ("a container without a liveness probe is refused", no_liveness, "no livenessProbe"),
    ("a writable root filesystem is refused", writable_root, "readOnlyRootFilesystem must be true"),
    ("a ServiceAccount that mounts its token is refused", token_mounted, "automountServiceAccountToken"),
    ("a scaler target other than the runtime's slots is refused", slots_differ, "is not the runtime's 8 slots"),
    ("a scaler counting other labels than the runtime's is refused", labels_differ, "the runtime has {'pool': 'gpu'}"),
    ("a cooldown below the drain is refused", short_cooldown, "cooldownPeriod 60 is below"),
    ("a Service whose selector matches no pod is refused", service_selects_nothing, "selector matches no pod"),
    ("a reference to a key the Secret lacks is refused", secret_key_missing, "has no key uri"),
    ("a Secret value that is not a placeholder is refused", real_looking_secret, "does not say it is a placeholder"),
]


def run(objs, errors_of, cases=None):
    """True when the rendering passes and every broken copy (of `cases`, default CASES) fails with its
    error."""
    cases = CASES if cases is None else cases
    baseline = errors_of(objs)
    if baseline:
        for error in baseline:
            print(f"self-test: the unbroken rendering fails: {error}")
        return False
    missed = 0
    for sentence, breaks, expected in cases:
        broken = copy.deepcopy(objs)
        breaks(broken)
        errors = errors_of(broken)
        if any(expected in e for e in errors):
            print(f"caught: {sentence}")
        else:
            missed += 1
            print(f"MISSED: {sentence}: expected an error with {expected!r}, got {errors or 'none'}")
    print(f"self-test: {len(cases) - missed} of {len(cases)} broken copies caught")
    return missed == 0
