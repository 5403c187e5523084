//! Shared by the web page's tests: a store with a forked thread, a
//! subgraph, pending writes and hostile ids; the page served on a free
//! loopback port; an HTTP client.

#![allow(dead_code)]

use std::sync::Arc;
use std::thread::JoinHandle;

use checkpointer::{Checkpoint, CheckpointAdmin, CheckpointMetadata, CheckpointSource, Config};
use serde_json::json;

/// The thread with a fork.
pub const FORKED: &str = "forked";
/// A thread id made to break out of HTML, attributes and scripts, with a
/// control character (BEL) and a bidirectional override.
pub const EVIL: &str =
    "<img src=x onerror=\"window.__xss=1\">'\"\u{7}\u{202e}<script>window.__xss=2</script>";
/// A channel name and value of the evil thread, as hostile.
pub const EVIL_CHANNEL: &str = "<b onmouseover=\"window.__xss=3\">bold</b>";
pub const EVIL_VALUE: &str = "</pre><script>window.__xss=4</script>";
/// Thread ids with a slash and with dots.
pub const SLASHED: &str = "team/a";
pub const DOTTED: &str = "../etc";

/// The checkpoints of [`FORKED`]: `a` (input) ← `b` ← `c` (with a pending
/// write), and `d` forked from `b` after `c` was made; `sub` is a
/// checkpoint of the subgraph namespace `child:1`.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub a: String,
    pub b: String,
    pub c: String,
    pub d: String,
    pub sub: String,
}

fn put(
    saver: &dyn CheckpointAdmin,
    config: &Config,
    cp: &Checkpoint,
    source: CheckpointSource,
    step: i64,
) -> Config {
    saver
        .put(
            config,
            cp,
            &CheckpointMetadata::new(source, step),
            &cp.channel_versions,
        )
        .expect("put a checkpoint")
}

/// Fills `saver` with the fixture's threads.
pub fn fill(saver: &dyn CheckpointAdmin) -> Fixture {
    let thread = Config::thread(FORKED);
    let a = Checkpoint::new(-1).with_value("messages", json!([]), 1);
    let cfg_a = put(saver, &thread, &a, CheckpointSource::Input, -1);
    let b = a.successor(0).with_value("messages", json!(["hi"]), 2);
    let cfg_b = put(saver, &cfg_a, &b, CheckpointSource::Loop, 0);
    let c = b
        .successor(1)
        .with_value("messages", json!(["hi", "hello"]), 3)
        .with_value("mood", json!("happy"), 1);
    let cfg_c = put(saver, &cfg_b, &c, CheckpointSource::Loop, 1);
    saver
        .put_writes(
            &cfg_c,
            &[("messages".into(), json!("pending!"))],
            "task-1",
            "",
        )
        .expect("put writes");
    // Version 4: a blob is stored per (channel, version), as in LangGraph.
    let d = b.successor(1).with_value("messages", json!(["bonjour"]), 4);
    let cfg_d = put(saver, &cfg_b, &d, CheckpointSource::Fork, 1);
    let sub = Checkpoint::new(0).with_value("inner", json!(1), 1);
    let cfg_sub = put(
        saver,
        &thread.clone().with_ns("child:1"),
        &sub,
        CheckpointSource::Loop,
        0,
    );

    let evil = Checkpoint::new(0).with_value(EVIL_CHANNEL, json!(EVIL_VALUE), 1);
    put(
        saver,
        &Config::thread(EVIL),
        &evil,
        CheckpointSource::Loop,
        0,
    );
    for id in [SLASHED, DOTTED] {
        let cp = Checkpoint::new(0).with_value("x", json!(id), 1);
        put(saver, &Config::thread(id), &cp, CheckpointSource::Loop, 0);
    }
    let id = |c: &Config| {
        c.checkpoint_id
            .clone()
            .expect("a stored checkpoint has an id")
    };
    Fixture {
        a: id(&cfg_a),
        b: id(&cfg_b),
        c: id(&cfg_c),
        d: id(&cfg_d),
        sub: id(&cfg_sub),
    }
}

/// A SQLite store in a temp dir (kept alive by the returned guard).
pub fn sqlite() -> (Arc<dyn CheckpointAdmin>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let saver = checkpointer::SqliteSaver::open(dir.path().join("ui.db")).expect("open SQLite");
    (Arc::new(saver), dir)
}

/// An axum app served on a free loopback port, on a runtime of its own;
/// stopped on drop.
pub struct Served {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub origin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Served {
    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

/// Serves `app` until the returned handle is dropped.
pub fn serve(app: axum::Router) -> Served {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind a loopback port");
    let origin = format!("http://{}", listener.local_addr().expect("local address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        runtime.block_on(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
    });
    Served {
        origin,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A client that does not follow redirects (the sign-in tests look at
/// them).
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// One path segment, percent-encoded (dots too).
pub fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
            out.push(char::from(b));
        } else {
            use std::fmt::Write as _;
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// GET `url`: the status and the body as JSON (`Null` if not JSON).
pub fn get_json(client: &reqwest::blocking::Client, url: &str) -> (u16, serde_json::Value) {
    let response = client.get(url).send().expect("GET");
    let status = response.status().as_u16();
    let body = response.text().expect("a body");
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}
