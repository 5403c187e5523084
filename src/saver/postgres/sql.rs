//! The statements of the PostgreSQL saver and the mapping of their rows.
//! Every write is one statement (data-modifying CTEs, the lease check
//! included), run outside an explicit transaction, so a `put`,
//! `put_writes` or `delete_thread` costs one round trip and is atomic;
//! every read is one statement too (the checkpoint rows with their blobs
//! and pending writes).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use postgres::Row;
use postgres::types::{FromSql, ToSql, Type};
use serde_json::Value;

use super::statements::RunStatement;
use crate::saver::lease::check_row;

use crate::saver::checkpoint::{Checkpoint, CheckpointMetadata};
use crate::saver::checks::checkpoint_config;
use crate::saver::error::{Error, Result};
use crate::saver::langgraph_values::{self as values, is_inline};
use crate::saver::tuple::{CheckpointTuple, PendingWrite};
use crate::saver::writes::{WriteBatch, sort_pending_writes, special_idx, write_idx};

/// The writes of a batch list: regular writes first-come per
/// `(task_id, idx)`, special ones last-wins (as separate `put_writes`
/// calls would leave them), in `checkpoint_writes` column arrays.
#[derive(Debug, Default)]
pub(crate) struct WriteRows {
    pub(crate) task_ids: Vec<String>,
    pub(crate) task_paths: Vec<String>,
    pub(crate) idxs: Vec<i32>,
    pub(crate) channels: Vec<String>,
    pub(crate) types: Vec<&'static str>,
    pub(crate) blobs: Vec<Vec<u8>>,
}

impl WriteRows {
    pub(crate) fn new(batches: &[WriteBatch<'_>]) -> Self {
        let mut seen: BTreeMap<(&str, i64), usize> = BTreeMap::new();
        let mut rows = WriteRows::default();
        for batch in batches {
            for (position, (channel, value)) in batch.writes.iter().enumerate() {
                let idx = write_idx(channel, position);
                let (kind, blob) = values::dump_channel(channel, value);
                let slot = match seen.get(&(batch.task_id, idx)) {
                    Some(_) if special_idx(channel).is_none() => continue,
                    Some(&slot) => slot,
                    None => {
                        seen.insert((batch.task_id, idx), rows.idxs.len());
                        rows.task_ids.push(batch.task_id.to_owned());
                        rows.task_paths.push(String::new());
                        rows.idxs.push(i32::try_from(idx).unwrap_or(i32::MAX));
                        rows.channels.push(String::new());
                        rows.types.push("");
                        rows.blobs.push(Vec::new());
                        rows.idxs.len() - 1
                    }
                };
                batch.task_path.clone_into(&mut rows.task_paths[slot]);
                channel.clone_into(&mut rows.channels[slot]);
                rows.types[slot] = kind;
                rows.blobs[slot] = blob;
            }
        }
        rows
    }

    /// The writes of an imported tuple, with their own `idx` and
    /// `task_path` (a repeated `(task_id, idx)` replaces the earlier).
    pub(crate) fn from_pending(writes: &[PendingWrite]) -> Self {
        let mut last: BTreeMap<(&str, i64), &PendingWrite> = BTreeMap::new();
        for w in writes {
            last.insert((w.task_id.as_str(), w.idx), w);
        }
        let mut rows = WriteRows::default();
        for w in last.values() {
            let (kind, blob) = values::dump_channel(&w.channel, &w.value);
            rows.task_ids.push(w.task_id.clone());
            rows.task_paths.push(w.task_path.clone());
            rows.idxs.push(i32::try_from(w.idx).unwrap_or(i32::MIN));
            rows.channels.push(w.channel.clone());
            rows.types.push(kind);
            rows.blobs.push(blob);
        }
        rows
    }
}

/// What one `put` statement stores.
pub(crate) struct PutParams<'a> {
    pub(crate) thread_id: &'a str,
    pub(crate) ns: &'a str,
    /// The parent (the config's checkpoint), which the writes belong to.
    pub(crate) parent: Option<&'a str>,
    pub(crate) writes: &'a WriteRows,
    /// Whether the parent must exist (there are writes for it).
    pub(crate) parent_must_exist: bool,
    pub(crate) checkpoint_id: &'a str,
    pub(crate) rows: &'a CheckpointRows,
    /// The lease check of the write.
    pub(crate) fence: Fence,
}

