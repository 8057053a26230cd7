"""Broken copies of a rendering with the ScaledJob variant (overlays/dev-jobs), one way per rule that
concerns it: selftest.run refuses to pass unless each one fails with its error."""
import base64


def scaled_job(objs):
    return next(o for o in objs if o["kind"] == "ScaledJob" and o["metadata"]["name"] == "runtime")


def job_pod(objs):
    return scaled_job(objs)["spec"]["jobTargetRef"]["template"]["spec"]


def supervisor(objs):
    return next(c for c in job_pod(objs)["containers"] if c["name"] == "supervisor")


def without_arg(objs, option):
    container = supervisor(objs)
    container["args"] = [a for a in container["args"] if not a.startswith(option)]


def set_env(objs, name, value):
    for var in supervisor(objs)["env"]:
        if var["name"] == name:
            var.pop("valueFrom", None)
            var["value"] = value


def trigger(objs):
    return scaled_job(objs)["spec"]["triggers"][0]


def typo(objs):
    scaled_job(objs)["spec"]["scalingStrategy"]["stratgy"] = "accurate"


def unknown_strategy(objs):
    scaled_job(objs)["spec"]["scalingStrategy"]["strategy"] = "fastest"


def pod_typo(objs):
    supervisor(objs)["imagePulPolicy"] = "Always"


def deadline_as_text(objs):
    scaled_job(objs)["spec"]["jobTargetRef"]["activeDeadlineSeconds"] = "an hour"


def no_max_jobs(objs):
    without_arg(objs, "--max-jobs")


def max_jobs_from_env(objs):
    without_arg(objs, "--max-jobs")
    supervisor(objs)["env"].append({"name": "SUPERVISOR_MAX_JOBS", "value": "2"})


def max_jobs_as_text(objs):
    supervisor(objs)["args"].append("--max-jobs=one")


def no_exit_when_idle(objs):
    without_arg(objs, "--exit-when-idle")


def counts_running(objs):
    meta = trigger(objs)["metadata"]
    meta["query"] = meta["query"].replace(
        "WHERE s.status = 'queued' AND s.runtime_id IS NULL",
        "WHERE s.status IN ('queued', 'pending', 'running') AND s.runtime_id IS NULL")


def counts_claimed_with_or(objs):
    meta = trigger(objs)["metadata"]
    meta["query"] = meta["query"].replace("WHERE s.status = 'queued' AND s.runtime_id IS NULL",
                                          "WHERE s.status = 'queued' OR s.runtime_id IS NOT NULL")


def counts_claimed(objs):
    meta = trigger(objs)["metadata"]
    meta["query"] = meta["query"].replace(" AND s.runtime_id IS NULL", "")


def short_deadline(objs):
    scaled_job(objs)["spec"]["jobTargetRef"]["activeDeadlineSeconds"] = 600


def longer_session(objs):
    supervisor(objs)["args"].append("--session-timeout=2h")


def restart_always(objs):
    job_pod(objs)["restartPolicy"] = "Always"


def no_backoff_limit(objs):
    del scaled_job(objs)["spec"]["jobTargetRef"]["backoffLimit"]


def no_ttl(objs):
    del scaled_job(objs)["spec"]["jobTargetRef"]["ttlSecondsAfterFinished"]


def default_strategy(objs):
    del scaled_job(objs)["spec"]["scalingStrategy"]


def default_rollout(objs):
    del scaled_job(objs)["spec"]["rollout"]


def target_differs(objs):
    trigger(objs)["metadata"]["targetQueryValue"] = "4"


def labels_differ(objs):
    set_env(objs, "SUPERVISOR_LABELS", "pool=gpu")


def unknown_auth(objs):
    trigger(objs)["authenticationRef"]["name"] = "runtime-queue-typo"


def key_in_plain_text(objs):
    set_env(objs, "INTERNAL_API_KEY", "not-from-a-secret")


def key_missing(objs):
    for var in supervisor(objs)["env"]:
        if var["name"] == "ANTHROPIC_API_KEY":
            var["valueFrom"]["secretKeyRef"]["key"] = "apikey"


def token_mounted(objs):
    job_pod(objs)["automountServiceAccountToken"] = True


def capabilities_kept(objs):
    del supervisor(objs)["securityContext"]["capabilities"]["drop"]


