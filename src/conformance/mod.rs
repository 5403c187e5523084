//! The conformance suite: what every [`BaseCheckpointSaver`] must do, as
//! plain functions a backend in this crate or outside it runs (built with
//! feature `conformance`).
//!
//! Each case is a function `fn(&dyn BaseCheckpointSaver)` that checks one
//! point of the trait's contract. The cases are test helpers: they panic,
//! with a message naming what the saver did wrong, when the saver breaks
//! the contract (or returns an error where it must not), and otherwise
//! return. The groups port `LangGraph`'s conformance kit (`put`,
//! `put_writes`, `get_tuple`, `list`, `delete_thread`, `delete_for_runs`,
//! `copy_thread`, `prune`); `put_with_writes` checks our fused write, and
//! `listing`, `refused_input`, `pending_writes`, `values`,
//! `config_metadata` and `limits` the rest of our contract. [`CASES`] lists them all.
//!
//! A test file runs the whole suite for one saver with
//! [`conformance_suite!`](crate::conformance_suite), one `#[test]` per
//! case, named `<saver>::<case>`:
//!
//! ```
//! // tests/conformance.rs of a crate with a saver (here: two of ours).
//! use checkpointer::{InMemorySaver, SqliteSaver, conformance_suite};
//!
//! conformance_suite!(memory, (InMemorySaver::new(), ()));
//! conformance_suite!(sqlite_file, {
//!     let dir = tempfile::tempdir().expect("a temp dir");
//!     let saver = SqliteSaver::open(dir.path().join("cp.db")).expect("open");
//!     (saver, dir)
//! });
//! # fn main() {}
//! ```
//!
//! A case can also be run by hand, e.g. from [`CASES`]:
//!
//! ```
//! use checkpointer::InMemorySaver;
//! use checkpointer::conformance::{CASES, run_case};
//!
//! for case in CASES.iter().filter(|c| c.group == "put_writes") {
//!     run_case((InMemorySaver::new(), ()), case.run);
//! }
//! ```
//!
//! Cases never depend on each other or on test order: each test builds a
//! fresh saver, and every case uses fresh random thread ids.
//!
//! Beside the cases: [`HookedSaver`], a wrapper that forwards every call
//! and can fail the Nth call of an operation, delay calls and record them
//! (fault injection for recovery tests), and [`BlockingAsync`], which runs
//! a saver through [`AsyncSaver`](crate::AsyncSaver) behind the
//! synchronous trait.

// Every case and fixture panics on a contract violation, as this module's
// doc says once; a `# Panics` section on each would repeat it 130 times.
#![allow(clippy::missing_panics_doc)]

mod args;
mod blocking;
mod call;
mod forward;
mod hooked;
mod hooked_lease;

pub mod config_metadata;
pub mod copy_thread;
pub mod delete_for_runs;
pub mod delete_thread;
// issue 14: the event log group.
#[cfg(feature = "events")]
pub mod events;
pub mod fixtures;
pub mod get_tuple;
// Thread leases (issue 12).
pub mod lease;
// The step ledger (issue 12 part 2).
#[cfg(feature = "ledger")]
pub mod ledger;
pub mod limits;
pub mod list;
pub mod listing;
pub mod order;
pub mod pending_writes;
pub mod prune;
pub mod put;
pub mod put_with_writes;
pub mod put_writes;
pub mod refused_input;
pub mod values;

pub use args::{Args, Op};
pub use blocking::BlockingAsync;
pub use call::{Call, Outcome};
pub use hooked::HookedSaver;

use crate::BaseCheckpointSaver;

/// One conformance case.
pub type Case = fn(&dyn BaseCheckpointSaver);

/// A case with its group and name, as [`CASES`] lists it.
#[derive(Clone, Copy, Debug)]
pub struct NamedCase {
    /// The module of the case, e.g. `put_writes`.
    pub group: &'static str,
    /// The case's function name, e.g. `put_writes_idempotent`.
    pub name: &'static str,
    /// The case.
    pub run: Case,
}

/// Every case of the suite, in the order [`conformance_suite!`](crate::conformance_suite)
/// emits them (the same list).
pub const CASES: &[NamedCase] = crate::conformance_suite!(@list (table));

/// Runs `case` on the saver of `made`, then drops the saver before its
/// guard (a temp dir must outlive the database in it).
///
/// # Panics
///
/// When the case finds the saver breaking the contract.
pub fn run_case<S: BaseCheckpointSaver, G>(made: (S, G), case: Case) {
    let (saver, guard) = made;
    case(&saver as &dyn BaseCheckpointSaver);
    drop(saver);
    drop(guard);
}

