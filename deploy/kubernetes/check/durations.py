"""Durations as the supervisor's flags take them (humantime: `15m`, `10s`, `1h 30m`, `900sec`)."""
import re

UNITS = {
    "ns": 1e-9, "nsec": 1e-9, "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
PART = re.compile(r"\s*(\d+)\s*([a-z]+)")


def seconds(text):
    """The duration in seconds; ValueError for anything humantime would refuse too."""
    total, at = 0.0, 0
    text = text.strip()
    while at < len(text):
        part = PART.match(text, at)
        if not part or part.group(2) not in UNITS:
            raise ValueError(f"not a duration: {text!r}")
        total += int(part.group(1)) * UNITS[part.group(2)]
        at = part.end()
    if not text:
        raise ValueError("not a duration: ''")
    return total
