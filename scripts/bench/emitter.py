#!/usr/bin/python3
"""The dispatch benchmark's runner: EMIT_LINES (default 20) NDJSON lines, then a successful result. It stands in
for an agent so that the benchmark measures dispatch and shipping, not a model."""
import json, os, sys

n = int(os.environ.get("EMIT_LINES", "20"))
out = sys.stdout
for i in range(1, n + 1):
    out.write(json.dumps({"type": "line", "n": i, "text": "x" * 80}) + "\n")
out.write(json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                      "result": "done"}) + "\n")
out.flush()
