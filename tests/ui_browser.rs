//! The web page in a real browser: headless Chromium (Debian's `chromium`
//! and `chromium-driver`), driven over chromedriver's W3C `WebDriver` API,
//! opens a thread with a fork, sees the branch, clicks a checkpoint, sees
//! its diff and pending writes, switches to a subgraph namespace, and
//! takes a screenshot that must not be blank. A hostile thread id is shown
//! as text and runs nothing. Without chromedriver the test skips with a
//! printed line; under `CI=true` it fails (`.ci/run` installs it).
#![cfg(feature = "server")]

#[path = "ui_support/mod.rs"]
mod ui_support;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use std::sync::{Arc, Mutex};

use checkpointer::server::ui::{KeyCheck, ThreadFilter, UiAccess, nested, router};
use serde_json::{Value, json};
use ui_support::{EVIL, EVIL_CHANNEL, FORKED, fill, serve};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for the page to show something before failing.
const PATIENCE: Duration = Duration::from_secs(30);

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver and the browser, or `None` (after printing why) to skip.
///
/// # Panics
///
/// Under `CI=true` when either is missing.
fn browser() -> Option<(PathBuf, Option<PathBuf>)> {
    let driver = std::env::var_os("CHECKPOINTER_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| on_path(&["chromedriver"]));
    let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    match (driver, chromium) {
        (Some(driver), chromium)
            if chromium.is_some() || std::env::var_os("CHECKPOINTER_CHROMEDRIVER").is_some() =>
        {
            Some((driver, chromium))
        }
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but chromium/chromedriver are missing (.ci/run installs chromium and chromium-driver)"
            )
        }
        _ => {
            eprintln!(
                "ui_browser: skipped, chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    url: String,
    http: reqwest::blocking::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(binary: &PathBuf) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_mins(1))
                .build()
                .unwrap(),
        };
        wait_for("chromedriver to be ready", || {
            let status: Value = driver
                .http
                .get(format!("{}/status", driver.url))
                .send()
                .ok()?
                .json()
                .ok()?;
            status["value"]["ready"].as_bool().filter(|r| *r)
        });
        driver
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request
            .send()
            .expect("a WebDriver call")
            .json()
            .expect("a WebDriver reply");
        if let Some(error) = reply["value"]["error"].as_str() {
            panic!("WebDriver {path}: {error}: {}", reply["value"]["message"]);
        }
        reply["value"].clone()
    }
}

/// A browser session, closed on drop.
struct Session<'d> {
    driver: &'d Driver,
    id: String,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .http
            .delete(format!("{}/session/{}", self.driver.url, self.id))
            .send();
    }
}

impl<'d> Session<'d> {
    fn new(driver: &'d Driver, chromium: Option<&PathBuf>) -> Session<'d> {
        let mut options = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1280,900"]});
        if let Some(chromium) = chromium {
            options["binary"] = json!(chromium);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let value = driver.call(reqwest::Method::POST, "/session", Some(caps));
        Session {
            driver,
            id: value["sessionId"]
                .as_str()
                .expect("a session id")
                .to_owned(),
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
    }

    fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})));
    }

    /// The elements matching `css` (maybe none).
    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    /// Waits until `css` matches at least `count` elements.
    fn wait_all(&self, css: &str, count: usize) -> Vec<String> {
        wait_for(&format!("{count} × {css}"), || {
            Some(self.find_all(css)).filter(|f| f.len() >= count)
        })
    }

    fn text(&self, element: &str) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{element}/text"),
            None,
        )
        .as_str()
        .unwrap()
        .to_owned()
    }

    /// Waits until the text of the first `css` element satisfies `ok`.
    fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        wait_for(&format!("the text of {css}"), || {
            let first = self.find_all(css).into_iter().next()?;
            Some(self.text(&first)).filter(|t| ok(t))
        })
    }

    fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .expect("base64 PNG")
    }
}

/// Polls `probe` until it gives a value; fails after [`PATIENCE`].
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The distinct colours of a PNG, and the share of its most common one.
fn colours(png_bytes: &[u8]) -> (usize, f64, (u32, u32)) {
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let mut counts = std::collections::HashMap::new();
    for p in &pixels {
        *counts.entry(p.to_vec()).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)] // pixel counts of a screenshot are far below 2^52
    let share = most as f64 / pixels.len().max(1) as f64;
    (counts.len(), share, (info.width, info.height))
}

