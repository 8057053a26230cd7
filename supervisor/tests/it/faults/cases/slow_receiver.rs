//! Fault case 6: a slow and broken receiver: a TCP proxy that adds latency, then resets connections mid-body,
//! then swallows a request without answering.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::faults::fixtures::*;
use crate::faults::full;
use crate::faults::oracle::*;
use crate::support::*;

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
    let db = SqliteDb::new();
    let cp = ControlPlane::start_on(free_addr(), &db.url()).await;
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
    let given_up = async || {
        proxy.swallow_left.load(Ordering::Relaxed) == 0 && proxy.swallow_done.lock().unwrap().is_some()
    };
    assert!(
        eventually(Duration::from_secs(120), given_up).await,
        "no request was swallowed"
    );
    let fault_end = proxy
        .swallow_done
        .lock()
        .unwrap()
        .expect("the swallowed request was given up");
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
