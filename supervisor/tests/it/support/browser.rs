//! A real browser for the web UI's tests: headless Chromium driven through chromedriver (WebDriver, with
//! `fantoccini`), plus what the tests ask of it: sign in through the form, wait for a condition with a
//! deadline, read the console (a CSP violation is a console error), save a screenshot to
//! `target/ui-screenshots/<name>.png`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::browser_commands::{BrowserLog, Cdp};
use super::browser_driver::{CHROMIUM, Chromedriver};
use super::{CP_TOKEN, eventually, repo};

/// How long a page may take to show what a test waits for.
pub(crate) const PAGE_WAIT: Duration = Duration::from_secs(20);

/// One console entry: its level (`SEVERE` is an error) and its text.
#[derive(Debug, Clone)]
pub(crate) struct ConsoleEntry {
    pub(crate) level: String,
    pub(crate) message: String,
}

/// A headless Chromium of its own (its own profile, so its own cookies) on the UI at `base`.
pub(crate) struct Browser {
    client: Client,
    base: String,
    /// Every console entry read so far: chromedriver hands each out once.
    console: Mutex<Vec<ConsoleEntry>>,
    _profile: tempfile::TempDir,
    _driver: Arc<Chromedriver>,
}

/// Where the screenshots of a test run go: the workspace's `target/`.
pub(crate) fn screenshot_dir() -> PathBuf {
    let repo = repo();
    repo.canonicalize().unwrap_or(repo).join("target/ui-screenshots")
}