#[test]
fn a_browser_shows_the_branches_a_checkpoint_and_its_diff() {
    let Some((driver_bin, chromium)) = browser() else {
        return;
    };
    let (saver, _dir) = ui_support::sqlite();
    let fixture = fill(&*saver);
    let srv = serve(router(saver, UiAccess::Open));
    let driver = Driver::start(&driver_bin);
    let session = Session::new(&driver, chromium.as_ref());

    // The threads, then the forked one.
    session.open(&srv.url("/"));
    let links = session.wait_all("#threads a.thread", 4);
    let forked = links
        .iter()
        .find(|l| session.text(l) == FORKED)
        .expect("the forked thread is listed");
    session.click(forked);
    let nodes = session.wait_all("#tree g.cp", 4);
    assert_eq!(nodes.len(), 4, "the root namespace has 4 checkpoints");
    // The fork is drawn: its node says where its branch started.
    let fork = session.wait_text("#tree text.fork", |t| !t.is_empty());
    assert!(fork.contains("branch from step 0"), "{fork}");
    assert_eq!(
        session.find_all("#tree path.edge").len(),
        3,
        "a tree of 4 nodes has 3 edges"
    );
    let latest = session
        .find_all("#tree g.cp text")
        .iter()
        .filter(|t| session.text(t).ends_with("(latest)"))
        .count();
    assert_eq!(latest, 2, "each branch's newest checkpoint is marked");

    // Click checkpoint c: its diff against b and its pending write.
    let c = session.wait_all(
        &format!("#tree g.cp[data-checkpoint-id=\"{}\"] circle", fixture.c),
        1,
    );
    session.click(&c[0]);
    let diff = session.wait_text("#diff", |t| t.contains("appended"));
    assert!(
        diff.contains("messages") && diff.contains("\"hello\""),
        "{diff}"
    );
    assert!(diff.contains("mood") && diff.contains("added"), "{diff}");
    let writes = session.wait_text("#writes", |t| !t.is_empty());
    assert!(writes.contains("pending!"), "{writes}");
    let selected = session.find_all("#tree g.cp.selected");
    assert_eq!(selected.len(), 1);

    let shot = session.screenshot();
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui_browser.png"),
        &shot,
    )
    .expect("save the screenshot");
    let (distinct, background, (w, h)) = colours(&shot);
    assert!(w >= 800 && h >= 600, "{w}×{h}");
    assert!(distinct >= 64, "a blank page: {distinct} colours");
    assert!(
        background < 0.98,
        "a blank page: {:.1}% one colour",
        background * 100.0
    );

    // The subgraph's namespace.
    let option = session.wait_all("#ns option[value=\"child:1\"]", 1);
    session.click(&option[0]);
    wait_for("the subgraph's history", || {
        let nodes = session.find_all("#tree g.cp");
        Some(()).filter(|()| {
            nodes.len() == 1
                && session
                    .find_all(&format!("g.cp[data-checkpoint-id=\"{}\"]", fixture.sub))
                    .len()
                    == 1
        })
    });
}

#[test]
fn a_hostile_thread_id_is_shown_as_text_and_runs_nothing() {
    let Some((driver_bin, chromium)) = browser() else {
        return;
    };
    let (saver, _dir) = ui_support::sqlite();
    fill(&*saver);
    let srv = serve(router(saver, UiAccess::Open));
    let driver = Driver::start(&driver_bin);
    let session = Session::new(&driver, chromium.as_ref());
    session.open(&srv.url("/"));
    let links = session.wait_all("#threads a.thread", 4);
    let shown = |s: &str| {
        s.replace('\u{7}', "\\u{7}")
            .replace('\u{202e}', "\\u{202e}")
    };
    let evil = links
        .iter()
        .find(|l| session.text(l) == shown(EVIL))
        .expect("the hostile id, as text, with control characters visible");
    session.click(evil);
    let node = session.wait_all("#tree g.cp circle", 1);
    session.click(&node[0]);
    session.wait_text("#state", |t| t.contains(EVIL_CHANNEL));
    let title = session.script("return document.getElementById('thread-title').textContent");
    assert_eq!(title, json!(shown(EVIL)));
    let xss = session.script("return window.__xss === undefined && document.querySelectorAll('img, b, #state script').length === 0");
    assert_eq!(xss, json!(true), "markup from the database was parsed");
}

#[test]
fn a_browser_signs_in_with_a_key_and_a_revoked_key_sends_it_back() {
    let Some((driver_bin, chromium)) = browser() else {
        return;
    };
    let (saver, _dir) = ui_support::sqlite();
    fill(&*saver);
    let keys = Arc::new(Mutex::new(HashSet::from(["good-key".to_owned()])));
    let live = Arc::clone(&keys);
    let check: KeyCheck = Arc::new(move |key: &str| {
        let only_forked: ThreadFilter = Arc::new(|thread: &str| thread == FORKED);
        live.lock().unwrap().contains(key).then_some(only_forked)
    });
    let srv = serve(nested("/ui", saver, UiAccess::ApiKey(check)));
    let driver = Driver::start(&driver_bin);
    let session = Session::new(&driver, chromium.as_ref());
    session.open(&srv.url("/ui"));

    let sign_in = |key: &str| {
        let input = session.wait_all("#key", 1);
        session.type_into(&input[0], key);
        let button = session.wait_all("#signin button", 1);
        session.click(&button[0]);
    };
    sign_in("wrong-key");
    let message = session.wait_text("#message", |t| !t.is_empty());
    assert!(message.contains("not valid"), "{message}");
    sign_in("good-key");
    let links = session.wait_all("#threads a.thread", 1);
    let shown: Vec<String> = links.iter().map(|l| session.text(l)).collect();
    assert_eq!(shown, [FORKED], "the key sees only its threads");
    assert_eq!(
        session.script("return document.cookie"),
        json!(""),
        "the session cookie is HttpOnly"
    );
    session.click(&links[0]);
    session.wait_all("#tree g.cp", 4);

    // Revoked: the next request sends the browser back to the form.
    keys.lock().unwrap().clear();
    let node = session.wait_all("#tree g.cp circle", 1);
    session.click(&node[0]);
    session.wait_all("#signin #key", 1);
}