/// Emits `mod $name { ... }` with one `#[test]` per conformance case.
///
/// `$make` is evaluated once per test and must give `(saver, guard)`:
/// `saver` implements `BaseCheckpointSaver`, `guard` (a temp dir, or `()`)
/// is kept alive until the test ends. A failure names saver and case, e.g.
/// `memory::put_incremental_channel_update`. Items of the calling module
/// are in scope in `$make`.
///
/// The list of cases lives here, once, for every saver (and for
/// [`conformance::CASES`](crate::conformance::CASES)).
#[macro_export]
macro_rules! conformance_suite {
    (@cases (tests $name:ident, $make:expr) { $($group:ident: [$($case:ident),* $(,)?]),* $(,)? }) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $($(
                #[test]
                fn $case() {
                    $crate::conformance::run_case($make, $crate::conformance::$group::$case);
                }
            )*)*
        }
    };
    (@cases (table) { $($group:ident: [$($case:ident),* $(,)?]),* $(,)? }) => {
        &[$($(
            $crate::conformance::NamedCase {
                group: stringify!($group),
                name: stringify!($case),
                run: $crate::conformance::$group::$case,
            },
        )*)*]
    };
    ($name:ident, $make:expr $(,)?) => {
        $crate::conformance_suite! { @list (tests $name, $make) }
    };
    (@list $mode:tt) => {
        $crate::conformance_suite! { @cases $mode {
            put: [
                put_returns_config,
                put_roundtrip,
                put_preserves_channel_values,
                put_preserves_channel_versions,
                put_preserves_versions_seen,
                put_preserves_metadata,
                put_preserves_nested_metadata,
                put_root_namespace,
                put_child_namespace,
                put_default_namespace,
                put_multiple_checkpoints_same_thread,
                put_multiple_threads_isolated,
                put_parent_config,
                put_incremental_channel_update,
                put_new_channel_added,
                put_channel_removed,
                put_preserves_run_id,
                put_preserves_versions_seen_values,
            ],
            put_writes: [
                put_writes_basic,
                put_writes_multiple_writes_same_task,
                put_writes_multiple_tasks,
                put_writes_preserves_task_id,
                put_writes_preserves_channel_and_value,
                put_writes_task_path,
                put_writes_idempotent,
                put_writes_special_channels,
                put_writes_across_namespaces,
                put_writes_cleared_on_next_checkpoint,
            ],
            put_with_writes: [
                put_with_writes_matches_separate_calls,
                put_with_writes_chain,
                put_with_writes_bad_checkpoint_changes_nothing,
                put_with_writes_bad_writes_change_nothing,
                put_with_writes_missing_parent,
                put_with_writes_special_writes,
            ],
            get_tuple: [
                get_tuple_nonexistent_returns_none,
                get_tuple_latest_when_no_checkpoint_id,
                get_tuple_specific_checkpoint_id,
                get_tuple_config_structure,
                get_tuple_checkpoint_fields,
                get_tuple_metadata,
                get_tuple_parent_config,
                get_tuple_pending_writes,
                get_tuple_respects_namespace,
                get_tuple_nonexistent_checkpoint_id,
            ],
            list: [
                list_all,
                list_by_thread,
                list_by_namespace,
                list_ordering,
                list_metadata_filter_single_key,
                list_metadata_filter_step,
                list_metadata_filter_multiple_keys,
                list_metadata_filter_no_match,
                list_metadata_custom_keys,
                list_before,
                list_limit,
                list_limit_plus_before,
                list_combined_thread_and_filter,
                list_empty_result,
                list_includes_pending_writes,
                list_multiple_namespaces,
            ],
            delete_thread: [
                delete_thread_removes_checkpoints,
                delete_thread_removes_writes,
                delete_thread_removes_all_namespaces,
                delete_thread_preserves_other_threads,
                delete_thread_nonexistent_noop,
            ],
            delete_for_runs: [
                delete_for_runs_single,
                delete_for_runs_multiple,
                delete_for_runs_preserves_other_runs,
                delete_for_runs_removes_writes,
                delete_for_runs_empty_list_noop,
                delete_for_runs_nonexistent_noop,
                delete_for_runs_across_namespaces,
            ],
            copy_thread: [
                copy_thread_basic,
                copy_thread_all_checkpoints,
                copy_thread_preserves_metadata,
                copy_thread_preserves_namespaces,
                copy_thread_preserves_writes,
                copy_thread_preserves_ordering,
                copy_thread_source_unchanged,
                copy_thread_nonexistent_source,
            ],
            prune: [
                prune_keep_latest_single_thread,
                prune_keep_latest_multiple_threads,
                prune_keep_latest_across_namespaces,
                prune_keep_latest_preserves_writes,
                prune_delete_all,
                prune_preserves_other_threads,
                prune_empty_list_noop,
                prune_nonexistent_noop,
            ],
            order: [
                order_child_from_a_clock_behind_is_latest,
                order_put_before_parent_refused,
                order_put_same_id_as_parent_refused,
                order_put_with_writes_before_parent_refused,
                order_chain_on_alternating_clocks,
                order_first_checkpoint_has_no_bound,
            ],
            listing: [
                list_all_threads_with_filter,
                list_before_filter_and_limit,
                list_without_namespace_lists_all_namespaces,
                list_iter_matches_list,
            ],
            refused_input: [
                empty_thread_id_put,
                empty_thread_id_get_tuple,
                empty_thread_id_list,
                empty_thread_id_put_writes,
                empty_thread_id_delete_thread,
                empty_thread_id_copy_thread,
                empty_thread_id_prune,
                put_writes_missing_checkpoint_id,
                put_writes_unknown_checkpoint,
                list_invalid_filter_key,
                copy_thread_target_not_empty,
                copy_thread_unknown_source,
                put_value_without_version,
                read_unknown_changes_nothing,
            ],
            pending_writes: [
                special_channel_write_replaces,
                normal_channel_write_first_wins,
                pending_writes_order,
            ],
            values: [
                unchanged_version_value_readable,
                unchanged_channel_shared_by_many,
                versioned_channel_without_value_absent,
                fork_branches_keep_own_values,
                prune_keep_latest_clears_parent,
                deleted_values_stay_deleted,
                copy_survives_source_delete,
            ],
            config_metadata: [
                delete_for_runs_run_id_from_configurable,
                config_metadata_merged,
            ],
            limits: [
                value_depth_limit,
                metadata_depth_limit,
                write_depth_limit,
                very_deep_values_refused,
                exhausted_version_refused,
            ],
        } }
    };
}
