//! A headless Chromium driven over the DevTools protocol, for pages that
//! must work in a real browser (the edge's `/status` page, which draws
//! itself with JavaScript).
//!
//! The browser runs with a private profile in a temp dir and
//! `--remote-debugging-port=0` on loopback; the port it picked is read from
//! the `DevToolsActivePort` file it writes there. One WebSocket speaks to
//! the browser; a page target is created and attached in flat mode, and
//! commands carry its session id. Every command is bounded in time.
//! Chromium is required: CI installs it (`chromium` in the Makefile's
//! APT_PACKAGES), so a missing browser fails the test with what to do.

use crate::process::ChildProcess;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long the browser may take to start.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long one DevTools command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(20);

/// The browser binary: `$CHROMIUM`, else `/usr/bin/chromium` (Debian's
/// package). Panics with what to do when it is not there.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.is_file(),
        "chromium not found at {}: install it (`apt-get install chromium`, or `make deps`), \
         or set CHROMIUM to the browser binary",
        path.display()
    );
    path
}

/// A running headless browser with one page, killed when dropped.
pub struct Browser {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    _process: ChildProcess,
    dir: TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Browser({})", self.dir.path().display())
    }
}

impl Browser {
    /// Starts the browser with a `width` x `height` window and opens a blank page.
    pub async fn launch(width: u32, height: u32) -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("openclaw-chromium-")
            .tempdir()
            .expect("temp dir");
        let mut cmd = Command::new(binary());
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            &format!("--window-size={width},{height}"),
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg("about:blank");
        let mut process = ChildProcess::spawn("chromium", &mut cmd, dir.path());
        let url = browser_url(&mut process, &dir.path().join("profile")).await;
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("DevTools WebSocket {url}: {e}"));
        let mut b = Browser {
            ws,
            session: String::new(),
            next_id: 0,
            _process: process,
            dir,
        };
        let target = b
            .command("Target.createTarget", json!({ "url": "about:blank" }))
            .await;
        let target_id = target["targetId"]
            .as_str()
            .expect("a target id")
            .to_string();
        let attached = b
            .command(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        b.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        b.command("Page.enable", json!({})).await;
        b.command("Runtime.enable", json!({})).await;
        b
    }

    /// Sends one command (to the page once attached) and waits for its result.
    pub async fn command(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .unwrap_or_else(|e| panic!("DevTools send {method}: {e}"));
        let deadline = Instant::now() + COMMAND_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| {
                    panic!("DevTools {method}: no answer within {COMMAND_LIMIT:?}")
                });
            let text = match next {
                Some(Ok(Message::Text(t))) => t.to_string(),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("DevTools {method}: {e}"),
                None => panic!("DevTools {method}: the browser closed the connection"),
            };
            let answer: Value = serde_json::from_str(&text).expect("DevTools speaks JSON");
            if answer["id"] != id {
                continue; // an event, or another command's answer
            }
            if let Some(e) = answer.get("error") {
                panic!("DevTools {method} failed: {e}");
            }
            return answer["result"].clone();
        }
    }

    /// Loads `url` in the page.
    pub async fn open(&mut self, url: &str) {
        let r = self.command("Page.navigate", json!({ "url": url })).await;
        assert!(
            r.get("errorText").is_none(),
            "navigating to {url}: {}",
            r["errorText"]
        );
    }

    /// Evaluates `expression` in the page; its value (JSON-serializable).
    pub async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .command(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("evaluating `{expression}` threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Saves a PNG of the page at `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        let r = self
            .command("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("screenshot dir");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The browser's DevTools WebSocket URL, from the `DevToolsActivePort`
/// file it writes into its profile (port, then path).
async fn browser_url(process: &mut ChildProcess, profile: &Path) -> String {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + START_LIMIT;
    loop {
        if let Some(status) = process.exited() {
            panic!("chromium exited at start ({status}):\n{}", process.logs());
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let mut lines = text.lines();
        if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
            return format!("ws://127.0.0.1:{}{}", port.trim(), path.trim());
        }
        assert!(
            Instant::now() < deadline,
            "chromium wrote no {} within {START_LIMIT:?}:\n{}",
            file.display(),
            process.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
