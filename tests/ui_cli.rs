//! `checkpointer ui`: serves the page of an existing database on a
//! loopback address it prints, and refuses any other address.
#![cfg(all(feature = "server", feature = "cli"))]

#[path = "ui_support/mod.rs"]
mod ui_support;

#[cfg(feature = "postgres")]
#[path = "pg_support/mod.rs"]
mod pg_support;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::CommandCargoExt as _;
use ui_support::{FORKED, client, fill, get_json};

/// The running tool, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `checkpointer --db DB ui ARGS…` and returns it with the URL it
/// printed first.
fn start(db: &str, args: &[&str]) -> (Running, String) {
    let child = Command::cargo_bin("checkpointer")
        .expect("the binary")
        .args(["--db", db, "ui"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start checkpointer ui");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the URL");
    (running, line.trim().to_owned())
}

/// What `checkpointer ui` serves: the page and the threads of `db`.
fn serves_the_database(db: &str) {
    let (_running, url) = start(db, &[]);
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url:?}"
    );
    let http = client();
    let page = http.get(&url).send().expect("GET the page");
    assert_eq!(page.status(), 200);
    assert!(page.text().unwrap().contains("<svg id=\"tree\""));
    let (status, body) = get_json(&http, &format!("{url}api/threads"));
    assert_eq!(status, 200, "{body}");
    assert!(
        body["threads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["thread_id"] == FORKED),
        "{body}"
    );
    let (status, h) = get_json(&http, &format!("{url}api/threads/{FORKED}/history"));
    assert_eq!((status, h["lanes"].clone()), (200, serde_json::json!(2)));
}

#[test]
fn ui_serves_a_sqlite_file_on_a_printed_loopback_url() {
    let (saver, dir) = ui_support::sqlite();
    fill(&*saver);
    drop(saver);
    serves_the_database(dir.path().join("ui.db").to_str().unwrap());
}

#[cfg(feature = "postgres")]
#[test]
fn ui_serves_a_postgres_database() {
    let Some((saver, schema)) = pg_support::fresh("ui_serves_a_postgres_database") else {
        return;
    };
    fill(&saver);
    serves_the_database(&schema.url());
}

#[test]
fn ui_listens_on_the_port_asked_for() {
    let (saver, dir) = ui_support::sqlite();
    fill(&*saver);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let db = dir.path().join("ui.db");
    let (_running, url) = start(
        db.to_str().unwrap(),
        &["--addr", &format!("localhost:{port}")],
    );
    assert_eq!(url, format!("http://127.0.0.1:{port}/"));
    assert_eq!(client().get(&url).send().unwrap().status(), 200);
}

#[test]
fn ui_stops_cleanly_on_ctrl_c() {
    let (saver, dir) = ui_support::sqlite();
    fill(&*saver);
    let db = dir.path().join("ui.db");
    let (mut running, url) = start(db.to_str().unwrap(), &[]);
    assert_eq!(client().get(&url).send().unwrap().status(), 200);
    let pid = running.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let status = running.0.wait().expect("wait for the tool");
    assert!(
        status.success(),
        "Ctrl-C ends the server with success: {status:?}"
    );
    assert!(
        client().get(&url).send().is_err(),
        "nothing listens any more"
    );
}

#[test]
fn ui_refuses_an_address_other_machines_can_reach() {
    let (saver, dir) = ui_support::sqlite();
    fill(&*saver);
    let db = dir.path().join("ui.db");
    for addr in ["0.0.0.0:0", "[::]:8080", "10.1.2.3:80", "127.0.0.1"] {
        let out = Command::cargo_bin("checkpointer")
            .unwrap()
            .args(["--db", db.to_str().unwrap(), "ui", "--addr", addr])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{addr} accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: ui --addr"), "{addr}: {stderr}");
        if addr != "127.0.0.1" {
            assert!(
                stderr.contains("is not a loopback address"),
                "{addr}: {stderr}"
            );
        }
        assert!(out.stdout.is_empty(), "no URL printed for {addr}");
    }
}

#[test]
fn ui_needs_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let out = Command::cargo_bin("checkpointer")
        .unwrap()
        .args(["--db", db.to_str().unwrap(), "ui"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no checkpoint database"));
    assert!(!db.exists(), "ui creates no database");
}
