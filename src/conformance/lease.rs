//! `lease`: thread leases with fencing tokens ([`ThreadLeases`]), one case
//! per rule of its contract. The cases take `&dyn ThreadLeases`, so they
//! run through [`lease_suite!`](crate::lease_suite) beside
//! [`conformance_suite!`](crate::conformance_suite):
//!
//! ```
//! use checkpointer::{InMemorySaver, lease_suite};
//!
//! lease_suite!(memory, (InMemorySaver::new(), ()));
//! # fn main() {}
//! ```

use std::time::Duration;

use serde_json::json;

use crate::{Error, Lease, ListOptions, PruneStrategy, ThreadLeases, WriteBatch};

use super::fixtures::{
    checkpoint, config, expect_err, get, list, metadata, put, put_chain, thread_id, try_get, uuid4,
};

/// A case of the lease group.
pub type LeaseCase = fn(&dyn ThreadLeases);

/// Long enough never to expire during a case.
const LONG: Duration = Duration::from_hours(1);

/// Runs `case` on the saver of `made`, then drops the saver before its
/// guard (as [`run_case`](super::run_case)).
pub fn run_lease_case<S: ThreadLeases, G>(made: (S, G), case: LeaseCase) {
    let (saver, guard) = made;
    case(&saver as &dyn ThreadLeases);
    drop(saver);
    drop(guard);
}

fn take(saver: &dyn ThreadLeases, tid: &str, owner: &str, ttl: Duration) -> Lease {
    saver
        .acquire(tid, owner, ttl)
        .unwrap_or_else(|e| panic!("acquire of thread {tid:?} by {owner:?}: {e}"))
}

/// Asserts `err` is `LeaseHeld` for `tid`, held by `holder`.
fn assert_held(what: &str, err: &Error, tid: &str, holder: &str) {
    match err {
        Error::LeaseHeld {
            thread_id,
            holder: h,
            ..
        } => {
            assert_eq!(thread_id, tid, "{what}: the error names the thread");
            assert_eq!(h, holder, "{what}: the error names the holder");
            let text = err.to_string();
            assert!(
                text.contains(tid) && text.contains(holder),
                "{what}: the message names thread and holder: {text}"
            );
        }
        other => panic!("{what}: expected LeaseHeld, got {other:?}"),
    }
}

/// A live lease is exclusive: a second acquire, by anyone, is refused
/// naming the holder; `current` shows the lease.
pub fn lease_acquire_is_exclusive(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let lease = take(saver, &tid, "a", LONG);
    assert_eq!(
        (lease.thread_id.as_str(), lease.owner.as_str()),
        (tid.as_str(), "a")
    );
    let err = expect_err("acquire by b", saver.acquire(&tid, "b", LONG));
    assert_held("acquire by b", &err, &tid, "a");
    let err = expect_err("acquire again by a", saver.acquire(&tid, "a", LONG));
    assert_held("acquire again by a", &err, &tid, "a");
    assert_eq!(saver.current(&tid).expect("current"), Some(lease));
}

/// Tokens grow strictly with each new lease of a thread: after release,
/// after expiry, and after the thread was deleted.
pub fn lease_tokens_increase(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let first = take(saver, &tid, "a", LONG);
    saver.release(&first).expect("release");
    let second = take(saver, &tid, "b", Duration::ZERO);
    assert!(second.token > first.token, "{second:?} after {first:?}");
    let third = take(saver, &tid, "c", LONG);
    assert!(third.token > second.token, "{third:?} after {second:?}");
    put(
        saver,
        &config(&tid).with_lease_token(third.token),
        &checkpoint(),
        &metadata(),
    );
    saver
        .delete_thread_leased(&tid, third.token)
        .expect("delete under the lease");
    saver.release(&third).expect("release");
    let fourth = take(saver, &tid, "d", LONG);
    assert!(fourth.token > third.token, "{fourth:?} after {third:?}");
}