/// Whether a write checks the thread's lease, and with which token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Fence {
    /// No check (an import into an empty thread).
    Unchecked,
    /// The check `check_row` makes, with the fencing token the call
    /// carries (or none).
    Token(Option<u64>),
}

impl Fence {
    fn token(self) -> Option<u64> {
        match self {
            Fence::Unchecked => None,
            Fence::Token(token) => token,
        }
    }
}

/// What a write statement reports: whether its target existed and how
/// many blobs it expected stored were not (then nothing was written).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome {
    pub(crate) found: bool,
    pub(crate) missing: i64,
}

/// The `(check, token)` parameters of [`fence_ctes`].
fn fence_params(fence: Fence) -> (bool, Option<i64>) {
    let token = fence.token().map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    (matches!(fence, Fence::Token(_)), token)
}

/// Runs [`PUT`]: stores nothing when the lease refuses (an error), when
/// the parent had to exist and does not (`found` false) or when a blob
/// it expected stored is not (`missing` > 0: send them all again).
pub(crate) fn exec_put(
    client: &mut impl RunStatement,
    p: &PutParams<'_>,
    what: &str,
) -> Result<Outcome> {
    let (writes, rows) = (p.writes, p.rows);
    let (check, token) = fence_params(p.fence);
    let params: [&(dyn ToSql + Sync); 21] = [
        &p.thread_id,
        &p.ns,
        &p.parent,
        &writes.task_ids,
        &writes.task_paths,
        &writes.idxs,
        &writes.channels,
        &writes.types,
        &writes.blobs,
        &p.parent_must_exist,
        &p.checkpoint_id,
        &rows.checkpoint,
        &rows.metadata,
        &rows.channels,
        &rows.versions,
        &rows.types,
        &rows.blobs,
        &check,
        &token,
        &rows.known_channels,
        &rows.known_versions,
    ];
    let found = client
        .run(&PUT, &PUT_TYPES, &params)
        .map_err(|e| Error::backend(super::BACKEND, what.to_owned(), e))?;
    outcome(&found, p.thread_id, p.fence, what)
}

/// Runs [`PUT_WRITES`] against checkpoint `id`: `found` false when it
/// does not exist (then nothing was stored).
pub(crate) fn exec_put_writes(
    client: &mut impl RunStatement,
    (thread_id, ns, id): (&str, &str, &str),
    writes: &WriteRows,
    fence: Fence,
    what: &str,
) -> Result<Outcome> {
    let (check, token) = fence_params(fence);
    let params: [&(dyn ToSql + Sync); 11] = [
        &thread_id,
        &ns,
        &id,
        &writes.task_ids,
        &writes.task_paths,
        &writes.idxs,
        &writes.channels,
        &writes.types,
        &writes.blobs,
        &check,
        &token,
    ];
    let found = client
        .run(&PUT_WRITES, &PUT_WRITES_TYPES, &params)
        .map_err(|e| Error::backend(super::BACKEND, what.to_owned(), e))?;
    outcome(&found, thread_id, fence, what)
}

/// Runs [`DELETE_THREAD`]: every row of `thread_id`, unless its lease
/// refuses (an error).
pub(crate) fn exec_delete_thread(
    client: &mut impl RunStatement,
    thread_id: &str,
    token: Option<u64>,
    what: &str,
) -> Result<()> {
    let (check, token_param) = fence_params(Fence::Token(token));
    let params: [&(dyn ToSql + Sync); 3] = [&thread_id, &check, &token_param];
    let rows = client
        .run(
            &DELETE_THREAD,
            &[Type::TEXT, Type::BOOL, Type::INT8],
            &params,
        )
        .map_err(|e| Error::backend(super::BACKEND, what.to_owned(), e))?;
    outcome(&rows, thread_id, Fence::Token(token), what).map(drop)
}

