//! The job store contract as plain functions over `&dyn JobStore`, and
//! `jobs_suite!`, which makes one `#[test]` per case for a backend:
//! `tests/jobs.rs` runs it on memory, SQLite and the JSON file,
//! `tests/jobs_postgres.rs` on PostgreSQL.
#![allow(dead_code)]

use checkpointer::jobs::{EveryNIterations, JobError, JobStore, save_on_every_call};
use serde_json::json;

pub fn save_then_get(store: &dyn JobStore) {
    assert_eq!(store.get("render").unwrap(), None);
    store.save("render", json!({"done": 3}), "3/200").unwrap();
    store
        .save("render", json!({"done": 7, "name": "é"}), "7/200")
        .unwrap();
    let entry = store.get("render").unwrap().expect("saved");
    assert_eq!(entry.job_id, "render");
    assert_eq!(entry.progress_hint, "7/200");
    assert_eq!(entry.context, json!({"done": 7, "name": "é"}));
    assert!(
        entry.saved_at > 1.0e9,
        "epoch seconds, got {}",
        entry.saved_at
    );
}

pub fn clear_and_list(store: &dyn JobStore) {
    for id in ["b", "a", "c"] {
        store.save(id, json!({"id": id}), "").unwrap();
    }
    assert_eq!(store.list_ids().unwrap(), ["a", "b", "c"]);
    assert!(store.clear("b").unwrap());
    assert!(!store.clear("b").unwrap());
    assert_eq!(store.get("b").unwrap(), None);
    assert_eq!(store.list_ids().unwrap(), ["a", "c"]);
    assert_eq!(store.clear_all().unwrap(), 2);
    assert!(store.list_ids().unwrap().is_empty());
    assert_eq!(store.clear_all().unwrap(), 0);
    store.save("b", json!(1), "again").unwrap();
    assert_eq!(store.get("b").unwrap().unwrap().progress_hint, "again");
}

pub fn empty_job_id_refused(store: &dyn JobStore) {
    let err = store.save("", json!({}), "").unwrap_err();
    assert!(
        matches!(err, JobError::EmptyJobId { operation: "save" }),
        "{err}"
    );
    assert!(store.list_ids().unwrap().is_empty());
}

pub fn every_n_counts_iterations(store: &dyn JobStore) {
    let mut every = EveryNIterations::new(3);
    let saved: Vec<bool> = (1..=7)
        .map(|i| {
            every
                .tick(store, "loop", || json!({"i": i}), || format!("{i}/7"))
                .unwrap()
        })
        .collect();
    assert_eq!(saved, [false, false, true, false, false, true, false]);
    assert_eq!(store.get("loop").unwrap().unwrap().context, json!({"i": 6}));
    let mut never = EveryNIterations::new(0);
    assert!(
        !never
            .tick(store, "never", || json!(1), String::new)
            .unwrap()
    );
    assert_eq!(store.get("never").unwrap(), None);
}

pub fn every_call_saves_each_time(store: &dyn JobStore) {
    assert!(!save_on_every_call(store, 0, "each", || json!(0), String::new).unwrap());
    assert_eq!(store.get("each").unwrap(), None);
    for i in 1..=2 {
        assert!(save_on_every_call(store, 5, "each", || json!({"i": i}), || "h".into()).unwrap());
        assert_eq!(store.get("each").unwrap().unwrap().context, json!({"i": i}));
    }
}

#[macro_export]
macro_rules! jobs_suite {
    ($backend:ident, $make:expr) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            use checkpointer::jobs::JobStore;
            #[test]
            fn save_then_get() {
                let (_keep, store) = $make;
                $crate::jobs_suite::save_then_get(&store);
            }
            #[test]
            fn clear_and_list() {
                let (_keep, store) = $make;
                $crate::jobs_suite::clear_and_list(&store);
            }
            #[test]
            fn empty_job_id_refused() {
                let (_keep, store) = $make;
                $crate::jobs_suite::empty_job_id_refused(&store);
            }
            #[test]
            fn every_n_counts_iterations() {
                let (_keep, store) = $make;
                $crate::jobs_suite::every_n_counts_iterations(&store);
            }
            #[test]
            fn every_call_saves_each_time() {
                let (_keep, store) = $make;
                let boxed: Box<dyn JobStore> = Box::new(store);
                $crate::jobs_suite::every_call_saves_each_time(boxed.as_ref());
            }
        }
    };
}
