#!/usr/bin/env python3
"""Trigger intake benchmark (issue 12, DESIGN.md §10), driven by scripts/bench-hooks.sh.

One `agentctl serve` per backend (the embedded SQLite default, then PostgreSQL when a URL is given), a
trigger of the `standard-webhooks` scheme in front of an agent. Two open-loop streams run at once for
DURATION seconds, each at RATE requests/s on its own keep-alive connections: signed webhooks, each with a
fresh `webhook-id` (verified, stored with its dedupe key and its session queued in one transaction before the
2xx), and `GET /health` of the same server. A request's latency is from the time it was due to be sent (so a
stalled server is not hidden by a client that waits for it) to the end of its answer. Printed: p50/p99 of
each stream and p99(webhook)/p99(health): the figure (goal: webhook p99 <= 20 ms at 200/s).

Usage: hooks.py AGENTCTL [DATABASE_URL]."""
import base64, hashlib, hmac, http.client, json, os, queue, shutil, signal, socket, subprocess, sys
import tempfile, threading, time, uuid

AGENTCTL = sys.argv[1]
PG_URL = sys.argv[2] if len(sys.argv) > 2 else None
RATE = float(os.environ.get("RATE", "200"))
DURATION = float(os.environ.get("DURATION", "15"))
WORKERS = int(os.environ.get("WORKERS", "16"))
TOKEN = "bench-api-token-0123456789"
KEY = "bench-internal-key-0123456789"
SECRET = "whsec_" + base64.b64encode(b"bench-trigger-signing-key-32byte").decode()
TMP = tempfile.mkdtemp(prefix="bench-hooks.")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, data


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
            if call(port, "GET", "/health")[0] == 200:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"agentctl serve ({name}) did not come up: see {TMP}/{name}.log")


def signed(i):
    body = json.dumps({"type": "bench.event", "data": {"i": i, "text": "x" * 200}}).encode()
    wid = f"msg_{uuid.uuid4().hex}"
    ts = str(int(time.time()))
    key = base64.b64decode(SECRET[len("whsec_"):])
    sig = base64.b64encode(hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "webhook-id": wid, "webhook-timestamp": ts,
               "webhook-signature": f"v1,{sig}"}
    return body, headers


def stream(port, make, due_times, results, errors):
    """Open loop: requests are taken by WORKERS threads, each with its own keep-alive connection."""
    jobs = queue.Queue()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            job = jobs.get()
            if job is None:
                return
            due, i = job
            method, path, body, headers = make(i)
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status not in (200, 202):
                    errors.append(r.status)
            except (OSError, http.client.HTTPException) as e:
                errors.append(repr(e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            results.append((time.monotonic() - due) * 1000.0)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for i, due in enumerate(due_times):
        jobs.put((due, i))
    for _ in threads:
        jobs.put(None)
    return threads


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100.0))]


def run(name, database_url):
    proc, port = start_serve(name, database_url)
    try:
        status, body = call(port, "PUT", "/api/v1/agents/bench-agent", {"systemPrompt": "bench"})
        assert status in (200, 201), (status, body)
        trigger = {"agentId": "bench-agent", "kind": "webhook",
                   "verify": {"scheme": "standard-webhooks", "secrets": [SECRET]},
                   "prompt": "Event {{ body.type }} number {{ body.data.i }}"}
        status, body = call(port, "PUT", "/api/v1/triggers/bench-hook", trigger)
        assert status in (200, 201), (status, body)
        # Warm up both paths (connections, the SQLite page cache, PG's plan cache).
        for i in range(50):
            b, h = signed(-i)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/hooks/bench-hook", body=b, headers=h)
            assert c.getresponse().status == 202
            c.close()
        n = int(RATE * DURATION)
        start = time.monotonic() + 0.5
        due = [start + i / RATE for i in range(n)]
        hook_lat, hook_err, health_lat, health_err = [], [], [], []

        def hook(i):
            b, h = signed(i)
            return "POST", "/hooks/bench-hook", b, h

        def health(_i):
            return "GET", "/health", None, {}

        threads = stream(port, hook, due, hook_lat, hook_err)
        threads += stream(port, health, [d + 0.5 / RATE for d in due], health_lat, health_err)
        for t in threads:
            t.join()
        status, body = call(port, "GET", "/api/v1/triggers/bench-hook/deliveries?limit=1")
        assert status == 200, (status, body)
        return {
            "backend": name, "requests": n,
            "hook_p50": pct(hook_lat, 50), "hook_p99": pct(hook_lat, 99),
            "health_p50": pct(health_lat, 50), "health_p99": pct(health_lat, 99),
            "errors": len(hook_err) + len(health_err), "first_errors": (hook_err + health_err)[:3],
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    rows = [run("sqlite", None)]
    if PG_URL:
        rows.append(run("postgres", PG_URL))
    print(f"\ntrigger intake: signed webhook -> verified, stored, session queued, answered; "
          f"{RATE:.0f}/s of each stream for {DURATION:.0f} s")
    print(f"{'backend':<10} {'requests':>8} {'hook p50':>9} {'hook p99':>9} {'health p50':>11} "
          f"{'health p99':>11} {'p99 ratio':>10} {'errors':>7}")
    for r in rows:
        ratio = r["hook_p99"] / r["health_p99"] if r["health_p99"] > 0 else float("inf")
        print(f"{r['backend']:<10} {r['requests']:>8} {r['hook_p50']:>7.2f}ms {r['hook_p99']:>7.2f}ms "
              f"{r['health_p50']:>9.2f}ms {r['health_p99']:>9.2f}ms {ratio:>10.2f} {r['errors']:>7}")
        if r["errors"]:
            print(f"  first errors: {r['first_errors']}")
    shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()
