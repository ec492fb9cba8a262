//! Just enough of the W3C WebDriver protocol to drive headless Chromium
//! through Debian's chromedriver: sessions, navigation, scripts, clicks and
//! screenshots, as JSON over plain HTTP/1.1 on loopback.

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest chromedriver may take to answer its status.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest one WebDriver command may take (a navigation waits for the page's load).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The program `name` (or the path in `variable`) if it is installed. Under
/// `CI=true` a missing program fails the test; elsewhere it skips with a note.
#[track_caller]
pub fn program(variable: &str, names: &[&str], test: &str) -> Option<PathBuf> {
    let found = std::env::var_os(variable).map(PathBuf::from).or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |name| dir.join(name))).find(|p| p.is_file())
    });
    if found.is_some() {
        return found;
    }
    let ci = std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1");
    assert!(
        !ci,
        "{test}: {} is not installed (or set {variable}), but CI=true says this is a CI run, where a test must not \
         pass by skipping. Install Debian's chromium and chromium-driver (.ci/run does).",
        names[0]
    );
    eprintln!("{test}: {} is not installed; skipping (under CI=true this fails)", names[0]);
    None
}

/// A chromedriver child and one headless Chromium session on it.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session.
    pub fn start(chromedriver: &Path, chromium: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut browser = Browser { driver, port, session: String::new(), _profile: profile };
        let started = Instant::now();
        while browser.request("GET", "/status", None).is_err() {
            assert!(
                started.elapsed() < DRIVER_START_TIMEOUT,
                "chromedriver did not answer in {DRIVER_START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--no-default-browser-check",
                         format!("--user-data-dir={}", browser._profile.path().display())]
            }
        }}});
        let created = browser.command("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"].as_str().expect("session id").to_owned();
        browser
    }

    pub fn navigate(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.session_command("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Clicks the first element matching `css`, as a user would.
    pub fn click(&self, css: &str) {
        let found = self.session_command("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        let element = found.as_object().and_then(|object| object.values().next()).and_then(Value::as_str);
        let element = element.unwrap_or_else(|| panic!("no element {css}"));
        self.session_command("POST", &format!("/element/{element}/click"), Some(json!({})));
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.session_command("GET", "/screenshot", None);
        base64_decode(encoded.as_str().expect("base64 PNG"))
    }

    /// Polls `script` until it returns something other than null or false,
    /// for at most `limit`; returns that value and how long it took.
    pub fn wait_for(&self, script: &str, args: Vec<Value>, limit: Duration) -> (Value, Duration) {
        let started = Instant::now();
        loop {
            let value = self.execute(script, args.clone());
            if !value.is_null() && value != Value::Bool(false) {
                return (value, started.elapsed());
            }
            assert!(started.elapsed() < limit, "gave up after {limit:?} waiting for: {script}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn session_command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    /// One command; its `value`, or a panic with WebDriver's error.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let reply = self.request(method, path, body).unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let value = reply.get("value").cloned().unwrap_or(Value::Null);
        if let Some(error) = value.get("error") {
            panic!("{method} {path}: {error}: {}", value.get("message").unwrap_or(&Value::Null));
        }
        value
    }

    fn request(&self, method: &str, path: &str, body: Option<Value>) -> std::io::Result<Value> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        // chromedriver keeps connections open whatever the request says, so
        // the reply ends where its Content-Length says.
        let mut reply = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let payload = loop {
            let read = stream.read(&mut chunk)?;
            if read == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            reply.extend_from_slice(&chunk[..read]);
            let Some(head_end) = reply.windows(4).position(|window| window == b"\r\n\r\n") else { continue };
            let head = String::from_utf8_lossy(&reply[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|length| length.trim().parse::<usize>().ok())
                .ok_or(std::io::ErrorKind::InvalidData)?;
            if reply.len() >= head_end + 4 + length {
                break String::from_utf8_lossy(&reply[head_end + 4..head_end + 4 + length]).into_owned();
            }
        };
        serde_json::from_str(&payload).map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.request("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |byte: u8| match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> =
        text.bytes().filter(|byte| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/').collect();
    let mut bytes = Vec::with_capacity(digits.len() * 3 / 4);
    for group in digits.chunks(4) {
        let bits = group
            .iter()
            .enumerate()
            .fold(0u32, |bits, (index, digit)| bits | (u32::from(value(*digit)) << (18 - 6 * index)));
        bytes.extend_from_slice(&bits.to_be_bytes()[1..group.len()]);
    }
    bytes
}
