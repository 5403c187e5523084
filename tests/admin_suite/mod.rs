//! The shared cases of the `CheckpointAdmin` contract: plain functions over
//! a [`Store`], which every saver runs through [`admin_suite!`] (one
//! `#[test]` per case per saver, so a failure names both).
//!
//! Differences between savers are data of the store (`on_disk`), not
//! copies of a case.

#![allow(dead_code)]

pub mod cases;
pub mod history;

use checkpointer::CheckpointAdmin;

/// A saver under test, with what the cases may expect of it.
pub struct Store {
    /// The saver, through the trait only.
    pub admin: Box<dyn CheckpointAdmin>,
    /// Whether it keeps a file, so `vacuum` has sizes to report.
    pub on_disk: bool,
    /// What must outlive the saver (a temp dir, a database schema).
    pub guard: Option<Box<dyn std::any::Any>>,
}

impl Store {
    /// A store with nothing on disk.
    pub fn in_memory(admin: impl CheckpointAdmin + 'static) -> Self {
        Store {
            admin: Box::new(admin),
            on_disk: false,
            guard: None,
        }
    }

    /// A SQLite file in a fresh temp dir.
    pub fn sqlite_file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let saver = checkpointer::SqliteSaver::open(dir.path().join("admin.db")).unwrap();
        Store {
            admin: Box::new(saver),
            on_disk: true,
            guard: Some(Box::new(dir)),
        }
    }
}

/// One admin case.
pub type Case = fn(&Store);

/// Runs `case`, then drops the saver before its temp dir.
pub fn run_case(store: Store, case: Case) {
    case(&store);
    let Store { admin, guard, .. } = store;
    drop(admin);
    drop(guard);
}

/// Emits `mod $name { ... }` with one `#[test]` per admin case; `$make`
/// gives a fresh [`Store`] per test.
#[macro_export]
macro_rules! admin_suite {
    ($name:ident, $make:expr $(,)?) => {
        $crate::admin_suite!(@cases $name, $make, [
            has_thread_in_any_namespace,
            threads_count_checkpoints_and_namespaces,
            threads_newest_first_with_limit,
            summaries_are_list_without_values,
            summaries_of_one_namespace,
            summaries_of_an_unknown_thread_are_empty,
            import_restores_tuples_exactly,
            import_refuses_a_thread_with_checkpoints,
            import_of_a_bad_tuple_changes_nothing,
            import_of_nothing_makes_no_thread,
            prune_older_than_keeps_each_namespace_latest,
            prune_older_than_leaves_other_and_undated_checkpoints,
            vacuum_changes_no_checkpoint,
            export_then_import_gives_the_same_tuples,
        ]);
    };
    (@cases $name:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $case() {
                    $crate::admin_suite::run_case($make, $crate::admin_suite::cases::$case);
                }
            )*
        }
    };
}
