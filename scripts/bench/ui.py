#!/usr/bin/env python3
"""Web UI benchmark (issue 13, DESIGN.md §11), driven by scripts/bench-ui.sh.

One `agentctl serve` per backend (the embedded SQLite default, then PostgreSQL when a URL is given), seeded
through the internal ingest API with 100,000 finished sessions (a quarter failed) and one session of 100,000
events (SDK-shaped assistant text, tool calls and tool results). Signed in through the sign-in form, like a
browser, it then fetches each page ROUNDS times one after the other, alternating with `GET /health`:

- the session page of the 100,000-event session: time to the first byte, and the HTML's size (goals: <= 100 ms,
  <= 200 KB);
- the sessions list over the 100,000 sessions, plus its "errors only" and one-agent filters (goal: <= 100 ms);
- `GET /health` of the same server in the same run, the figure to compare against.

Printed: p50/p99 of each, and the bytes of each page. Usage: ui.py AGENTCTL [DATABASE_URL]."""
import base64, http.client, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

AGENTCTL = sys.argv[1]
PG_URL = sys.argv[2] if len(sys.argv) > 2 else None
SESSIONS = int(os.environ.get("SESSIONS", "100000"))
EVENTS = int(os.environ.get("EVENTS", "100000"))
ROUNDS = int(os.environ.get("ROUNDS", "50"))
TOKEN = "bench-api-token-0123456789"
KEY = "bench-internal-key-0123456789"
TMP = tempfile.mkdtemp(prefix="bench-ui.")
BIG = "bench-big-session"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.monotonic()
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    first = time.monotonic()
    data = r.read()
    conn.close()
    return r, data, (first - t0) * 1000.0


def start_serve(name, database_url):
    port = free_port()
    env = dict(os.environ, INTERNAL_API_KEY=KEY, AGENTCTL_API_TOKENS=TOKEN, RUST_LOG="warn",
               AGENTCTL_SECRETS_KEY=base64.b64encode(b"bench-secrets-key-of-32-bytes-ok").decode())
    args = [AGENTCTL, "serve", "--listen", f"127.0.0.1:{port}"]
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        args += ["--database-url", f"sqlite://{TMP}/{name}.db"]
    log = open(os.path.join(TMP, f"{name}.log"), "w")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/health")[0].status == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"agentctl serve ({name}) did not come up: see {TMP}/{name}.log")


def ts(i):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_790_000_000 + i)) + ".000Z"


def event(sid, seq, source, kind, data, i):
    return {"sessionId": sid, "seq": seq, "ts": ts(i), "source": source, "type": kind, "data": data}