/// An expired lease is taken by another owner at once; the old holder's
/// renew is `StaleLease`, and its writes are refused naming the new holder.
pub fn lease_expired_is_taken_and_fenced(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let old = take(saver, &tid, "a", Duration::ZERO);
    assert_eq!(saver.current(&tid).expect("current"), None, "expired");
    let new = take(saver, &tid, "b", LONG);
    let err = expect_err("renew of the expired lease", saver.renew(&old, LONG));
    assert!(
        matches!(&err, Error::StaleLease { thread_id, holder: Some(h), .. } if *thread_id == tid && h == "b"),
        "{err:?}"
    );
    let stale = config(&tid).with_lease_token(old.token);
    let err = expect_err(
        "put with the stale token",
        saver.put(
            &stale,
            &checkpoint(),
            &metadata(),
            &checkpoint().channel_versions,
        ),
    );
    assert_held("put with the stale token", &err, &tid, "b");
    assert!(try_get(saver, &config(&tid)).is_none(), "nothing stored");
    put(
        saver,
        &config(&tid).with_lease_token(new.token),
        &checkpoint(),
        &metadata(),
    );
}

/// A token that a newer lease replaced is refused even once the newer
/// lease was released (no lease is live): a runner paused past its lease
/// cannot write after another runner took the thread and let it go. A
/// write without a token, or with the newest token, is stored.
pub fn lease_replaced_token_refused_after_release(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let old = take(saver, &tid, "a", Duration::ZERO);
    let new = take(saver, &tid, "b", LONG);
    saver.release(&new).expect("release");
    assert_eq!(saver.current(&tid).expect("current"), None, "released");
    let stale = config(&tid).with_lease_token(old.token);
    let cp = checkpoint();
    let err = expect_err(
        "put with the replaced token",
        saver.put(&stale, &cp, &metadata(), &cp.channel_versions),
    );
    assert!(
        matches!(&err, Error::StaleLease { thread_id, token, .. } if *thread_id == tid && *token == old.token),
        "{err:?}"
    );
    assert!(try_get(saver, &config(&tid)).is_none(), "nothing stored");
    put(saver, &config(&tid), &checkpoint(), &metadata());
    put(
        saver,
        &config(&tid).with_lease_token(new.token),
        &checkpoint(),
        &metadata(),
    );
}

/// `put` to a leased thread needs the token: missing or wrong is refused
/// and stores nothing; the right token stores.
pub fn lease_put_needs_token(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let lease = take(saver, &tid, "a", LONG);
    let cp = checkpoint();
    for (what, cfg) in [
        ("no token", config(&tid)),
        (
            "wrong token",
            config(&tid).with_lease_token(lease.token + 1),
        ),
    ] {
        let err = expect_err(
            what,
            saver.put(&cfg, &cp, &metadata(), &cp.channel_versions),
        );
        assert_held(what, &err, &tid, "a");
    }
    assert!(try_get(saver, &config(&tid)).is_none(), "nothing stored");
    let stored = put(
        saver,
        &config(&tid).with_lease_token(lease.token),
        &cp,
        &metadata(),
    );
    assert_eq!(get(saver, &stored).checkpoint.id, cp.id);
}

/// `put_writes` to a leased thread needs the token.
pub fn lease_put_writes_needs_token(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let stored = put(saver, &config(&tid), &checkpoint(), &metadata());
    take(saver, &tid, "a", LONG);
    let lease = saver.current(&tid).expect("current").expect("live");
    let writes = [("ch".to_owned(), json!(1))];
    let err = expect_err(
        "put_writes without token",
        saver.put_writes(&stored, &writes, &uuid4(), ""),
    );
    assert_held("put_writes without token", &err, &tid, "a");
    assert!(
        get(saver, &stored).pending_writes.is_empty(),
        "no write stored"
    );
    saver
        .put_writes(
            &stored.clone().with_lease_token(lease.token),
            &writes,
            &uuid4(),
            "",
        )
        .expect("put_writes with the token");
    assert_eq!(get(saver, &stored).pending_writes.len(), 1);
}

