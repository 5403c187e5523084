//! Channel values in SQLite: the `channel_values` table (and
//! `channel_blobs` for long values) behind [`ValueRows`]. The delta
//! encoding itself, what is written and how rows become values, is
//! [`crate::saver::delta`]; this module holds the SQL and the row mapping.

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, params};

use super::{packed, sql_context};
use crate::saver::delta::{self, Columns, Place, RawValue, ScannedRow, StoredJson, ValueRows};
pub(crate) use crate::saver::delta::{DeltaCache, Mode, ReadCache, Row, Stored, encode};
use crate::saver::error::Result;
use crate::saver::rows::encode_json;

/// Stores a value unless that version is already stored. `seq` is always
/// `CAST(version AS INTEGER)`, computed by SQLite (migration 3 and every
/// statement use the same expression): the version's counter.
const INSERT_VALUE: &str = "INSERT INTO channel_values (thread_id, checkpoint_ns, channel, \
     seq, version, value, base, depth, len, hash, blob) \
     VALUES (?1, ?2, ?3, CAST(?4 AS INTEGER), ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
     ON CONFLICT (thread_id, checkpoint_ns, seq, channel, version) DO NOTHING";

/// Replaces a stored value (after its dependents were made full); a
/// trigger (`channel_values_replace_blob`) drops the long value it had.
const REPLACE_VALUE: &str = "UPDATE channel_values SET value = ?5, base = ?6, depth = ?7, \
     len = ?8, hash = ?9, blob = ?10 \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 \
     AND seq = CAST(?4 AS INTEGER) AND version = ?4";

/// Whether a value is stored.
const VALUE_EXISTS: &str = "SELECT 1 FROM channel_values \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 \
     AND seq = CAST(?4 AS INTEGER) AND version = ?4";

/// Stores a long value; its id goes in the value row's `blob`.
const INSERT_BLOB: &str = "INSERT INTO channel_blobs (value) VALUES (?1)";

/// Values longer than this (bytes of JSON) are stored in `channel_blobs`:
/// a `WITHOUT ROWID` row keeps only ~1000 bytes in its page (4 KiB pages)
/// and gives the rest an overflow page of its own. Migration 3 moved
/// values with the same limit; reads follow `blob` whatever the length.
const INLINE_MAX: usize = 640;

/// What a delta's base must still be: element count and hash.
pub(crate) const BASE_STATE: &str = "SELECT len, hash FROM channel_values \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 \
     AND seq = CAST(?4 AS INTEGER) AND version = ?4";

/// The deltas built on one version.
const DEPENDENTS: &str = "SELECT version FROM channel_values \
     WHERE thread_id = ?1 AND checkpoint_ns = ?2 AND channel = ?3 AND base = ?4";

/// The JSON of the value row `v` (the `channel_values` row aliased `v`):
/// its `value`, or that of the `channel_blobs` row it names.
macro_rules! value_of_row {
    () => {
        "CASE WHEN v.blob IS NULL THEN v.value \
         ELSE (SELECT b.value FROM channel_blobs AS b WHERE b.id = v.blob) END"
    };
}

/// The rows of one channel of one thread and namespace (`?1`, `?2`, `?3`)
/// at counters `?4` and below, newest first: the primary key keeps a
/// thread's rows in `(seq, channel, version)` order, so a delta chain
/// (whose bases have lower counters) is one reverse range scan, read until
/// the snapshot (passing the other channels' rows of the same counters,
/// which SQLite skips). `CAST(base AS INTEGER)` is the counter of the base.
pub(crate) const SCAN_CHANNEL: &str = concat!(
    "SELECT v.seq, v.version, ",
    value_of_row!(),
    ", v.base, CAST(v.base AS INTEGER), v.len, v.hash, v.blob FROM channel_values AS v \
     WHERE v.thread_id = ?1 AND v.checkpoint_ns = ?2 AND v.seq <= ?4 AND v.channel = ?3 \
     ORDER BY v.seq DESC"
);

