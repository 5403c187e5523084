//! The Python of CI's LangGraph venv (`CHECKPOINTER_PYTHON`, made by
//! `.ci/postgres`) and the interop scripts under `tests/interop/` it runs,
//! shared by the tests that use the real Python packages as clients.
#![allow(dead_code)] // each test binary uses what it needs

use std::ffi::OsStr;
use std::process::Command;

use serde_json::Value;

/// The Python interpreter with LangGraph, or `None` to skip (printed);
/// under `CI=true` a missing one fails the test.
pub fn python(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: CI=true but CHECKPOINTER_PYTHON is unset (.ci/run makes the venv)")
        }
        _ => {
            eprintln!("{test}: skipped, CHECKPOINTER_PYTHON is unset");
            None
        }
    }
}

/// Runs `tests/interop/<script>` with `args`: what it printed, as JSON.
/// A failed run fails the test with the script's stderr.
pub fn run_script<I, S>(python: &str, script: &str, args: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let path = format!("{}/tests/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let args: Vec<S> = args.into_iter().collect();
    let shown: Vec<String> = args
        .iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let out = Command::new(python)
        .arg(&path)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("run {python} {script}: {e}"));
    assert!(
        out.status.success(),
        "{script} {} failed: {}",
        shown.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON from {script} {}: {e}", shown.join(" ")))
}