impl Browser {
    /// A new browser (1280×900, light colour scheme) on the server at `base` (`http://127.0.0.1:N`).
    pub(crate) async fn open(base: &str) -> Self {
        let driver = Chromedriver::shared();
        let profile = tempfile::tempdir().expect("a profile dir");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--no-first-run", "--no-default-browser-check",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
            // An alert stays open for the test to find, instead of being dismissed by the next command.
            "unhandledPromptBehavior": "ignore",
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("start Chromium through chromedriver: {e}"));
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            console: Mutex::new(Vec::new()),
            _profile: profile,
            _driver: driver,
        }
    }

    /// The WebDriver client, for what the helpers here do not cover.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Loads `path` of the UI and waits for it to have loaded.
    pub(crate) async fn goto(&self, path: &str) {
        let url = self.url(path);
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The path and query of the page shown.
    pub(crate) async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Opens `path`, which must send a browser without a cookie to the sign-in form, signs in there with the
    /// control plane's API token, and waits until the browser is back on `path`.
    pub(crate) async fn sign_in(&self, path: &str) {
        self.goto(path).await;
        let landed = self.path().await;
        assert!(
            landed.starts_with("/sign-in?next="),
            "{path} without a cookie showed {landed}"
        );
        self.fill("input#token", CP_TOKEN).await;
        self.click(r#"form[action="/sign-in"] button[type=submit]"#).await;
        self.wait_until(&format!("back on {path} after signing in"), async |b| {
            b.path().await == path
        })
        .await;
    }

    /// Runs `script` (a function body: `return …`) in the page with `args`.
    pub(crate) async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("run `{script}` in the page: {e}"))
    }

    /// How many elements match `css`.
    pub(crate) async fn count(&self, css: &str) -> usize {
        let n = self
            .js(
                "return document.querySelectorAll(arguments[0]).length",
                vec![json!(css)],
            )
            .await;
        n.as_u64().unwrap_or_default() as usize
    }

    /// The `textContent` of the first element matching `css` (hidden text too), if there is one.
    pub(crate) async fn text(&self, css: &str) -> Option<String> {
        let text = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent : null",
                vec![json!(css)],
            )
            .await;
        text.as_str().map(str::to_owned)
    }

    /// The value of attribute `name` of every element matching `css`, in document order.
    pub(crate) async fn attributes(&self, css: &str, name: &str) -> Vec<String> {
        let values = self
            .js(
                "return [...document.querySelectorAll(arguments[0])].map(e => e.getAttribute(arguments[1]))",
                vec![json!(css), json!(name)],
            )
            .await;
        values
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Clicks the first element matching `css`.
    pub(crate) async fn click(&self, css: &str) {
        let element = self.find(css).await;
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Replaces the value of the field matching `css` with `text`, typed as a person would.
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Chooses the option of value `value` in the select matching `css`.
    pub(crate) async fn select(&self, css: &str, value: &str) {
        let element = self.find(css).await;
        element
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("choose {value} in {css}: {e}"));
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => self.fail(&format!("no {css} on the page: {e}")).await,
        }
    }

    /// Waits until an element matches `css`.
    pub(crate) async fn wait_for(&self, css: &str) {
        self.wait_until(&format!("{css} on the page"), async |b| b.count(css).await > 0)
            .await;
    }

    /// Waits up to [`PAGE_WAIT`] until `check` holds; fails the test with `what`, the page's address and a
    /// screenshot (`failed-…`) if it does not.
    pub(crate) async fn wait_until(&self, what: &str, mut check: impl AsyncFnMut(&Self) -> bool) {
        if !eventually(PAGE_WAIT, async || check(self).await).await {
            self.fail(&format!("timed out waiting for {what}")).await;
        }
    }

    /// Fails the test with `message`, what the page shows, and a screenshot of it.
    pub(crate) async fn fail(&self, message: &str) -> ! {
        let url = self.client.current_url().await.map(|u| u.to_string());
        let test = std::thread::current().name().unwrap_or("test").replace("::", "-");
        let name = format!("failed-{test}");
        self.screenshot(&name).await;
        let body = self.text("body").await.unwrap_or_default();
        let body: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
        let body: String = body.chars().take(2000).collect();
        panic!(
            "{message}\npage: {url:?}\nscreenshot: {}\nconsole: {:#?}\ntext: {body}",
            screenshot_dir().join(format!("{name}.png")).display(),
            self.console().await,
        );
    }

    /// Scrolls the first element matching `css` into view (`body`: the top of the page).
    pub(crate) async fn scroll_to(&self, css: &str) {
        self.js(
            "document.querySelector(arguments[0]).scrollIntoView()",
            vec![json!(css)],
        )
        .await;
    }

    /// Saves what the window shows as `target/ui-screenshots/<name>.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create target/ui-screenshots");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
    }

    /// Every console entry of this browser so far.
    pub(crate) async fn console(&self) -> Vec<ConsoleEntry> {
        let fresh = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .unwrap_or_else(|e| panic!("read the browser's console: {e}"));
        let mut console = self.console.lock().unwrap();
        for entry in fresh.as_array().into_iter().flatten() {
            console.push(ConsoleEntry {
                level: entry["level"].as_str().unwrap_or_default().to_owned(),
                message: entry["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        console.clone()
    }

    /// Drops every console entry read so far (after a test provoked one on purpose).
    pub(crate) async fn forget_console(&self) {
        self.console().await;
        self.console.lock().unwrap().clear();
    }

    /// Fails unless the console holds no error but those whose text contains one of `expected`.
    pub(crate) async fn assert_no_console_errors(&self, expected: &[&str]) {
        let errors: Vec<ConsoleEntry> = self
            .console()
            .await
            .into_iter()
            .filter(|e| e.level == "SEVERE" && !expected.iter().any(|x| e.message.contains(x)))
            .collect();
        assert!(errors.is_empty(), "console errors: {errors:#?}");
    }

    /// The text of the alert (or confirm, or prompt) the page has open, if it has one.
    pub(crate) async fn open_alert(&self) -> Option<String> {
        match self.client.get_alert_text().await {
            Ok(text) => Some(text),
            Err(fantoccini::error::CmdError::Standard(e)) if e.error() == "no such alert" => None,
            Err(e) => panic!("ask for an open alert: {e}"),
        }
    }

    /// A phone's screen from now on: 390×844 CSS pixels, touch, device scale 3 as an iPhone 12-15 has.
    pub(crate) async fn phone(&self) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": true}),
        )
        .await;
    }

    /// `prefers-color-scheme: dark` from now on (as a system set to dark mode reports).
    pub(crate) async fn dark(&self) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        )
        .await;
    }

    /// Back to the window's own size and the light colour scheme.
    pub(crate) async fn desktop(&self) {
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": "light"}]}),
        )
        .await;
    }

    async fn cdp(&self, cmd: &'static str, params: Value) {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .unwrap_or_else(|e| panic!("DevTools {cmd}: {e}"));
    }

    /// Closes the browser (Chromium quits); the console is checked first, allowing errors that contain one
    /// of `expected`.
    pub(crate) async fn close(self, expected_console_errors: &[&str]) {
        self.assert_no_console_errors(expected_console_errors).await;
        let _ = self.client.clone().close().await;
    }
}