/// Drops the values of thread `?1` that no remaining checkpoint needs:
/// neither names them nor builds on them through a delta chain.
const COLLECT_GARBAGE: &str = "WITH RECURSIVE \
     needed(n, c, v) AS ( \
       SELECT c.checkpoint_ns, e.key, CAST(e.value AS TEXT) \
       FROM checkpoints AS c, json_each(c.checkpoint, '$.channel_versions') AS e \
       WHERE c.thread_id = ?1 \
       UNION \
       SELECT w.checkpoint_ns, w.channel, w.base FROM needed CROSS JOIN channel_values AS w \
       ON w.thread_id = ?1 AND w.checkpoint_ns = needed.n AND w.channel = needed.c \
       AND w.seq = CAST(needed.v AS INTEGER) AND w.version = needed.v \
       WHERE w.base IS NOT NULL) \
     DELETE FROM channel_values WHERE thread_id = ?1 \
     AND (checkpoint_ns, channel, version) NOT IN (SELECT n, c, v FROM needed) \
     RETURNING blob";

/// Deletes the long values `?1` (a JSON array of ids) names.
const DELETE_BLOBS: &str =
    "DELETE FROM channel_blobs WHERE id IN (SELECT value FROM json_each(?1))";

/// The rows of one thread and namespace, any order.
const SCAN_PLACE: &str = concat!(
    "SELECT v.channel, v.version, ",
    value_of_row!(),
    ", v.base, v.len, v.hash, v.blob FROM channel_values AS v \
     WHERE v.thread_id = ?1 AND v.checkpoint_ns = ?2",
);

/// The rows of one thread and namespace with counters from `?3` to `?4`,
/// newest first (every channel's: one range scan).
pub(crate) const SCAN_SPAN: &str = concat!(
    "SELECT v.seq, v.channel, v.version, ",
    value_of_row!(),
    ", v.base, v.len, v.hash, v.blob FROM channel_values AS v \
     WHERE v.thread_id = ?1 AND v.checkpoint_ns = ?2 AND v.seq BETWEEN ?3 AND ?4 \
     ORDER BY v.seq DESC"
);

/// The value rows of one SQLite transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqliteValues<'c>(pub(crate) &'c Connection);

/// Where a scan's columns are (`None`: not selected).
struct Layout {
    seq: Option<usize>,
    channel: Option<usize>,
    version: usize,
    /// `value, base` from here on.
    value: usize,
    /// `len, hash, blob` from here on.
    len: usize,
    base_seq: Option<usize>,
}

/// [`SCAN_CHANNEL`]'s columns.
const CHANNEL_LAYOUT: Layout = Layout {
    seq: Some(0),
    channel: None,
    version: 1,
    value: 2,
    len: 5,
    base_seq: Some(4),
};

/// [`SCAN_SPAN`]'s columns.
const SPAN_LAYOUT: Layout = Layout {
    seq: Some(0),
    channel: Some(1),
    version: 2,
    value: 3,
    len: 5,
    base_seq: None,
};

/// [`SCAN_PLACE`]'s columns.
const PLACE_LAYOUT: Layout = Layout {
    seq: None,
    channel: Some(0),
    version: 1,
    value: 2,
    len: 4,
    base_seq: None,
};

/// One row of a scan.
pub(crate) struct ScanRow<'r> {
    row: &'r rusqlite::Row<'r>,
    layout: &'static Layout,
    thread_id: &'r str,
    /// The channel of a channel scan (not selected).
    channel: Option<&'r str>,
}

impl ScanRow<'_> {
    fn context(&self) -> String {
        match self.channel {
            Some(channel) => format!(
                "load the values of channel {channel:?} of thread {:?}",
                self.thread_id
            ),
            None => format!("load the channel values of thread {:?}", self.thread_id),
        }
    }

    fn text(&self, at: usize) -> Result<&str> {
        self.row
            .get_ref(at)
            .and_then(|v| Ok(v.as_str()?))
            .map_err(sql_context(|| self.context()))
    }

    fn column<T: rusqlite::types::FromSql>(&self, at: usize) -> Result<T> {
        self.row.get(at).map_err(sql_context(|| self.context()))
    }
}