/// `put_with_writes` to a leased thread needs the token; a refused call
/// stores neither the writes nor the checkpoint.
pub fn lease_put_with_writes_needs_token(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let parent = put(saver, &config(&tid), &checkpoint(), &metadata());
    let lease = take(saver, &tid, "a", LONG);
    let writes = [("ch".to_owned(), json!(1))];
    let task = uuid4();
    let batches = [WriteBatch::new(&writes, &task, "")];
    let cp = checkpoint();
    let err = expect_err(
        "put_with_writes without token",
        saver.put_with_writes(&parent, &batches, &cp, &metadata(), &cp.channel_versions),
    );
    assert_held("put_with_writes without token", &err, &tid, "a");
    assert!(
        get(saver, &parent).pending_writes.is_empty(),
        "no write stored"
    );
    assert_eq!(
        list(saver, Some(&config(&tid)), &ListOptions::new()).len(),
        1
    );
    saver
        .put_with_writes(
            &parent.clone().with_lease_token(lease.token),
            &batches,
            &cp,
            &metadata(),
            &cp.channel_versions,
        )
        .expect("put_with_writes with the token");
    assert_eq!(get(saver, &parent).pending_writes.len(), 1);
    assert_eq!(get(saver, &config(&tid)).checkpoint.id, cp.id);
}

/// `delete_thread` of a leased thread is refused; the leased call with
/// the right token deletes.
pub fn lease_delete_thread_needs_token(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    put_chain(saver, &tid, "", 2);
    let lease = take(saver, &tid, "a", LONG);
    let err = expect_err("delete_thread", saver.delete_thread(&tid));
    assert_held("delete_thread", &err, &tid, "a");
    let err = expect_err(
        "delete_thread_leased, wrong token",
        saver.delete_thread_leased(&tid, lease.token + 1),
    );
    assert_held("delete_thread_leased, wrong token", &err, &tid, "a");
    assert_eq!(
        list(saver, Some(&config(&tid)), &ListOptions::new()).len(),
        2
    );
    saver
        .delete_thread_leased(&tid, lease.token)
        .expect("delete_thread_leased");
    assert!(try_get(saver, &config(&tid)).is_none());
}

/// `copy_thread` onto a leased thread needs the target's token; a leased
/// source does not matter (the copy only reads it).
pub fn lease_copy_thread_onto_leased(saver: &dyn ThreadLeases) {
    let (src, dst) = (thread_id(), thread_id());
    put_chain(saver, &src, "", 2);
    take(saver, &src, "s", LONG);
    let lease = take(saver, &dst, "a", LONG);
    let err = expect_err("copy_thread", saver.copy_thread(&src, &dst));
    assert_held("copy_thread", &err, &dst, "a");
    assert!(try_get(saver, &config(&dst)).is_none(), "nothing copied");
    saver
        .copy_thread_leased(&src, &dst, lease.token)
        .expect("copy_thread_leased");
    assert_eq!(
        list(saver, Some(&config(&dst)), &ListOptions::new()).len(),
        2
    );
}

/// `prune` of a leased thread is refused (of all the threads named: the
/// call changes nothing); the leased call prunes.
pub fn lease_prune_needs_token(saver: &dyn ThreadLeases) {
    let (free, leased) = (thread_id(), thread_id());
    put_chain(saver, &free, "", 3);
    put_chain(saver, &leased, "", 3);
    let lease = take(saver, &leased, "a", LONG);
    let err = expect_err(
        "prune",
        saver.prune(&[free.clone(), leased.clone()], PruneStrategy::KeepLatest),
    );
    assert_held("prune", &err, &leased, "a");
    for tid in [&free, &leased] {
        assert_eq!(
            list(saver, Some(&config(tid)), &ListOptions::new()).len(),
            3
        );
    }
    saver
        .prune_leased(&leased, PruneStrategy::KeepLatest, lease.token)
        .expect("prune_leased");
    assert_eq!(
        list(saver, Some(&config(&leased)), &ListOptions::new()).len(),
        1
    );
}