def escalation(objs):
    supervisor(objs)["securityContext"]["allowPrivilegeEscalation"] = True


def no_seccomp(objs):
    del job_pod(objs)["securityContext"]["seccompProfile"]


def no_limits(objs):
    del supervisor(objs)["resources"]["limits"]


def short_grace(objs):
    job_pod(objs)["terminationGracePeriodSeconds"] = 30


def labels_unselected(objs):
    scaled_job(objs)["spec"]["jobTargetRef"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] = "job"


def real_looking_secret(objs):
    secret = next(o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"].startswith("runtime-anthropic"))
    secret["data"]["api-key"] = base64.b64encode(b"sk-ant-api03-0123456789abcdef").decode()


CASES = [
    ("a typo'd field of the ScaledJob is refused by its schema", typo, "'stratgy' was unexpected"),
    ("a scaling strategy KEDA does not have is refused", unknown_strategy, "'fastest' is not one of"),
    ("a typo'd field of the Job's pod is refused by the Kubernetes schema", pod_typo, "imagePulPolicy"),
    ("a Job deadline given as text is refused by the Kubernetes schema", deadline_as_text,
     "spec.jobTargetRef.activeDeadlineSeconds: 'an hour' is not of type"),
    ("a Job's runtime without --max-jobs is refused", no_max_jobs, "has no --max-jobs"),
    ("SUPERVISOR_MAX_JOBS is read, and must equal the target value", max_jobs_from_env,
     "is not the runtime's --max-jobs 2"),
    ("a --max-jobs that is not a number is refused", max_jobs_as_text, "--max-jobs 'one' is not a whole number"),
    ("a Job's runtime without --exit-when-idle is refused", no_exit_when_idle, "has no --exit-when-idle"),
    ("a query counting running sessions is refused", counts_running,
     "the query counts sessions ['pending', 'queued', 'running']"),
    ("a query joined by OR is refused", counts_claimed_with_or, "joined by OR"),
    ("a query counting claimed sessions is refused", counts_claimed, "s.runtime_id IS NULL"),
    ("a deadline shorter than a session is refused", short_deadline, "activeDeadlineSeconds 600 <"),
    ("a longer --session-timeout on argv raises what the deadline must cover", longer_session,
     "session timeout 7200"),
    ("restartPolicy Always is refused", restart_always, "restartPolicy Always"),
    ("a Job without backoffLimit is refused", no_backoff_limit, "jobTargetRef.backoffLimit is not set"),
    ("a Job without ttlSecondsAfterFinished is refused", no_ttl, "jobTargetRef.ttlSecondsAfterFinished"),
    ("the default scaling strategy is refused", default_strategy, "scalingStrategy default"),
    ("the default rollout, which deletes running Jobs, is refused", default_rollout, "rollout strategy default"),
    ("a target value other than --max-jobs is refused", target_differs, "targetQueryValue 4 is not"),
    ("a query counting other labels than the Job's runtime is refused", labels_differ,
     "the runtime has {'pool': 'gpu'}"),
    ("an authenticationRef to nothing is refused", unknown_auth, "authenticationRef runtime-queue-typo"),
    ("a credential in the Job's pod as a plain value is refused", key_in_plain_text,
     "INTERNAL_API_KEY holds a credential"),
    ("a Job's reference to a key the Secret lacks is refused", key_missing, "has no key apikey"),
    ("a Job's pod that mounts the API token is refused", token_mounted, "automountServiceAccountToken"),
    ("a Job's container that keeps its capabilities is refused", capabilities_kept, "drop must hold ALL"),
    ("a Job's container that may escalate is refused", escalation, "allowPrivilegeEscalation must be false"),
    ("a Job's pod without RuntimeDefault seccomp is refused", no_seccomp, "seccompProfile must be RuntimeDefault"),
    ("a Job's container without limits is refused", no_limits, "no resources.limits.cpu"),
    ("a Job's grace period shorter than the drain is refused", short_grace, "terminationGracePeriodSeconds 30 <"),
    ("Job pods the runtime NetworkPolicy does not select are refused", labels_unselected,
     "NetworkPolicy/runtime: its podSelector matches no pod"),
    ("a Secret value that is not a placeholder is refused", real_looking_secret, "does not say it is a placeholder"),
]
