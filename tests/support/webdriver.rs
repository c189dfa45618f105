//! Driving the app's real windows over WebDriver: `tauri-driver` (installed by `scripts/setup.sh --test`)
//! starts the app under WebKitWebDriver and speaks the W3C protocol, which this client sends as plain HTTP.
//! Each window is a WebDriver window handle; [`Session::switch_to_window`] finds one by its Tauri label.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::app::{Sandbox, app_binary};

/// The W3C key for an element reference in answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const PATIENCE: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn tauri_driver() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tauri-driver"))
            .find(|candidate| candidate.is_file())
    });
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin/tauri-driver"))
        .filter(|candidate| candidate.is_file());
    on_path
        .or(in_cargo_home)
        .expect("tauri-driver is not installed: run `bash scripts/setup.sh --test`")
}

/// An element found in the current window.
#[derive(Debug, Clone)]
pub struct Element(String);

/// A WebDriver session on the real app, ended (and the app stopped) when dropped.
pub struct Session {
    http: reqwest::Client,
    base: String,
    id: String,
    _driver: Child,
}

impl Session {
    /// Starts the app through tauri-driver with `args` (which must open a window: a session needs one) and
    /// extra environment variables.
    pub async fn start(sandbox: &Sandbox, args: &[&str], env: &[(&str, String)]) -> Session {
        let port = free_port();
        let native_port = free_port();
        let driver = sandbox
            .command_for(
                &tauri_driver(),
                "app",
                &[
                    "--port",
                    &port.to_string(),
                    "--native-port",
                    &native_port.to_string(),
                ],
            )
            .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
            .spawn()
            .expect("start tauri-driver");
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": app_binary(), "args": args},
        }}});
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let answer = loop {
            match http
                .post(format!("{base}/session"))
                .json(&capabilities)
                .send()
                .await
            {
                Ok(response) => break response.json::<Value>().await.expect("a JSON answer"),
                // Not listening yet, or listening while WebKitWebDriver behind it is not (tauri-driver then
                // drops the request unanswered): no session was made, so asking again is safe.
                Err(error)
                    if tokio::time::Instant::now() < deadline
                        && (error.is_connect() || error.is_request()) =>
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!(
                    "tauri-driver does not answer: {error:?}; its log:\n{}",
                    sandbox.log("app")
                ),
            }
        };
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer}"))
            .to_owned();
        Session {
            http,
            base,
            id,
            _driver: driver,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_send(method, path, body)
            .await
            .unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    /// A command whose WebDriver error is the caller's to handle (a stale element after a re-render).
    async fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.id);
        let request = self.http.request(method, &url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let answer: Value = request
            .send()
            .await
            .map_err(|error| error.to_string())?
            .json()
            .await
            .map_err(|error| error.to_string())?;
        if let Some(error) = answer["value"]["error"].as_str() {
            return Err(format!("{error}: {}", answer["value"]["message"]));
        }
        Ok(answer["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// Runs `script` in the current window and returns what it returns.
    /// [`Session::execute`] in a window that may have closed meanwhile (the picker closes when it loses focus).
    pub async fn try_execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.try_send(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// The Tauri label of the current window.
    pub async fn label(&self) -> String {
        self.execute(
            "return window.__TAURI_INTERNALS__.metadata.currentWindow.label;",
            json!([]),
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Switches to the window labelled `wanted`, waiting for it to open.
    pub async fn switch_to_window(&self, wanted: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let handles = self.get("/window/handles").await;
            for handle in handles.as_array().into_iter().flatten() {
                // A window may close between the listing and the switch (the picker closes itself).
                if self
                    .try_send(reqwest::Method::POST, "/window", Some(json!({"handle": handle})))
                    .await
                    .is_err()
                {
                    continue;
                }
                let label = self
                    .try_send(
                        reqwest::Method::POST,
                        "/execute/sync",
                        Some(json!({"script": "return window.__TAURI_INTERNALS__.metadata.currentWindow.label;", "args": []})),
                    )
                    .await;
                if label.ok().as_ref().and_then(Value::as_str) == Some(wanted) {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no window labelled {wanted} within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn find_now(&self, css: &str) -> Vec<Element> {
        let found = self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await;
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|element| element[ELEMENT_KEY].as_str().map(|id| Element(id.to_owned())))
            .collect()
    }

    /// What the current window shows, as text (for failure messages).
    pub async fn page_text(&self) -> String {
        let shown = self
            .execute("return document.body ? document.body.innerText : '';", json!([]))
            .await;
        shown.as_str().unwrap_or_default().to_owned()
    }

    /// Every element matching `css`, waiting until there is at least one.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let found = self.find_now(css).await;
            if !found.is_empty() {
                return found;
            }
            if tokio::time::Instant::now() >= deadline {
                let page = self.page_text().await;
                panic!("nothing matches {css} within {PATIENCE:?}; the window shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.find_all(css).await.remove(0)
    }

    /// Clicks an element, scrolled into view first as a person would (WebKitWebDriver does not scroll for a
    /// click and calls an element below the fold not interactable).
    pub async fn click(&self, element: &Element) {
        self.execute(
            "arguments[0].scrollIntoView({block: 'center'});",
            json!([{ ELEMENT_KEY: element.0 }]),
        )
        .await;
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .await;
    }

    /// Clicks the element matching `css` once it can be clicked: a control the page has just revealed (an
    /// opened `<details>`) or enabled (a button waiting for its field's input event) may not be yet.
    pub async fn click_when_ready(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let element = self.find(css).await;
            self.execute(
                "arguments[0].scrollIntoView({block: 'center'});",
                json!([{ ELEMENT_KEY: element.0 }]),
            )
            .await;
            let disabled = self
                .execute(
                    "return arguments[0].disabled === true;",
                    json!([{ ELEMENT_KEY: element.0 }]),
                )
                .await
                .as_bool()
                .unwrap_or(false);
            if !disabled {
                match self
                    .try_send(
                        reqwest::Method::POST,
                        &format!("/element/{}/click", element.0),
                        Some(json!({})),
                    )
                    .await
                {
                    Ok(_) => return,
                    Err(error) if error.contains("not interactable") || error.contains("stale") => {}
                    Err(error) => panic!("clicking {css}: {error}"),
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never became clickable"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An attribute of an element ("" when it has none).
    pub async fn attribute(&self, element: &Element, name: &str) -> String {
        self.get(&format!("/element/{}/attribute/{name}", element.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Clicks the label of a form control, as a person does where the control itself is drawn by its label.
    pub async fn click_label_of(&self, css: &str) {
        let control = self.find(css).await;
        let id = self.attribute(&control, "id").await;
        assert!(!id.is_empty(), "{css} has no id for a label to point at");
        let label = self.find(&format!("label[for='{id}']")).await;
        self.click(&label).await;
    }

    pub async fn text(&self, element: &Element) -> String {
        self.get(&format!("/element/{}/text", element.0))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn clear(&self, element: &Element) {
        self.post(&format!("/element/{}/clear", element.0), json!({}))
            .await;
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.post(&format!("/element/{}/value", element.0), json!({"text": text}))
            .await;
    }

    /// Waits for the page's dialog (a `confirm()`) and accepts it, as a person clicking OK; returns its text.
    pub async fn accept_prompt(&self) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match self.try_send(reqwest::Method::GET, "/alert/text", None).await {
                Ok(text) => {
                    self.post("/alert/accept", json!({})).await;
                    return text.as_str().unwrap_or_default().to_owned();
                }
                Err(error) => assert!(
                    tokio::time::Instant::now() < deadline,
                    "no dialog within {PATIENCE:?}: {error}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of every element matching `css`, read in one script (no element reference to go stale while
    /// the view re-renders).
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let texts = self
            .execute(
                "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.innerText);",
                json!([css]),
            )
            .await;
        texts
            .as_array()
            .into_iter()
            .flatten()
            .map(|text| text.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until an element matching `css` has a text satisfying `condition`; returns that text.
    pub async fn wait_for_text(&self, css: &str, what: &str, condition: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let texts = self.texts(css).await;
            if let Some(found) = texts.iter().find(|text| condition(text)) {
                return found.clone();
            }
            if tokio::time::Instant::now() >= deadline {
                let page = self.page_text().await;
                panic!(
                    "{what}: not within {PATIENCE:?}; texts of {css}: {texts:?}; the window shows:\n{page}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `css` whose text contains `needle` (a table row: one of its cells,
    /// which is what a person clicks and what WebKitWebDriver agrees to click). The element is found and
    /// scrolled into view in one script, so a live list cannot shift between finding and picking; a click that
    /// a re-render beat is tried again.
    pub async fn click_text(&self, css: &str, needle: &str) {
        const FIND: &str = "const found = Array.from(document.querySelectorAll(arguments[0])).find((e) => e.innerText.includes(arguments[1]));
            if (!found) return null;
            const target = found.tagName === 'TR' ? (found.querySelector('td') || found) : found;
            target.scrollIntoView({block: 'center'});
            return target;";
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut last_error = String::from("nothing matched");
        loop {
            let found = self
                .try_send(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({"script": FIND, "args": [css, needle]})),
                )
                .await;
            if let Ok(Some(id)) = found.as_ref().map(|value| value[ELEMENT_KEY].as_str()) {
                match self
                    .try_send(
                        reqwest::Method::POST,
                        &format!("/element/{id}/click"),
                        Some(json!({})),
                    )
                    .await
                {
                    Ok(_) => return,
                    Err(error) => last_error = error,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let texts = self.texts(css).await;
                panic!(
                    "no {css} with {needle:?} could be clicked within {PATIENCE:?} ({last_error}); texts: {texts:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the current window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let encoded = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Session {
    /// Ends the session, which makes WebKitWebDriver close the app; killing tauri-driver alone would leave the
    /// app running. Plain blocking HTTP: a drop may run outside the runtime (or while a test unwinds).
    fn drop(&mut self) {
        // The app and its helpers, found before the session ends (they are tauri-driver's descendants).
        let mut descendants = Vec::new();
        let mut parents: Vec<u32> = self._driver.id().into_iter().collect();
        while let Some(parent) = parents.pop() {
            for child in crate::app::child_pids(parent) {
                descendants.push(child);
                parents.push(child);
            }
        }
        self.delete_session();
        // The next test's app must not meet this one (the single-instance guard would hand its launch over):
        // wait for them to end, and end what lingers.
        let alive = |pid: &u32| std::path::Path::new(&format!("/proc/{pid}")).exists();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while descendants.iter().any(alive) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for pid in descendants.iter().filter(|pid| alive(pid)) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

impl Session {
    fn delete_session(&self) {
        use std::io::{Read, Write};
        let Some(address) = self.base.strip_prefix("http://") else {
            return;
        };
        let Ok(mut stream) = std::net::TcpStream::connect(address) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let request = format!(
            "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.id
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
    }
}
