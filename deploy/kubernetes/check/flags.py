"""The supervisor's flags as clap reads them from a container: argv, then the flag's variable, then its
default (supervisor/src/config.rs)."""

# Flags the checks read, with the supervisor's defaults; None: no default (unset, or unlimited).
SUPERVISOR_DEFAULTS = {"--grace": "10s", "--delivery-deadline": "10s", "--drain-timeout": "0s",
                       "--max-sessions": "16", "--session-timeout": "1h", "--max-jobs": None,
                       "--exit-when-idle": None}
SUPERVISOR_ENV = {"--drain-timeout": "SUPERVISOR_DRAIN_TIMEOUT", "--max-sessions": "SUPERVISOR_MAX_SESSIONS",
                  "--label": "SUPERVISOR_LABELS", "--max-jobs": "SUPERVISOR_MAX_JOBS",
                  "--exit-when-idle": "SUPERVISOR_EXIT_WHEN_IDLE"}


def flag(container, option):
    """A supervisor flag's value: argv (`--f=v` or `--f v`, the last one wins), then its variable, then the
    default. `--label` gives every value (repeatable)."""
    args = container.get("args", [])
    values = []
    for i, arg in enumerate(args):
        if arg.startswith(option + "="):
            values.append(arg.split("=", 1)[1])
        elif arg == option and i + 1 < len(args):
            values.append(args[i + 1])
    if values:
        return values if option == "--label" else values[-1]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if option in SUPERVISOR_ENV and env.get(SUPERVISOR_ENV[option]) is not None:
        value = env[SUPERVISOR_ENV[option]]
        return value.split(",") if option == "--label" else value
    return [] if option == "--label" else SUPERVISOR_DEFAULTS[option]


def labels(container):
    """The runtime's labels (`--label`, `SUPERVISOR_LABELS`) as a dict."""
    return dict(label.split("=", 1) for label in flag(container, "--label"))
