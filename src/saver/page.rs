//! Read assembly: the tuples of one read, built one at a time from the
//! checkpoint rows, value rows and write rows a backend fetched in one
//! transaction.
//!
//! A backend reads the checkpoint rows of a `get_tuple` or `list` call,
//! then [`load_values`] (through its [`ValueRows`]) and the raw write rows
//! of those checkpoints, and returns a [`Page`]: iterating it builds each
//! tuple (values resolved, writes decoded and sorted) with no connection
//! held.

use std::collections::HashMap;
use std::sync::Arc;

use super::checks::checkpoint_config;
use super::delta::{self, Loaded, RANGE_READ_ROWS, ReadCache, Resolver, ValueRows, Wanted};
use super::error::{Error, Result};
use super::rows::{CheckpointKey, CheckpointRow};
use super::tuple::{CheckpointTuple, PendingWrite};
use super::writes::sort_pending_writes;

/// A backend's write row as read, not yet decoded.
pub trait RawWrite {
    /// The pending write, or what is wrong with the row.
    ///
    /// # Errors
    ///
    /// A description of the damage.
    fn decode(self) -> Result<PendingWrite, String>;
}

/// What a read fetched in its transaction: checkpoint rows (decoded, but
/// without values), and the raw values and writes they need. Iterating
/// builds one tuple at a time.
pub struct Page<W> {
    rows: std::vec::IntoIter<Result<CheckpointRow>>,
    values: Resolver,
    writes: HashMap<CheckpointKey, Vec<W>>,
}

impl<W> std::fmt::Debug for Page<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

/// The one thread and namespace all decoded `rows` are of, if a page is
/// long enough to read that place's values and writes in one range scan
/// (a history walk needs most of them) rather than key by key.
pub fn range_place(rows: &[Result<CheckpointRow>]) -> Option<(&str, &str)> {
    let mut ok = rows.iter().filter_map(|r| r.as_ref().ok());
    let one_place = ok.next().and_then(|first| {
        ok.all(|r| r.thread_id == first.thread_id && r.ns == first.ns)
            .then_some((first.thread_id.as_str(), first.ns.as_str()))
    });
    one_place.filter(|_| rows.len() >= RANGE_READ_ROWS)
}

/// Loads the values `rows` name, with their chains: by one range scan of
/// `place` (what [`range_place`] said), else key by key, taking from
/// `cache` what it holds for the rows stored now (see [`delta::load`]).
///
/// # Errors
///
/// The backend's errors.
pub fn load_values<R: ValueRows>(
    values: &R,
    rows: &[Result<CheckpointRow>],
    place: Option<(&str, &str)>,
    cache: Option<&ReadCache>,
) -> Result<Loaded> {
    let mut wanted = Wanted::new();
    for r in rows.iter().filter_map(|r| r.as_ref().ok()) {
        delta::add_keys(&mut wanted, &r.thread_id, &r.ns, &r.checkpoint);
    }
    Ok(match place {
        Some((thread_id, ns)) => delta::load_place(values, thread_id, ns, &wanted)?.into(),
        None => delta::load(values, cache, &wanted)?,
    })
}

impl<W: RawWrite> Page<W> {
    /// A page over `rows`, their `loaded` values (arrays built from their
    /// chains are added to `cache`) and their raw `writes`, decoded as the
    /// tuples are built.
    pub fn new(
        rows: Vec<Result<CheckpointRow>>,
        loaded: Loaded,
        cache: Option<Arc<ReadCache>>,
        writes: HashMap<CheckpointKey, Vec<W>>,
    ) -> Self {
        Page {
            rows: rows.into_iter(),
            values: Resolver::new(loaded, cache),
            writes,
        }
    }

    /// Builds the tuple of one row.
    fn build(&mut self, mut row: CheckpointRow) -> Result<CheckpointTuple> {
        // Values are kept (cloned) only for a next row of the same thread
        // and namespace: the only one that can build on them.
        let next = self
            .rows
            .as_slice()
            .first()
            .and_then(|next| next.as_ref().ok())
            .filter(|next| next.thread_id == row.thread_id && next.ns == row.ns)
            .map(|next| &next.checkpoint);
        self.values
            .resolve(&row.thread_id, &row.ns, &mut row.checkpoint, next)?;
        let key = (
            row.thread_id.clone(),
            row.ns.clone(),
            row.checkpoint.id.clone(),
        );
        let mut pending_writes = self
            .writes
            .remove(&key)
            .unwrap_or_default()
            .into_iter()
            .map(|raw| {
                raw.decode().map_err(|what| Error::Corrupt {
                    thread_id: row.thread_id.clone(),
                    checkpoint_id: row.checkpoint.id.clone(),
                    what: format!("pending write: {what}"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        sort_pending_writes(&mut pending_writes);
        Ok(CheckpointTuple {
            config: checkpoint_config(&row.thread_id, &row.ns, &row.checkpoint.id),
            parent_config: row
                .parent
                .as_deref()
                .map(|p| checkpoint_config(&row.thread_id, &row.ns, p)),
            checkpoint: row.checkpoint,
            metadata: row.metadata,
            pending_writes,
        })
    }
}

impl<W: RawWrite> Iterator for Page<W> {
    type Item = Result<CheckpointTuple>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = self.rows.next()?;
        Some(row.and_then(|row| self.build(row)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}
