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
use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use control_plane::http::auth::{Auth, Secret};
use control_plane::server::{Application, ServerConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

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

// ---------------------------------------------------------------------------------------------------
// 7. Status codes: 429 and 503 with Retry-After, 500, 502, 504, then 413 on large batches and 400 on the
// batch that holds one chosen line; everything else forwarded to the real control plane.

struct Stub {
    cp_url: String,
    /// Each error code of the cycle is served this many times, then the faults end.
    error_rounds: usize,
    errors_done: std::sync::Mutex<Option<Instant>>,
    next: AtomicUsize,
    served: std::sync::Mutex<BTreeMap<u16, usize>>,
    chosen: (String, u64),
}

fn gunzip_if(headers: &axum::http::HeaderMap, body: &[u8]) -> Vec<u8> {
    if headers
        .get(axum::http::header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip")
    {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .expect("a gzip body");
        out
    } else {
        body.to_vec()
    }
}

async fn stub_handler(
    axum::extract::State(stub): axum::extract::State<Arc<Stub>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let answer = |code: u16, retry_after: bool| {
        *stub.served.lock().unwrap().entry(code).or_default() += 1;
        let mut response = (
            axum::http::StatusCode::from_u16(code).unwrap(),
            format!("fault test: {code}"),
        )
            .into_response();
        if retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, "1".parse().unwrap());
        }
        response
    };
    if parts.uri.path().ends_with("/events") {
        const CYCLE: [(u16, bool); 5] = [(429, true), (503, true), (500, false), (502, false), (504, false)];
        let i = stub.next.fetch_add(1, Ordering::Relaxed);
        if i < stub.error_rounds * CYCLE.len() {
            let (code, retry_after) = CYCLE[i % CYCLE.len()];
            if i + 1 == stub.error_rounds * CYCLE.len() {
                *stub.errors_done.lock().unwrap() = Some(Instant::now());
            }
            return answer(code, retry_after);
        }
        let batch: Value = serde_json::from_slice(&gunzip_if(&parts.headers, &body)).unwrap();
        let events = batch["events"].as_array().unwrap();
        if events.len() > 300 {
            return answer(413, false);
        }
        if events
            .iter()
            .any(|e| line_n(e, &stub.chosen.0) == Some(stub.chosen.1))
        {
            return answer(400, false);
        }
    }
    let mut headers = parts.headers.clone();
    headers.remove(axum::http::header::HOST);
    let forwarded = client()
        .request(parts.method, format!("{}{}", stub.cp_url, parts.uri))
        .headers(headers)
        .body(body)
        .send()
        .await;
    match forwarded {
        Ok(response) => {
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap_or_default();
            let mut out = (status, bytes).into_response();
            if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
                out.headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, ct.clone());
            }
            out
        }
        Err(_) => answer(502, false),
    }
}