/// Reads the outcome row `(found, fenced, missing, lease owner, token,
/// live)`: a refused lease becomes the error `check_row` names.
fn outcome(rows: &[Row], thread_id: &str, fence: Fence, what: &str) -> Result<Outcome> {
    let fail = |e: String| Error::backend(super::BACKEND, what.to_owned(), e);
    let row = rows
        .first()
        .ok_or_else(|| fail("the statement returned no outcome row".to_owned()))?;
    let get = |e: postgres::Error| fail(format!("outcome row: {e}"));
    let fenced: bool = row.try_get(1).map_err(get)?;
    if !fenced {
        let owner: Option<String> = row.try_get(3).map_err(get)?;
        let token: Option<i64> = row.try_get(4).map_err(get)?;
        let live: Option<bool> = row.try_get(5).map_err(get)?;
        if let (Some(owner), Some(token), Some(live)) = (owner, token, live) {
            let token = u64::try_from(token).map_err(|_| Error::Corrupt {
                thread_id: thread_id.to_owned(),
                checkpoint_id: String::new(),
                what: format!("lease token {token} is negative"),
            })?;
            check_row(thread_id, Some((&owner, token, live)), fence.token())?;
        }
        return Err(fail(format!(
            "the lease check of thread {thread_id:?} refused the write without a lease row"
        )));
    }
    Ok(Outcome {
        found: row.try_get(0).map_err(get)?,
        missing: row.try_get(2).map_err(get)?,
    })
}

/// The blob rows and the JSONB of a checkpoint, as Python stores it:
/// inline primitives in `channel_values`, the rest one blob per
/// `(channel, version)`.
#[derive(Debug)]
pub(crate) struct CheckpointRows {
    pub(crate) checkpoint: Value,
    pub(crate) metadata: Value,
    pub(crate) channels: Vec<String>,
    pub(crate) versions: Vec<String>,
    pub(crate) types: Vec<&'static str>,
    pub(crate) blobs: Vec<Vec<u8>>,
    /// The blob channels (and their versions) not sent because they are
    /// expected stored already: the statement checks that they are.
    pub(crate) known_channels: Vec<String>,
    pub(crate) known_versions: Vec<String>,
}

impl CheckpointRows {
    /// The rows of `checkpoint`: with `new_versions`, only the blobs of
    /// the channels it names are sent (as Python's `put` does) and the
    /// others are listed as known; with `None`, every blob is sent.
    pub(crate) fn new(
        thread_id: &str,
        checkpoint: &Checkpoint,
        metadata: &CheckpointMetadata,
        new_versions: Option<&crate::ChannelVersions>,
    ) -> Result<Self> {
        let serialize = |what: &str, e| Error::Serialize {
            thread_id: thread_id.to_owned(),
            what: format!("{what} of checkpoint {}", checkpoint.id),
            source: e,
        };
        let mut rows = CheckpointRows {
            checkpoint: Value::Null,
            metadata: serde_json::to_value(metadata).map_err(|e| serialize("the metadata", e))?,
            channels: Vec::new(),
            versions: Vec::new(),
            types: Vec::new(),
            blobs: Vec::new(),
            known_channels: Vec::new(),
            known_versions: Vec::new(),
        };
        let mut inline = serde_json::Map::new();
        for (channel, value) in &checkpoint.channel_values {
            if is_inline(value) {
                inline.insert(channel.clone(), value.clone());
                continue;
            }
            // check_put has made sure every value has a version.
            let Some(version) = checkpoint.channel_versions.get(channel) else {
                continue;
            };
            if new_versions.is_some_and(|new| !new.contains_key(channel)) {
                rows.known_channels.push(channel.clone());
                rows.known_versions.push(version.to_string());
                continue;
            }
            rows.channels.push(channel.clone());
            rows.versions.push(version.to_string());
            rows.types.push(values::MSGPACK);
            rows.blobs.push(values::channel_msgpack(channel, value));
        }
        let mut json = serde_json::to_value(StoredCheckpoint {
            v: checkpoint.v,
            id: &checkpoint.id,
            ts: &checkpoint.ts,
            channel_versions: &checkpoint.channel_versions,
            versions_seen: &checkpoint.versions_seen,
            updated_channels: checkpoint.updated_channels.as_ref(),
        })
        .map_err(|e| serialize("the checkpoint", e))?;
        if let Some(map) = json.as_object_mut() {
            map.insert("channel_values".into(), Value::Object(inline));
        }
        rows.checkpoint = json;
        Ok(rows)
    }
}

