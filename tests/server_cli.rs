//! `checkpointer serve` and `checkpointer keys` as processes: keys minted
//! by concurrent processes on one file all kept, the served data seen by
//! `checkpointer history`, and `keys revoke` from another process taking
//! effect on the running service at once.
#![cfg(all(feature = "server", feature = "cli"))]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

fn tool(db: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_checkpointer"));
    command.arg("--db").arg(db);
    command
}

fn run(db: &Path, args: &[&str]) -> String {
    let output = tool(db).args(args).output().expect("run checkpointer");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A served database; killed (by its own pid) on drop.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path) -> Served {
    let mut child = tool(db)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the listening line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    Served { child, url }
}

#[test]
fn keys_minted_by_concurrent_processes_are_all_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("keys.db");
    run(&db, &["keys", "create", "--label", "first"]);
    let children: Vec<Child> = (0..4)
        .map(|_| {
            let script = format!(
                "for i in 1 2 3 4 5; do '{}' --db '{}' keys create >/dev/null 2>&1 || exit 1; done",
                env!("CARGO_BIN_EXE_checkpointer"),
                db.display()
            );
            Command::new("sh")
                .args(["-c", &script])
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let keys: Value = serde_json::from_str(&run(&db, &["keys", "list", "--json"])).expect("JSON");
    let keys = keys.as_array().expect("a list");
    assert_eq!(keys.len(), 21);
    assert!(
        keys.iter()
            .all(|k| k.get("key_hash").is_some() && k.get("api_key").is_none())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn served_saves_are_threads_and_revocation_is_immediate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("served.db");
    let key = run(&db, &["keys", "create"]).trim().to_owned();
    assert!(key.starts_with("snp_") && key.len() == 36, "{key}");
    let served = serve(&db);
    let client = reqwest::Client::new();
    let save = json!({"workflow_id": "cli-wf", "step": 1, "state": {"a": 1}, "label": "first"});
    let response = client
        .post(format!("{}/checkpoints", served.url))
        .bearer_auth(&key)
        .json(&save)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 201);
    let history = run(&db, &["history", "cli-wf", "--json"]);
    assert!(
        history.contains("\"snapstate_id\": \"cp_cli-wf_001\""),
        "{history}"
    );
    let keys: Value = serde_json::from_str(&run(&db, &["keys", "list", "--json"])).expect("JSON");
    let id = keys[0]["id"].as_str().expect("id").to_owned();
    run(&db, &["keys", "revoke", &id]);
    let response = client
        .get(format!("{}/workflows/cli-wf/resume", served.url))
        .bearer_auth(&key)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["message"], "API key has been revoked");
}