/// The batches in `<state>/dead-letter/`.
fn dead_letters(state: &Path) -> Vec<Value> {
    let Ok(entries) = std::fs::read_dir(state.join("dead-letter")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).expect("a dead letter is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn f07_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(free_addr(), &sqlite_url(dir.path()));
    let stub = Arc::new(Stub {
        cp_url: cp.url(),
        error_rounds: if full() { 3 } else { 1 },
        errors_done: Default::default(),
        next: AtomicUsize::new(0),
        served: Default::default(),
        chosen: ("f7-0".to_owned(), 5000),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub_addr = listener.local_addr().unwrap();
    let router = axum::Router::new()
        .fallback(stub_handler)
        .with_state(stub.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let sup = shipping_to(stub_addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..2 {
        agents.push(start_agent(&sup, &format!("f7-{k}"), 8000, 200, "0.1").await);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let fault_end = loop {
        if let Some(done) = *stub.errors_done.lock().unwrap() {
            break done;
        }
        assert!(Instant::now() < deadline, "the error codes were not all served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let live = liveness(&sup, &cp, fault_end, "f7").await;
    wait_all_finished(&sup, &agents).await;

    let letters = dead_letters(&sup.state_dir());
    let mut excused: HashMap<String, Excused> = HashMap::new();
    for letter in &letters {
        for event in letter["events"].as_array().unwrap() {
            let id = event["sessionId"].as_str().unwrap().to_owned();
            let e = excused.entry(id.clone()).or_default();
            e.seqs.insert(event["seq"].as_u64().unwrap());
            if let Some(n) = line_n(event, &id) {
                e.lines.insert(n);
            }
        }
    }
    let tally = tally(&cp, &sup.state_dir(), &agents, &excused, true).await;
    let served = stub.served.lock().unwrap().clone();
    let dead = metric(&metrics(&sup).await, "supervisor_delivery_dead_letters_total");
    header();
    report(
        "7 status codes",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("served {served:?}; dead letters {}", letters.len()),
    );
    for code in [429, 503, 500, 502, 504, 413, 400] {
        assert!(
            served.get(&code).is_some_and(|n| *n > 0),
            "{code} was never served: {served:?}"
        );
    }
    assert_eq!(served[&400], 1, "the rejected batch is not retried");
    assert_eq!(letters.len(), 1, "one batch in the dead-letter directory");
    assert!(
        excused["f7-0"].lines.contains(&5000),
        "the dead letter holds the chosen line"
    );
    assert_eq!(dead, Some(1), "supervisor_delivery_dead_letters_total");
}

// ---------------------------------------------------------------------------------------------------
// 6. A slow and broken receiver: a TCP proxy that adds latency, then resets connections mid-body, then
// swallows a request without answering.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProxyPhase {
    Latency,
    Reset,
    Swallow,
}

struct Proxy {
    upstream: SocketAddr,
    start: Instant,
    /// Phases by time since `start`; after the last one, plain forwarding.
    phases: Vec<(Duration, ProxyPhase)>,
    swallow_left: AtomicUsize,
    /// When the swallowed request was given up by the supervisor.
    swallow_done: std::sync::Mutex<Option<Instant>>,
    resets: AtomicUsize,
    delayed: AtomicUsize,
}

impl Proxy {
    fn phase(&self) -> Option<ProxyPhase> {
        let t = self.start.elapsed();
        let mut end = Duration::ZERO;
        for (length, phase) in &self.phases {
            end += *length;
            if t < end {
                return Some(*phase);
            }
        }
        None
    }
}

async fn proxy_conn(proxy: Arc<Proxy>, client: tokio::net::TcpStream) {
    let Ok(upstream) = tokio::net::TcpStream::connect(proxy.upstream).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let down = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut ur, &mut cw).await;
        let _ = cw.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match cr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        match proxy.phase() {
            Some(ProxyPhase::Latency) => {
                proxy.delayed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2500)).await;
            }
            Some(ProxyPhase::Reset) => {
                // Half of the body reaches the receiver, then both sides are reset.
                let _ = uw.write_all(&buf[..n / 2]).await;
                proxy.resets.fetch_add(1, Ordering::Relaxed);
                #[allow(deprecated)] // A zero linger is the point: the close sends RST.
                let _ = cr.as_ref().set_linger(Some(Duration::ZERO));
                #[allow(deprecated)]
                let _ = uw.as_ref().set_linger(Some(Duration::ZERO));
                down.abort();
                return;
            }
            Some(ProxyPhase::Swallow)
                if proxy
                    .swallow_left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok() =>
            {
                // Never answered: read and drop until the supervisor gives up (its timeout is 15 s).
                let deadline = Instant::now() + Duration::from_secs(30);
                while Instant::now() < deadline {
                    match tokio::time::timeout(Duration::from_millis(200), cr.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => break,
                        _ => {}
                    }
                }
                *proxy.swallow_done.lock().unwrap() = Some(Instant::now());
                down.abort();
                return;
            }
            _ => {}
        }
        if uw.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = uw.shutdown().await;
    let _ = down.await;
}

#[tokio::test(flavor = "multi_thread")]
async fn f06_slow_and_broken_receiver() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(free_addr(), &sqlite_url(dir.path()));
    let scale = if full() { 4 } else { 1 };
    let proxy = Arc::new(Proxy {
        upstream: cp.addr,
        start: Instant::now(),
        phases: vec![
            (Duration::from_secs(6 * scale), ProxyPhase::Latency),
            (Duration::from_secs(4 * scale), ProxyPhase::Reset),
            (Duration::from_secs(20), ProxyPhase::Swallow),
        ],
        swallow_left: AtomicUsize::new(scale as usize),
        swallow_done: Default::default(),
        resets: AtomicUsize::new(0),
        delayed: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(proxy_conn(proxy.clone(), conn));
            }
        });
    }
    let sup = shipping_to(proxy_addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..2 {
        agents.push(start_agent(&sup, &format!("f6-{k}"), 15_000 * scale, 200, "0.1").await);
    }
    // The fault ends when the supervisor gave up on the last swallowed request.
    let fault_end = loop {
        let done = *proxy.swallow_done.lock().unwrap();
        if proxy.swallow_left.load(Ordering::Relaxed) == 0
            && let Some(done) = done
        {
            break done;
        }
        assert!(
            proxy.start.elapsed() < Duration::from_secs(120),
            "no request was swallowed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let live = liveness(&sup, &cp, fault_end, "f6").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    header();
    report(
        "6 slow/broken receiver",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!(
            "{} delayed chunks, {} resets, swallowed until {:.1}s",
            proxy.delayed.load(Ordering::Relaxed),
            proxy.resets.load(Ordering::Relaxed),
            (fault_end - proxy.start).as_secs_f64()
        ),
    );
    assert!(
        proxy.resets.load(Ordering::Relaxed) > 0,
        "no connection was reset"
    );
}

// ---------------------------------------------------------------------------------------------------
// 8. The local log corrupted before a restart.

/// The offset of the start of the record holding line `n` of `id`.
fn record_offset(data: &[u8], id: &str, n: u64) -> usize {
    let needle = format!("\\\"sid\\\":\\\"{id}\\\",\\\"n\\\":{n},");
    let plain = format!("\"sid\":\"{id}\",\"n\":{n},");
    let text = String::from_utf8_lossy(data);
    let at = text
        .find(&plain)
        .or_else(|| text.find(&needle))
        .unwrap_or_else(|| panic!("line {n} of {id} in its log"));
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

#[tokio::test(flavor = "multi_thread")]
async fn f08_corrupted_local_log() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let sup = shipping_to(addr).start();
    let mut agents = Vec::new();
    for id in ["f8-flip", "f8-trunc", "f8-gone", "f8-intact"] {
        agents.push(start_agent(&sup, id, 3000, 1000, "0").await);
    }
    wait_all_finished(&sup, &agents).await;
    let sessions = sup.state_dir().join("sessions");
    // Flipped bytes in the middle: one record fails its checksum.
    let path = sessions.join("f8-flip.log");
    let mut data = std::fs::read(&path).unwrap();
    let at = record_offset(&data, "f8-flip", 1500);
    let pad = at + memchr_find(&data[at..], PAD.as_bytes()).unwrap();
    data[pad] = b'A';
    data[pad + 1] = b'B';
    std::fs::write(&path, &data).unwrap();
    // A truncated last record: the tail is torn in the middle of line 3000 (`session.finished` is gone).
    let path = sessions.join("f8-trunc.log");
    let data = std::fs::read(&path).unwrap();
    let at = record_offset(&data, "f8-trunc", 3000);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len((at + 40) as u64)
        .unwrap();
    // A deleted log.
    std::fs::remove_file(sessions.join("f8-gone.log")).unwrap();

    let sup = sup.kill_and_restart();
    let rss = RssSampler::start(sup.pid);
    let cp = ControlPlane::start(addr, &sqlite_url(dir.path()));
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f8").await;
    let startup = sup
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "recovered earlier sessions")
        .expect("the recovery summary");
    let excused = HashMap::from([
        (
            "f8-flip".to_owned(),
            Excused {
                lines: BTreeSet::from([1500]),
                ..Default::default()
            },
        ),
        (
            "f8-trunc".to_owned(),
            Excused {
                lines: BTreeSet::from([3000]),
                ..Default::default()
            },
        ),
    ]);
    let checked: Vec<Agent> = agents.iter().filter(|a| a.id != "f8-gone").cloned().collect();
    let tally = tally(&cp, &sup.state_dir(), &checked, &excused, true).await;
    header();
    report(
        "8 corrupted local log",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!(
            "corrupt_records {} torn_bytes {}",
            startup["corrupt_records"], startup["torn_bytes"]
        ),
    );
    assert_eq!(startup["corrupt_records"], 1, "{startup}");
    assert!(startup["torn_bytes"].as_u64().unwrap() > 0, "{startup}");
    assert_eq!(stored_session(&cp.url(), "f8-trunc").await["status"], "lost");
    assert_ne!(stored_session(&cp.url(), "f8-flip").await["status"], "lost");
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------------
// 5. The state dir on a small tmpfs, the control plane down until the spool cap: the agent blocks,
// nothing is dropped, all drains afterwards.

/// Unmounts (lazily) when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn f05_spool_cap_on_a_small_tmpfs() {
    require_root();
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let sup = shipping_to(addr).arg("--spool-max").arg("4MiB").start();
    // The harness chooses the state dir: mount the tmpfs over it, then restart on it.
    let state = sup.state_dir();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m,mode=700", "tmpfs"])
        .arg(&state)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a tmpfs on {}", state.display());
    let _mount = Mount(state.clone());
    let sup = sup.kill_and_restart();
    let rss = RssSampler::start(sup.pid);
    let n = 40_000;
    let agents = vec![start_agent(&sup, "f5-0", n, 1_000_000, "0").await];
    let log = state.join("sessions/f5-0.log");
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(eventually(Duration::from_secs(60), || size() > 4 << 20).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let blocked_at = size();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(size(), blocked_at, "the log grew while the spool was full");
    assert_eq!(
        sup.session("f5-0").await["status"],
        "running",
        "the agent is blocked, not dead"
    );

    let cp = ControlPlane::start(addr, &sqlite_url(dir.path()));
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f5").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &state, &agents, &HashMap::new(), true).await;
    header();
    report(
        "5 spool cap on 16M tmpfs",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!(
            "blocked at {:.1} MiB, final log {:.1} MiB",
            blocked_at as f64 / 1048576.0,
            size() as f64 / 1048576.0
        ),
    );
    // No `result` message: `failed` is its normal end; what matters is that it ran to its end.
    assert_ne!(sup.session("f5-0").await["status"], "lost");
    drop(sup);
}

// ---------------------------------------------------------------------------------------------------
// 2 and 3. PostgreSQL restarted mid-ingest, and stalled by an exclusive lock on `events`.

const PG_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/pg.sh");

fn skip_postgres() -> bool {
    std::env::var("AGENTCTL_SKIP_POSTGRES").as_deref() == Ok("1")
}

/// The shared server's admin URL; fails loudly when it is not set (unless AGENTCTL_SKIP_POSTGRES=1).
fn admin_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => Some(url),
        Err(_) if skip_postgres() => {
            eprintln!("skipped: AGENTCTL_SKIP_POSTGRES=1");
            None
        }
        Err(_) => panic!(
            "DATABASE_URL is not set: the PostgreSQL fault cases need a server. Run `eval \"$(scripts/pg.sh \
             start)\"` first (scripts/faults.sh does), or set AGENTCTL_SKIP_POSTGRES=1 to skip"
        ),
    }
}

fn psql(url: &str, sql: &str) {
    let out = std::process::Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A database of its own on the server of `admin`, dropped at the end.
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    fn create(admin: &str) -> Self {
        let name = format!("faults_{}", uuid::Uuid::new_v4().simple());
        psql(admin, &format!("CREATE DATABASE {name}"));
        let (base, _) = admin.rsplit_once('/').expect("the URL has a database path");
        Self {
            admin: admin.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                &self.admin,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// A private cluster (`scripts/pg.sh start`), so that restarting it disturbs no other test.
struct PrivateCluster {
    url: String,
    dir: String,
}

impl PrivateCluster {
    fn start() -> Self {
        let out = std::process::Command::new("bash")
            .arg(PG_SH)
            .arg("start")
            .env_remove("AGENTCTL_PG_DIR")
            .output()
            .expect("run scripts/pg.sh start");
        assert!(
            out.status.success(),
            "scripts/pg.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("{name} in the output of pg.sh start: {text}"))
                .to_owned()
        };
        Self {
            url: var("DATABASE_URL"),
            dir: var("AGENTCTL_PG_DIR"),
        }
    }

    fn pg_sh(&self, args: &[&str]) {
        let status = std::process::Command::new("bash")
            .arg(PG_SH)
            .args(args)
            .env("AGENTCTL_PG_DIR", &self.dir)
            .status()
            .expect("run scripts/pg.sh");
        assert!(status.success(), "scripts/pg.sh {args:?}");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(PG_SH)
            .arg("stop")
            .env("AGENTCTL_PG_DIR", &self.dir)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn f02_postgres_restarted_mid_ingest() {
    if admin_url().is_none() {
        return;
    }
    let cluster = Arc::new(PrivateCluster::start());
    let db = PgDb::create(&cluster.url);
    let cp = ControlPlane::start(free_addr(), &db.url);
    let sup = shipping_to(cp.addr).start();
    let rss = RssSampler::start(sup.pid);
    let modes: Vec<&str> = if full() {
        ["immediate", "fast"].repeat(5)
    } else {
        vec!["immediate", "fast"]
    };
    let mut agents = Vec::new();
    for k in 0..3 {
        let n = 1500 * (modes.len() as u64 * 3 + 4);
        agents.push(start_agent(&sup, &format!("f2-{k}"), n, 150, "0.1").await);
    }
    for mode in &modes {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let cluster = cluster.clone();
        let mode = mode.to_string();
        tokio::task::spawn_blocking(move || cluster.pg_sh(&["restart", &mode]))
            .await
            .unwrap();
    }
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f2").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    header();
    report(
        "2 postgres restart",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("restarts: {}", modes.join(",")),
    );
    drop(sup);
    drop(cp);
    drop(db);
}

#[tokio::test(flavor = "multi_thread")]
async fn f03_postgres_stalled_by_a_table_lock() {
    let Some(admin) = admin_url() else {
        return;
    };
    let hold = if full() { 30 } else { 10 };
    let db = PgDb::create(&admin);
    let cp = ControlPlane::start(free_addr(), &db.url);
    let sup = shipping_to(cp.addr).start();
    let rss = RssSampler::start(sup.pid);
    let mut agents = Vec::new();
    for k in 0..2 {
        agents.push(start_agent(&sup, &format!("f3-{k}"), 1000 * (hold + 6), 100, "0.1").await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let url = db.url.clone();
    let locked = tokio::task::spawn_blocking(move || {
        psql(
            &url,
            &format!("BEGIN; LOCK TABLE events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep({hold}); COMMIT;"),
        )
    });
    locked.await.unwrap();
    let fault_end = Instant::now();
    let live = liveness(&sup, &cp, fault_end, "f3").await;
    wait_all_finished(&sup, &agents).await;
    let tally = tally(&cp, &sup.state_dir(), &agents, &HashMap::new(), true).await;
    let retries = metric(&metrics(&sup).await, "supervisor_delivery_retries_total").unwrap_or(0);
    header();
    report(
        "3 postgres table lock",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!("lock held {hold}s, {retries} retries"),
    );
    drop(sup);
    drop(cp);
    drop(db);
}

// ---------------------------------------------------------------------------------------------------
// 10. (FAULTS_FULL) A 1 GiB backlog at restart: startup memory stays bounded; the drain rate.

#[tokio::test(flavor = "multi_thread")]
async fn f10_a_big_backlog_at_restart() {
    if !full() {
        eprintln!("skipped: FAULTS_FULL=1 runs the 1 GiB backlog");
        return;
    }
    let mib: u64 = std::env::var("FAULTS_BACKLOG_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let sup = shipping_to(addr)
        .arg("--spool-max")
        .arg("8GiB")
        .arg("--max-output")
        .arg("8GiB")
        .start();
    // Lines of about 1 KiB; the log holds them as records of about 1.1 KiB.
    let n = mib * 1024 * 1024 / 1100;
    let id = "f10-big";
    sup.run_cmd(
        id,
        &format!(r#"line=$(printf '{{"type":"big","pad":"%0990d"}}' 0); yes "$line" | head -n {n}"#),
    )
    .await;
    sup.wait_finished(id, Duration::from_secs(1800)).await;
    let log_bytes = std::fs::metadata(sup.state_dir().join(format!("sessions/{id}.log")))
        .unwrap()
        .len();
    let sup = sup.kill_and_restart();
    let rss = RssSampler::start(sup.pid);
    let cp = ControlPlane::start(addr, &sqlite_url(dir.path()));
    let start = Instant::now();
    let live = liveness(&sup, &cp, start, "f10").await;
    let events = sup.session(id).await["lastSeq"].as_u64().unwrap() + 1;
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut rows = 0;
    while Instant::now() < deadline {
        rows = db_rows(&cp.database_url, id).await;
        if rows as u64 >= events {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let took = start.elapsed().as_secs_f64();
    let tally = Tally {
        emitted: n,
        local: events as usize,
        stored: rows as usize,
        db_rows: rows,
        missing: events.saturating_sub(rows as u64) as usize,
        dup: (rows as u64).saturating_sub(events) as usize,
        ..Default::default()
    };
    header();
    report(
        "10 backlog at restart",
        &tally,
        Some(live),
        rss.peak_kib(),
        &format!(
            "{:.0} MiB log, drained in {took:.0}s: {:.0} events/s, {:.1} MiB/s",
            log_bytes as f64 / 1048576.0,
            events as f64 / took,
            log_bytes as f64 / 1048576.0 / took
        ),
    );
}
