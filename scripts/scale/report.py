"""The scale simulation's oracle and its one table: what the database holds against what the emitters wrote,
and what the processes cost. Definitions are in the rows' notes; scripts/scale.sh documents the run."""
import csv, glob, io, os, statistics, subprocess, time
from datetime import datetime

from cluster import http, sql


def ms(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000


def rows(db, query):
    out = sql(db, query)
    return [line.split("|") for line in out.splitlines()] if out else []


def emitted(counts):
    """session -> [lines counted by each emitter process that ran it]."""
    runs = {}
    for path in glob.glob(f"{counts}/*"):
        session = os.path.basename(path).rsplit(".", 1)[0]
        with open(path) as f:
            text = f.read().strip()
        runs.setdefault(session, []).append(int(text or 0))
    return runs


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p * len(values))) - 1))] if values else 0


def raw_copy(db, n, lines):
    """Seconds psql takes to COPY n rows shaped like the run's events into the events table (then removed)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    ts = datetime.utcnow().isoformat(timespec="milliseconds") + "Z"
    per = lines + 3
    for i in range(n):
        session, seq = f"copy-{i // per:06d}", i % per
        data = ('{"type":"line","session":"%s","n":%d,"text":"%s"}' % (session, seq, "x" * 80))
        w.writerow([session, seq, ts, "agent", "line", data])
    t0 = time.monotonic()
    subprocess.run(["psql", "-qAt", db, "-c", "COPY events (session_id, seq, ts, source, type, data) FROM STDIN "
                    "WITH (FORMAT csv)"], input=buf.getvalue(), text=True, check=True, capture_output=True)
    took = time.monotonic() - t0
    sql(db, "DELETE FROM events WHERE session_id LIKE 'copy-%'")
    return took


def local_log_matches(c, lost_on_killed, stored_all):
    """Sessions lost with a killed supervisor whose restarted supervisor's local log (GET /sessions/{id}/events)
    has more events than the control plane stored: what it had logged did not all arrive."""
    by_runtime = {s.name: s for s in c.supervisors}
    short = 0
    for session, runtime in lost_on_killed.items():
        status, body = http("GET", f"{by_runtime[runtime].url}/sessions/{session}/events", timeout=30)
        local = len(body.splitlines()) if status == 200 else -1
        if local != stored_all.get(session, 0):
            short += 1
    return short


def print_table(c, db, marks, counts, wall, cfg):
    n = cfg["sessions"]
    status = dict(rows(db, "SELECT status, count(*) FROM sessions WHERE session_id LIKE 's-%' GROUP BY 1 ORDER BY 1"))
    ended = sum(int(v) for k, v in status.items() if k in ("succeeded", "failed", "cancelled", "timed_out", "lost"))
    killed_ms = marks.get("sups_killed_ms", 0)
    lost_on_killed, lost_otherwise = {}, []
    for session, runtime, started in rows(db, "SELECT session_id, coalesce(runtime_id, ''), "
                                              "coalesce(started_at, '') FROM sessions WHERE status = 'lost' "
                                              "AND session_id LIKE 's-%'"):
        # No start in the log (killed between the spawn and writing `session.started`, or before the spawn):
        # only the incarnation that was killed could have left that, its successor writes it before anything.
        if runtime in cfg["killed"] and (not started or ms(started) <= killed_ms):
            lost_on_killed[session] = runtime
        else:
            lost_otherwise.append(session)

    started_db = int(sql(db, "SELECT count(*) FROM (SELECT session_id FROM events WHERE type = 'session.started' "
                             "AND session_id LIKE 's-%' GROUP BY 1 HAVING count(*) > 1) t"))
    runs = emitted(counts)
    started_runner = sum(1 for r in runs.values() if len(r) > 1)
    twice = len({s for s, r in runs.items() if len(r) > 1} | set(
        r[0] for r in rows(db, "SELECT session_id FROM events WHERE type = 'session.started' "
                               "AND session_id LIKE 's-%' GROUP BY 1 HAVING count(*) > 1")))
    reclaimed = rows(db, "SELECT j.session_id, j.attempts, s.status, coalesce(s.runtime_id, '') FROM session_jobs j "
                         "JOIN sessions s USING (session_id) WHERE j.session_id LIKE 's-%' AND j.attempts > 1")

    stored_lines = {s: int(k) for s, k in rows(db, "SELECT session_id, count(*) FROM events WHERE type = 'line' "
                                                  "AND session_id LIKE 's-%' GROUP BY 1")}
    stored_all = {s: int(k) for s, k in rows(db, "SELECT session_id, count(*) FROM events "
                                                "WHERE session_id LIKE 's-%' GROUP BY 1")}
    total_emitted = sum(sum(r) for r in runs.values())
    total_stored = sum(stored_lines.values())
    missing = sum(max(0, sum(r) - stored_lines.get(s, 0)) for s, r in runs.items() if s not in lost_on_killed)
    in_pipe = sum(max(0, sum(runs.get(s, [0])) - stored_lines.get(s, 0)) for s in lost_on_killed)
    duplicated = int(sql(db, "SELECT count(*) FROM (SELECT 1 FROM events WHERE type = 'line' AND session_id LIKE "
                             "'s-%' GROUP BY session_id, data::jsonb->>'n' HAVING count(*) > 1) t"))
    not_whole = n - int(sql(db, "SELECT count(*) FROM (SELECT session_id FROM events WHERE session_id LIKE 's-%' "
                                "GROUP BY 1 HAVING count(*) = max(seq) + 1 AND bool_or(type = 'session.finished')) t"))
    short_local = local_log_matches(c, lost_on_killed, stored_all)
    drained_at = marks.get("drained_at", {})
    after_drain = 0
    for runtime, claimed in rows(db, "SELECT s.runtime_id, j.claimed_ms FROM sessions s JOIN session_jobs j "
                                     "USING (session_id) WHERE j.claimed_ms IS NOT NULL AND s.runtime_id IN "
                                     f"({', '.join(repr(d) for d in cfg['drained'])})"):
        after_drain += int(claimed) > drained_at.get(runtime, 0)
    down = int(sql(db, "SELECT count(*) FROM session_jobs WHERE claimed_ms BETWEEN "
                       f"{marks.get('replica_killed_ms', 0)} AND {marks.get('replica_back_ms', 0)}"))
    drain_bad = sum(1 for rc in marks.get("drain_rc", [None] * 5) if rc != 0)

    q2s = [int(float(v[0])) for v in rows(db, "SELECT extract(epoch FROM s.started_at::timestamptz) * 1000 - "
                                              "j.queued_ms FROM sessions s JOIN session_jobs j USING (session_id) "
                                              "WHERE s.started_at IS NOT NULL AND s.session_id LIKE 's-%'")]
    events = sum(stored_all.values())
    copy_n = min(max(events, 1000), 200_000)
    copy_s = raw_copy(db, copy_n, cfg["lines"])
    ingest_rate, copy_rate = events / wall, copy_n / copy_s

    def per_k(x):
        return 1000 * x / max(events, 1)

    reps = c.replicas
    sups = c.supervisors
    rep_cpu = sum(s.cpu() for s in reps)
    sup_cpu = [s.cpu() for s in sups]
    mib = 1024 * 1024
    pg_now = int(sql(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND pid <> pg_backend_pid()"))
    listeners = int(sql(db, "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'"))

    table = [("measure", "value", "must be")]
    add = table.append
    gates = []  # the values of the must-be-0 rows, recorded where each row is added

    def must_be_zero(label, text, *values):
        gates.extend(values)
        add((label, text, " / ".join("0" for _ in values)))

    add(("sessions queued (public API, through the balancer)", f"{n}", ""))
    add(("sessions finished, by status", ", ".join(f"{k} {v}" for k, v in status.items()), ""))
    add(("lost on killed runtimes (running there at the kill -9)", f"{len(lost_on_killed)}", ""))
    must_be_zero("lost otherwise", f"{len(lost_otherwise)}", len(lost_otherwise))
    must_be_zero("started twice (emitter ran > once, or > 1 session.started)", f"{twice} ({started_runner} "
                 f"runner-side, {started_db} in events)", twice)
    add(("re-claimed after a lease expired (never started before)", f"{len(reclaimed)}", ""))
    must_be_zero("never finished", f"{n - ended}", n - ended)
    must_be_zero("logs not stored whole (gap, or no session.finished)", f"{not_whole}", not_whole)
    must_be_zero("lost sessions whose local log did not all arrive", f"{short_local}", short_local)
    add(("claimed while replica-0 was down (through the other one)", f"{down}", ""))
    must_be_zero("drained: exit code not 0 / sessions they claimed after the drain", f"{drain_bad} / {after_drain}",
                 drain_bad, after_drain)
    add(("events emitted (emitter lines, counted runner-side)", f"{total_emitted}", ""))
    add(("event lines stored (all events stored)", f"{total_stored} ({events})", ""))
    must_be_zero("missing (emitted - stored, sessions not lost at a kill -9)", f"{missing}", missing)
    add(("in the pipe at kill -9, never read (lost sessions)", f"{in_pipe}", ""))
    must_be_zero("duplicated (same session and n stored twice)", f"{duplicated}", duplicated)
    add((f"queue-to-start p50 / p99 ({len(q2s)} sessions, backlog <= {cfg['backlog']})",
         f"{pct(q2s, 0.5)} / {pct(q2s, 0.99)} ms", ""))
    peak = c.peak_ingest()
    add(("ingest events/s: run average, best 5 s / raw COPY, same table",
         f"{ingest_rate:.0f}, {peak:.0f} / {copy_rate:.0f} ({ingest_rate / copy_rate:.2f}x, "
         f"{peak / copy_rate:.2f}x; {copy_n} rows)", ""))
    for r in reps:
        incs = len(r.incarnations)
        add((f"{r.name} ({incs} processes): max RSS, CPU", f"{r.hwm() / mib:.0f} MiB "
             f"({per_k(r.hwm()) / 1024:.1f} KiB per 1,000 events), {r.cpu():.1f} s "
             f"({per_k(r.cpu()) * 1000:.1f} ms per 1,000 events)", ""))
    add(("replicas, both: CPU per 1,000 events", f"{per_k(rep_cpu) * 1000:.1f} ms", ""))
    add((f"supervisors ({len(sups)} slots, {sum(len(s.incarnations) for s in sups)} processes): CPU sum",
         f"{sum(sup_cpu):.1f} s ({per_k(sum(sup_cpu)) * 1000:.1f} ms per 1,000 events), sum of max RSS "
         f"{sum(s.hwm() for s in sups) / mib:.0f} MiB ({per_k(sum(s.hwm() for s in sups)) / mib:.2f} MiB per "
         "1,000 events)", ""))
    add(("supervisor per process: CPU p50 / max, max RSS",
         f"{statistics.median(sup_cpu):.1f} / {max(sup_cpu):.1f} s, {max(s.hwm() for s in sups) / mib:.0f} MiB",
         ""))
    add(("PostgreSQL connections: max sampled / at the end",
         f"{max(c.pg_connections, default=0)} / {pg_now} ({listeners} LISTEN)", ""))
    for r in reps:
        m = c.metrics[r.name]
        add((f"{r.name}: heartbeats/s, claims/s, events/s",
             f"{m.get('agentctl_heartbeats_total', 0) / wall:.1f}, {m.get('agentctl_claims_total', 0) / wall:.1f}"
             f", {m.get('agentctl_events_inserted_total', 0) / wall:.0f}", ""))
    add(("NOTIFY/s: follow doorbell, queue bell (each to every LISTEN)",
         f"{c.notifies['agentctl_follow'] / wall:.1f}, {c.notifies['agentctl_queue'] / wall:.1f}", ""))
    add(("wall time (first queue to all stored)", f"{wall:.0f} s", ""))

    widths = [max(len(r[i]) for r in table) for i in range(3)]
    load = os.getloadavg()
    print(f"scale simulation: {cfg['sups']} supervisors x --max-sessions {cfg['max_sessions']}, 2 agentctl replicas "
          f"behind a round-robin TCP balancer (the Kubernetes Service stand-in), one PostgreSQL; emitter of "
          f"{cfg['lines']} lines {cfg['pause']} s apart; {os.cpu_count()} cores, load {load[0]:.1f} (shared)")
    print("faults: kill -9 replica-0 (back after a few s); kill -9 " + ", ".join(cfg["killed"]) +
          " (fresh processes on the same state dirs); " +
          (f"PostgreSQL restart immediate ({marks.get('pg_restart_s', 0):.1f} s); " if cfg["pg_restarted"]
           else "PostgreSQL restart SKIPPED (external DATABASE_URL); ") + "drain " + ", ".join(cfg["drained"]))
    for i, r in enumerate(table):
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for session, attempts, st, runtime in reclaimed[:10]:
        print(f"re-claimed: {session}, {attempts} attempts, {st} on {runtime}")
    if any(gates):
        print("FAILED: a must-be-0 row is not 0")
        for session in lost_otherwise[:10]:
            print("lost otherwise: " + sql(db, "SELECT concat_ws(' ', session_id, runtime_id, started_at, "
                                               f"finished_at, error) FROM sessions WHERE session_id = '{session}'"))
    return not any(gates)
