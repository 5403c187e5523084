//! Storing: the rows of one checkpoint's values written through a
//! backend's [`ValueRows`], after checking inside the write transaction
//! that what the encoder assumed still holds.

use serde_json::Value;

use super::cache::DeltaCache;
use super::encode::{Form, Mode, Row, Stored, encode, encode_elements, stored_len};
use super::hash::{HASH_SEED, hash_elements};
use super::load::{Wanted, load};
use super::resolve::Resolver;
use super::{Place, ValueRows};
use crate::saver::error::{Error, Result};
use crate::saver::rows::PreparedPut;

/// The columns of a stored value row besides its place and version:
/// `value` (JSON; `None`: versioned without a value), `base` (the version
/// a delta builds on), `depth` (deltas since the snapshot), `len` and
/// `hash` (element count and [`hash_elements`] of the full value, arrays
/// only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns<'r> {
    /// The value's JSON.
    pub value: Option<&'r str>,
    /// The version a delta builds on.
    pub base: Option<&'r str>,
    /// Deltas since the last snapshot.
    pub depth: i64,
    /// Element count of the full value.
    pub len: Option<i64>,
    /// Hash of the full value's elements: the `u64` of [`hash_elements`]
    /// with its bits kept (`cast_signed`), as SQL integers are signed.
    pub hash: Option<i64>,
}

/// Writes the rows of one checkpoint's values. First checks that every
/// delta's base is as the cache said and that every value left
/// unserialised is stored already; if not, writes nothing and says
/// [`Stored::Retry`].
///
/// # Errors
///
/// The backend's errors.
pub fn store<R: ValueRows>(
    values: &R,
    thread_id: &str,
    ns: &str,
    checkpoint_id: &str,
    rows: &[Row],
) -> Result<Stored> {
    let mut skip = vec![false; rows.len()];
    for (i, row) in rows.iter().enumerate() {
        let place = (thread_id, ns, row.channel.as_str());
        match &row.form {
            Form::Delta {
                base,
                base_len,
                base_hash,
                ..
            } => {
                let state = values.base_state(place, base, checkpoint_id)?;
                if state != Some((Some(*base_len), Some(base_hash.cast_signed()))) {
                    return Ok(Stored::Retry);
                }
            }
            Form::Unannounced { json, .. } => {
                if values.value_exists(place, &row.version, checkpoint_id)? {
                    skip[i] = true;
                } else if json.is_none() {
                    return Ok(Stored::Retry);
                }
            }
            Form::Full { .. } => {}
        }
    }
    for (row, skip) in rows.iter().zip(skip) {
        if skip {
            continue;
        }
        let columns = match &row.form {
            Form::Full { json, len } | Form::Unannounced { json, len } => Columns {
                value: json.as_deref(),
                base: None,
                depth: 0,
                len: *len,
                hash: len.map(|_| row.hash.cast_signed()),
            },
            Form::Delta {
                base,
                json,
                len,
                depth,
                ..
            } => Columns {
                value: Some(json.as_str()),
                base: Some(base.as_str()),
                depth: i64::from(*depth),
                len: Some(*len),
                hash: Some(row.hash.cast_signed()),
            },
        };
        write_row(values, (thread_id, ns, &row.channel), &row.version, columns)?;
    }
    Ok(Stored::Done)
}

/// Inserts one row, or replaces the stored one at the same version after
/// turning the deltas built on it into full values (so that no other
/// version changes with it).
fn write_row<R: ValueRows>(
    values: &R,
    place: Place<'_>,
    version: &str,
    columns: Columns<'_>,
) -> Result<()> {
    if values.insert_value(place, version, columns)? {
        return Ok(());
    }
    materialise_dependents(values, place, version)?;
    values.replace_value(place, version, columns)
}

/// Rewrites in full every delta whose base is `version`, so that `version`
/// can change without changing them.
fn materialise_dependents<R: ValueRows>(values: &R, place: Place<'_>, version: &str) -> Result<()> {
    let (thread_id, ns, channel) = place;
    for dependent in values.dependents(place, version)? {
        let key = (
            thread_id.to_owned(),
            ns.to_owned(),
            channel.to_owned(),
            dependent.clone(),
        );
        let wanted = Wanted::from([((thread_id, ns, channel), vec![dependent.clone()])]);
        let loaded = load(values, None, &wanted)?;
        let mut resolver = Resolver::new(loaded, None);
        let Some(value) = resolver.value_of(&key, thread_id, "")? else {
            continue;
        };
        let Value::Array(items) = &value else {
            continue;
        };
        let (texts, json) = encode_elements(thread_id, channel, items)?;
        let hash = hash_elements(HASH_SEED, texts.iter().map(String::as_str));
        let full = Columns {
            value: Some(&json),
            base: None,
            depth: 0,
            len: Some(stored_len(items.len())),
            hash: Some(hash.cast_signed()),
        };
        values.replace_value(place, &dependent, full)?;
    }
    Ok(())
}

/// The values of a `put`, stored by `write` (which runs the backend's
/// transaction with the checkpoint's value rows and returns what
/// [`store`] said): lean first (deltas where `cache` allows), and if the
/// database says they must be complete, once more in full. Once stored,
/// `cache` learns the arrays written. `what` names the call in errors.
///
/// # Errors
///
/// Those of [`encode`] and `write`; [`Error::GroupCommit`] if a complete
/// attempt asked to be retried.
pub fn store_put_values<F>(
    cache: &DeltaCache,
    put: &PreparedPut<'_>,
    what: &str,
    mut write: F,
) -> Result<()>
where
    F: FnMut(Vec<Row>) -> Result<Stored>,
{
    let mut mode = Mode::Lean;
    loop {
        let mut encoded = encode(
            cache,
            put.thread_id,
            put.ns,
            put.checkpoint,
            put.new_versions,
            mode,
        )?;
        match write(std::mem::take(&mut encoded.rows))? {
            Stored::Done => {
                cache.remember(put.thread_id, put.ns, encoded);
                return Ok(());
            }
            Stored::Retry if mode == Mode::Lean => mode = Mode::Complete,
            Stored::Retry => {
                return Err(Error::group_commit(
                    what,
                    "a complete put asked to be retried",
                ));
            }
        }
    }
}
