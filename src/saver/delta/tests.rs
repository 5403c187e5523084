//! The delta machinery over a second, in-memory [`ValueRows`]: what a new
//! backend implements is enough for appends to be stored as deltas and
//! read back exactly.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::saver::checkpoint::Checkpoint;

/// `(thread, namespace, counter, channel, version)`.
type Key = (String, String, i64, String, String);

#[derive(Debug, Clone)]
struct MemRow {
    value: Option<String>,
    base: Option<String>,
    len: Option<i64>,
    hash: Option<i64>,
}

/// Value rows in a sorted map, as a backend's table keyed like SQLite's.
#[derive(Default)]
struct MemRows(RefCell<BTreeMap<Key, MemRow>>);

struct MemScan<'r> {
    key: &'r Key,
    row: &'r MemRow,
}

impl ScannedRow for MemScan<'_> {
    fn seq(&self) -> Result<i64> {
        Ok(self.key.2)
    }
    fn channel(&self) -> Result<&str> {
        Ok(&self.key.3)
    }
    fn version(&self) -> Result<&str> {
        Ok(&self.key.4)
    }
    fn base_seq(&self) -> Result<Option<i64>> {
        Ok(self.row.base.as_deref().and_then(seq_of))
    }
    fn raw(&self) -> Result<RawValue> {
        Ok(RawValue {
            value: self
                .row
                .value
                .clone()
                .map_or(StoredJson::Absent, StoredJson::Text),
            lost: false,
            base: self.row.base.clone(),
            len: self.row.len,
            hash: self.row.hash,
        })
    }
}

fn key((t, n, c): Place<'_>, version: &str) -> Key {
    let seq = seq_of(version).unwrap_or(0);
    (t.into(), n.into(), seq, c.into(), version.into())
}

impl MemRows {
    /// Runs `each` over the rows `keep` selects, newest first.
    fn scan<F>(&self, keep: impl Fn(&Key) -> bool, mut each: F) -> Result<()>
    where
        F: FnMut(&MemScan<'_>) -> Result<bool>,
    {
        let rows = self.0.borrow();
        for (key, row) in rows.iter().rev().filter(|(k, _)| keep(k)) {
            if !each(&MemScan { key, row })? {
                break;
            }
        }
        Ok(())
    }
}

impl ValueRows for MemRows {
    type Row<'r> = MemScan<'r>;

    fn scan_channel<F>(&self, (t, n, c): Place<'_>, max_seq: i64, each: F) -> Result<()>
    where
        F: FnMut(&MemScan<'_>) -> Result<bool>,
    {
        self.scan(|k| k.0 == t && k.1 == n && k.3 == c && k.2 <= max_seq, each)
    }

    fn scan_span<F>(&self, (t, n): (&str, &str), lo: i64, hi: i64, each: F) -> Result<()>
    where
        F: FnMut(&MemScan<'_>) -> Result<bool>,
    {
        self.scan(|k| k.0 == t && k.1 == n && (lo..=hi).contains(&k.2), each)
    }

    fn scan_place<F>(&self, (t, n): (&str, &str), each: F) -> Result<()>
    where
        F: FnMut(&MemScan<'_>) -> Result<bool>,
    {
        self.scan(|k| k.0 == t && k.1 == n, each)
    }

    fn base_state(
        &self,
        place: Place<'_>,
        version: &str,
        _: &str,
    ) -> Result<Option<(Option<i64>, Option<i64>)>> {
        let rows = self.0.borrow();
        Ok(rows.get(&key(place, version)).map(|r| (r.len, r.hash)))
    }

    fn value_exists(&self, place: Place<'_>, version: &str, _: &str) -> Result<bool> {
        Ok(self.0.borrow().contains_key(&key(place, version)))
    }

    fn insert_value(&self, place: Place<'_>, version: &str, columns: Columns<'_>) -> Result<bool> {
        let mut rows = self.0.borrow_mut();
        let key = key(place, version);
        if rows.contains_key(&key) {
            return Ok(false);
        }
        rows.insert(key, row_of(columns));
        Ok(true)
    }

    fn replace_value(&self, place: Place<'_>, version: &str, columns: Columns<'_>) -> Result<()> {
        self.0
            .borrow_mut()
            .insert(key(place, version), row_of(columns));
        Ok(())
    }

    fn dependents(&self, (t, n, c): Place<'_>, version: &str) -> Result<Vec<String>> {
        let rows = self.0.borrow();
        Ok(rows
            .iter()
            .filter(|(k, r)| k.0 == t && k.1 == n && k.3 == c && r.base.as_deref() == Some(version))
            .map(|(k, _)| k.4.clone())
            .collect())
    }
}

fn row_of(columns: Columns<'_>) -> MemRow {
    MemRow {
        value: columns.value.map(str::to_owned),
        base: columns.base.map(str::to_owned),
        len: columns.len,
        hash: columns.hash,
    }
}

/// A history of `n` checkpoints whose `messages` grows by one each step.
fn history(n: u64) -> Vec<Checkpoint> {
    (1..=n)
        .map(|step| {
            let messages: Vec<Value> = (0..step).map(|i| json!({ "m": i })).collect();
            Checkpoint::new(0)
                .with_value("messages", Value::Array(messages), step)
                .with_value("count", json!(step), step)
        })
        .collect()
}

#[test]
fn appends_through_a_second_backend_read_back_exactly() {
    let rows = MemRows::default();
    let cache = DeltaCache::new(3);
    let written = history(12);
    for cp in &written {
        let mut encoded = encode(&cache, "t", "", cp, &cp.channel_versions, Mode::Lean).unwrap();
        let stored_rows = std::mem::take(&mut encoded.rows);
        assert_eq!(
            store(&rows, "t", "", &cp.id, &stored_rows).unwrap(),
            Stored::Done
        );
        cache.remember("t", "", encoded);
    }
    let deltas = rows
        .0
        .borrow()
        .values()
        .filter(|r| r.base.is_some())
        .count();
    assert!(deltas >= 8, "appends are deltas ({deltas} of 24 rows)");
    let mut wanted = Wanted::new();
    for cp in &written {
        add_keys(&mut wanted, "t", "", cp);
    }
    let loaded = load(&rows, None, &wanted).unwrap();
    let mut resolver = Resolver::new(loaded, None);
    for (i, cp) in written.iter().enumerate().rev() {
        let mut read = cp.clone();
        read.channel_values.clear();
        let next = i.checked_sub(1).map(|j| &written[j]);
        resolver.resolve("t", "", &mut read, next).unwrap();
        assert_eq!(read.channel_values, cp.channel_values, "checkpoint {i}");
    }
    let place = load_place(&rows, "t", "", &wanted).unwrap();
    assert_eq!(place.len(), 24, "every row of the place");
}
