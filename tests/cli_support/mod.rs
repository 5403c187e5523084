//! Shared by the CLI tests: a temp database, the tool run on it, and a
//! thread with fixed ids and times (two forks, a pending interrupt) whose
//! output can be compared byte for byte.
#![allow(dead_code)] // Each test file uses its own part of it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use assert_cmd::Command;
use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, Checkpoint, CheckpointMetadata, CheckpointSource, Config,
    SqliteSaver,
};
use serde_json::{Value, json};
use tempfile::TempDir;

/// A temp dir with a database path in it (not created).
pub struct Fixture {
    pub dir: TempDir,
    pub db: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("test.db");
        Fixture { dir, db }
    }

    pub fn saver(&self) -> SqliteSaver {
        SqliteSaver::open(&self.db).unwrap()
    }

    /// The tool with `--db` set, in the temp dir, in UTC, 80 columns wide,
    /// with no `CHECKPOINTER_DB` or `NO_COLOR` from the environment.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("checkpointer").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("CHECKPOINTER_DB")
            .env_remove("NO_COLOR")
            .env("TZ", "UTC")
            .env("COLUMNS", "80")
            .arg("--db")
            .arg(&self.db);
        cmd
    }

    /// Runs the tool with `args`, expects success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    }

    /// Runs the tool with `args` and `--json`, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs the tool with `args`, expects exit code 1 and a one-line error
    /// containing `needle`; returns the line.
    pub fn fails(&self, args: &[&str], needle: &str) -> String {
        let out = self.cmd().args(args).assert().code(1);
        let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr:?} lacks {needle:?}");
        stderr
    }
}

/// The id of the `n`th checkpoint of the golden thread: fixed, and sorted
/// in creation order.
pub fn gid(n: u32) -> String {
    format!("1f0c0000-00{n:02}-6000-8000-00000000000{}", n % 10)
}

/// Builds checkpoints the way the graph runner writes them: each write
/// bumps the channel's version, a node that runs records the versions of
/// its trigger channel as seen.
pub struct Step {
    cp: Checkpoint,
    changed: BTreeMap<String, ChannelVersion>,
    counter: u64,
}

impl Step {
    /// A checkpoint `n` made from `parent` (or the first one).
    pub fn after(parent: Option<&Checkpoint>, n: u32, counter: u64) -> Self {
        let mut cp = parent.cloned().unwrap_or_else(|| Checkpoint::new(-1));
        cp.id = gid(n);
        cp.ts = format!("2026-01-02T03:04:{n:02}.000000+00:00");
        cp.updated_channels = None;
        Step {
            cp,
            changed: BTreeMap::new(),
            counter,
        }
    }

    /// Sets `channel` to `value` at a new version.
    pub fn set(mut self, channel: &str, value: Value) -> Self {
        self.counter += 1;
        let v = ChannelVersion::new(self.counter);
        self.cp = self.cp.with_value(channel, value, v);
        self.changed.insert(channel.to_owned(), v);
        self
    }

    /// Appends `item` to the list in `channel`.
    pub fn push(self, channel: &str, item: &str) -> Self {
        let mut list = self
            .cp
            .channel_values
            .get(channel)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.push(json!(item));
        self.set(channel, Value::Array(list))
    }

    /// Clears a trigger channel (it was consumed): no value, a new
    /// version, as the runner does.
    pub fn clear(mut self, channel: &str) -> Self {
        if self.cp.channel_values.remove(channel).is_some() {
            self.counter += 1;
            let v = ChannelVersion::new(self.counter);
            self.cp.channel_versions.insert(channel.to_owned(), v);
            self.changed.insert(channel.to_owned(), v);
        }
        self
    }

    /// Records that `node` ran, triggered by `channel`.
    pub fn ran(mut self, node: &str, channel: &str) -> Self {
        if let Some(v) = self.cp.channel_versions.get(channel).copied() {
            self.cp
                .versions_seen
                .entry(node.to_owned())
                .or_default()
                .insert(channel.to_owned(), v);
        }
        self
    }