/// The checkpoint JSONB without its values.
#[derive(serde::Serialize)]
struct StoredCheckpoint<'a> {
    v: u32,
    id: &'a str,
    ts: &'a str,
    channel_versions: &'a crate::ChannelVersions,
    versions_seen: &'a BTreeMap<String, crate::ChannelVersions>,
    updated_channels: Option<&'a Vec<String>>,
}

/// The `lease` and `fence` CTEs of a write to thread `$1`: `fence.ok`
/// unless `check` (a bool parameter) and the thread's lease row refuses
/// the fencing token `token` (an int8 parameter, NULL for none), as
/// `check_row` judges: a live lease needs its own token, an expired one
/// refuses only an older token. The row is locked `FOR SHARE`, so the
/// lease cannot change hands before the statement commits.
fn fence_ctes(check: &str, token: &str) -> String {
    format!(
        "lease AS MATERIALIZED (
    SELECT owner, token, expires > now() AS live FROM checkpointer_leases
    WHERE {check}::bool AND thread_id = $1 FOR SHARE),
fence AS (SELECT NOT EXISTS (SELECT 1 FROM lease WHERE CASE WHEN live
    THEN {token}::int8 IS DISTINCT FROM token ELSE {token}::int8 < token END) AS ok)"
    )
}

/// The outcome row of a write statement: `(found, fenced, missing, lease
/// owner, lease token, lease live)`.
const OUTCOME: &str = "SELECT t.found, t.fenced, t.missing, l.owner, l.token, l.live FROM target t LEFT JOIN lease l ON true";

/// The `writes` CTE stores `$4..$9` against `$1, $2, $3` when
/// `target.ok`. Special writes (negative idx) replace, others are kept
/// first-come (an update only where the WHERE holds; [`WriteRows`] has no
/// key twice, as one statement requires).
const WRITES_CTES: &str = "
writes AS (
    INSERT INTO checkpoint_writes
        (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
    SELECT $1, $2, $3, w.task_id, w.task_path, w.idx, w.channel, w.type, w.blob
    FROM unnest($4::text[], $5::text[], $6::int4[], $7::text[], $8::text[], $9::bytea[])
        AS w(task_id, task_path, idx, channel, type, blob), target
    WHERE target.ok
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET
        task_path = EXCLUDED.task_path, channel = EXCLUDED.channel,
        type = EXCLUDED.type, blob = EXCLUDED.blob
    WHERE EXCLUDED.idx < 0
)";

/// The parameter types `$1..$9` of [`WRITES_CTES`].
const WRITES_TYPES: [Type; 9] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT4_ARRAY,
    Type::TEXT_ARRAY,
    Type::TEXT_ARRAY,
    Type::BYTEA_ARRAY,
];

const TARGET_EXISTS: &str = "EXISTS (SELECT 1 FROM checkpoints
    WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3)";

