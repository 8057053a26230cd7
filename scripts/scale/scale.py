#!/usr/bin/env python3
"""The scale simulation (issue 14, DESIGN.md §12), driven by scripts/scale.sh: one machine standing in for a
cluster. SUPS supervisors in pull mode run an NDJSON emitter (scale/emitter.py) and reach 2 `agentctl serve`
replicas on one PostgreSQL through a round-robin TCP balancer (control-plane/examples/balancer.rs, the stand-in
for the Kubernetes Service). SESSIONS sessions are queued through the public API, a feeder keeping at most
BACKLOG of them queued, and while they run, spaced out by the share of sessions finished:

  1. kill -9 one replica, start it again RESTART_AFTER seconds later (on the same port, as a pod comes back);
  2. kill -9 five supervisors, start five fresh processes on the same state dirs (a container restarted in its
     pod keeps its emptyDir volumes): their running sessions end `lost`;
  3. restart PostgreSQL (`scripts/pg.sh restart immediate`), when the cluster is one of scripts/pg.sh;
  4. drain five other supervisors (POST /drain): they finish their sessions, claim nothing new, exit 0.

Then it waits for every session to end and every log to be stored whole, and prints one table (scale/report.py).
Usage: scale.py AGENTCTL SUPERVISOR BALANCER DATABASE_URL. Exits 1 when a must-be-0 row is not 0."""
import os, shutil, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

import cluster
import report
from cluster import TOKEN, http, sql, wait_for

