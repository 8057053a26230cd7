#!/usr/bin/python3
"""The scale simulation's runner (scripts/scale.sh): EMIT_LINES NDJSON lines, EMIT_PAUSE seconds apart (jittered),
then a successful result. Each line carries its session and `n`, so the oracle can find a line stored twice.

What it emitted is counted on the runner side, in EMIT_COUNT_DIR/<session>.<pid>: the number of lines the pipe
took so far, rewritten in place after every line. A line counts once write() returned: it is then in the pipe
(or read), so a `kill -9` of the supervisor can leave the last counted lines in the pipe, never read. One file
per process, so a session run twice shows up as two files."""
import json, os, random, sys, time

job = json.load(sys.stdin)
session = job["sessionId"]
lines = int(os.environ.get("EMIT_LINES", "40"))
pause = float(os.environ.get("EMIT_PAUSE", "0.1"))
count = os.open(f"{os.environ['EMIT_COUNT_DIR']}/{session}.{os.getpid()}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                0o644)


def counted(n):
    os.pwrite(count, b"%10d\n" % n, 0)


counted(0)
for n in range(1, lines + 1):
    line = json.dumps({"type": "line", "session": session, "n": n, "text": "x" * 80}) + "\n"
    try:
        # One write of less than PIPE_BUF: the pipe takes the whole line or nothing.
        os.write(1, line.encode())
    except BrokenPipeError:
        # The supervisor was killed: nobody reads any more.
        sys.exit(1)
    counted(n)
    time.sleep(pause * random.uniform(0.5, 1.5))
os.write(1, (json.dumps({"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                         "result": "done"}) + "\n").encode())