/// `put_writes`: one statement, `$10, $11` the lease check; stores
/// nothing unless the checkpoint exists and the lease allows.
pub(crate) static PUT_WRITES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {fence},
target AS (SELECT found, fenced, 0::int8 AS missing, found AND fenced AS ok
    FROM (SELECT {TARGET_EXISTS} AS found, fence.ok AS fenced FROM fence) t),{WRITES_CTES}
{OUTCOME}",
        fence = fence_ctes("$10", "$11")
    )
});

static PUT_WRITES_TYPES: LazyLock<Vec<Type>> = LazyLock::new(|| {
    let mut types = WRITES_TYPES.to_vec();
    types.extend([Type::BOOL, Type::INT8]);
    types
});

/// `put` and `put_with_writes`: `$3` is the parent (or NULL), `$10`
/// whether the parent must exist, `$11..$13` the checkpoint row,
/// `$14..$17` the blobs sent, `$18, $19` the lease check, `$20, $21` the
/// blobs expected stored (their absence stores nothing: `missing`).
pub(crate) static PUT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {fence},
missing AS (SELECT count(*) AS n FROM unnest($20::text[], $21::text[]) AS k(channel, version)
    WHERE NOT EXISTS (SELECT 1 FROM checkpoint_blobs b WHERE b.thread_id = $1
        AND b.checkpoint_ns = $2 AND b.channel = k.channel AND b.version = k.version)),
target AS (SELECT found, fenced, missing, found AND fenced AND missing = 0 AS ok
    FROM (SELECT (NOT $10::bool OR {TARGET_EXISTS}) AS found, fence.ok AS fenced,
        missing.n AS missing FROM fence, missing) t),{WRITES_CTES},
blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT $1, $2, b.channel, b.version, b.type, b.blob
    FROM unnest($14::text[], $15::text[], $16::text[], $17::bytea[])
        AS b(channel, version, type, blob), target
    WHERE target.ok
    ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
),
saved AS (
    INSERT INTO checkpoints
        (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
    SELECT $1, $2, $11, $3, $12, $13 FROM target WHERE target.ok
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
    DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
)
{OUTCOME}",
        fence = fence_ctes("$18", "$19")
    )
});

/// The parameter types of [`PUT`].
static PUT_TYPES: LazyLock<Vec<Type>> = LazyLock::new(|| {
    let mut types = WRITES_TYPES.to_vec();
    types.extend([
        Type::BOOL,
        Type::TEXT,
        Type::JSONB,
        Type::JSONB,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
        Type::BYTEA_ARRAY,
        Type::BOOL,
        Type::INT8,
        Type::TEXT_ARRAY,
        Type::TEXT_ARRAY,
    ]);
    types
});

/// `delete_thread`: every row of thread `$1` in one statement, unless the
/// lease (`$2, $3`) refuses.
pub(crate) static DELETE_THREAD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH {fence},
target AS (SELECT true AS found, ok AS fenced, 0::int8 AS missing FROM fence),
checkpoints_gone AS (DELETE FROM checkpoints WHERE thread_id = $1 AND (SELECT ok FROM fence)),
blobs_gone AS (DELETE FROM checkpoint_blobs WHERE thread_id = $1 AND (SELECT ok FROM fence)),
writes_gone AS (DELETE FROM checkpoint_writes WHERE thread_id = $1 AND (SELECT ok FROM fence))
{OUTCOME}",
        fence = fence_ctes("$2", "$3")
    )
});

