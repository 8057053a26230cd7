//! `chromedriver`, the WebDriver server of Debian's `chromium-driver`: one per test process while any test
//! holds it (a `Weak` in a static, so tests running at the same time share it and the last one to let go
//! kills it), on a free port, in a process group of its own so that the Chromium processes it started die
//! with it when a test panics before it closed its browser. Its `TMPDIR` is a directory of its own, removed
//! after it: Chromium leaves `org.chromium.Chromium.*` directories behind in the temp dir even when it quits.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use super::free_addr;

/// Where Debian's packages put them.
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

/// How long chromedriver may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running chromedriver; dropping the last `Arc` of it kills it and everything it started.
#[derive(Debug)]
pub(crate) struct Chromedriver {
    child: Child,
    pub(crate) url: String,
    /// The `TMPDIR` of chromedriver and every browser it starts; dropped after they are killed.
    _tmp: tempfile::TempDir,
}

static SHARED: Mutex<Weak<Chromedriver>> = Mutex::new(Weak::new());

impl Chromedriver {
    /// The chromedriver of this test process, started if no test holds one.
    pub(crate) fn shared() -> Arc<Self> {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(driver) = shared.upgrade() {
            return driver;
        }
        let driver = Arc::new(Self::start());
        *shared = Arc::downgrade(&driver);
        driver
    }

    fn start() -> Self {
        for (binary, package) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
            assert!(
                std::path::Path::new(binary).exists(),
                "{binary} is missing (Debian package {package}): the browser tests need it. Install it as \
                 scripts/test.sh does: apt-get install -y --no-install-recommends chromium chromium-driver"
            );
        }
        let port = free_addr().port();
        let tmp = tempfile::tempdir().expect("a temp dir for the browsers");
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMEDRIVER}: {e}"));
        // It says on stdout when it listens; the pipe is drained after that so it never blocks on it.
        let stdout = child.stdout.take().expect("stdout piped");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut said = String::new();
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(tx) = &ready {
                    said.push_str(&line);
                    said.push('\n');
                    if line.contains("started successfully") {
                        let _ = tx.send(Ok(()));
                        ready = None;
                    }
                }
            }
            if let Some(tx) = ready {
                let _ = tx.send(Err(said));
            }
        });
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
                _tmp: tmp,
            },
            Ok(Err(said)) => {
                kill_group(&mut child);
                panic!("chromedriver exited before it listened:\n{said}");
            }
            Err(_) => {
                kill_group(&mut child);
                panic!("chromedriver did not listen on port {port} within {START_TIMEOUT:?}");
            }
        }
    }
}

/// SIGKILL to the whole group (chromedriver and the browsers below it), then the driver is waited for.
fn kill_group(child: &mut Child) {
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::SIGKILL);
    let _ = child.wait();
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}
