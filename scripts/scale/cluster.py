"""The processes of the scale simulation (scripts/scale.sh) and what is measured of them: `agentctl serve`
replicas, supervisors, the balancer standing in for the Kubernetes Service, and a sampler of their RSS, CPU and
metrics, of PostgreSQL's connections and of its NOTIFY traffic."""
import json, os, signal, socket, subprocess, threading, time, urllib.error, urllib.request

TICK = os.sysconf("SC_CLK_TCK")
KEY = "scale-internal-key-0123456789"
TOKEN = "scale-api-token-0123456789"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, token=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(what, cond, timeout=60, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except OSError:
            pass
        time.sleep(every)
    raise SystemExit(f"scale: {what} did not happen within {timeout} s")


def healthy(url):
    return http("GET", url + "/health", timeout=5)[0] == 200


def sql(db, query):
    out = subprocess.run(["psql", "-qAt", db, "-c", query], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def proc_usage(pid):
    """(user + system CPU seconds, VmHWM bytes or None) of a live process or a zombie (no memory then)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK
    hwm = None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return cpu, hwm


class Incarnation:
    """One process of a slot: its CPU and peak RSS as last read, kept after it is gone."""

    def __init__(self, popen):
        self.popen = popen
        self.cpu = 0.0
        self.hwm = 0
        self.rc = None

    def sample(self):
        try:
            cpu, hwm = proc_usage(self.popen.pid)
        except OSError:
            return
        self.cpu = max(self.cpu, cpu)
        if hwm:
            self.hwm = max(self.hwm, hwm)

    def alive(self):
        return self.rc is None

    def reap(self, block):
        """Reads the exited process's final CPU (a zombie still has it), then reaps it; False while it runs."""
        if self.rc is not None:
            return True
        flags = os.WEXITED | os.WNOWAIT | (0 if block else os.WNOHANG)
        if os.waitid(os.P_PID, self.popen.pid, flags) is None:
            return False
        self.sample()
        self.rc = self.popen.wait()
        return True

    def kill9(self):
        self.sample()
        self.popen.send_signal(signal.SIGKILL)
        self.reap(block=True)


class Slot:
    """A place a process runs in, and runs again after a kill: same port, same directories."""

    def __init__(self, name, role, argv, env, log):
        self.name, self.role, self.argv, self.env, self.log = name, role, argv, env, log
        self.incarnations = []

    def start(self):
        with open(self.log, "a") as log:  # the child keeps its own copy of the descriptor
            self.incarnations.append(Incarnation(subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=log)))
        return self.current

    @property
    def current(self):
        return self.incarnations[-1]

    def cpu(self):
        return sum(i.cpu for i in self.incarnations)

    def hwm(self):
        return max(i.hwm for i in self.incarnations)


class Cluster:
    def __init__(self, tmp, db, agentctl, supervisor, balancer):
        self.tmp, self.db = tmp, db
        self.agentctl, self.supervisor_bin, self.balancer_bin = agentctl, supervisor, balancer
        self.replicas, self.supervisors = [], []
        self.balancer = None
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.pg_connections = []
        self.metrics = {}  # replica name -> counter -> total over its incarnations
        self.notifies = {"agentctl_follow": 0, "agentctl_queue": 0}
        self.inserted = []  # (monotonic s, events inserted by every replica so far)
        self.threads = []

    # processes ---------------------------------------------------------------------------------------------
    def add_replica(self):
        port = free_port()
        name = f"replica-{len(self.replicas)}"
        env = dict(os.environ, DATABASE_URL=self.db, INTERNAL_API_KEY=KEY, AGENTCTL_API_TOKENS=TOKEN,
                   RUST_LOG="warn")
        slot = Slot(name, "replica", [self.agentctl, "serve", "--listen", f"127.0.0.1:{port}", "--no-ui"], env,
                    f"{self.tmp}/{name}.log")
        slot.url = f"http://127.0.0.1:{port}"
        slot.addr = f"127.0.0.1:{port}"
        slot.last = {}
        self.replicas.append(slot)
        self.metrics[name] = {}
        return slot

    def start_replica(self, slot):
        slot.start()
        slot.last = {}
        wait_for(f"{slot.name} healthy", lambda: healthy(slot.url))

    def start_balancer(self):
        port = free_port()
        self.balancer = Slot("balancer", "balancer",
                             [self.balancer_bin, f"127.0.0.1:{port}"] + [r.addr for r in self.replicas],
                             dict(os.environ), f"{self.tmp}/balancer.log")
        self.balancer.start()
        self.balancer.url = f"http://127.0.0.1:{port}"
        wait_for("balancer listening", lambda: "listening" in open(self.balancer.log).read())

    def add_supervisor(self, i, max_sessions, drain_timeout):
        port = free_port()
        d = f"{self.tmp}/sup-{i}"
        os.makedirs(d)
        os.chmod(d, 0o755)
        first_uid = 3_000_000 + i * max_sessions
        emitter = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emitter.py")
        argv = [self.supervisor_bin, "--listen", f"127.0.0.1:{port}", "--workspace", f"{d}/ws",
                "--state-dir", f"{d}/state", "--runner", f"/usr/bin/python3 {emitter}", "--run-as", "nobody",
                "--no-auth", "--uid-range", f"{first_uid}-{first_uid + max_sessions - 1}",
                "--runtime-id", f"scale-{i}", "--max-sessions", str(max_sessions), "--label", "pool=scale",
                "--drain-timeout", drain_timeout, "--control-plane-url", self.balancer.url]
        env = {"PATH": os.environ["PATH"], "RUST_LOG": "warn", "INTERNAL_API_KEY": KEY}
        slot = Slot(f"scale-{i}", "supervisor", argv, env, f"{d}/supervisor.log")
        slot.url = f"http://127.0.0.1:{port}"
        self.supervisors.append(slot)
        return slot

    def all_slots(self):
        return self.replicas + self.supervisors + ([self.balancer] if self.balancer else [])

    def shutdown(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=5)
        for s in self.all_slots():
            for inc in s.incarnations:
                if inc.alive():
                    inc.popen.send_signal(signal.SIGTERM)
        for s in self.all_slots():
            for inc in s.incarnations:
                if inc.alive():
                    try:
                        inc.popen.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        inc.popen.kill()
                        inc.popen.wait()
                    inc.rc = inc.popen.returncode

    # sampling ----------------------------------------------------------------------------------------------
    def start_sampling(self):
        for target in (self._sample_loop, self._notify_loop):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self.threads.append(t)

    def _sample_loop(self):
        while not self.stop.wait(1.0):
            with self.lock:
                for s in self.all_slots():
                    for inc in s.incarnations:
                        if inc.alive():
                            inc.sample()
                            if s.role == "supervisor":
                                inc.reap(block=False)
            for r in self.replicas:
                self._scrape(r)
            self.inserted.append((time.monotonic(), sum(m.get("agentctl_events_inserted_total", 0)
                                                         for m in self.metrics.values())))
            try:
                n = sql(self.db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()")
                self.pg_connections.append(int(n))
            except subprocess.CalledProcessError:
                pass  # PostgreSQL restarting

    def peak_ingest(self, window=5.0):
        """The highest events/s over `window` seconds, from the replicas' own counters."""
        best, j = 0.0, 0
        for t, n in self.inserted:
            while self.inserted[j][0] < t - window:
                j += 1
            t0, n0 = self.inserted[j]
            if t - t0 >= window / 2:
                best = max(best, (n - n0) / (t - t0))
        return best

    def _scrape(self, r):
        """Adds this incarnation's counter growth since the last scrape to the replica's totals."""
        if not r.incarnations or not r.current.alive():
            return
        try:
            status, body = http("GET", r.url + "/metrics", token=TOKEN, timeout=5)
        except OSError:
            return
        if status != 200:
            return
        totals = self.metrics[r.name]
        for line in body.decode().splitlines():
            if line.startswith("agentctl_") and "_total " in line:
                name, value = line.rsplit(" ", 1)
                value = float(value)
                totals[name] = totals.get(name, 0) + value - r.last.get(name, 0)
                r.last[name] = value

    def _notify_loop(self):
        """Counts NOTIFYs on both channels with a psql that LISTENs (psql prints a notification after each
        command it runs, so it is given one every 200 ms). Reconnects after PostgreSQL's restart."""
        while not self.stop.is_set():
            p = subprocess.Popen(["psql", "-qAt", self.db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, bufsize=1)
            reader = threading.Thread(target=self._count_notifies, args=(p.stdout,), daemon=True)
            reader.start()
            try:
                p.stdin.write("LISTEN agentctl_follow; LISTEN agentctl_queue;\n")
                while not self.stop.wait(0.2) and p.poll() is None:
                    p.stdin.write("SELECT 1;\n")
                    p.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            p.kill()
            p.wait()
            reader.join(timeout=5)
            self.stop.wait(0.5)

    def _count_notifies(self, out):
        for line in out:
            if line.startswith("Asynchronous notification"):
                channel = line.split('"')[1]
                if channel in self.notifies:
                    self.notifies[channel] += 1
