#!/usr/bin/env python3
"""Profile a CSV file: per column the inferred type, empty cells, min/max and the most common values.

Standard library only. Usage: profile.py FILE [--json]
"""

import csv
import json
import sys
from collections import Counter
from datetime import date

TOP = 3


def infer(value):
    """The narrowest type a non-empty cell fits, with its parsed value."""
    lowered = value.lower()
    if lowered in ("true", "false", "yes", "no"):
        return "boolean", lowered in ("true", "yes")
    try:
        return "integer", int(value)
    except ValueError:
        pass
    try:
        return "number", float(value)
    except ValueError:
        pass
    try:
        return "date", date.fromisoformat(value)
    except ValueError:
        return "text", value


# When a column mixes types, it is the widest of them.
ORDER = ["boolean", "integer", "number", "date", "text"]


def widen(a, b):
    if a is None:
        return b
    if {a, b} == {"integer", "number"}:
        return "number"
    return a if a == b else "text"


def profile(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(65536)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        rows = csv.reader(f, dialect)
        header = next(rows, None)
        if header is None:
            return {"file": path, "rows": 0, "columns": [], "badRows": 0, "delimiter": dialect.delimiter}
        columns = [
            {"name": name, "type": None, "empty": 0, "values": Counter(), "min": None, "max": None}
            for name in header
        ]
        count = 0
        bad = 0
        for row in rows:
            count += 1
            if len(row) != len(header):
                bad += 1
            for column, cell in zip(columns, row):
                cell = cell.strip()
                if cell == "":
                    column["empty"] += 1
                    continue
                kind, parsed = infer(cell)
                column["type"] = widen(column["type"], kind)
                column["values"][cell] += 1
                if kind in ("integer", "number", "date"):
                    if column["min"] is None or parsed < column["min"]:
                        column["min"] = parsed
                    if column["max"] is None or parsed > column["max"]:
                        column["max"] = parsed
    out = []
    names = Counter(header)
    for column in columns:
        kind = column["type"] or "empty"
        entry = {"name": column["name"], "type": kind, "empty": column["empty"]}
        if names[column["name"]] > 1:
            entry["duplicateName"] = True
        if kind in ("integer", "number", "date"):
            entry["min"] = str(column["min"])
            entry["max"] = str(column["max"])
        else:
            entry["top"] = [[v, n] for v, n in column["values"].most_common(TOP)]
        out.append(entry)
    return {"file": path, "rows": count, "badRows": bad, "delimiter": dialect.delimiter, "columns": out}


def main(argv):
    args = [a for a in argv if a != "--json"]
    if len(args) != 1:
        print("usage: profile.py FILE [--json]", file=sys.stderr)
        return 2
    try:
        result = profile(args[0])
    except (OSError, UnicodeDecodeError) as err:
        print(f"profile.py: cannot read {args[0]}: {err}", file=sys.stderr)
        return 1
    if "--json" in argv:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['file']}: {result['rows']} rows, delimiter {result['delimiter']!r}, {result['badRows']} rows with the wrong number of cells")
    for c in result["columns"]:
        detail = f"min {c['min']} max {c['max']}" if "min" in c else "top " + ", ".join(f"{v!r}×{n}" for v, n in c.get("top", []))
        dup = " (duplicate name)" if c.get("duplicateName") else ""
        print(f"  {c['name']}{dup}: {c['type']}, {c['empty']} empty, {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
