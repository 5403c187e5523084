//! Jobs on PostgreSQL: the shared job-store suite on `PostgresSaver`, and
//! two stores (and two processes) on one database (`checkpointer jobs
//! --db postgres://…` is in `tests/jobs_cli.rs`). Needs `CHECKPOINTER_PG_URL` (see `pg_support`);
//! under `CI=true` the tests fail without it.
#![cfg(feature = "postgres")]

mod jobs_suite;
mod pg_support;

use std::collections::BTreeSet;
use std::process::Command;

use checkpointer::jobs::{JobStore, SaverJobStore};
use checkpointer::{BaseCheckpointSaver, Config, ListOptions, PostgresSaver};
use serde_json::json;

jobs_suite!(
    postgres,
    match crate::pg_support::fresh("jobs_suite") {
        Some((saver, schema)) => (schema, SaverJobStore::new(saver)),
        None => return,
    }
);

#[test]
fn two_stores_on_one_database_share_jobs_and_clears() {
    let Some((saver, schema)) = pg_support::fresh("two_stores_share_jobs") else {
        return;
    };
    let a = SaverJobStore::new(saver);
    let b = SaverJobStore::new(PostgresSaver::open(&schema.url()).unwrap());
    a.save("render", json!({"done": 10}), "10/200").unwrap();
    a.save("render", json!({"done": 20}), "20/200").unwrap();
    let seen = b.get("render").unwrap().expect("b sees a's save");
    assert_eq!(
        (seen.context, seen.progress_hint.as_str()),
        (json!({"done": 20}), "20/200")
    );
    let history = b
        .saver()
        .list(Some(&Config::thread("render")), &ListOptions::new())
        .unwrap();
    assert_eq!(history.len(), 2, "every save is a checkpoint");
    assert!(b.clear("render").unwrap());
    assert_eq!(
        a.get("render").unwrap(),
        None,
        "a cleared job stays cleared"
    );
    assert!(a.list_ids().unwrap().is_empty());
}

const HELPER: &str = "CHECKPOINTER_JOBS_PG_HELPER";
const SAVES: u64 = 100;

/// Not a test on its own (hence ignored): the body of each of the two
/// processes of `two_processes_saving_one_job_lose_nothing`, which runs
/// this test binary again with `--ignored` and `HELPER` set to a process
/// tag and the database URL.
#[test]
#[ignore = "a helper process of two_processes_saving_one_job_lose_nothing"]
fn saving_process_helper() {
    let spec = std::env::var(HELPER).expect("HELPER names the process and the database");
    let (tag, url) = spec.split_once(' ').expect("HELPER is 'TAG URL'");
    let store = SaverJobStore::new(PostgresSaver::open(url).expect("open the database"));
    for i in 0..SAVES {
        store
            .save("shared", json!({"p": tag, "i": i}), &format!("{tag} {i}"))
            .expect("save the shared job");
        store
            .save(&format!("own-{tag}"), json!({"i": i}), "")
            .expect("save this process's job");
    }
}

#[test]
fn two_processes_saving_one_job_lose_nothing() {
    let Some((saver, schema)) = pg_support::fresh("two_processes_lose_nothing") else {
        return;
    };
    let exe = std::env::current_exe().expect("this test binary");
    let children: Vec<_> = ["a", "b"]
        .iter()
        .map(|tag| {
            Command::new(&exe)
                .args(["--exact", "saving_process_helper", "--ignored"])
                .env(HELPER, format!("{tag} {}", schema.url()))
                .spawn()
                .expect("start a saving process")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("the process ends");
        assert!(out.status.success(), "a saving process failed");
    }
    let store = SaverJobStore::new(saver);
    assert_eq!(store.list_ids().unwrap(), ["own-a", "own-b", "shared"]);
    let history = store
        .saver()
        .list(Some(&Config::thread("shared")), &ListOptions::new())
        .unwrap();
    let saves: BTreeSet<(String, u64)> = history
        .iter()
        .map(|t| {
            let c = &t.checkpoint.channel_values["context"];
            (
                c["p"].as_str().unwrap().to_owned(),
                c["i"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(history.len(), 2 * usize::try_from(SAVES).unwrap());
    let expected: BTreeSet<(String, u64)> = ["a", "b"]
        .iter()
        .flat_map(|p| (0..SAVES).map(move |i| ((*p).to_owned(), i)))
        .collect();
    assert_eq!(saves, expected, "every save of both processes is kept");
    // How often the two raced (both saved after the same parent): shown,
    // not asserted, since it depends on timing.
    let parents: Vec<Option<&str>> = history
        .iter()
        .map(|t| {
            t.parent_config
                .as_ref()
                .and_then(|p| p.checkpoint_id.as_deref())
        })
        .collect();
    let distinct: BTreeSet<Option<&str>> = parents.iter().copied().collect();
    println!(
        "two_processes: {} saves, {} of them after a parent another save also had",
        history.len(),
        parents.len() - distinct.len()
    );
    let latest = store.get("shared").unwrap().unwrap();
    assert_eq!(
        latest.context["i"],
        SAVES - 1,
        "the newest save is a process's last: {latest:?}"
    );
    for own in ["own-a", "own-b"] {
        assert_eq!(
            store.get(own).unwrap().unwrap().context,
            json!({"i": SAVES - 1})
        );
    }
}