/// A read: the page of checkpoint rows `page` selects (as `c`), its blobs
/// (the versions its JSONB names, as Python joins them) and its writes,
/// in `order`. The page is cut before the joins, so a limit joins only
/// the rows it returns. Each blob is one primary-key lookup per
/// `(channel, version)` (the `LIMIT 1` keeps the planner from flattening
/// it into a hash join over every blob of the thread, or of the table).
fn read_sql(page: &str, order: &str) -> String {
    format!(
        "
SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id,
    c.checkpoint, c.metadata,
    b.channels, b.types, b.blobs,
    w.task_ids, w.task_paths, w.idxs, w.channels, w.types, w.blobs
FROM ({page}) c
LEFT JOIN LATERAL (
    SELECT array_agg(bl.channel) AS channels, array_agg(bl.type) AS types,
        array_agg(bl.blob) AS blobs
    FROM jsonb_each_text(c.checkpoint -> 'channel_versions') AS v
    CROSS JOIN LATERAL (
        SELECT x.channel, x.type, x.blob FROM checkpoint_blobs x
        WHERE x.thread_id = c.thread_id AND x.checkpoint_ns = c.checkpoint_ns
            AND x.channel = v.key AND x.version = v.value
        LIMIT 1
    ) bl
) b ON true
LEFT JOIN LATERAL (
    SELECT array_agg(cw.task_id) AS task_ids, array_agg(cw.task_path) AS task_paths,
        array_agg(cw.idx) AS idxs, array_agg(cw.channel) AS channels,
        array_agg(cw.type) AS types, array_agg(cw.blob) AS blobs
    FROM checkpoint_writes cw
    WHERE cw.thread_id = c.thread_id AND cw.checkpoint_ns = c.checkpoint_ns
        AND cw.checkpoint_id = c.checkpoint_id
) w ON true{order}"
    )
}

const CHECKPOINT_COLUMNS: &str = "SELECT thread_id, checkpoint_ns, checkpoint_id, \
    parent_checkpoint_id, checkpoint, metadata FROM checkpoints";

/// `get_tuple` without an id: the newest checkpoint of `$1, $2`.
pub(crate) static GET_LATEST: LazyLock<String> = LazyLock::new(|| {
    read_sql(
        &format!(
            "{CHECKPOINT_COLUMNS} WHERE thread_id = $1 AND checkpoint_ns = $2 \
             ORDER BY checkpoint_id DESC LIMIT 1"
        ),
        "",
    )
});

/// `get_tuple` with an id: checkpoint `$3` of `$1, $2`.
pub(crate) static GET_BY_ID: LazyLock<String> = LazyLock::new(|| {
    read_sql(
        &format!(
            "{CHECKPOINT_COLUMNS} WHERE thread_id = $1 AND checkpoint_ns = $2 \
             AND checkpoint_id = $3"
        ),
        "",
    )
});

/// A `list` page: `$1` the thread (`thread` says how it is matched), `$2`
/// the namespace, `$3` the checkpoint, `$4` before, `$5` the metadata
/// containment, `$6` the limit (each NULL for none).
fn list_sql(thread: &str) -> String {
    const ORDER: &str = "checkpoint_id DESC, thread_id DESC, checkpoint_ns DESC";
    read_sql(
        &format!(
            "{CHECKPOINT_COLUMNS} WHERE {thread}
            AND ($2::text IS NULL OR checkpoint_ns = $2)
            AND ($3::text IS NULL OR checkpoint_id = $3)
            AND ($4::text IS NULL OR checkpoint_id < $4)
            AND metadata @> $5
            ORDER BY {ORDER} LIMIT $6"
        ),
        "\nORDER BY c.checkpoint_id DESC, c.thread_id DESC, c.checkpoint_ns DESC",
    )
}

/// `list` of one thread (`$1`): its own statement, so its generic plan
/// scans the thread's index range.
pub(crate) static LIST_THREAD: LazyLock<String> =
    LazyLock::new(|| list_sql("thread_id = $1::text"));

/// `list` of every thread (`$1` is NULL).
pub(crate) static LIST_ALL: LazyLock<String> = LazyLock::new(|| list_sql("$1::text IS NULL"));

/// The parameter types of [`LIST_THREAD`] and [`LIST_ALL`].
pub(crate) const LIST_TYPES: [Type; 6] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::JSONB,
    Type::INT8,
];

/// A JSON or JSONB column as its text, borrowed from the row (JSONB's
/// binary form is a version byte, 1, and the text), so it is parsed once,
/// straight into its type.
struct RawJson<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawJson<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, text)) => Ok(RawJson(text)),
                _ => Err("unsupported JSONB encoding version".into()),
            }
        } else {
            Ok(RawJson(raw))
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB || *ty == Type::JSON
    }
}

