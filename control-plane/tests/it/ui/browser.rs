//! A cookie-keeping HTTP client that signs in to the UI as a browser does (the sign-in form's token, then the
//! session cookie), follows no redirect (tests look at the 303s), and posts forms with the page's CSRF token.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::helpers::{TOKEN, TestApp};

#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The `value` of the first `<input … name="{name}" … value="…">` (the forms' hidden fields).
    pub fn input(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\""))?;
        let tag_start = self.body[..at].rfind('<')?;
        let tag_end = at + self.body[at..].find('>')?;
        let tag = &self.body[tag_start..tag_end];
        let v = tag.find("value=\"")? + 7;
        let end = v + tag[v..].find('"')?;
        Some(tag[v..end].to_owned())
    }

    /// The `Set-Cookie` header that sets cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
    }
}

/// One browser: its cookies (name → value) and the CSRF token of the last page that had one.
#[derive(Debug)]
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
    pub csrf: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.url(""),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Vec::new(),
            csrf: None,
        }
    }

    /// Signed in with the test server's API token.
    pub async fn signed_in(app: &TestApp) -> Self {
        let mut browser = Self::new(app);
        let page = browser.sign_in(TOKEN).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "sign-in: {}", page.body);
        browser
    }

    /// Opens the sign-in form and posts `token` with it.
    pub async fn sign_in(&mut self, token: &str) -> Page {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let form_token = form.input("form_token").expect("the sign-in form's token");
        self.post("/sign-in", &[("token", token), ("form_token", &form_token)])
            .await
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, page: &Page) {
        for set in page
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
        {
            let pair = set.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            self.cookies.retain(|(k, _)| k != name);
            if !set.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        if let Some(csrf) = page.input("csrf") {
            self.csrf = Some(csrf);
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("request");
        let page = Page {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.expect("body"),
        };
        self.keep(&page);
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// A GET as htmx makes it (`HX-Request: true`).
    pub async fn get_htmx(&mut self, path: &str) -> Page {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .header("hx-request", "true");
        self.send(request).await
    }

    /// Posts `fields` as a form, exactly as given (no CSRF token added).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(fields).expect("form");
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// Posts `fields` with this browser's CSRF token (from the last page that carried one).
    pub async fn submit(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self
            .csrf
            .clone()
            .expect("a page with the CSRF token was opened first");
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post(path, &all).await
    }
}
