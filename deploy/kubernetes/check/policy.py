"""The rules a schema cannot state, over one kustomization's rendered objects: each returns error strings.

- every container has requests and limits, a securityContext that drops ALL, forbids privilege escalation
  and keeps the root filesystem read-only; every long-running container has readiness and liveness probes;
- pods and ServiceAccounts mount no API token, pods run under the RuntimeDefault seccomp profile;
- every environment variable holding a credential comes from a secretKeyRef, and no secret flag is on argv;
- the runtime's terminationGracePeriodSeconds covers --drain-timeout + --grace + --delivery-deadline;
- the scaler matches the runtime it scales (slots, labels, a cooldown above the drain);
- a ScaledJob's runtime is a one-session Job whose deadline covers its session (jobs.py);
- names point at something: selectors, named ports, ServiceAccounts, Secrets (when the rendering has any),
  and a rendered Secret holds nothing but placeholders.
"""
import base64
import json
import re

import jobs
from durations import seconds
from flags import flag, labels as runtime_labels

# Where each kind that runs pods keeps its pod template.
TEMPLATES = {"Deployment": ("spec", "template"), "StatefulSet": ("spec", "template"),
             "DaemonSet": ("spec", "template"), "Job": ("spec", "template"),
             "CronJob": ("spec", "jobTemplate", "spec", "template"),
             "ScaledJob": ("spec", "jobTargetRef", "template")}
# Names of variables that hold a credential; `*_FILE` ones hold a path to one.
CREDENTIAL = re.compile(r"(^|_)(KEY|TOKENS?|PASSWORD|SECRETS?|CREDENTIALS?)(_|$)|DATABASE_URL|CONNECTION")
# Flags whose value is a secret: the binaries refuse them on argv, and argv is readable by every process.
SECRET_FLAGS = ("--internal-api-key", "--api-token", "--anthropic-api-key", "--token", "--secrets-key")