impl ScannedRow for ScanRow<'_> {
    fn seq(&self) -> Result<i64> {
        match self.layout.seq {
            Some(at) => self.column(at),
            None => Ok(0),
        }
    }

    fn channel(&self) -> Result<&str> {
        match (self.layout.channel, self.channel) {
            (Some(at), _) => self.text(at),
            (None, Some(channel)) => Ok(channel),
            (None, None) => Ok(""),
        }
    }

    fn version(&self) -> Result<&str> {
        self.text(self.layout.version)
    }

    fn base_seq(&self) -> Result<Option<i64>> {
        match self.layout.base_seq {
            Some(at) => self.column(at),
            None => Ok(None),
        }
    }

    fn raw(&self) -> Result<RawValue> {
        let (at, len) = (self.layout.value, self.layout.len);
        let row = self.row;
        raw_value(
            row.get(at),
            row.get(at + 1),
            row.get(len),
            row.get(len + 1),
            row.get(len + 2),
        )
        .map_err(sql_context(|| self.context()))
    }
}

/// Runs a scan: `each` per row until it says stop.
fn scan<P: rusqlite::Params, F>(
    tx: &Connection,
    sql: &str,
    params: P,
    layout: &'static Layout,
    (thread_id, channel): (&str, Option<&str>),
    mut each: F,
) -> Result<()>
where
    F: FnMut(&ScanRow<'_>) -> Result<bool>,
{
    let context = || match channel {
        Some(channel) => format!("load the values of channel {channel:?} of thread {thread_id:?}"),
        None => format!("load the channel values of thread {thread_id:?}"),
    };
    let mut stmt = tx.prepare_cached(sql).map_err(sql_context(context))?;
    let mut rows = stmt.query(params).map_err(sql_context(context))?;
    while let Some(row) = rows.next().map_err(sql_context(context))? {
        let row = ScanRow {
            row,
            layout,
            thread_id,
            channel,
        };
        if !each(&row)? {
            break;
        }
    }
    Ok(())
}

impl ValueRows for SqliteValues<'_> {
    type Row<'r>
        = ScanRow<'r>
    where
        Self: 'r;

    fn scan_channel<F>(&self, place: Place<'_>, max_seq: i64, each: F) -> Result<()>
    where
        F: FnMut(&ScanRow<'_>) -> Result<bool>,
    {
        let (thread_id, ns, channel) = place;
        scan(
            self.0,
            SCAN_CHANNEL,
            params![thread_id, ns, channel, max_seq],
            &CHANNEL_LAYOUT,
            (thread_id, Some(channel)),
            each,
        )
    }

    fn scan_span<F>(&self, (thread_id, ns): (&str, &str), lo: i64, hi: i64, each: F) -> Result<()>
    where
        F: FnMut(&ScanRow<'_>) -> Result<bool>,
    {
        scan(
            self.0,
            SCAN_SPAN,
            params![thread_id, ns, lo, hi],
            &SPAN_LAYOUT,
            (thread_id, None),
            each,
        )
    }

    fn scan_place<F>(&self, (thread_id, ns): (&str, &str), each: F) -> Result<()>
    where
        F: FnMut(&ScanRow<'_>) -> Result<bool>,
    {
        scan(
            self.0,
            SCAN_PLACE,
            [thread_id, ns],
            &PLACE_LAYOUT,
            (thread_id, None),
            each,
        )
    }

    fn base_state(
        &self,
        (thread_id, ns, channel): Place<'_>,
        version: &str,
        checkpoint_id: &str,
    ) -> Result<Option<(Option<i64>, Option<i64>)>> {
        self.0
            .prepare_cached(BASE_STATE)
            .and_then(|mut s| {
                s.query_row(params![thread_id, ns, channel, version], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(sql_context(|| store_context(checkpoint_id)))
    }

    fn value_exists(
        &self,
        (thread_id, ns, channel): Place<'_>,
        version: &str,
        checkpoint_id: &str,
    ) -> Result<bool> {
        let found = self
            .0
            .prepare_cached(VALUE_EXISTS)
            .and_then(|mut s| {
                s.query_row(params![thread_id, ns, channel, version], |_| Ok(()))
                    .optional()
            })
            .map_err(sql_context(|| store_context(checkpoint_id)))?;
        Ok(found.is_some())
    }

    fn insert_value(&self, place: Place<'_>, version: &str, columns: Columns<'_>) -> Result<bool> {
        let inserted = self.execute_value(INSERT_VALUE, place, version, columns)?;
        Ok(inserted == 1)
    }

    fn replace_value(&self, place: Place<'_>, version: &str, columns: Columns<'_>) -> Result<()> {
        self.execute_value(REPLACE_VALUE, place, version, columns)
            .map(drop)
    }

    fn dependents(
        &self,
        (thread_id, ns, channel): Place<'_>,
        version: &str,
    ) -> Result<Vec<String>> {
        let context = || format!("rewrite the deltas on version {version} of channel {channel:?}");
        self.0
            .prepare_cached(DEPENDENTS)
            .and_then(|mut s| {
                s.query_map(params![thread_id, ns, channel, version], |r| r.get(0))?
                    .collect()
            })
            .map_err(sql_context(context))
    }
}

/// The operation of a failed check while storing a checkpoint's values.
fn store_context(checkpoint_id: &str) -> String {
    format!("store channel values of checkpoint {checkpoint_id}")
}

impl SqliteValues<'_> {
    /// Runs [`INSERT_VALUE`] or [`REPLACE_VALUE`] for one row, its JSON
    /// placed inline or in `channel_blobs`; the rows changed.
    fn execute_value(
        self,
        sql: &str,
        (thread_id, ns, channel): Place<'_>,
        version: &str,
        columns: Columns<'_>,
    ) -> Result<usize> {
        let context =
            || format!("store version {version} of channel {channel:?} in thread {thread_id:?}");
        let (json, blob) = place_json(self.0, columns.value).map_err(sql_context(context))?;
        self.0
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.execute(params![
                    thread_id,
                    ns,
                    channel,
                    version,
                    json,
                    columns.base,
                    columns.depth,
                    columns.len,
                    columns.hash,
                    blob
                ])
            })
            .map_err(sql_context(context))
    }
}

/// Where a value's JSON goes, packed if that pays ([`packed::pack`]): in
/// the row (`Some(value)`, no blob) if it is short, else into a new
/// `channel_blobs` row (its id).
fn place_json<'j>(
    tx: &Connection,
    json: Option<&'j str>,
) -> rusqlite::Result<(Option<ToSqlOutput<'j>>, Option<i64>)> {
    let Some(json) = json else {
        return Ok((None, None));
    };
    let stored = match packed::pack(json) {
        Some(bytes) => ToSqlOutput::Owned(SqlValue::Blob(bytes)),
        None => ToSqlOutput::Borrowed(ValueRef::Text(json.as_bytes())),
    };
    let len = match &stored {
        ToSqlOutput::Owned(SqlValue::Blob(bytes)) => bytes.len(),
        _ => json.len(),
    };
    if len > INLINE_MAX {
        tx.prepare_cached(INSERT_BLOB)?.execute([&stored])?;
        return Ok((None, Some(tx.last_insert_rowid())));
    }
    Ok((Some(stored), None))
}

/// A [`RawValue`] from its columns.
fn raw_value(
    value: rusqlite::Result<SqlValue>,
    base: rusqlite::Result<SqlValue>,
    len: rusqlite::Result<SqlValue>,
    hash: rusqlite::Result<SqlValue>,
    blob: rusqlite::Result<SqlValue>,
) -> rusqlite::Result<RawValue> {
    let value = value?;
    Ok(RawValue {
        lost: value == SqlValue::Null && blob? != SqlValue::Null,
        value: match value {
            SqlValue::Null => StoredJson::Absent,
            SqlValue::Text(s) => StoredJson::Text(s),
            SqlValue::Blob(b) if packed::is_packed(&b) => match packed::unpack(&b) {
                Ok(s) => StoredJson::Text(s),
                Err(why) => StoredJson::Bad(why),
            },
            SqlValue::Blob(b) => match String::from_utf8(b) {
                Ok(s) => StoredJson::Text(s),
                Err(e) => StoredJson::Bad(format!("invalid UTF-8: {}", e.utf8_error())),
            },
            other => StoredJson::Bad(format!("is {other:?}, not JSON text")),
        },
        base: match base? {
            SqlValue::Text(s) => Some(s),
            _ => None,
        },
        len: match len? {
            SqlValue::Integer(i) => Some(i),
            _ => None,
        },
        hash: match hash? {
            SqlValue::Integer(i) => Some(i),
            _ => None,
        },
    })
}

/// [`delta::store`] in transaction `tx`.
pub(crate) fn store(
    tx: &Connection,
    thread_id: &str,
    ns: &str,
    checkpoint_id: &str,
    rows: &[Row],
) -> Result<Stored> {
    delta::store(&SqliteValues(tx), thread_id, ns, checkpoint_id, rows)
}

/// Deletes the values of `thread_id` that no checkpoint needs any more.
pub(crate) fn collect_garbage(tx: &Connection, thread_id: &str) -> Result<()> {
    let context = || format!("drop unused channel values of thread {thread_id:?}");
    let blobs: Vec<i64> = tx
        .prepare_cached(COLLECT_GARBAGE)
        .and_then(|mut stmt| {
            stmt.query_map([thread_id], |r| r.get::<_, Option<i64>>(0))?
                .filter_map(Result::transpose)
                .collect()
        })
        .map_err(sql_context(context))?;
    if !blobs.is_empty() {
        let ids = encode_json(thread_id, || "long value ids".to_owned(), &blobs)?;
        tx.prepare_cached(DELETE_BLOBS)
            .and_then(|mut stmt| stmt.execute([ids]))
            .map_err(sql_context(context))?;
    }
    Ok(())
}

/// Deletes every value of `thread_id`, long values first.
pub(crate) fn delete_thread(tx: &Connection, thread_id: &str) -> Result<()> {
    for statement in [
        "DELETE FROM channel_blobs WHERE id IN \
         (SELECT blob FROM channel_values WHERE thread_id = ?1 AND blob IS NOT NULL)",
        "DELETE FROM channel_values WHERE thread_id = ?1",
    ] {
        tx.prepare_cached(statement)
            .and_then(|mut stmt| stmt.execute([thread_id]))
            .map_err(sql_context(|| {
                format!("delete channel values of thread {thread_id:?}")
            }))?;
    }
    Ok(())
}

/// Copies every value of `source` (whole delta chains) to `target`. Long
/// values are copied too, their ids moved by one offset past every id in
/// use (each value row owns its `channel_blobs` row).
pub(crate) fn copy_thread(tx: &Connection, source: &str, target: &str) -> Result<()> {
    let context = || format!("copy channel values of thread {source:?} to {target:?}");
    let offset: i64 = tx
        .prepare_cached(
            "SELECT coalesce((SELECT max(id) FROM channel_blobs) \
             - (SELECT min(blob) FROM channel_values WHERE thread_id = ?1) + 1, 0)",
        )
        .and_then(|mut stmt| stmt.query_row([source], |r| r.get(0)))
        .map_err(sql_context(context))?;
    tx.prepare_cached(
        "INSERT INTO channel_blobs (id, value) SELECT b.id + ?2, b.value \
         FROM channel_values AS v CROSS JOIN channel_blobs AS b ON b.id = v.blob \
         WHERE v.thread_id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![source, offset]))
    .map_err(sql_context(context))?;
    tx.prepare_cached(
        "INSERT INTO channel_values (thread_id, checkpoint_ns, channel, seq, version, value, \
         blob, base, depth, len, hash) \
         SELECT ?2, checkpoint_ns, channel, seq, version, value, blob + ?3, base, depth, len, \
         hash FROM channel_values WHERE thread_id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![source, target, offset]))
    .map_err(sql_context(context))?;
    Ok(())
}
