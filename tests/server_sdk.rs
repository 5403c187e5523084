//! The real `snapstate-sdk` 1.0.2 (sync and async clients) against the
//! service on loopback: every SDK point of issue 13. The SDK lives in a
//! venv named by `CHECKPOINTER_SNAPSTATE_PYTHON` (`.ci/run` makes it);
//! under `CI=true` the test fails without it.
#![cfg(feature = "server")]

mod server_support;

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

#[tokio::test(flavor = "multi_thread")]
async fn the_real_sdk_works_against_the_service() {
    let Some(python) = python("the_real_sdk_works_against_the_service") else {
        return;
    };
    let server = start(options()).await;
    let limited = start(ServiceOptions {
        rate_limit_max: 1,
        rate_limit_window: Duration::from_secs(1),
        ..options()
    })
    .await;
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