def name(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def template(obj):
    """The pod template of a workload (a ScaledJob's is its jobTargetRef's), else None."""
    if obj["kind"] not in TEMPLATES:
        return None
    at = obj
    for key in TEMPLATES[obj["kind"]]:
        at = at[key]
    return at


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    found = template(obj)
    return None if found is None else found["spec"]


def pod_labels(obj):
    if obj["kind"] == "Pod":
        return obj["metadata"].get("labels", {})
    return template(obj).get("metadata", {}).get("labels", {})


def workloads(objs):
    """Every object that runs pods, a ScaledJob included: each rule on pods holds for its Jobs' pods."""
    return [o for o in objs if pod_spec(o) is not None]


def containers(spec):
    return [(c, False) for c in spec.get("containers", [])] + [(c, True) for c in spec.get("initContainers", [])]


def check(objs):
    errors = []
    for obj in workloads(objs):
        errors += pod_errors(obj)
    for obj in objs:
        if obj["kind"] == "ServiceAccount" and obj.get("automountServiceAccountToken") is not False:
            errors.append(f"{name(obj)}: automountServiceAccountToken must be false")
    errors += runtime_errors(objs)
    errors += reference_errors(objs)
    errors += secret_errors(objs)
    return errors


def pod_errors(obj):
    spec, where = pod_spec(obj), name(obj)
    errors = []
    if spec.get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: automountServiceAccountToken must be false")
    pod_seccomp = spec.get("securityContext", {}).get("seccompProfile", {}).get("type")
    for container, init in containers(spec):
        at = f"{where} container {container['name']}"
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                if resource not in resources.get(part, {}):
                    errors.append(f"{at}: no resources.{part}.{resource}")
        if not init:
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in container:
                    errors.append(f"{at}: no {probe}")
        context = container.get("securityContext", {})
        if "ALL" not in context.get("capabilities", {}).get("drop", []):
            errors.append(f"{at}: securityContext.capabilities.drop must hold ALL")
        if context.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{at}: securityContext.allowPrivilegeEscalation must be false")
        if context.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{at}: securityContext.readOnlyRootFilesystem must be true")
        if context.get("privileged"):
            errors.append(f"{at}: privileged")
        if context.get("seccompProfile", {}).get("type", pod_seccomp) != "RuntimeDefault":
            errors.append(f"{at}: seccompProfile must be RuntimeDefault (pod or container)")
        for env in container.get("env", []):
            if CREDENTIAL.search(env["name"]) and not env["name"].endswith("_FILE"):
                if "secretKeyRef" not in env.get("valueFrom", {}):
                    errors.append(f"{at}: {env['name']} holds a credential: take it from a secretKeyRef")
        for arg in container.get("args", []) + container.get("command", []):
            flag = arg.split("=", 1)[0]
            if flag in SECRET_FLAGS or (flag == "--database-url" and "@" in arg):
                errors.append(f"{at}: {flag} on argv (readable in /proc/PID/cmdline): use the environment")
    return errors


def supervisors(objs):
    """(workload, container) of each agent-supervisor: the container named `supervisor`."""
    return [(o, c) for o in workloads(objs) for c in pod_spec(o)["containers"] if c["name"] == "supervisor"]


def runtime_errors(objs):
    found = supervisors(objs)
    if not found:
        return ["no runtime: no workload has a container named supervisor"]
    errors = []
    for obj, container in found:
        at = name(obj)
        drain = seconds(flag(container, "--drain-timeout"))
        grace = seconds(flag(container, "--grace"))
        deadline = seconds(flag(container, "--delivery-deadline"))
        period = pod_spec(obj).get("terminationGracePeriodSeconds", 30)
        if drain <= 0:
            errors.append(f"{at}: --drain-timeout is 0: SIGTERM would stop sessions instead of draining")
        if period < drain + grace + deadline:
            errors.append(
                f"{at}: terminationGracePeriodSeconds {period} < drain {drain:g} + grace {grace:g} + "
                f"delivery deadline {deadline:g} = {drain + grace + deadline:g}")
        errors += scaler_errors(objs, obj, container, drain)
        if obj["kind"] == "ScaledJob":
            errors += jobs.errors(obj, container)
    return errors


def scaler_errors(objs, target, container, drain):
    slots = int(flag(container, "--max-sessions"))
    labels = runtime_labels(container)
    errors = []
    for obj in objs:
        if obj["kind"] == "ScaledObject" and obj["spec"]["scaleTargetRef"]["name"] == target["metadata"]["name"]:
            at = name(obj)
            if obj["spec"].get("cooldownPeriod", 300) < drain:
                errors.append(f"{at}: cooldownPeriod {obj['spec'].get('cooldownPeriod', 300)} is below the "
                              f"drain timeout {drain:g}")
            for trigger in obj["spec"]["triggers"]:
                if trigger["type"] != "postgresql":
                    continue
                meta = trigger["metadata"]
                if float(meta.get("targetQueryValue", "nan")) != slots:
                    errors.append(f"{at}: targetQueryValue {meta.get('targetQueryValue')} is not the "
                                  f"runtime's {slots} slots (--max-sessions)")
                literals = re.findall(r"'(\{[^']*\})'::jsonb", meta.get("query", ""))
                if not literals:
                    errors.append(f"{at}: the query names no pool labels ('{{…}}'::jsonb)")
                for literal in literals:
                    if json.loads(literal) != labels:
                        errors.append(f"{at}: the query counts labels {literal}, the runtime has {labels}")
        if (obj["kind"] == "HorizontalPodAutoscaler"
                and obj["spec"]["scaleTargetRef"]["name"] == target["metadata"]["name"]):
            for metric in obj["spec"].get("metrics", []):
                value = metric.get(metric["type"][0].lower() + metric["type"][1:], {}).get("target", {})
                if "averageValue" in value and float(value["averageValue"]) != slots:
                    errors.append(f"{name(obj)}: averageValue {value['averageValue']} is not the runtime's "
                                  f"{slots} slots (--max-sessions)")
    return errors


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def reference_errors(objs):
    errors = []
    pods = workloads(objs)
    ns = lambda o: o["metadata"].get("namespace")
    by_kind = {}
    for obj in objs:
        by_kind.setdefault(obj["kind"], set()).add((ns(obj), obj["metadata"]["name"]))

    def selected(obj, selector):
        return [p for p in pods if ns(p) == ns(obj) and matches(selector, pod_labels(p))]

    def port_names(workload):
        return {p["name"] for c in pod_spec(workload)["containers"] for p in c.get("ports", []) if "name" in p}

    for obj in objs:
        at, kind = name(obj), obj["kind"]
        if kind == "Service":
            chosen = selected(obj, obj["spec"].get("selector", {}))
            if not chosen:
                errors.append(f"{at}: its selector matches no pod")
            for port in obj["spec"]["ports"]:
                if isinstance(port.get("targetPort"), str) and any(
                        port["targetPort"] not in port_names(w) for w in chosen):
                    errors.append(f"{at}: targetPort {port['targetPort']} is no port of its pods")
        elif kind == "PodDisruptionBudget":
            if not selected(obj, obj["spec"]["selector"].get("matchLabels", {})):
                errors.append(f"{at}: its selector matches no pod")
        elif kind == "NetworkPolicy":
            chosen = selected(obj, obj["spec"]["podSelector"].get("matchLabels", {}))
            if not chosen:
                errors.append(f"{at}: its podSelector matches no pod")
            for rule in obj["spec"].get("ingress", []):
                for port in rule.get("ports", []):
                    if isinstance(port.get("port"), str) and any(port["port"] not in port_names(w) for w in chosen):
                        errors.append(f"{at}: ingress port {port['port']} is no port of its pods")
            for rule in obj["spec"].get("ingress", []) + obj["spec"].get("egress", []):
                for peer in rule.get("from", []) + rule.get("to", []):
                    if "podSelector" in peer and "namespaceSelector" not in peer:
                        if not selected(obj, peer["podSelector"].get("matchLabels", {})):
                            errors.append(f"{at}: peer {peer['podSelector']} matches no pod")
        elif kind in ("ScaledObject", "ScaledJob"):
            ref = obj["spec"].get("scaleTargetRef")
            if ref and (ns(obj), ref["name"]) not in by_kind.get(ref.get("kind", "Deployment"), set()):
                errors.append(f"{at}: scaleTargetRef {ref['name']} is not in the rendering")
            for trigger in obj["spec"]["triggers"]:
                auth = trigger.get("authenticationRef")
                if auth and (ns(obj), auth["name"]) not in by_kind.get(auth.get("kind", "TriggerAuthentication"), set()):
                    errors.append(f"{at}: authenticationRef {auth['name']} is not in the rendering")
        elif kind == "HorizontalPodAutoscaler":
            ref = obj["spec"]["scaleTargetRef"]
            if (ns(obj), ref["name"]) not in by_kind.get(ref["kind"], set()):
                errors.append(f"{at}: scaleTargetRef {ref['name']} is not in the rendering")
    for obj in pods:
        spec = pod_spec(obj)
        account = spec.get("serviceAccountName", "default")
        if (ns(obj), account) not in by_kind.get("ServiceAccount", set()):
            errors.append(f"{name(obj)}: serviceAccountName {account} is not in the rendering")
        for container, init in containers(spec):
            ports = {p["name"] for p in container.get("ports", []) if "name" in p}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                action = container.get(probe, {})
                port = (action.get("httpGet") or action.get("tcpSocket") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{name(obj)} container {container['name']}: {probe} port {port} is not named")
    return errors


def secret_refs(objs):
    """(namespace, secret, key, who) for every reference to a Secret's key."""
    refs = []
    for obj in workloads(objs):
        for container, _ in containers(pod_spec(obj)):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append((obj["metadata"].get("namespace"), ref["name"], ref["key"],
                                 f"{name(obj)} {env['name']}"))
    for obj in objs:
        if obj["kind"] == "TriggerAuthentication":
            for ref in obj["spec"].get("secretTargetRef", []):
                refs.append((obj["metadata"].get("namespace"), ref["name"], ref["key"], name(obj)))
    return refs


def secret_errors(objs):
    """A rendering with Secrets (a dev overlay) must hold every one referenced, with placeholder values only.
    One without (the base, production) expects them to be created: they are listed, not checked."""
    secrets = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objs if o["kind"] == "Secret"}
    if not secrets:
        return []
    errors = []
    for namespace, secret, key, who in secret_refs(objs):
        found = secrets.get((namespace, secret))
        if found is None:
            errors.append(f"{who}: Secret {secret} is not in the rendering")
        elif key not in found.get("data", {}) and key not in found.get("stringData", {}):
            errors.append(f"{who}: Secret {secret} has no key {key}")
    for secret in secrets.values():
        values = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}
        values.update(secret.get("stringData", {}))
        for key, value in values.items():
            decoded = value
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except ValueError:
                pass
            if "placeholder" not in value and "placeholder" not in decoded:
                errors.append(f"{name(secret)}: {key} does not say it is a placeholder: a real credential "
                              "never goes into the repository")
    return errors