def ingest(port, events):
    body = json.dumps({"runtimeId": "rt-bench", "events": events})
    r, data, _ = request(port, "POST", "/api/internal/v1/events", body,
                         {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    if r.status != 200:
        raise SystemExit(f"ingest: {r.status} {data[:300]!r}")


def seed_sessions(port):
    batch = []
    for n in range(SESSIONS):
        sid = f"bench-s-{n:06d}"
        agent = f"agent-{n % 20}"
        failed = n % 4 == 0
        batch.append(event(sid, 0, "supervisor", "session.started",
                           {"agentId": agent, "pid": 1000 + n % 30000, "runtimeId": "rt-bench"}, n))
        batch.append(event(sid, 1, "supervisor", "session.finished",
                           {"status": "failed" if failed else "succeeded", "exitCode": 1 if failed else 0,
                            "signal": None, "durationMs": 1000 + n % 90000, "numTurns": 1 + n % 9,
                            "totalCostUsd": 0.001 * (n % 50), "error": "max turns" if failed else None,
                            "stderrTail": None}, n + 5))
        if len(batch) >= 4000:
            ingest(port, batch)
            batch = []
    if batch:
        ingest(port, batch)


def sdk_message(k):
    """The k-th message of a long session: assistant text, a tool call, its result, in turn."""
    if k % 3 == 0:
        return "assistant", {"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "text", "text": f"Step {k}: looking at the next file and what it does. " * 3}]}}
    if k % 3 == 1:
        return "assistant", {"type": "assistant", "message": {"role": "assistant", "content": [
            {"type": "tool_use", "id": f"toolu_{k:06d}", "name": "Bash",
             "input": {"command": f"sed -n '{k},{k + 40}p' src/main.rs", "description": "Read"}}]}}
    return "user", {"type": "user", "message": {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": f"toolu_{k - 1:06d}", "content": "fn main() {}\n" * 20}]}}


def seed_big(port):
    batch = [event(BIG, 0, "supervisor", "session.started",
                   {"agentId": "agent-big", "pid": 4242, "runtimeId": "rt-bench"}, 0)]
    for seq in range(1, EVENTS - 1):
        kind, data = sdk_message(seq)
        batch.append(event(BIG, seq, "agent", kind, data, seq // 10))
        if len(batch) >= 4000:
            ingest(port, batch)
            batch = []
    batch.append(event(BIG, EVENTS - 1, "supervisor", "session.finished",
                       {"status": "succeeded", "exitCode": 0, "signal": None, "durationMs": 3_600_000,
                        "numTurns": EVENTS // 3, "totalCostUsd": 12.5, "error": None, "stderrTail": None},
                       EVENTS))
    ingest(port, batch)


def sign_in(port):
    """As a browser does: the form's token (and its cookie), then the session cookie."""
    r, body, _ = request(port, "GET", "/sign-in")
    form_token = re.search(rb'name="form_token" value="([^"]+)"', body).group(1).decode()
    cookie = r.getheader("Set-Cookie").split(";")[0]
    form = f"token={TOKEN}&form_token={form_token}&next=%2F"
    r, body, _ = request(port, "POST", "/sign-in", form,
                         {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    if r.status != 303:
        raise SystemExit(f"sign-in: {r.status} {body[:300]!r}")
    for name, value in r.getheaders():
        if name.lower() == "set-cookie" and value.startswith("agentctl_session="):
            return value.split(";")[0]
    raise SystemExit("sign-in: no session cookie")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100.0))]


def run(name, database_url):
    proc, port = start_serve(name, database_url)
    try:
        t0 = time.monotonic()
        seed_sessions(port)
        seed_big(port)
        seeded = time.monotonic() - t0
        cookie = sign_in(port)
        pages = {
            "session page (100k events)": f"/sessions/{BIG}",
            "sessions list": "/sessions",
            "list, errors only": "/sessions?errors=1",
            "list, one agent": "/sessions?agent=agent-7",
            "GET /health": "/health",
        }
        times = {k: [] for k in pages}
        sizes = {}
        for k, path in pages.items():  # warm-up
            r, data, _ = request(port, "GET", path, headers={"Cookie": cookie})
            if r.status != 200:
                raise SystemExit(f"{path}: {r.status} {data[:300]!r}")
            sizes[k] = len(data)
        for _ in range(ROUNDS):
            for k, path in pages.items():
                r, data, first = request(port, "GET", path, headers={"Cookie": cookie})
                assert r.status == 200, (path, r.status)
                times[k].append(first)
        big = request(port, "GET", f"/sessions/{BIG}", headers={"Cookie": cookie})[1].decode()
        seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', big)]
        return {"backend": name, "seeded_s": seeded, "times": times, "sizes": sizes,
                "shown": (min(seqs), max(seqs), len(seqs)) if seqs else None}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    rows = [run("sqlite", None)]
    if PG_URL:
        rows.append(run("postgres", PG_URL))
    print(f"\nweb UI: {SESSIONS} sessions + one of {EVENTS} events; each page fetched {ROUNDS} times, "
          f"time to first byte")
    print(f"{'backend':<9} {'page':<28} {'p50':>9} {'p99':>9} {'bytes':>9}")
    for r in rows:
        for k, values in r["times"].items():
            print(f"{r['backend']:<9} {k:<28} {pct(values, 50):>7.2f}ms {pct(values, 99):>7.2f}ms "
                  f"{r['sizes'][k]:>9}")
        if r["shown"]:
            lo, hi, n = r["shown"]
            print(f"{r['backend']:<9} session page shows {n} events, seq {lo}..{hi}; seeded in {r['seeded_s']:.0f} s")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
