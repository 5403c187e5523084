//! The append-delta encoding of channel values, shared by every backend
//! that stores values as rows: the encoder ([`encode`]), the per-channel
//! cache of the last array written ([`DeltaCache`]), storing with its
//! checks ([`store`]), loading with chains ([`load`], [`load_place`]),
//! chain resolution ([`Resolver`]) and the read cache ([`ReadCache`]).
//!
//! # What a backend implements
//!
//! [`ValueRows`]: a few statements over its table of value rows, keyed by
//! `(thread, namespace, channel, version)` and ordered by the version's
//! counter ([`seq_of`]): three scans (one channel's rows newest first, a
//! span of counters of one thread and namespace, all of one thread and
//! namespace), the checks a write needs ([`ValueRows::base_state`],
//! [`ValueRows::value_exists`]), insert and replace of a row, and the
//! deltas built on a version. Everything else (what to write, when to
//! retry, how rows become values) lives here, once. A `put` then is
//! [`store_put_values`] with a closure that runs the backend's transaction
//! and calls [`store`] in it: [`encode`] before the transaction, [`store`]
//! in it (on [`Stored::Retry`], [`encode`] again with [`Mode::Complete`]),
//! and [`DeltaCache::remember`] once committed.
//!//!
//! # Delta encoding
//!
//! A channel whose value is a JSON array that extends a value stored
//! before (the append case: a chat's `messages`) is stored as a *delta*:
//! the row holds only the appended elements (as a JSON array) and names its
//! `base` version; `depth` counts the deltas since the last full snapshot,
//! `len` is the element count of the full value and `hash` a 64-bit FNV-1a
//! hash of its elements' JSON texts. Any other value is a full snapshot
//! (`base` NULL, `depth` 0). So the bytes a checkpoint adds stay flat as a
//! thread's history grows, instead of growing with it.
//!
//! A snapshot is written instead of a delta only when the chain would
//! exceed the `snapshot_every` a backend gives [`DeltaCache::new`] (for
//! SQLite, `SqliteOptions::snapshot_every`) deltas: a thread's chain of a channel is one snapshot and up to that
//! many deltas. Reading any value costs one snapshot plus at most that many
//! small delta rows.
//!
//! The writer finds the base in an in-process cache of the last array
//! written per `(thread, namespace, channel)` ([`DeltaCache`]): the new value
//! must start with the cached one exactly (compared as values, never by
//! hash). When the cache does not hold the channel (more conversations
//! written in turn than it has entries, or a new process), the base is
//! read from the database first ([`uncached_bases`], [`find_bases`]: the
//! newest row before the new version, with its chain) and compared in the
//! same way. Inside the write transaction the base row is checked to still
//! hold what the cache says (same element count and hash); if it does not
//! (deleted, rewritten by another process, a reused plain-integer
//! version), the value is written in full. The encoding lives only in the
//! database: any process reads it.

mod base;
mod cache;
mod encode;
mod hash;
mod load;
mod read_cache;
mod resolve;
mod store;
#[cfg(test)]
mod tests;

pub use base::{find_bases, uncached_bases};
pub use cache::DeltaCache;
pub use encode::{Encoded, Mode, Row, Stored, encode};
pub use hash::{FastMap, Fnv, HASH_SEED, hash_elements};
pub use load::{Loaded, RANGE_READ_ROWS, Wanted, add_keys, load, load_place, seq_of};
pub use read_cache::ReadCache;
pub use resolve::{RawValue, RawValues, Resolver, StoredJson, ValueKey};
pub use store::{Columns, store, store_put_values};

use crate::saver::error::Result;

/// Where values live: thread, namespace, channel.
pub type Place<'a> = (&'a str, &'a str, &'a str);

/// One row a [`ValueRows`] scan passes to its callback; the columns are
/// read on demand, so rows the caller skips cost little.
pub trait ScannedRow {
    /// The counter of the row's version ([`seq_of`]).
    fn seq(&self) -> Result<i64>;
    /// The row's channel.
    fn channel(&self) -> Result<&str>;
    /// The row's version.
    fn version(&self) -> Result<&str>;
    /// The counter of the version the row builds on (`None` for a full
    /// value). Only [`ValueRows::scan_channel`] must give it.
    fn base_seq(&self) -> Result<Option<i64>>;
    /// The row's value and chain columns.
    fn raw(&self) -> Result<RawValue>;
}

/// The value rows of a backend, in the transaction of the call: what the
/// delta machinery needs of its storage.
///
/// A scan calls `each` per row until `each` returns `Ok(false)` (done) or
/// an error (returned).
pub trait ValueRows {
    /// The row type the scans pass.
    type Row<'r>: ScannedRow
    where
        Self: 'r;

    /// The rows of channel `place` with counters `max_seq` and below,
    /// newest (highest counter) first.
    ///
    /// # Errors
    ///
    /// The backend's errors, and those of `each`.
    fn scan_channel<F>(&self, place: Place<'_>, max_seq: i64, each: F) -> Result<()>
    where
        F: FnMut(&Self::Row<'_>) -> Result<bool>;

    /// The rows of every channel of one thread and namespace with counters
    /// from `lo` to `hi`, newest first.
    ///
    /// # Errors
    ///
    /// As [`scan_channel`](Self::scan_channel).
    fn scan_span<F>(&self, place: (&str, &str), lo: i64, hi: i64, each: F) -> Result<()>
    where
        F: FnMut(&Self::Row<'_>) -> Result<bool>;

    /// Every row of one thread and namespace, in any order.
    ///
    /// # Errors
    ///
    /// As [`scan_channel`](Self::scan_channel).
    fn scan_place<F>(&self, place: (&str, &str), each: F) -> Result<()>
    where
        F: FnMut(&Self::Row<'_>) -> Result<bool>;

    /// The `(len, hash)` columns of the row at `version`, if stored (what
    /// a delta's base must still be). `checkpoint_id` (the one being
    /// stored) is for errors.
    ///
    /// # Errors
    ///
    /// The backend's errors.
    fn base_state(
        &self,
        place: Place<'_>,
        version: &str,
        checkpoint_id: &str,
    ) -> Result<Option<(Option<i64>, Option<i64>)>>;

    /// Whether a row is stored at `version`.
    ///
    /// # Errors
    ///
    /// As [`base_state`](Self::base_state).
    fn value_exists(&self, place: Place<'_>, version: &str, checkpoint_id: &str) -> Result<bool>;

    /// Inserts the row at `version` unless one is stored; whether it did.
    ///
    /// # Errors
    ///
    /// The backend's errors.
    fn insert_value(&self, place: Place<'_>, version: &str, columns: Columns<'_>) -> Result<bool>;

    /// Replaces the stored row at `version`.
    ///
    /// # Errors
    ///
    /// The backend's errors.
    fn replace_value(&self, place: Place<'_>, version: &str, columns: Columns<'_>) -> Result<()>;

    /// The versions of the deltas whose base is `version`.
    ///
    /// # Errors
    ///
    /// The backend's errors.
    fn dependents(&self, place: Place<'_>, version: &str) -> Result<Vec<String>>;
}