/// The tuple of a row of a read ([`GET_LATEST`], [`LIST_THREAD`], ...).
pub(crate) fn tuple_from_row(row: &Row) -> Result<CheckpointTuple> {
    let thread_id: String = column(row, 0, "", "")?;
    let ns: String = column(row, 1, &thread_id, "")?;
    let id: String = column(row, 2, &thread_id, "")?;
    let corrupt = |what: String| Error::Corrupt {
        thread_id: thread_id.clone(),
        checkpoint_id: id.clone(),
        what,
    };
    let parent: Option<String> = column(row, 3, &thread_id, &id)?;
    let json: RawJson<'_> = column(row, 4, &thread_id, &id)?;
    let metadata: RawJson<'_> = column(row, 5, &thread_id, &id)?;
    let mut checkpoint: Checkpoint =
        serde_json::from_slice(json.0).map_err(|e| corrupt(format!("checkpoint JSON: {e}")))?;
    let metadata: CheckpointMetadata =
        serde_json::from_slice(metadata.0).map_err(|e| corrupt(format!("metadata JSON: {e}")))?;
    checkpoint.id.clone_from(&id);
    add_blob_values(row, &mut checkpoint, &thread_id).map_err(corrupt)?;
    let pending_writes = writes_from_row(row, &thread_id, &id)?;
    Ok(CheckpointTuple {
        config: checkpoint_config(&thread_id, &ns, &id),
        parent_config: parent.map(|p| checkpoint_config(&thread_id, &ns, &p)),
        checkpoint,
        metadata,
        pending_writes,
    })
}

/// Joins the blob values into `channel_values`; a channel without a
/// version (or whose blob is `empty`) has no value.
fn add_blob_values(row: &Row, checkpoint: &mut Checkpoint, thread_id: &str) -> Result<(), String> {
    let get = |i| -> Result<_, String> {
        column::<Option<Vec<String>>>(row, i, thread_id, &checkpoint.id).map_err(|e| e.to_string())
    };
    let (channels, types) = (get(6)?.unwrap_or_default(), get(7)?.unwrap_or_default());
    let blobs: Vec<Option<&[u8]>> = row
        .try_get::<_, Option<Vec<Option<&[u8]>>>>(8)
        .map_err(|e| format!("blob column: {e}"))?
        .unwrap_or_default();
    let versions = &checkpoint.channel_versions;
    checkpoint
        .channel_values
        .retain(|ch, _| versions.contains_key(ch));
    for ((channel, kind), blob) in channels.into_iter().zip(types).zip(blobs) {
        let value = values::load_channel(&channel, &kind, blob)
            .map_err(|e| format!("blob of channel {channel:?}: {e}"))?;
        match value {
            Some(value) => checkpoint.channel_values.insert(channel, value),
            None => checkpoint.channel_values.remove(&channel),
        };
    }
    Ok(())
}

fn writes_from_row(row: &Row, thread_id: &str, id: &str) -> Result<Vec<PendingWrite>> {
    let text =
        |i| column::<Option<Vec<String>>>(row, i, thread_id, id).map(Option::unwrap_or_default);
    let (task_ids, paths, channels) = (text(9)?, text(10)?, text(12)?);
    let idxs: Vec<i32> = column::<Option<Vec<i32>>>(row, 11, thread_id, id)?.unwrap_or_default();
    let types: Vec<Option<String>> =
        column::<Option<Vec<Option<String>>>>(row, 13, thread_id, id)?.unwrap_or_default();
    let blobs: Vec<&[u8]> =
        column::<Option<Vec<&[u8]>>>(row, 14, thread_id, id)?.unwrap_or_default();
    let mut writes = Vec::with_capacity(task_ids.len());
    for (i, task_id) in task_ids.into_iter().enumerate() {
        let (Some(channel), Some(&idx), Some(kind), Some(blob)) =
            (channels.get(i), idxs.get(i), types.get(i), blobs.get(i))
        else {
            break;
        };
        let kind = kind.as_deref().unwrap_or(values::MSGPACK);
        let value = values::load_channel(channel, kind, Some(*blob))
            .map_err(|what| Error::Corrupt {
                thread_id: thread_id.to_owned(),
                checkpoint_id: id.to_owned(),
                what: format!("write {idx} of task {task_id} on {channel:?}: {what}"),
            })?
            .unwrap_or(Value::Null);
        writes.push(PendingWrite {
            task_path: paths.get(i).cloned().unwrap_or_default(),
            channel: channel.clone(),
            value,
            idx: i64::from(idx),
            task_id,
        });
    }
    sort_pending_writes(&mut writes);
    Ok(writes)
}

