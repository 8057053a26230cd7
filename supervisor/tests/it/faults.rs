//! The delivery fault suite (issue 4, reference/delivery-and-ingest.md §7), each case with an oracle.
//!
//! Fake agents (the shell runner) print NDJSON lines whose content is a function of their number, so the
//! oracle knows every line that was emitted. After each fault it compares what the control plane stores
//! (its public API, paged, and the row count in its database) with the supervisor's local log (records
//! whose checksum holds) and with what the agents emitted, and counts missing, duplicated and corrupted
//! events. Pass: 0 missing, 0 duplicates, 0 corrupted, a fresh line stored within 10 s after the fault
//! ended, and the supervisor's VmRSS under `RSS_CAP_KIB` throughout.
//!
//! Quick variants run by default; `FAULTS_FULL=1` (`scripts/faults.sh --full`) runs the long ones.
//! Every case prints a `FAULTS|` row (see `scripts/faults.sh`, which gathers them into one table).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use control_plane::http::auth::{Auth, Secret};
use control_plane::server::{Application, ServerConfig};
use serde_json::{Value, json};

use crate::support::*;

const KEY: &str = "internal-key-0123456789";
const TOKEN: &str = "api-token-0123456789";
/// The supervisor's memory cap for every case.
const RSS_CAP_KIB: u64 = 64 * 1024;
/// A fresh line must be stored this soon after a fault ends.
const LIVENESS: Duration = Duration::from_secs(10);
/// How long the oracle waits for the control plane to catch up with the local log.
const SETTLE: Duration = Duration::from_secs(180);
const PAD: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_";

fn full() -> bool {
    std::env::var("FAULTS_FULL").as_deref() == Ok("1")
}

fn free_addr() -> SocketAddr {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    reserved.local_addr().unwrap()
}

/// A small deterministic random source (the seed is printed, so a run can be repeated).
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = std::env::var("FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("FAULTS_SEED={seed}");
        Self(seed | 1)
    }

    /// Uniform in `[lo, hi)` milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(lo + self.0 % (hi - lo).max(1))
    }
}

// ---------------------------------------------------------------------------------------------------
// The control plane, killable.

