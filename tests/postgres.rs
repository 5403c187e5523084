//! `PostgresSaver` beyond the conformance suite: setup by many workers at
//! once, a database newer than this crate, use from inside tokio
//! runtimes. Needs `CHECKPOINTER_PG_URL` (see `pg_support`).
#![cfg(feature = "postgres")]

mod pg_support;

use std::sync::Arc;

use checkpointer::{
    AsyncSaver, BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata,
    CheckpointSource, Config, Error, PostgresSaver,
};
use pg_support::{Schema, server_url};
use serde_json::json;

fn migrations(schema: &Schema) -> Vec<i32> {
    schema
        .client()
        .query("SELECT v FROM checkpoint_migrations ORDER BY v", &[])
        .expect("read checkpoint_migrations")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn twenty_workers_opening_an_empty_database_at_once_all_succeed() {
    let Some(url) = server_url("twenty_workers") else {
        return;
    };
    let schema = Arc::new(Schema::new(&url));
    let barrier = Arc::new(std::sync::Barrier::new(20));
    let workers: Vec<_> = (0..20)
        .map(|i| {
            let (schema, barrier) = (Arc::clone(&schema), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let saver =
                    PostgresSaver::open(&schema.url()).map_err(|e| format!("worker {i}: {e}"))?;
                let cp = Checkpoint::new(-1).with_value("n", i, 1);
                let config = Config::thread(format!("worker-{i}"));
                let md = CheckpointMetadata::new(CheckpointSource::Input, -1);
                saver
                    .put(&config, &cp, &md, &ChannelVersions::new())
                    .map_err(|e| format!("worker {i} put: {e}"))?;
                Ok::<_, String>(())
            })
        })
        .collect();
    let failures: Vec<String> = workers
        .into_iter()
        .filter_map(|w| w.join().expect("worker thread").err())
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(migrations(&schema), (0..10).collect::<Vec<_>>());
    let saver = PostgresSaver::open(&schema.url()).expect("open again");
    for i in 0..20 {
        let got = saver
            .get(&Config::thread(format!("worker-{i}")))
            .expect("read")
            .expect("each worker's checkpoint");
        assert_eq!(got.channel_values["n"], json!(i));
    }
}

#[test]
fn a_database_migrated_past_v9_is_refused_and_left_untouched() {
    let Some(url) = server_url("past_v9") else {
        return;
    };
    let schema = Schema::new(&url);
    drop(PostgresSaver::open(&schema.url()).expect("set up"));
    schema
        .client()
        .batch_execute("INSERT INTO checkpoint_migrations (v) VALUES (10)")
        .expect("pretend a newer LangGraph migrated");
    let err = PostgresSaver::open(&schema.url()).expect_err("a newer schema");
    match &err {
        Error::SchemaTooNew {
            found, supported, ..
        } => assert_eq!((*found, *supported), (10, 9), "{err}"),
        other => panic!("expected SchemaTooNew, got {other}"),
    }
    assert_eq!(migrations(&schema), (0..=10).collect::<Vec<_>>());
}

#[test]
fn a_bad_url_names_the_server_and_hides_the_password() {
    let err = PostgresSaver::open_with(
        "postgresql://me:secret@127.0.0.1:1/db",
        checkpointer::PostgresOptions::new()
            .with_pool_timeout(std::time::Duration::from_millis(500)),
    )
    .expect_err("nothing listens on port 1");
    let text = err.to_string();
    assert!(
        text.contains("127.0.0.1:1") && !text.contains("secret"),
        "{text}"
    );
}

/// Open, use and drop the saver on a runtime's worker thread: the driver's
/// own runtime must never be started or dropped there.
async fn use_inside_runtime(url: &str) {
    let saver = PostgresSaver::open(url).expect("open inside a runtime");
    let config = Config::thread("in-runtime");
    let cp = Checkpoint::new(-1).with_value("k", json!({"deep": [1, 2]}), 1);
    let md = CheckpointMetadata::new(CheckpointSource::Input, -1);
    let stored = saver
        .put(&config, &cp, &md, &ChannelVersions::new())
        .expect("a direct call on a worker thread");
    let async_saver = AsyncSaver::new(saver);
    let got = async_saver
        .get_tuple(&stored)
        .await
        .expect("through AsyncSaver")
        .expect("the checkpoint");
    assert_eq!(got.checkpoint.channel_values["k"], json!({"deep": [1, 2]}));
    drop(async_saver);
}

#[test]
fn the_saver_lives_and_dies_on_runtime_threads() {
    let Some(url) = server_url("runtime_threads") else {
        return;
    };
    // The test's own clients (Schema) are plain `postgres` clients: made
    // and dropped outside the runtimes.
    let (schema, spawned) = (Schema::new(&url), Schema::new(&url));
    for multi in [true, false] {
        let mut builder = if multi {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let runtime = builder.enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let url = spawned.url();
            tokio::spawn(async move { use_inside_runtime(&url).await })
                .await
                .expect("the task ran without panicking");
            use_inside_runtime(&schema.url()).await;
        });
    }
}
