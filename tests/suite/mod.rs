//! The conformance suite every saver of this crate runs.
//!
//! Each case is a plain function `fn(&dyn BaseCheckpointSaver)` that panics
//! with a clear message when the saver breaks the contract of
//! [`BaseCheckpointSaver`](checkpointer::BaseCheckpointSaver). The groups
//! port LangGraph's conformance kit (`put`, `put_writes`, `get_tuple`,
//! `list`, `delete_thread`, `delete_for_runs`, `copy_thread`, `prune`); `ours`
//! checks the rest of our contract, `put_with_writes` our fused write.
//!
//! A test file runs the whole suite for one saver with
//! [`conformance_suite!`](crate::conformance_suite):
//!
//! ```ignore
//! mod suite;
//! use checkpointer::InMemorySaver;
//!
//! conformance_suite!(memory, (InMemorySaver::new(), ()));
//! conformance_suite!(sqlite_file, {
//!     let dir = tempfile::tempdir().unwrap();
//!     (SqliteSaver::open(dir.path().join("cp.db")).unwrap(), dir)
//! });
//! ```
//!
//! Cases never depend on each other or on test order: each test builds a
//! fresh saver, and every case uses fresh random thread ids.

// Each test binary uses a different part of the suite (the adapter, the
// fixtures, the cases), so unused items are expected.
#![allow(dead_code)]

pub mod blocking;
pub mod copy_thread;
pub mod delete_for_runs;
pub mod delete_thread;
pub mod fixtures;
pub mod get_tuple;
pub mod list;
pub mod order;
pub mod ours;
pub mod plain;
pub mod prune;
pub mod put;
pub mod put_with_writes;
pub mod put_writes;

use checkpointer::BaseCheckpointSaver;

/// One conformance case.
pub type Case = fn(&dyn BaseCheckpointSaver);

/// Runs `case` on the saver of `made`, then drops the saver before its
/// guard (a temp dir must outlive the database in it).
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
/// `memory::put_incremental_channel_update`.
///
/// The list of cases lives here, once, for every saver.
#[macro_export]
macro_rules! conformance_suite {
    (@cases $name:ident, $make:expr, { $($group:ident: [$($case:ident),* $(,)?]),* $(,)? }) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $($(
                #[test]
                fn $case() {
                    $crate::suite::run_case($make, $crate::suite::$group::$case);
                }
            )*)*
        }
    };
    ($name:ident, $make:expr $(,)?) => {
        $crate::conformance_suite!(@cases $name, $make, {
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
            ours: [
                list_all_threads_with_filter,
                list_before_filter_and_limit,
                list_without_namespace_lists_all_namespaces,
                list_iter_matches_list,
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
                special_channel_write_replaces,
                normal_channel_write_first_wins,
                pending_writes_order,
                unchanged_version_value_readable,
                unchanged_channel_shared_by_many,
                versioned_channel_without_value_absent,
                fork_branches_keep_own_values,
                prune_keep_latest_clears_parent,
                deleted_values_stay_deleted,
                copy_survives_source_delete,
                delete_for_runs_run_id_from_configurable,
                config_metadata_merged,
            ],
        });
    };
}