/// `agentctl serve` in a tokio runtime of its own: `kill` drops the runtime with every connection and
/// request in flight, as `kill -9` of the process would (the database file or server is left as it is).
struct ControlPlane {
    addr: SocketAddr,
    database_url: String,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ControlPlane {
    /// Starts on `addr` (retrying while the address or the database is still busy).
    fn start(addr: SocketAddr, database_url: &str) -> Self {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match Self::try_start(addr, database_url) {
                Ok(cp) => return cp,
                Err(err) if Instant::now() < deadline => {
                    eprintln!("control plane did not start yet: {err}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(err) => panic!("start the control plane: {err}"),
            }
        }
    }

    fn try_start(addr: SocketAddr, database_url: &str) -> Result<Self, String> {
        let config = ServerConfig {
            listen: addr,
            database_url: database_url.to_owned(),
            auth: Auth {
                internal_keys: vec![Secret::new(KEY)],
                api_tokens: vec![Secret::new(TOKEN)],
                disabled: false,
            },
            heartbeat_timeout: Duration::from_secs(60),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let app = match rt.block_on(Application::build(config)) {
                Ok(app) => app,
                Err(err) => {
                    let _ = ready_tx.send(Err(format!("{err:#}")));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(app.local_addr()));
            rt.spawn(async move {
                let _ = app.run(std::future::pending()).await;
            });
            let _ = rt.block_on(kill_rx);
            rt.shutdown_background();
        });
        match ready_rx.recv() {
            Ok(Ok(addr)) => Ok(Self {
                addr,
                database_url: database_url.to_owned(),
                kill: Some(kill_tx),
                thread: Some(thread),
            }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            Err(_) => {
                let _ = thread.join();
                Err("the control plane thread panicked".into())
            }
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Abruptly: no draining, no graceful shutdown.
    fn kill(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("agentctl.db").display())
}

fn shipping_to(cp: SocketAddr) -> Options {
    Options::default()
        .arg("--control-plane-url")
        .arg(&format!("http://{cp}"))
        .env("INTERNAL_API_KEY", KEY)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Every stored event of a session, from the public API, paged; `None` when the control plane is down.
async fn stored_events(cp_url: &str, id: &str) -> Option<Vec<Value>> {
    let client = client();
    let mut all = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let mut url = format!("{cp_url}/api/v1/sessions/{id}/events?limit=1000");
        if let Some(after) = after {
            url.push_str(&format!("&after={after}"));
        }
        let response = client.get(url).bearer_auth(TOKEN).send().await.ok()?;
        if response.status() == 404 {
            return Some(all);
        }
        if !response.status().is_success() {
            return None;
        }
        let page: Value = response.json().await.ok()?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        if events.is_empty() {
            return Some(all);
        }
        after = events.last().unwrap()["seq"].as_u64();
        all.extend(events);
    }
}

async fn stored_session(cp_url: &str, id: &str) -> Value {
    let response = client()
        .get(format!("{cp_url}/api/v1/sessions/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap_or(Value::Null)
}

/// The rows of a session in the control plane's database (the API could hide duplicate rows).
async fn db_rows(database_url: &str, id: &str) -> i64 {
    let store = control_plane::store::Store::connect_lazy(database_url)
        .await
        .expect("open the control plane's database");
    let n = store
        .count_events(&protocol::SessionId::parse(id).unwrap())
        .await
        .expect("count rows");
    store.close().await;
    n
}

// ---------------------------------------------------------------------------------------------------
// Fake agents and the local log.

/// A fake agent: prints lines `1..=n`, pausing `pause` every `every` lines.
#[derive(Debug, Clone)]
struct Agent {
    id: String,
    n: u64,
    /// False when the agent is killed before it finishes: then it emitted (as far as anyone could read)
    /// the lines up to the last one in the local log.
    complete: bool,
}

fn agent_cmd(id: &str, n: u64, every: u64, pause: &str) -> String {
    format!(
        r#"i=1; while [ $i -le {n} ]; do echo "{{\"type\":\"line\",\"sid\":\"{id}\",\"n\":$i,\"sq\":$((i*i)),\"pad\":\"{PAD}\"}}"; if [ $((i % {every})) -eq 0 ]; then sleep {pause}; fi; i=$((i+1)); done; true"#
    )
}

/// The data of line `n` of agent `id`, as it printed it.
fn expected_line(id: &str, n: u64) -> Value {
    json!({"type": "line", "sid": id, "n": n, "sq": n * n, "pad": PAD})
}

async fn start_agent(sup: &Sup, id: &str, n: u64, every: u64, pause: &str) -> Agent {
    sup.run_cmd(id, &agent_cmd(id, n, every, pause)).await;
    Agent {
        id: id.to_owned(),
        n,
        complete: true,
    }
}

/// The records of a session's local log whose checksum holds, and the number of corrupt ones.
fn local_log(state: &Path, id: &str) -> (Vec<Value>, usize) {
    let Ok(data) = std::fs::read(state.join("sessions").join(format!("{id}.log"))) else {
        return (Vec::new(), 0);
    };
    let mut events = Vec::new();
    let mut corrupt = 0;
    for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Some(tab) = line.iter().rposition(|b| *b == b'\t') else {
            corrupt += 1;
            continue;
        };
        let (json, crc) = (&line[..tab], &line[tab + 1..]);
        let ok = std::str::from_utf8(crc)
            .ok()
            .and_then(|c| u32::from_str_radix(c, 16).ok())
            .is_some_and(|c| c == crc32fast::hash(json));
        match serde_json::from_slice::<Value>(json) {
            Ok(event) if ok => events.push(event),
            _ => corrupt += 1,
        }
    }
    (events, corrupt)
}

/// The `n` of a line event of agent `id`.
fn line_n(event: &Value, id: &str) -> Option<u64> {
    (event["type"] == "line" && event["data"]["sid"] == id)
        .then(|| event["data"]["n"].as_u64())
        .flatten()
}

// ---------------------------------------------------------------------------------------------------
// Memory.

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Samples the supervisor's VmRSS every 50 ms; `pid` follows restarts.
struct RssSampler {
    pid: Arc<AtomicU32>,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let pid = Arc::new(AtomicU32::new(pid));
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (pid, peak, stop) = (pid.clone(), peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kib) = vm_rss_kib(pid.load(Ordering::Relaxed)) {
                        peak.fetch_max(kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Self {
            pid,
            peak,
            stop,
            thread: Some(thread),
        }
    }

    fn follow(&self, pid: u32) {
        self.pid.store(pid, Ordering::Relaxed);
    }

    fn peak_kib(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The oracle.

#[derive(Debug, Default)]
struct Tally {
    emitted: u64,
    local: usize,
    stored: usize,
    db_rows: i64,
    missing: usize,
    dup: usize,
    corrupted: usize,
    /// Allowed gaps (dead-lettered batches, records the test itself corrupted).
    excused: usize,
    problems: Vec<String>,
}

/// What may legitimately be absent from the control plane: by seq, and by line number.
#[derive(Debug, Default, Clone)]
struct Excused {
    seqs: BTreeSet<u64>,
    lines: BTreeSet<u64>,
}

/// Waits until the control plane holds every local event of each agent (or `SETTLE` passes; `wait`
/// false: no waiting), then counts.
async fn tally(
    cp: &ControlPlane,
    state: &Path,
    agents: &[Agent],
    excused: &HashMap<String, Excused>,
    wait: bool,
) -> Tally {
    let mut total = Tally::default();
    let none = Excused::default();
    for agent in agents {
        let id = agent.id.as_str();
        let excused = excused.get(id).unwrap_or(&none);
        let (local, _) = local_log(state, id);
        let deadline = Instant::now() + if wait { SETTLE } else { Duration::ZERO };
        let want = local
            .iter()
            .filter(|e| !excused.seqs.contains(&e["seq"].as_u64().unwrap()))
            .count();
        let stored = loop {
            let stored = stored_events(&cp.url(), id).await.unwrap_or_default();
            if stored.len() >= want || Instant::now() >= deadline {
                break stored;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let rows = db_rows(&cp.database_url, id).await;

        // Duplicates: a seq twice in the API, a line twice under different seqs, extra rows.
        let mut by_seq: BTreeMap<u64, &Value> = BTreeMap::new();
        let mut dup = 0;
        for event in &stored {
            if by_seq.insert(event["seq"].as_u64().unwrap(), event).is_some() {
                dup += 1;
            }
        }
        let mut line_count: BTreeMap<u64, usize> = BTreeMap::new();
        let mut corrupted = 0;
        for event in &stored {
            if let Some(n) = line_n(event, id) {
                *line_count.entry(n).or_default() += 1;
                if event["data"] != expected_line(id, n) {
                    corrupted += 1;
                }
            }
        }
        dup += line_count.values().map(|c| c - 1).sum::<usize>();
        if rows as usize > by_seq.len() {
            dup += rows as usize - by_seq.len();
            total.problems.push(format!(
                "{id}: {rows} rows in the database, {} distinct events in the API",
                by_seq.len()
            ));
        }

        // Corrupted: differs from the local record of the same seq.
        let mut missing = 0;
        let mut local_lines = BTreeMap::new();
        for event in &local {
            let seq = event["seq"].as_u64().unwrap();
            if let Some(n) = line_n(event, id) {
                local_lines.insert(n, seq);
            }
            match by_seq.get(&seq) {
                Some(stored) if *stored != event => corrupted += 1,
                Some(_) => {}
                None if excused.seqs.contains(&seq) => total.excused += 1,
                None => missing += 1,
            }
        }
        // Missing: a line the agent emitted (and the supervisor read) that is not stored. Lines absent from
        // the local log are counted here too; the ones in it were counted above.
        let emitted = if agent.complete {
            agent.n
        } else {
            local_lines.keys().next_back().copied().unwrap_or(0)
        };
        for n in 1..=emitted {
            if line_count.contains_key(&n) || local_lines.contains_key(&n) {
                continue;
            }
            if excused.lines.contains(&n) {
                total.excused += 1;
            } else {
                missing += 1;
            }
        }
        if missing > 0 || dup > 0 || corrupted > 0 {
            total.problems.push(format!(
                "{id}: emitted {emitted}, local {}, stored {}, missing {missing}, dup {dup}, corrupted {corrupted}",
                local.len(),
                stored.len()
            ));
        }
        total.emitted += emitted;
        total.local += local.len();
        total.stored += stored.len();
        total.db_rows += rows;
        total.missing += missing;
        total.dup += dup;
        total.corrupted += corrupted;
    }
    total
}

/// Starts a one-line session and returns how long after `fault_end` its line was stored.
async fn liveness(sup: &Sup, cp: &ControlPlane, fault_end: Instant, tag: &str) -> Duration {
    let id = format!("live-{tag}");
    sup.run_cmd(&id, &agent_cmd(&id, 1, 1, "0")).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if stored_events(&cp.url(), &id)
            .await
            .is_some_and(|events| events.iter().any(|e| line_n(e, &id) == Some(1)))
        {
            return fault_end.elapsed();
        }
        if Instant::now() > deadline {
            return fault_end.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Prints the case's row and asserts the pass criteria.
fn report(case: &str, tally: &Tally, live: Option<Duration>, peak_kib: u64, note: &str) {
    let live_text = live.map_or("-".to_owned(), |l| format!("{:.1}", l.as_secs_f64()));
    println!(
        "FAULTS|{case:<28}|{:>8}|{:>8}|{:>8}|{:>7}|{:>4}|{:>9}|{:>7}|{:>10}|{:>8.1}|{note}",
        tally.emitted,
        tally.stored,
        tally.db_rows,
        tally.missing,
        tally.dup,
        tally.corrupted,
        tally.excused,
        live_text,
        peak_kib as f64 / 1024.0,
    );
    for problem in &tally.problems {
        println!("  {case}: {problem}");
    }
    assert_eq!(tally.missing, 0, "{case}: missing events: {:?}", tally.problems);
    assert_eq!(tally.dup, 0, "{case}: duplicates: {:?}", tally.problems);
    assert_eq!(tally.corrupted, 0, "{case}: corrupted: {:?}", tally.problems);
    if let Some(live) = live {
        assert!(
            live <= LIVENESS,
            "{case}: a fresh line took {live:?} after the fault"
        );
    }
    assert!(
        peak_kib <= RSS_CAP_KIB,
        "{case}: supervisor RSS peaked at {peak_kib} KiB (cap {RSS_CAP_KIB} KiB)"
    );
}

fn header() {
    println!(
        "FAULTS|{:<28}|{:>8}|{:>8}|{:>8}|{:>7}|{:>4}|{:>9}|{:>7}|{:>10}|{:>8}|note",
        "case",
        "emitted",
        "stored",
        "db rows",
        "missing",
        "dup",
        "corrupted",
        "excused",
        "liveness s",
        "RSS MiB"
    );
}

#[allow(dead_code)] // used by later cases
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[allow(dead_code)]
async fn metrics(sup: &Sup) -> String {
    let (_, metrics) = sup.get("/metrics").await;
    metrics.as_str().unwrap_or_default().to_owned()
}

async fn wait_all_finished(sup: &Sup, agents: &[Agent]) {
    for agent in agents {
        sup.wait_finished(&agent.id, Duration::from_secs(300)).await;
    }
}

// ---------------------------------------------------------------------------------------------------
// 1. The control plane killed again and again while agents write.

#[tokio::test(flavor = "multi_thread")]
async fn f01_control_plane_killed_again_and_again() {
    let (kills, agents_n, every, pause) = if full() {
        (40, 60_000, 50, "0.25")
    } else {
        (6, 12_000, 100, "0.1")
    };
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let db = sqlite_url(dir.path());
    let mut cp = ControlPlane::start(addr, &db);
    let sup = shipping_to(addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..3 {
        agents.push(start_agent(&sup, &format!("f1-{k}"), agents_n, every, pause).await);
    }
    for _ in 0..kills {
        let up = if full() {
            rng.millis(1000, 10_000)
        } else {
            rng.millis(500, 2500)
        };
        tokio::time::sleep(up).await;
        cp.kill();
        tokio::time::sleep(rng.millis(100, 2000)).await;
        cp = ControlPlane::start(addr, &db);
    }
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f1").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    header();
    report(
        "1 control plane kill x",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("{kills} kills"),
    );
}

// ---------------------------------------------------------------------------------------------------
// 4. The supervisor killed -9 and restarted on the same state dir, again and again.

#[tokio::test(flavor = "multi_thread")]
async fn f04_supervisor_killed_and_restarted_again_and_again() {
    let rounds = if full() { 100 } else { 6 };
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let cp = ControlPlane::start(addr, &sqlite_url(dir.path()));
    let mut sup = shipping_to(addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for round in 0..rounds {
        for k in 0..2 {
            let mut agent = start_agent(&sup, &format!("f4-{round}-{k}"), 1_000_000, 200, "0.05").await;
            agent.complete = false;
            agents.push(agent);
        }
        tokio::time::sleep(rng.millis(300, 2000)).await;
        sup = sup.kill_and_restart();
        rss.follow(sup.pid);
    }
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f4").await;
    let last = start_agent(&sup, "f4-last", 3000, 500, "0.05").await;
    sup.wait_finished(&last.id, Duration::from_secs(60)).await;
    agents.push(last);
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    // Sessions cut by a kill end `lost`, locally and on the control plane.
    let mut not_lost = Vec::new();
    for agent in agents.iter().filter(|a| !a.complete) {
        let session = stored_session(&cp.url(), &agent.id).await;
        if session["status"] != "lost" {
            not_lost.push(format!("{}: {}", agent.id, session["status"]));
        }
    }
    header();
    report(
        "4 supervisor kill -9 x",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("{rounds} restarts"),
    );
    assert!(
        not_lost.is_empty(),
        "sessions cut by a kill must end lost: {not_lost:?}"
    );
}

// ---------------------------------------------------------------------------------------------------
// 9. SIGTERM with an unshipped backlog and a live control plane.

#[tokio::test(flavor = "multi_thread")]
async fn f09_sigterm_delivers_the_backlog_before_exit() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut sup = shipping_to(addr).arg("--grace").arg("2s").start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..2 {
        let id = format!("f9-{k}");
        sup.run_cmd(
            &id,
            &format!("{}; exec sleep 100", agent_cmd(&id, 15_000, 1_000_000, "0")),
        )
        .await;
        agents.push(Agent {
            id,
            n: 15_000,
            complete: true,
        });
    }
    // The backlog builds up while the control plane is down.
    for agent in &agents {
        let log = sup.state_dir().join(format!("sessions/{}.log", agent.id));
        let last = format!("\"n\":{},", agent.n);
        assert!(
            eventually(Duration::from_secs(60), || std::fs::read_to_string(&log)
                .is_ok_and(|l| l.contains(&last)))
            .await
        );
    }
    let cp = ControlPlane::start(addr, &sqlite_url(dir.path()));
    let term = Instant::now();
    sup.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(sup.wait_exit(Duration::from_secs(60)).success());
    let exit_after = term.elapsed();
    // Delivered before the exit: no waiting.
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), false).await;
    header();
    report(
        "9 SIGTERM with backlog",
        &tally,
        None,
        rss.peak_kib(),
        &format!("exit {:.1}s after SIGTERM", exit_after.as_secs_f64()),
    );
    for agent in &agents {
        let (local, _) = local_log(&sup.state_dir(), &agent.id);
        assert_eq!(local.last().unwrap()["type"], "session.finished");
    }
}
