//! The chaos harness (`examples/chaos.rs`) run from the test suite: a
//! short run on SQLite (and on PostgreSQL, with server restarts) finds no
//! violation, and a saver that hides a saved write makes it fail on both.
//! The worker runs inside this test binary (`--exact chaos_worker`);
//! without the harness' variables that test does nothing. The PostgreSQL
//! tests need `CHECKPOINTER_PG_URL` (and, for restarts,
//! `CHECKPOINTER_PG_CTL`/`CHECKPOINTER_PG_DATA`: `.ci/postgres` exports
//! all three); without them they are skipped with a printed line, and fail
//! under `CI=true`.

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
    run_on(chaos::Backend::Sqlite, test, kills, broken_saver)
}

/// [`run_harness`] on `backend`.
fn run_on(
    backend: chaos::Backend,
    test: &str,
    kills: usize,
    broken_saver: bool,
) -> (chaos::Summary, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let options = chaos::Options {
        backend,
        keep_failed: false,
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

/// The harness found the write the broken saver hid.
fn assert_missing_write_caught(summary: &chaos::Summary, text: &str) {
    assert!(
        summary
            .violations
            .iter()
            .any(|v| v.contains("missing write")),
        "{text}"
    );
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
    assert_missing_write_caught(&summary, &text);
}

/// The PostgreSQL server of the environment (restarted every
/// `restart_every`th worker life when `restarts`), or `None` after printing
/// why (a failure under `CI=true`).
#[cfg(feature = "postgres")]
fn pg_target(test: &str, restarts: bool, restart_every: usize) -> Option<chaos::PgTarget> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match chaos::PgTarget::from_env(restarts) {
        Ok(target) if restarts && target.server.is_none() => {
            assert!(
                !ci,
                "{test}: CI=true but CHECKPOINTER_PG_CTL/CHECKPOINTER_PG_DATA are unset"
            );
            eprintln!("{test}: skipped, CHECKPOINTER_PG_CTL/CHECKPOINTER_PG_DATA are unset");
            None
        }
        Ok(target) => Some(chaos::PgTarget {
            restart_every,
            ..target
        }),
        Err(e) => {
            assert!(!ci, "{test}: CI=true but {e}");
            eprintln!("{test}: skipped: {e}");
            None
        }
    }
}

/// The PostgreSQL runs one at a time: a restart would cut the other's
/// workers.
#[cfg(feature = "postgres")]
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// [`run_on`] PostgreSQL, one run at a time; `None` when skipped.
#[cfg(feature = "postgres")]
fn run_on_postgres(
    test: &str,
    restart_every: Option<usize>,
    kills: usize,
    broken_saver: bool,
) -> Option<(chaos::Summary, String)> {
    let target = pg_target(test, restart_every.is_some(), restart_every.unwrap_or(8))?;
    let _one_at_a_time = SERVER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(run_on(
        chaos::Backend::Postgres(target),
        test,
        kills,
        broken_saver,
    ))
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_keeps_everything_acknowledged_across_kills_and_server_restarts() {
    let test = "postgres_keeps_everything_acknowledged_across_kills_and_server_restarts";
    let Some((summary, text)) = run_on_postgres(test, Some(3), 12, false) else {
        return;
    };
    assert!(summary.violations.is_empty(), "{text}");
    assert!(summary.kills + summary.server_restarts >= 12, "{text}");
    assert!(summary.server_restarts >= 1, "{text}");
    assert!(summary.checkpoints_checked > 0, "{text}");
}

#[cfg(feature = "postgres")]
#[test]
fn a_saver_that_hides_a_saved_write_fails_the_harness_on_postgres() {
    let test = "a_saver_that_hides_a_saved_write_fails_the_harness_on_postgres";
    let Some((summary, text)) = run_on_postgres(test, None, 30, true) else {
        return;
    };
    assert_missing_write_caught(&summary, &text);
}
