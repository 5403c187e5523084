//! The real mooncat-checkpoint 0.1.0 (Python) for the ledger tests:
//! `CHECKPOINTER_MOONCAT_PYTHON` is a Python with the package (`.ci/run`
//! makes the venv), and `tests/interop/mooncat_ledger.py` drives it.

// Each test file uses a different part of this module.
#![allow(dead_code)]

/// The helper script.
pub const HELPER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/mooncat_ledger.py"
);

/// The Python to run, or `None` (after printing why) to skip.
///
/// # Panics
///
/// Under `CI=true` when the variable is unset: CI must test with Python.
pub fn python(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_MOONCAT_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{test}: CI=true but CHECKPOINTER_MOONCAT_PYTHON is unset (.ci/run makes the venv)"
        ),
        _ => {
            println!("{test}: skipped, CHECKPOINTER_MOONCAT_PYTHON is unset");
            None
        }
    }
}
