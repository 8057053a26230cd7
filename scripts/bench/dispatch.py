#!/usr/bin/env python3
"""Dispatch benchmark (issue 11, DESIGN.md §9), driven by scripts/bench-dispatch.sh:

  (a) queue-to-claim latency: SAMPLES sessions queued one at a time (each after the previous one was claimed,
      then a short random pause) while SUPS idle supervisors long-poll 2 `agentctl serve` replicas; measured from
      the database's own timestamps (session_jobs.queued_ms, set when the queue row is written, to claimed_ms,
      set by the claim's UPDATE), so it is the control plane's wake-up and claim, not HTTP to the queuing client;
  (b) SESSIONS emitter sessions queued before the supervisors start, drained by pull, against the same
      supervisors driven by direct POST /execute (a client that keeps each supervisor at --max-sessions,
      retrying a 429 after a short pause): sessions/s each, from the first claim (pull) or the first POST
      (direct) to the last session.finished (sessions.finished_at), and the ratio.

Usage: dispatch.py AGENTCTL SUPERVISOR DATABASE_URL. Prints one table."""
import json, os, random, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time
import urllib.error, urllib.request
from datetime import datetime

AGENTCTL, SUPERVISOR, DB = sys.argv[1:4]
SUPS = int(os.environ.get("SUPS", "10"))
MAX_SESSIONS = int(os.environ.get("MAX_SESSIONS", "8"))
SAMPLES = int(os.environ.get("SAMPLES", "200"))
SESSIONS = int(os.environ.get("SESSIONS", "1000"))
EMIT_LINES = os.environ.get("EMIT_LINES", "20")
KEY = "bench-internal-key-0123456789"
TOKEN = "bench-api-token-0123456789"
EMITTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emitter.py")
TMP = tempfile.mkdtemp(prefix="bench-dispatch.")
os.chmod(TMP, 0o755)
procs = []
serve_procs = []
TICK = os.sysconf("SC_CLK_TCK")


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(TMP, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_healthy(url, what):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http("GET", url + "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{what} did not come up (logs in {TMP})")


def sql(query):
    out = subprocess.run(["psql", "-qAt", DB, "-c", query], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def serve():
    port = free_port()
    env = dict(os.environ, DATABASE_URL=DB, INTERNAL_API_KEY=KEY, AGENTCTL_API_TOKENS=TOKEN, RUST_LOG="warn")
    log = open(f"{TMP}/serve-{port}.log", "w")
    procs.append(subprocess.Popen([AGENTCTL, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                  stdout=log, stderr=log))
    serve_procs.append(procs[-1])
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, "agentctl serve")
    return url


def cpu_seconds(ps):
    """User + system CPU time of these processes (not their children) so far."""
    total = 0
    for p in ps:
        with open(f"/proc/{p.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def supervisor(i, cp):
    port = free_port()
    d = f"{TMP}/sup-{i}"
    os.makedirs(d)
    os.chmod(d, 0o755)
    first_uid = 3_000_000 + i * 1000
    args = [SUPERVISOR, "--listen", f"127.0.0.1:{port}", "--workspace", f"{d}/ws", "--state-dir", f"{d}/state",
            "--runner", f"/usr/bin/python3 {EMITTER}", "--run-as", "nobody", "--no-auth",
            "--uid-range", f"{first_uid}-{first_uid + 999}", "--runtime-id", f"bench-{i}",
            "--max-sessions", str(MAX_SESSIONS), "--label", "pool=bench", "--control-plane-url", cp]
    env = {"PATH": os.environ["PATH"], "RUST_LOG": "warn", "INTERNAL_API_KEY": KEY}
    log = open(f"{d}/supervisor.log", "w")
    procs.append(subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=log))
    return f"http://127.0.0.1:{port}"


def queue(cp, session):
    status, body = http("POST", f"{cp}/api/v1/agents/emitter/sessions", {"prompt": "emit", "sessionId": session},
                        TOKEN)
    if status != 202:
        raise SystemExit(f"queue {session}: {status} {body[:300]!r}")


def finished_ms(prefix):
    """(sessions of the batch that have ended, how many of them failed, the latest finished_at in ms)."""
    row = sql(f"SELECT count(*), count(*) FILTER (WHERE status <> 'succeeded'), max(finished_at) FROM sessions "
              f"WHERE session_id LIKE '{prefix}-%' AND finished_at IS NOT NULL")
    done, bad, last = row.split("|")
    last_ms = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp() * 1000 if last else None
    return int(done), int(bad), last_ms


def wait_batch(prefix, n, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, bad, last = finished_ms(prefix)
        if done >= n:
            return bad, last
        time.sleep(0.2)
    raise SystemExit(f"{prefix}: only {done} of {n} finished within {timeout}s (logs in {TMP})")


def direct(sups, n):
    """Keeps every supervisor at MAX_SESSIONS running sessions with POST /execute until n have started."""
    ids = iter(range(n))
    lock = threading.Lock()
    retried = [0]

    def worker(sup):
        while True:
            with lock:
                i = next(ids, None)
            if i is None:
                return
            session = f"direct-{i:04d}"
            body = {"agentId": "emitter", "sessionId": session, "prompt": "emit", "env": {"EMIT_LINES": EMIT_LINES}}
            while True:
                status, answer = http("POST", f"{sup}/execute", body)
                if status == 202:
                    break
                if status != 429:
                    raise SystemExit(f"POST /execute {session}: {status} {answer[:300]!r}")
                # Full (a slot frees a moment after the session ends): ask again soon, not after Retry-After's
                # 5 s, which would measure the header instead of the supervisor.
                with lock:
                    retried[0] += 1
                time.sleep(0.01)
            # Until the session has ended: the events follow closes then.
            http("GET", f"{sup}/sessions/{session}/events?follow=true")

    threads = [threading.Thread(target=worker, args=(s,)) for s in sups for _ in range(MAX_SESSIONS)]
    t0 = time.time() * 1000
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return t0, retried[0]


def main():
    replicas = [serve(), serve()]
    a = replicas[0]
    status, body = http("PUT", f"{a}/api/v1/agents/emitter",
                        {"id": "emitter", "env": {"EMIT_LINES": EMIT_LINES}, "runtimeSelector": {"pool": "bench"}},
                        TOKEN)
    if status not in (200, 201):
        raise SystemExit(f"PUT agent: {status} {body!r}")

    # (b) pull: everything queued (half on each replica) before a supervisor exists.
    for i in range(SESSIONS):
        queue(replicas[i % 2], f"pull-{i:04d}")
    sups = [supervisor(i, replicas[i % 2]) for i in range(SUPS)]
    sup_procs = procs[len(replicas):]
    for s in sups:
        wait_healthy(s, "agent-supervisor")
    cpu0 = (cpu_seconds(serve_procs), cpu_seconds(sup_procs))
    pull_bad, pull_last = wait_batch("pull", SESSIONS)
    cpu1 = (cpu_seconds(serve_procs), cpu_seconds(sup_procs))
    pull_first = float(sql("SELECT min(claimed_ms) FROM session_jobs WHERE session_id LIKE 'pull-%'"))
    pull_rate = SESSIONS / ((pull_last - pull_first) / 1000)

    # (b) direct, the same supervisors.
    t0, retried = direct(sups, SESSIONS)
    direct_bad, direct_last = wait_batch("direct", SESSIONS)
    cpu2 = (cpu_seconds(serve_procs), cpu_seconds(sup_procs))
    pull_cpu = [1000 * (b - a) / SESSIONS for a, b in zip(cpu0, cpu1)]
    direct_cpu = [1000 * (b - a) / SESSIONS for a, b in zip(cpu1, cpu2)]
    direct_rate = SESSIONS / ((direct_last - t0) / 1000)

    # (a) latency, with every supervisor idle and long-polling.
    time.sleep(1)
    for i in range(SAMPLES):
        cp = replicas[i % 2]
        session = f"lat-{i:04d}"
        queue(cp, session)
        deadline = time.monotonic() + 30
        while sql(f"SELECT claimed_ms IS NOT NULL FROM session_jobs WHERE session_id = '{session}'") != "t":
            if time.monotonic() > deadline:
                raise SystemExit(f"{session} was not claimed within 30 s")
            time.sleep(0.005)
        time.sleep(random.uniform(0.05, 0.15))
    rows = sql("SELECT claimed_ms - queued_ms FROM session_jobs WHERE session_id LIKE 'lat-%'").split()
    lat = sorted(int(r) for r in rows)
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(round(0.99 * len(lat))) - 1)]
    wait_batch("lat", SAMPLES)

    load = os.getloadavg()
    print(f"dispatch benchmark: {SUPS} supervisors x --max-sessions {MAX_SESSIONS}, 2 replicas, PostgreSQL, "
          f"emitter of {EMIT_LINES} lines; {os.cpu_count()} cores, load {load[0]:.1f} at the end (shared machine)")
    rows = [
        ("measure", "value", "goal"),
        (f"queue -> claim p50 / p99 / max ({len(lat)} samples)", f"{p50:.0f} / {p99} / {lat[-1]} ms", "p99 <= 50 ms"),
        (f"pull: {SESSIONS} queued sessions drained", f"{pull_rate:.1f} sessions/s", ""),
        ("direct POST /execute, same supervisors", f"{direct_rate:.1f} sessions/s ({retried} 429s)", ""),
        ("CPU per session, serve / supervisors: pull", f"{pull_cpu[0]:.1f} / {pull_cpu[1]:.1f} ms", ""),
        ("CPU per session, serve / supervisors: direct", f"{direct_cpu[0]:.1f} / {direct_cpu[1]:.1f} ms", ""),
        ("pull / direct", f"{pull_rate / direct_rate:.2f}", ">= 0.90"),
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    for n, r in enumerate(rows):
        print("| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    if pull_bad or direct_bad:
        print(f"not succeeded: {pull_bad} pulled, {direct_bad} direct (logs in {TMP})")


try:
    main()
finally:
    cleanup()