/// Without a live lease nothing changes: writes with or without a token
/// succeed (also after release), and a lease of one thread leaves the
/// others free.
pub fn lease_unleased_unchanged(saver: &dyn ThreadLeases) {
    let (tid, other) = (thread_id(), thread_id());
    put(saver, &config(&tid), &checkpoint(), &metadata());
    put(
        saver,
        &config(&tid).with_lease_token(99),
        &checkpoint(),
        &metadata(),
    );
    let lease = take(saver, &tid, "a", LONG);
    put(saver, &config(&other), &checkpoint(), &metadata());
    saver
        .delete_thread(&other)
        .expect("delete of a free thread");
    saver.release(&lease).expect("release");
    assert_eq!(saver.current(&tid).expect("current"), None);
    put(saver, &config(&tid), &checkpoint(), &metadata());
    saver
        .prune(std::slice::from_ref(&tid), PruneStrategy::KeepLatest)
        .expect("prune");
    saver.delete_thread(&tid).expect("delete after release");
}

/// `renew` keeps the token and moves the expiry on; after `release`,
/// renew and a second release by a stale holder are `StaleLease`.
pub fn lease_renew_and_release(saver: &dyn ThreadLeases) {
    let tid = thread_id();
    let lease = take(saver, &tid, "a", Duration::from_mins(1));
    let renewed = saver.renew(&lease, LONG).expect("renew");
    assert_eq!((renewed.token, &renewed.owner), (lease.token, &lease.owner));
    assert!(
        renewed.expires > lease.expires,
        "{renewed:?} after {lease:?}"
    );
    assert_eq!(saver.current(&tid).expect("current"), Some(renewed.clone()));
    saver.release(&renewed).expect("release");
    assert_eq!(saver.current(&tid).expect("current"), None);
    let err = expect_err("renew after release", saver.renew(&renewed, LONG));
    assert!(matches!(err, Error::StaleLease { .. }), "{err:?}");
    let next = take(saver, &tid, "b", LONG);
    let err = expect_err("release of the old lease", saver.release(&renewed));
    assert!(
        matches!(&err, Error::StaleLease { holder: Some(h), .. } if h == "b"),
        "{err:?}"
    );
    assert_eq!(saver.current(&tid).expect("current"), Some(next));
}

/// An empty thread id is refused.
pub fn lease_empty_thread_refused(saver: &dyn ThreadLeases) {
    let err = expect_err("acquire of \"\"", saver.acquire("", "a", LONG));
    assert!(matches!(err, Error::EmptyThreadId { .. }), "{err:?}");
}

/// Emits `mod $name { ... }` with one `#[test]` per case of the lease
/// group, for a saver that implements [`ThreadLeases`]; `$make` as for
/// [`conformance_suite!`](crate::conformance_suite).
#[macro_export]
macro_rules! lease_suite {
    ($name:ident, $make:expr $(,)?) => {
        $crate::lease_suite! { @cases $name, $make, [
            lease_acquire_is_exclusive,
            lease_tokens_increase,
            lease_expired_is_taken_and_fenced,
            lease_replaced_token_refused_after_release,
            lease_put_needs_token,
            lease_put_writes_needs_token,
            lease_put_with_writes_needs_token,
            lease_delete_thread_needs_token,
            lease_copy_thread_onto_leased,
            lease_prune_needs_token,
            lease_unleased_unchanged,
            lease_renew_and_release,
            lease_empty_thread_refused,
        ] }
    };
    (@cases $name:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(
                #[test]
                fn $case() {
                    $crate::conformance::lease::run_lease_case(
                        $make,
                        $crate::conformance::lease::$case,
                    );
                }
            )*
        }
    };
}