    /// Stores it under `parent` (config) with `source` and `step`.
    pub fn put(
        self,
        saver: &SqliteSaver,
        parent: &Config,
        source: CheckpointSource,
        step: i64,
    ) -> (Config, Checkpoint, u64) {
        let md = CheckpointMetadata::new(source, step);
        let config = saver.put(parent, &self.cp, &md, &self.changed).unwrap();
        (config, self.cp, self.counter)
    }
}

/// Thread `golden`: input -> start -> draft (1..3), review approved and
/// published on the first branch (4, 5); a fork from 4 where a person set
/// the status by hand (6); a fork from 3 with an edited draft, whose review
/// waits for a human (7, the latest, with a pending interrupt).
pub fn golden_thread(saver: &SqliteSaver) -> Vec<Config> {
    use CheckpointSource::{Input, Loop, Update};
    let root = Config::thread("golden");
    let (c1, k1, n) = Step::after(None, 1, 0)
        .set(
            "__start__",
            json!({"messages": ["user: explain checkpoints"]}),
        )
        .put(saver, &root, Input, -1);
    let (c2, k2, n) = Step::after(Some(&k1), 2, n)
        .ran("__start__", "__start__")
        .clear("__start__")
        .push("messages", "user: explain checkpoints")
        .set("branch:to:draft", Value::Null)
        .put(saver, &c1, Loop, 0);
    let (c3, k3, n) = Step::after(Some(&k2), 3, n)
        .ran("draft", "branch:to:draft")
        .clear("branch:to:draft")
        .set("draft", json!("Checkpoints make graphs durable: every step is saved, so a run can stop, wait for a person and go on later"))
        .push("messages", "assistant: drafted")
        .set("branch:to:review", Value::Null)
        .put(saver, &c2, Loop, 1);
    let (c4, k4, n) = Step::after(Some(&k3), 4, n)
        .ran("review", "branch:to:review")
        .clear("branch:to:review")
        .push("messages", "reviewer: approved")
        .set("status", json!("reviewed"))
        .set("branch:to:publish", Value::Null)
        .put(saver, &c3, Loop, 2);
    let (c5, _, n) = Step::after(Some(&k4), 5, n)
        .ran("publish", "branch:to:publish")
        .clear("branch:to:publish")
        .push("messages", "assistant: published")
        .set("status", json!("published"))
        .put(saver, &c4, Loop, 3);
    let (c6, _, n) = Step::after(Some(&k4), 6, n)
        .clear("branch:to:publish")
        .set("status", json!("held back by hand"))
        .put(saver, &c4, Update, 3);
    let (c7, _, _) = Step::after(Some(&k3), 7, n)
        .set(
            "draft",
            json!("Checkpoints let a graph pause, resume and travel in time"),
        )
        .push("messages", "editor: shorter, please")
        .set("branch:to:review", Value::Null)
        .put(saver, &c3, Update, 2);
    let interrupt = json!([{
        "value": {"question": "publish this draft?",
                  "draft": "Checkpoints let a graph pause, resume and travel in time"},
        "id": "0f5e2a61c7d94d1b"
    }]);
    saver
        .put_writes(
            &c7,
            &[("__interrupt__".to_owned(), interrupt)],
            "6b1f0e0a-5d0e-5a8e-9d7c-2f1b9b0c7e11",
            "~__pregel_pull, review",
        )
        .unwrap();
    vec![c1, c2, c3, c4, c5, c6, c7]
}

/// Whether tests that need `tool` must fail when it is missing (`CI=true`),
/// else they print a line and skip.
pub fn require(tool: &str) -> bool {
    let found = std::process::Command::new(tool)
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is needed by this test under CI=true (.ci/run installs it)"
        );
        println!("skipped: {tool} is not installed");
    }
    found
}