/// Column `i` of `row`, a decoding failure as [`Error::Corrupt`].
pub(crate) fn column<'a, T: postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
    thread_id: &str,
    id: &str,
) -> Result<T> {
    row.try_get(i).map_err(|e| Error::Corrupt {
        thread_id: thread_id.to_owned(),
        checkpoint_id: id.to_owned(),
        what: format!("column {:?}: {e}", row.columns()[i].name()),
    })
}

/// `copy_thread`: `$1` the source thread, `$2` the target.
pub(crate) const COPY: [&str; 3] = [
    "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
        type, checkpoint, metadata)
    SELECT $2, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
    FROM checkpoints WHERE thread_id = $1",
    "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT $2, checkpoint_ns, channel, version, type, blob
    FROM checkpoint_blobs WHERE thread_id = $1",
    "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path,
        idx, channel, type, blob)
    SELECT $2, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob
    FROM checkpoint_writes WHERE thread_id = $1",
];

/// `prune` with `Delete`: every row of the threads `$1`, in one
/// statement.
pub(crate) const DELETE_THREADS: &str = "
WITH checkpoints_gone AS (DELETE FROM checkpoints WHERE thread_id = ANY($1)),
    blobs_gone AS (DELETE FROM checkpoint_blobs WHERE thread_id = ANY($1))
DELETE FROM checkpoint_writes WHERE thread_id = ANY($1)";

/// `prune` with `KeepLatest`: `$1` the threads. Keeps the latest
/// checkpoint of each namespace with its writes and the blobs it names,
/// and clears its parent link.
pub(crate) const PRUNE_KEEP_LATEST: [&str; 4] = [
    "WITH latest AS (
        SELECT thread_id, checkpoint_ns, max(checkpoint_id) AS id FROM checkpoints
        WHERE thread_id = ANY($1) GROUP BY thread_id, checkpoint_ns)
    DELETE FROM checkpoint_writes w WHERE w.thread_id = ANY($1) AND NOT EXISTS (
        SELECT 1 FROM latest l WHERE l.thread_id = w.thread_id
            AND l.checkpoint_ns = w.checkpoint_ns AND l.id = w.checkpoint_id)",
    "WITH latest AS (
        SELECT thread_id, checkpoint_ns, max(checkpoint_id) AS id FROM checkpoints
        WHERE thread_id = ANY($1) GROUP BY thread_id, checkpoint_ns)
    DELETE FROM checkpoints c WHERE c.thread_id = ANY($1) AND NOT EXISTS (
        SELECT 1 FROM latest l WHERE l.thread_id = c.thread_id
            AND l.checkpoint_ns = c.checkpoint_ns AND l.id = c.checkpoint_id)",
    "UPDATE checkpoints SET parent_checkpoint_id = NULL
    WHERE thread_id = ANY($1) AND parent_checkpoint_id IS NOT NULL",
    "DELETE FROM checkpoint_blobs b WHERE b.thread_id = ANY($1) AND NOT EXISTS (
        SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id
            AND c.checkpoint_ns = b.checkpoint_ns
            AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
];
