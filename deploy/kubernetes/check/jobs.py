"""The rules for a KEDA ScaledJob that runs the runtime, one session per Job (README.md, "One runtime per
session"): each returns error strings.

- the Job: restartPolicy Never or OnFailure, backoffLimit and ttlSecondsAfterFinished given, and an
  activeDeadlineSeconds that covers a whole session: --exit-when-idle (the wait for its claim) +
  --session-timeout + --grace + --delivery-deadline;
- the supervisor: --max-jobs (the scaler's target value is the same number) and --exit-when-idle set;
- the ScaledJob: a gradual rollout (the default one deletes running Jobs on every update) and the accurate
  scaling strategy, which subtracts only pending Jobs;
- the query counts only queued, unclaimed sessions of the runtime's labels: counting claimed or running ones
  too would start a Job for each of them as well.
"""
import json
import re

from durations import seconds
from flags import flag, labels

# `s.status = 'x'` or `s.status IN ('x', 'y')`: what the counted rows (alias s) may be.
STATUS = re.compile(r"\bs\.status\s*(?:=\s*'(\w+)'|IN\s*\(([^)]*)\))", re.IGNORECASE)
PARENTHESES = re.compile(r"\([^()]*\)")


def errors(obj, container):
    """The rules for ScaledJob `obj` whose pod runs the supervisor `container`."""
    at = f"{obj['kind']}/{obj['metadata']['name']}"
    spec, job = obj["spec"], obj["spec"]["jobTargetRef"]
    found = []
    policy = job["template"]["spec"].get("restartPolicy")
    if policy not in ("Never", "OnFailure"):
        found.append(f"{at}: restartPolicy {policy} (Never or OnFailure, said explicitly)")
    for field in ("backoffLimit", "ttlSecondsAfterFinished", "activeDeadlineSeconds"):
        if field not in job:
            found.append(f"{at}: jobTargetRef.{field} is not set")
    max_jobs = flag(container, "--max-jobs")
    if max_jobs is None:
        found.append(f"{at}: the supervisor has no --max-jobs: a Job's runtime would claim sessions forever")
    elif not max_jobs.isdigit() or int(max_jobs) < 1:
        found.append(f"{at}: --max-jobs {max_jobs!r} is not a whole number of at least 1")
        max_jobs = None
    idle = flag(container, "--exit-when-idle")
    if idle is None or seconds(idle) <= 0:
        found.append(f"{at}: the supervisor has no --exit-when-idle (or 0): a Job whose session another "
                     "runtime claimed would wait until its deadline")
    elif "activeDeadlineSeconds" in job:
        session = seconds(flag(container, "--session-timeout"))
        grace = seconds(flag(container, "--grace"))
        deadline = seconds(flag(container, "--delivery-deadline"))
        need = seconds(idle) + session + grace + deadline
        if job["activeDeadlineSeconds"] < need:
            found.append(
                f"{at}: activeDeadlineSeconds {job['activeDeadlineSeconds']} < exit-when-idle {seconds(idle):g} "
                f"+ session timeout {session:g} + grace {grace:g} + delivery deadline {deadline:g} = {need:g}")
    rollout = spec.get("rollout", {}).get("strategy", spec.get("rolloutStrategy", "default"))
    if rollout != "gradual":
        found.append(f"{at}: rollout strategy {rollout}: an update would delete Jobs in their session "
                     "(use gradual)")
    strategy = spec.get("scalingStrategy", {}).get("strategy", "default")
    if strategy != "accurate":
        found.append(f"{at}: scalingStrategy {strategy}: the query counts queued sessions only, so only "
                     "pending Jobs may be subtracted (accurate)")
    for trigger in spec["triggers"]:
        if trigger["type"] == "postgresql":
            found += trigger_errors(at, trigger["metadata"], max_jobs, labels(container))
    return found


def trigger_errors(at, meta, max_jobs, pool):
    found = []
    if max_jobs is not None and float(meta.get("targetQueryValue", "nan")) != float(max_jobs):
        found.append(f"{at}: targetQueryValue {meta.get('targetQueryValue')} is not the runtime's --max-jobs "
                     f"{max_jobs}")
    query = " ".join(meta.get("query", "").split())
    if not re.match(r"SELECT COUNT\(\*\) FROM sessions s WHERE ", query, re.IGNORECASE):
        found.append(f"{at}: the query must count rows of `FROM sessions s WHERE …`")
    statuses = set()
    for one, many in STATUS.findall(query):
        statuses |= {one} if one else set(re.findall(r"'(\w+)'", many))
    if statuses != {"queued"}:
        found.append(f"{at}: the query counts sessions {sorted(statuses)}: only queued ones get a Job")
    if not re.search(r"\bs\.runtime_id IS NULL\b", query, re.IGNORECASE):
        found.append(f"{at}: the query does not require s.runtime_id IS NULL (unclaimed)")
    top = query
    while PARENTHESES.search(top):
        top = PARENTHESES.sub("", top)
    if re.search(r"\bOR\b", top, re.IGNORECASE):
        found.append(f"{at}: the query's conditions are joined by OR: every one must hold (AND)")
    literals = re.findall(r"'(\{[^']*\})'::jsonb", query)
    if not literals:
        found.append(f"{at}: the query names no pool labels ('{{…}}'::jsonb)")
    for literal in literals:
        if json.loads(literal) != pool:
            found.append(f"{at}: the query counts labels {literal}, the runtime has {pool}")
    return found
