//! The chaos harness (`examples/chaos.rs`) run from the test suite: a
//! short run on SQLite finds no violation, and a saver that hides a saved
//! write makes it fail. The worker runs inside this test binary
//! (`--exact chaos_worker`); without the harness' variables that test does
//! nothing.

use std::process::Command;

// The example's `main` and its option parsing are not used here.
#[allow(dead_code)]
#[path = "../examples/chaos.rs"]
mod chaos;
mod seed;

fn worker_command() -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args(["--exact", "chaos_worker", "--test-threads=1"]);
    cmd
}

/// A harness run of `kills` kills in a temp dir: its summary and report.
fn run_harness(test: &str, kills: usize, broken_saver: bool) -> (chaos::Summary, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let options = chaos::Options {
        kills,
        seed: seed::seed(test),
        max_delay_ms: 150,
        broken_saver,
        dir: dir.path().to_path_buf(),
    };
    let summary = chaos::run(&options, &worker_command);
    let text = summary.render(&options);
    (summary, text)
}

#[test]
fn chaos_worker() {
    if std::env::var_os(chaos::DB_ENV).is_none() {
        return;
    }
    if let Err(e) = chaos::worker() {
        eprintln!("chaos worker: {e}");
        std::process::exit(1);
    }
}

#[test]
fn sqlite_keeps_everything_acknowledged_across_kills() {
    let (summary, text) = run_harness(
        "sqlite_keeps_everything_acknowledged_across_kills",
        12,
        false,
    );
    assert!(summary.violations.is_empty(), "{text}");
    assert!(summary.kills >= 12, "{text}");
    assert!(summary.runs >= 1, "{text}");
    assert!(summary.checkpoints_checked > 0, "{text}");
}

#[test]
fn a_saver_that_hides_a_saved_write_fails_the_harness() {
    let (summary, text) = run_harness(
        "a_saver_that_hides_a_saved_write_fails_the_harness",
        30,
        true,
    );
    assert!(
        summary
            .violations
            .iter()
            .any(|v| v.contains("missing write")),
        "{text}"
    );
}
