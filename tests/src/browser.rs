//! A real headless Chromium (the Debian `chromium` package) driven over W3C
//! WebDriver by `chromedriver` (the `chromium-driver` package), for the
//! command centre's journeys. The protocol is a handful of JSON calls, spoken
//! here with reqwest.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use flatgov_testkit::free_port;
use serde_json::{Value, json};

/// The key WebDriver names element references by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A `chromedriver` process with one browser session.
pub struct Browser {
    driver: Child,
    session: String,
    base: String,
    http: reqwest::Client,
    /// Where screenshots go: `target/command-centre/`.
    pub artefacts: PathBuf,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn program(candidates: &[&str]) -> String {
    candidates
        .iter()
        .find(|candidate| std::path::Path::new(candidate).exists())
        .map_or_else(|| candidates[0].to_owned(), |found| (*found).to_owned())
}

fn with_json(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

async fn read_json(response: reqwest::Response) -> Result<Value, String> {
    let bytes = response.bytes().await.map_err(|error| error.to_string())?;
    serde_json::from_slice(&bytes).map_err(|error| error.to_string())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a 1366×768 window.
    pub async fn start() -> Self {
        let port = free_port();
        let driver = Command::new(program(&[
            "/usr/bin/chromedriver",
            "/usr/lib/chromium/chromedriver",
        ]))
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot start chromedriver ({error}); scripts/test installs chromium-driver")
        });
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(response) => read_json(response).await.ok(),
                Err(_) => None,
            };
            if ready.is_some_and(|status| status["value"]["ready"] == json!(true)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": program(&["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1366,768",
                    "--lang=zh-CN",
                ],
            },
        }}});
        let answer = read_json(
            with_json(http.post(format!("{base}/session")), &capabilities)
                .send()
                .await
                .expect("a WebDriver session"),
        )
        .await
        .expect("a WebDriver answer");
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        let artefacts = crate::binary_directory()
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(crate::binary_directory)
            .join("command-centre");
        std::fs::create_dir_all(&artefacts).expect("the screenshot directory");
        Self {
            driver,
            session,
            base,
            http,
            artefacts,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .await
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// A WebDriver command; an error the driver answers (a script that threw, an
    /// element gone) is returned as text, a driver that cannot be reached panics.
    async fn try_command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, &url);
        if let Some(body) = body {
            request = with_json(request, &body);
        }
        let answer = read_json(
            request
                .send()
                .await
                .unwrap_or_else(|error| panic!("WebDriver {path}: {error}")),
        )
        .await
        .unwrap_or_else(|error| panic!("WebDriver {path}: {error}"));
        if let Some(error) = answer["value"]["error"].as_str() {
            return Err(format!(
                "WebDriver {path}: {error}: {}",
                answer["value"]["message"].as_str().unwrap_or_default()
            ));
        }
        Ok(answer["value"].clone())
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub async fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    pub async fn find(&self, css: &str) -> Element {
        let value = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        Element(
            value[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {css}: {value}"))
                .to_owned(),
        )
    }

    pub async fn click(&self, element: &Element) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn clear(&self, element: &Element) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Resizes the window (a phone: 390×844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.command(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Saves a PNG of the window as `target/command-centre/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let value = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().expect("a base64 screenshot"))
            .expect("base64");
        let path = self.artefacts.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("writing a screenshot");
        path
    }

    /// Polls `script` until it returns something other than null or false,
    /// and returns that; panics naming `what` after `patience`.
    pub async fn until(&self, what: &str, patience: Duration, script: &str) -> Value {
        let deadline = Instant::now() + patience;
        let mut last_error = None;
        loop {
            // A script that throws (the page is navigating and the element it
            // reads is not there yet) counts as "not yet", like null.
            let value = match self
                .try_command(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({ "script": script, "args": Vec::<Value>::new() })),
                )
                .await
            {
                Ok(value) => value,
                Err(error) => {
                    last_error = Some(error);
                    Value::Null
                }
            };
            if !value.is_null() && value != json!(false) {
                return value;
            }
            if Instant::now() > deadline {
                let path = self.screenshot("failure").await;
                panic!(
                    "{what}: not within {patience:?} (screenshot {}; last script error: {})",
                    path.display(),
                    last_error.as_deref().unwrap_or("none")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session (closing Chromium) and chromedriver.
    pub async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