AGENTCTL, SUPERVISOR, BALANCER, DB = sys.argv[1:5]
SUPS = int(os.environ.get("SUPS", "40"))
SESSIONS = int(os.environ.get("SESSIONS", "4000"))
MAX_SESSIONS = int(os.environ.get("MAX_SESSIONS", "8"))
EMIT_LINES = int(os.environ.get("EMIT_LINES", "40"))
EMIT_PAUSE = os.environ.get("EMIT_PAUSE", "0.1")
BACKLOG = int(os.environ.get("BACKLOG", str(SUPS * MAX_SESSIONS // 2)))
RESTART_AFTER = float(os.environ.get("RESTART_AFTER", "5"))
DEADLINE = float(os.environ.get("DEADLINE", "1800"))
PG_DIR = os.environ.get("AGENTCTL_PG_DIR", "")
SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KILLED = list(range(0, 5))
DRAINED = list(range(SUPS - 5, SUPS))
TERMINAL = "('succeeded', 'failed', 'cancelled', 'timed_out', 'lost')"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def now_ms():
    return int(time.time() * 1000)


def finished():
    return int(sql(DB, f"SELECT count(*) FROM sessions WHERE session_id LIKE 's-%' AND status IN {TERMINAL}"))


def feed(cp, stop, fed):
    """Queues SESSIONS sessions, keeping at most BACKLOG queued; a request that fails (a replica killed under
    it) is sent again: the same sessionId and body answer 200."""
    def queue(i):
        body = {"prompt": "emit", "sessionId": f"s-{i:05d}"}
        while True:
            try:
                status, answer = http("POST", f"{cp}/api/v1/agents/emitter/sessions", body, TOKEN, timeout=30)
                if status in (200, 202):
                    return
                log(f"queue s-{i:05d}: {status} {answer[:200]!r}; again")
            except OSError as err:
                log(f"queue s-{i:05d}: {err}; again")
            time.sleep(0.5)

    with ThreadPoolExecutor(8) as pool:
        i = 0
        while i < SESSIONS and not stop.is_set():
            try:
                queued = int(sql(DB, "SELECT count(*) FROM sessions WHERE status = 'queued'"))
            except subprocess.CalledProcessError:
                time.sleep(0.5)  # PostgreSQL restarting
                continue
            n = min(BACKLOG - queued, SESSIONS - i)
            if n > 0:
                list(pool.map(queue, range(i, i + n)))
                i += n
                fed[0] = i
            time.sleep(0.1)


def at(share, stop):
    """Waits until `share` of the sessions have finished."""
    while not stop.is_set():
        try:
            if finished() >= share * SESSIONS:
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.2)


def faults(c, stop, marks):
    at(0.10, stop)
    r = c.replicas[0]
    log(f"fault 1: kill -9 {r.name}")
    with c.lock:
        r.current.kill9()
    marks["replica_killed_ms"] = now_ms()
    time.sleep(RESTART_AFTER)
    c.start_replica(r)
    marks["replica_back_ms"] = now_ms()
    log(f"fault 1: {r.name} is back")

    at(0.30, stop)
    victims = [c.supervisors[i] for i in KILLED]
    log(f"fault 2: kill -9 {', '.join(s.name for s in victims)}")
    with c.lock:
        for s in victims:
            s.current.kill9()
    marks["sups_killed_ms"] = now_ms()
    time.sleep(1)
    for s in victims:
        s.start()
    for s in victims:
        wait_for(f"{s.name} healthy again", lambda s=s: cluster.healthy(s.url))
    log("fault 2: five fresh supervisors on the same state dirs")

    at(0.50, stop)
    if PG_DIR:
        log("fault 3: scripts/pg.sh restart immediate")
        t0 = time.monotonic()
        subprocess.run([f"{SCRIPTS}/pg.sh", "restart", "immediate"], check=True)
        marks["pg_restart_s"] = time.monotonic() - t0
        log(f"fault 3: PostgreSQL back after {marks['pg_restart_s']:.1f} s")
    else:
        log("fault 3: SKIPPED: DATABASE_URL is not a cluster of scripts/pg.sh (no AGENTCTL_PG_DIR), "
            "PostgreSQL is not restarted")

    at(0.70, stop)
    drained = [c.supervisors[i] for i in DRAINED]
    log(f"fault 4: POST /drain to {', '.join(s.name for s in drained)}")
    marks["drained_at"] = {}
    for s in drained:
        status, body = http("POST", s.url + "/drain", {}, timeout=10)
        if status not in (200, 202):
            log(f"POST /drain {s.name}: {status} {body[:200]!r}")
        # The drain has begun once the answer is here: a claim answered later is abandoned, not run.
        marks["drained_at"][s.name] = now_ms()
    for s in drained:
        wait_for(f"{s.name} to exit after its drain", lambda s=s: s.current.reap(block=False), timeout=300,
                 every=0.2)
    marks["drain_rc"] = [s.current.rc for s in drained]
    log(f"fault 4: drained supervisors exited {marks['drain_rc']}")
    marks["faults_done"] = True


def settled():
    """Every session ended and every log stored whole (no gap below its last seq, `session.finished` in it)."""
    row = sql(DB, f"""
        SELECT (SELECT count(*) FROM sessions WHERE session_id LIKE 's-%' AND status IN {TERMINAL}),
               (SELECT count(*) FROM (SELECT session_id FROM events WHERE session_id LIKE 's-%'
                   GROUP BY session_id
                   HAVING count(*) = max(seq) + 1 AND bool_or(type = 'session.finished')) whole)""")
    ended, whole = map(int, row.split("|"))
    return ended >= SESSIONS and whole >= SESSIONS


def main():
    tmp = tempfile.mkdtemp(prefix="scale.")
    os.chmod(tmp, 0o755)
    counts = f"{tmp}/emitted"
    os.makedirs(counts)
    os.chmod(counts, 0o1777)
    c = cluster.Cluster(tmp, DB, AGENTCTL, SUPERVISOR, BALANCER)
    ok = False
    try:
        for _ in range(2):
            c.start_replica(c.add_replica())
        c.start_balancer()
        cp = c.balancer.url
        agent = {"id": "emitter", "runtimeSelector": {"pool": "scale"},
                 "env": {"EMIT_LINES": str(EMIT_LINES), "EMIT_PAUSE": EMIT_PAUSE, "EMIT_COUNT_DIR": counts}}
        status, body = http("PUT", f"{cp}/api/v1/agents/emitter", agent, TOKEN)
        if status not in (200, 201):
            raise SystemExit(f"PUT agent: {status} {body!r}")
        for i in range(SUPS):
            c.add_supervisor(i, MAX_SESSIONS, "120s").start()
        for s in c.supervisors:
            wait_for(f"{s.name} healthy", lambda s=s: cluster.healthy(s.url))
        log(f"{SUPS} supervisors x {MAX_SESSIONS}, 2 replicas behind the balancer {cp}; logs in {tmp}")
        c.start_sampling()

        stop = threading.Event()
        marks, fed = {}, [0]
        t0 = time.time()
        threads = [threading.Thread(target=feed, args=(cp, stop, fed), daemon=True),
                   threading.Thread(target=faults, args=(c, stop, marks), daemon=True)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + DEADLINE
        last_log = 0
        while time.monotonic() < deadline:
            try:
                if fed[0] >= SESSIONS and marks.get("faults_done") and settled():
                    break
                if time.monotonic() - last_log > 15:
                    last_log = time.monotonic()
                    log(f"{finished()} of {SESSIONS} sessions ended ({fed[0]} queued so far)")
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.5)
        else:
            log(f"DEADLINE: not settled within {DEADLINE:.0f} s")
        wall = time.time() - t0
        stop.set()
        for t in threads:
            t.join(timeout=10)
        ok = report.print_table(c, DB, marks, counts, wall, dict(
            sups=SUPS, sessions=SESSIONS, max_sessions=MAX_SESSIONS, lines=EMIT_LINES, pause=EMIT_PAUSE,
            backlog=BACKLOG, killed=[f"scale-{i}" for i in KILLED], drained=[f"scale-{i}" for i in DRAINED],
            pg_restarted=bool(PG_DIR)))
    finally:
        c.shutdown()
        if ok and not os.environ.get("KEEP_LOGS"):
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"logs: {tmp} (removed after a passing run; KEEP_LOGS=1 keeps them)")
        else:
            print(f"logs: {tmp} (replica-*.log, balancer.log, sup-*/supervisor.log, sup-*/state)")
    sys.exit(0 if ok else 1)


main()
