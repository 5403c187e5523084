//! The real `snapstate-sdk` 1.0.2 (sync and async clients) against the
//! service on loopback: every SDK point of issue 13. The SDK lives in a
//! venv named by `CHECKPOINTER_SNAPSTATE_PYTHON` (`.ci/run` makes it);
//! under `CI=true` the test fails without it.
#![cfg(feature = "server")]

mod server_support;

#[cfg(feature = "postgres")]
mod pg_support;

use std::time::Duration;

use checkpointer::server::ServiceOptions;
use server_support::{options, start};

fn python(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_SNAPSTATE_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: CI=true but CHECKPOINTER_SNAPSTATE_PYTHON is unset (.ci/run makes the venv)"
            )
        }
        _ => {
            println!("{test}: skipped, CHECKPOINTER_SNAPSTATE_PYTHON is unset");
            None
        }
    }
}

fn limited() -> ServiceOptions {
    ServiceOptions {
        rate_limit_max: 1,
        rate_limit_window: Duration::from_secs(1),
        ..options()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_sdk_works_against_the_service() {
    let Some(python) = python("the_real_sdk_works_against_the_service") else {
        return;
    };
    let server = start(options()).await;
    let limited = start(limited()).await;
    run_script(python, &server, &limited).await;
}

/// The same, on PostgreSQL.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn the_real_sdk_works_against_the_service_on_postgres() {
    let test = "the_real_sdk_works_against_the_service_on_postgres";
    let (Some(python), Some(url)) = (python(test), pg_support::server_url(test)) else {
        return;
    };
    let schemas = [pg_support::Schema::new(&url), pg_support::Schema::new(&url)];
    let open = |schema: &pg_support::Schema| {
        let url = schema.url();
        std::thread::spawn(move || {
            checkpointer::PostgresSaver::open(&url).expect("open PostgreSQL")
        })
        .join()
        .expect("open on a plain thread")
    };
    let dir = || tempfile::tempdir().expect("temp dir");
    let server =
        server_support::start_on(std::sync::Arc::new(open(&schemas[0])), options(), dir()).await;
    let limited =
        server_support::start_on(std::sync::Arc::new(open(&schemas[1])), limited(), dir()).await;
    run_script(python, &server, &limited).await;
    // The workflows are threads of that database.
    let saver = server.service.saver().clone();
    let history = tokio::task::spawn_blocking(move || saver.checkpoint_summaries("sdk-sync", None))
        .await
        .expect("join")
        .expect("history");
    assert_eq!(history.len(), 7);
}

async fn run_script(
    python: String,
    server: &server_support::TestServer,
    limited: &server_support::TestServer,
) {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/snapstate_client.py"
    );
    let args = [
        script.to_owned(),
        server.url.clone(),
        server.key.clone(),
        limited.url.clone(),
        limited.key.clone(),
    ];
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python).args(&args).output()
    })
    .await
    .expect("join")
    .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), r#"{"ok": true}"#);
}
