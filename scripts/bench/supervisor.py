#!/usr/bin/env python3
"""Supervisor benchmarks (issue 2): binary size, idle memory, time to healthy, NDJSON throughput against a file,
memory per running session. Usage: supervisor.py PATH-TO-STATIC-BINARY. Prints a table of measured values."""
import atexit, json, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request

BIN = os.path.abspath(sys.argv[1])
LINE_BYTES = 600
LINES = 1_000_000
SESSIONS = 200


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def cpu_seconds_of(pid):
    """(user, system, reaped children's user + system) CPU seconds of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick, (int(fields[13]) + int(fields[14])) / tick


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Supervisor:
    def __init__(self, runner, *extra):
        self.dir = tempfile.mkdtemp(prefix="sup-bench.")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [BIN, "--listen", f"127.0.0.1:{self.port}", "--workspace", f"{self.dir}/ws",
                "--state-dir", f"{self.dir}/state", "--runner", runner, "--run-as", "nobody", "--no-auth", *extra]
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={"PATH": os.environ["PATH"], "RUST_LOG": "warn"})
        # A failed measurement must not leave supervisors (and their agents) behind.
        atexit.register(lambda p=self.proc: p.poll() is None and p.kill())
        self.healthy_after = None
        while time.perf_counter() - self.start < 10:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                    if s.recv(64).split(b" ")[1:2] == [b"200"]:
                        self.healthy_after = time.perf_counter() - self.start
                        return
            except OSError:
                pass
        raise RuntimeError("supervisor did not become healthy")

    def wait_finished(self, sid, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = http("GET", f"{self.url}/sessions/{sid}")
            session = json.loads(body)
            if session["status"] not in ("pending", "running"):
                return session
            time.sleep(0.02)
        raise RuntimeError(f"{sid} did not finish")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


PRODUCER = r"""
const n = Number(process.argv[2]), size = Number(process.argv[3]);
const pad = 'x'.repeat(size - '{"type":"assistant","i":"0000000","text":""}\n'.length);
let i = 0;
function write() {
  let ok = true;
  while (i < n && ok) {
    let chunk = '';
    for (let k = 0; k < 100 && i < n; k++, i++) chunk += `{"type":"assistant","i":"${String(i).padStart(7, '0')}","text":"${pad}"}\n`;
    ok = process.stdout.write(chunk);
  }
  if (i < n) process.stdout.once('drain', write);
}
write();
"""


def main():
    results = []
    size = os.path.getsize(BIN)
    results.append(("static stripped binary", f"{size / 2**20:.2f} MiB", "<= 8 MiB"))

    healthy = []
    for _ in range(5):
        sup = Supervisor("/bin/true")
        healthy.append(sup.healthy_after)
        if len(healthy) == 5:
            time.sleep(1)
            results.append(("idle RSS", f"{rss_kib(sup.proc.pid) / 1024:.2f} MiB", "<= 8 MiB (Node server.js: ~45 MB)"))
        sup.stop()
    healthy.sort()
    results.append(("exec -> /health 200 (median of 5)", f"{healthy[2] * 1000:.1f} ms", "<= 50 ms"))

    # The same Node producer: once into a file, once through the supervisor into its local log.
    work = tempfile.mkdtemp(prefix="sup-bench-producer.")
    os.chmod(work, 0o755)
    producer = os.path.join(work, "producer.js")
    with open(producer, "w") as f:
        f.write(PRODUCER)
    os.chmod(producer, 0o644)
    node = shutil.which("node")
    t0 = time.perf_counter()
    with open(os.path.join(work, "out.ndjson"), "wb") as out:
        writer = subprocess.Popen([node, producer, str(LINES), str(LINE_BYTES)], stdout=out)
        _, code, usage = os.wait4(writer.pid, 0)
        assert code == 0, code
    file_seconds = time.perf_counter() - t0
    file_cpu = usage.ru_utime + usage.ru_stime
    file_rate = LINES / file_seconds
    # Context: the same producer through a pipe into `cat > file`, the cheapest possible reader.
    t0 = time.perf_counter()
    with open(os.path.join(work, "out.ndjson"), "wb") as out:
        producer_proc = subprocess.Popen([node, producer, str(LINES), str(LINE_BYTES)], stdout=subprocess.PIPE)
        subprocess.run(["cat"], stdin=producer_proc.stdout, stdout=out, check=True)
        producer_proc.wait()
    pipe_rate = LINES / (time.perf_counter() - t0)

    sup = Supervisor(f"{node} {producer} {LINES} {LINE_BYTES}", "--max-output", "4GiB")
    cpu_before = cpu_seconds_of(sup.proc.pid)
    t0 = time.perf_counter()
    status, body = http("POST", f"{sup.url}/execute", {"agentId": "bench", "sessionId": "s-tput", "prompt": "p"})
    assert status == 202, body
    session = sup.wait_finished("s-tput")
    sup_seconds = time.perf_counter() - t0
    assert session["lastSeq"] >= LINES, session
    sup_rate = LINES / sup_seconds
    peak = rss_kib(sup.proc.pid, "VmHWM")
    # The agent is the supervisor's child: once reaped, its CPU is in the supervisor's cutime/cstime.
    user, system, agent = (after - before for after, before in zip(cpu_seconds_of(sup.proc.pid), cpu_before))
    cpu_seconds = user + system
    sup.stop()
    shutil.rmtree(work, ignore_errors=True)
    results.append((f"producer -> file ({LINES} x {LINE_BYTES} B)", f"{file_rate:,.0f} lines/s", ""))
    results.append(("producer | cat > file (context)", f"{pipe_rate:,.0f} lines/s", ""))
    results.append(("producer -> supervisor -> local log", f"{sup_rate:,.0f} lines/s", ">= 200,000 lines/s"))
    results.append(("ratio supervisor / file", f"{sup_rate / file_rate:.2f}", ">= 0.8"))
    results.append(("ratio supervisor / (producer | cat > file)", f"{sup_rate / pipe_rate:.2f}", ""))
    results.append(("supervisor peak RSS during throughput", f"{peak / 1024:.1f} MiB", ""))
    results.append(("supervisor CPU per line", f"{cpu_seconds / LINES * 1e6:.2f} us",
                    f"user {user / LINES * 1e6:.2f} + system {system / LINES * 1e6:.2f}"))
    # Why the ratio moves with the machine's load: writing a file costs the producer alone; through the
    # supervisor the producer and the supervisor both run. With a free core each, the two overlap (ratio ~1);
    # on cores taken by other work, the run takes as long as its CPU, and the ratio falls towards this bound.
    results.append(("producer CPU per line: to a file / to the supervisor",
                    f"{file_cpu / LINES * 1e6:.2f} / {agent / LINES * 1e6:.2f} us", ""))
    results.append(("ratio bound on fully busy cores: file CPU / (producer + supervisor CPU)",
                    f"{file_cpu / (agent + cpu_seconds):.2f}", ""))

    sup = Supervisor("/bin/sh -c 'exec sleep 600'", "--max-sessions", str(SESSIONS + 10))
    time.sleep(0.5)
    before = rss_kib(sup.proc.pid)
    for i in range(SESSIONS):
        status, body = http("POST", f"{sup.url}/execute", {"agentId": "bench", "sessionId": f"s-{i}", "prompt": "p"})
        assert status == 202, body
    time.sleep(2)
    after = rss_kib(sup.proc.pid)
    status, body = http("GET", f"{sup.url}/health")
    running = json.loads(body)["sessions"]["running"]
    assert running == SESSIONS, body
    sup.stop()
    results.append((f"RSS per running session ({SESSIONS} sessions)", f"{(after - before) / SESSIONS:.1f} KiB",
                    "<= 256 KiB"))

    width = max(len(r[0]) for r in results)
    print(f"\n{'measure':<{width}}  {'value':>18}  goal")
    for name, value, goal in results:
        print(f"{name:<{width}}  {value:>18}  {goal}")


main()
