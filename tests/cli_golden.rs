//! Golden files: `show`, `history` and `history --graph` of a thread with
//! two forks and a pending interrupt, with fixed ids and times, compared
//! byte for byte with `tests/cli_golden/*.txt`. `UPDATE_GOLDEN=1 cargo test
//! --test cli_golden` rewrites the files after a deliberate change.
#![cfg(feature = "cli")]

mod cli_support;

use cli_support::{Fixture, gid, golden_thread};

/// Compares `actual` with the golden file `name` (or rewrites it).
fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cli_golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{name} differs from {} (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

fn fixture() -> Fixture {
    let fx = Fixture::new();
    golden_thread(&fx.saver());
    fx
}

#[test]
fn show_of_a_thread_waiting_for_a_human() {
    let fx = fixture();
    golden("show.txt", &fx.ok(&["show", "golden"]));
}

#[test]
fn show_of_the_finished_branch_by_prefix() {
    let fx = fixture();
    let prefix = &gid(5)[..13];
    golden("show_finished.txt", &fx.ok(&["show", "golden", prefix]));
}

#[test]
fn history_table() {
    let fx = fixture();
    golden("history.txt", &fx.ok(&["history", "golden"]));
}

#[test]
fn history_graph() {
    let fx = fixture();
    golden(
        "history_graph.txt",
        &fx.ok(&["history", "golden", "--graph"]),
    );
}
