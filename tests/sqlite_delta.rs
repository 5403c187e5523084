//! Delta storage of appended lists in `SqliteSaver`: values read back
//! exactly whatever the sequence of appends, replacements and truncations;
//! deleting, pruning and copying never break a remaining chain; a stale
//! in-process cache (another process rewrote the thread) never produces a
//! wrong value; and bytes per checkpoint stay flat as a history grows.

use std::path::Path;

use checkpointer::{
    BaseCheckpointSaver, ChannelVersion, ChannelVersions, Checkpoint, CheckpointMetadata,
    CheckpointSource, Config, ListOptions, PruneStrategy, SqliteOptions, SqliteSaver, Synchronous,
};
use proptest::prelude::*;
use serde_json::{Value, json};

mod seed;

fn open(path: &Path, snapshot_every: u32) -> SqliteSaver {
    SqliteSaver::open_with(
        path,
        SqliteOptions::new()
            .with_synchronous(Synchronous::Normal)
            .with_snapshot_every(snapshot_every),
    )
    .unwrap()
}

fn count(saver: &SqliteSaver, sql: &str) -> i64 {
    saver
        .pool()
        .get()
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// A chain of checkpoints on one thread: each put names the previous one.
struct Writer {
    config: Config,
    versions: ChannelVersions,
    step: i64,
    /// Plain integer versions (zero salt, as the conformance suite uses):
    /// they repeat when a thread is deleted and written again.
    plain: bool,
}

impl Writer {
    fn new(thread: &str, plain: bool) -> Self {
        Writer {
            config: Config::thread(thread).with_ns(""),
            versions: ChannelVersions::new(),
            step: 0,
            plain,
        }
    }

    /// Puts a checkpoint where `values` changed (all announced); returns
    /// its config and the full expected channel values.
    fn put(
        &mut self,
        saver: &dyn BaseCheckpointSaver,
        values: &[(&str, Value)],
        run_id: Option<&str>,
    ) -> Config {
        let mut cp = Checkpoint::new(self.step);
        let mut new_versions = ChannelVersions::new();
        for (channel, _) in values {
            let next = if self.plain {
                ChannelVersion::new(
                    self.versions
                        .get(*channel)
                        .map_or(0, ChannelVersion::counter)
                        + 1,
                )
            } else {
                saver.get_next_version(self.versions.get(*channel))
            };
            self.versions.insert((*channel).to_owned(), next);
            new_versions.insert((*channel).to_owned(), next);
        }
        cp.channel_versions = self.versions.clone();
        for (channel, value) in values {
            cp.channel_values
                .insert((*channel).to_owned(), value.clone());
        }
        let mut metadata = CheckpointMetadata::new(CheckpointSource::Loop, self.step);
        if let Some(run) = run_id {
            metadata = metadata.with_run_id(run);
        }
        self.step += 1;
        self.config = saver
            .put(&self.config, &cp, &metadata, &new_versions)
            .unwrap();
        self.config.clone()
    }
}

/// Reads back every stored checkpoint and compares its `messages`.
fn check_all(saver: &SqliteSaver, stored: &[(Config, Value)]) {
    for (i, (config, expected)) in stored.iter().enumerate() {
        let got = saver.get(config).unwrap().expect("stored checkpoint");
        assert_eq!(&got.channel_values["messages"], expected, "checkpoint {i}");
    }
    // The same through one list walk (newest first, reusing prefixes).
    if let Some((config, _)) = stored.first() {
        let thread = Config::thread(config.thread_id.clone());
        let listed: Vec<Value> = saver
            .list_iter(Some(&thread), &ListOptions::new())
            .unwrap()
            .map(|t| t.unwrap().checkpoint.channel_values["messages"].clone())
            .collect();
        let expected: Vec<Value> = stored.iter().rev().map(|(_, v)| v.clone()).collect();
        assert_eq!(listed, expected);
    }
}

#[derive(Clone, Debug)]
enum Step {
    /// Append these elements.
    Append(Vec<Value>),
    /// Replace the list.
    Replace(Vec<Value>),
    /// Keep the first `n` elements.
    Truncate(usize),
    /// Same list, new version.
    Same,
}

fn element() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z\"\\\\é]{0,12}".prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!({"role": "user", "content": [1, "x"]})),
        Just(json!([])),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(element(), 0..4).prop_map(Step::Append),
        1 => prop::collection::vec(element(), 0..6).prop_map(Step::Replace),
        1 => (0usize..8).prop_map(Step::Truncate),
        1 => Just(Step::Same),
    ]
}

proptest! {
    #![proptest_config(seed::proptest_config(
        "random_histories_read_back_exactly",
        ProptestConfig::with_cases(48),
    ))]

    /// Random appends, replacements and truncations read back exactly, at
    /// every checkpoint, with any snapshot interval.
    #[test]
    fn random_histories_read_back_exactly(
        steps in prop::collection::vec(step(), 1..40),
        snapshot_every in 0u32..6,
        plain in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let saver = open(&dir.path().join("d.db"), snapshot_every);
        let mut writer = Writer::new("t", plain);
        let mut list: Vec<Value> = Vec::new();
        let mut stored = Vec::new();
        for step in steps {
            match step {
                Step::Append(more) => list.extend(more),
                Step::Replace(new) => list = new,
                Step::Truncate(n) => list.truncate(n),
                Step::Same => {}
            }
            let value = Value::Array(list.clone());
            let config = writer.put(&saver, &[("messages", value.clone()), ("n", json!(list.len()))], None);
            stored.push((config, value));
        }
        check_all(&saver, &stored);
        // Another saver (as another process would) reads the same.
        drop(saver);
        let other = open(&dir.path().join("d.db"), 0);
        check_all(&other, &stored);
    }
}

fn messages(n: usize) -> Value {
    Value::Array((0..n).map(|i| json!(format!("message {i}"))).collect())
}

/// Writes `n` checkpoints whose `messages` grow by one; returns them.
fn grow(
    saver: &SqliteSaver,
    writer: &mut Writer,
    from: usize,
    n: usize,
    run: Option<&str>,
) -> Vec<(Config, Value)> {
    (from..from + n)
        .map(|i| {
            let value = messages(i + 1);
            (
                writer.put(saver, &[("messages", value.clone())], run),
                value,
            )
        })
        .collect()
}

#[test]
fn appends_are_stored_as_deltas_with_bounded_chains() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("d.db"), 4);
    let stored = grow(&saver, &mut Writer::new("t", false), 0, 40, None);
    check_all(&saver, &stored);
    let deltas = count(
        &saver,
        "SELECT count(*) FROM channel_values WHERE base IS NOT NULL",
    );
    // Only the cap decides: a snapshot, then 4 deltas, and again.
    assert_eq!(deltas, 32, "{deltas} deltas");
    let deepest = count(&saver, "SELECT max(depth) FROM channel_values");
    assert_eq!(deepest, 4, "chain of {deepest} deltas");
}

#[test]
fn pruning_keeps_the_chain_of_the_latest_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("d.db"), 8);
    let stored = grow(&saver, &mut Writer::new("t", false), 0, 30, None);
    // The latest value is a delta on older versions that prune removes
    // the checkpoints of (snapshots at versions 1, 10, 19, 28).
    assert!(
        count(
            &saver,
            "SELECT count(*) FROM channel_values WHERE base IS NOT NULL"
        ) > 0
    );
    saver
        .prune(&["t".to_owned()], PruneStrategy::KeepLatest)
        .unwrap();
    let latest = saver.get(&Config::thread("t")).unwrap().unwrap();
    assert_eq!(latest.channel_values["messages"], stored[29].1);
    // Rows no checkpoint needs are gone: one chain remains (the snapshot
    // at version 28 and two deltas).
    let rows = count(&saver, "SELECT count(*) FROM channel_values");
    assert_eq!(rows, 3, "{rows} rows left");
    // And writing on continues correctly.
    let reopened = open(&dir.path().join("d.db"), 8);
    assert_eq!(
        reopened
            .get(&Config::thread("t"))
            .unwrap()
            .unwrap()
            .channel_values["messages"],
        stored[29].1
    );
}

#[test]
fn deleting_runs_keeps_the_chains_of_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("d.db"), 64);
    let mut writer = Writer::new("t", false);
    // The first run holds the snapshots the second run's deltas build on.
    let first = grow(&saver, &mut writer, 0, 10, Some("run-1"));
    let second = grow(&saver, &mut writer, 10, 10, Some("run-2"));
    assert!(!first.is_empty());
    saver.delete_for_runs(&["run-1".to_owned()]).unwrap();
    for (config, expected) in &second {
        let got = saver.get(config).unwrap().unwrap();
        assert_eq!(&got.channel_values["messages"], expected);
    }
    assert!(saver.get(&first[0].0).unwrap().is_none());
}

#[test]
fn a_copy_reads_back_after_its_source_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("d.db"), 64);
    let stored = grow(&saver, &mut Writer::new("src", false), 0, 25, None);
    saver.copy_thread("src", "dst").unwrap();
    saver.delete_thread("src").unwrap();
    let copied: Vec<Value> = saver
        .list(Some(&Config::thread("dst")), &ListOptions::new())
        .unwrap()
        .into_iter()
        .map(|t| t.checkpoint.channel_values["messages"].clone())
        .collect();
    let expected: Vec<Value> = stored.iter().rev().map(|(_, v)| v.clone()).collect();
    assert_eq!(copied, expected);
    // The copy continues with deltas of its own.
    let mut writer = Writer::new("dst", false);
    writer.config = Config::thread("dst")
        .with_ns("")
        .with_checkpoint_id(stored[24].0.checkpoint_id.clone().unwrap());
    writer.versions = saver
        .get(&Config::thread("dst"))
        .unwrap()
        .unwrap()
        .channel_versions;
    let more = grow(&saver, &mut writer, 25, 5, None);
    check_all_of(&saver, &more);
}

fn check_all_of(saver: &SqliteSaver, stored: &[(Config, Value)]) {
    for (config, expected) in stored {
        assert_eq!(
            &saver.get(config).unwrap().unwrap().channel_values["messages"],
            expected
        );
    }
}

/// Plain integer versions repeat after a thread is deleted; another saver
/// (as another process) rewrites the thread with different values behind
/// the back of the first one's cache. Nothing reads back wrong.
#[test]
fn a_stale_cache_never_produces_a_wrong_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let a = open(&path, 64);
    let b = open(&path, 64);
    let mut wa = Writer::new("t", true);
    grow(&a, &mut wa, 0, 5, None);
    // `b` deletes the thread and writes versions 1..=5 again, with other
    // contents of the same lengths.
    b.delete_thread("t").unwrap();
    let mut wb = Writer::new("t", true);
    let other: Vec<(Config, Value)> = (0..5)
        .map(|i| {
            let value = Value::Array((0..=i).map(|j| json!(format!("other {j}"))).collect());
            (wb.put(&b, &[("messages", value.clone())], None), value)
        })
        .collect();
    // `a` goes on from its (now stale) version 5: its cache says version 5
    // holds a's list, the row holds b's.
    wa.config = other[4].0.clone();
    let value = {
        let mut v = messages(5).as_array().unwrap().clone();
        v.push(json!("message 5"));
        Value::Array(v)
    };
    let config = wa.put(&a, &[("messages", value.clone())], None);
    assert_eq!(
        a.get(&config).unwrap().unwrap().channel_values["messages"],
        value
    );
    assert_eq!(
        b.get(&config).unwrap().unwrap().channel_values["messages"],
        value
    );
    check_all_of(&a, &other);
}

/// A saver that read a thread (and keeps the arrays it decoded) never
/// serves them once another saver (as another process) rewrote the same
/// versions with other contents of the same lengths.
#[test]
fn a_read_cache_never_serves_a_rewritten_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let a = open(&path, 64);
    let b = open(&path, 64);
    let mut wa = Writer::new("t", true);
    let mine = grow(&a, &mut wa, 0, 5, None);
    // The latest first: the older values are its prefixes, cut from it.
    let latest = Config::thread("t");
    assert_eq!(
        a.get(&latest).unwrap().unwrap().channel_values["messages"],
        mine[4].1
    );
    check_all_of(&a, &mine);
    check_all_of(&a, &mine);
    assert_eq!(
        a.get(&latest).unwrap().unwrap().channel_values["messages"],
        mine[4].1
    );
    b.delete_thread("t").unwrap();
    let mut wb = Writer::new("t", true);
    let other: Vec<(Config, Value)> = (0..5)
        .map(|i| {
            let value = Value::Array((0..=i).map(|j| json!(format!("other {j}"))).collect());
            (wb.put(&b, &[("messages", value.clone())], None), value)
        })
        .collect();
    check_all_of(&a, &other);
    assert_eq!(
        a.get(&latest).unwrap().unwrap().channel_values["messages"],
        other[4].1
    );
    // With the read cache off, the same.
    let c = SqliteSaver::open_with(&path, SqliteOptions::new().with_read_cache_bytes(0)).unwrap();
    check_all_of(&c, &other);
    // After a delete by the saver itself, nothing is served either.
    a.delete_thread("t").unwrap();
    assert!(a.get(&latest).unwrap().is_none());
}

/// Re-putting a version that deltas build on, with another value, does not
/// change those deltas.
#[test]
fn replacing_a_base_keeps_its_dependents() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("d.db"), 64);
    let mut writer = Writer::new("t", true);
    let stored = grow(&saver, &mut writer, 0, 6, None);
    // Put a sibling of checkpoint 2 (same parent) that reuses version 3 of
    // `messages` with another value.
    let mut sibling = Writer::new("t", true);
    sibling.config = stored[1].0.clone();
    sibling.versions = [("messages".to_owned(), ChannelVersion::new(2))].into();
    sibling.step = 2;
    let replaced = json!(["something", "else"]);
    let config = sibling.put(&saver, &[("messages", replaced.clone())], None);
    assert_eq!(
        saver.get(&config).unwrap().unwrap().channel_values["messages"],
        replaced
    );
    // Checkpoints 3.. (versions 4.., deltas on version 3) are unchanged.
    check_all_of(&saver, &stored[3..]);
}

/// The bytes of the database (pages in use, WAL checkpointed).
fn used_bytes(saver: &SqliteSaver) -> i64 {
    let conn = saver.pool().get().unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let free: i64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    let size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    (pages - free) * size
}

/// Bytes per checkpoint of the messages workload (a list that grows by one
/// 200-byte message per step, plus a counter) after `steps` steps.
fn bytes_per_checkpoint(steps: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(
        &dir.path().join("s.db"),
        SqliteOptions::new().snapshot_every(),
    );
    let empty = used_bytes(&saver);
    let mut writer = Writer::new("t", false);
    let mut list = Vec::with_capacity(steps);
    for s in 0..steps {
        let mut message = format!("step {s} ");
        while message.len() < 200 {
            message.push(char::from(
                b'a' + u8::try_from(message.len() % 26).expect("below 26"),
            ));
        }
        list.push(Value::from(message));
        writer.put(
            &saver,
            &[
                ("messages", Value::Array(list.clone())),
                ("counter", json!(s)),
            ],
            None,
        );
    }
    let used = u32::try_from(used_bytes(&saver) - empty).expect("a test database is under 4 GiB");
    f64::from(used) / f64::from(u32::try_from(steps).expect("a few thousand steps"))
}

/// The storage property: a checkpoint costs about the same whatever the
/// depth of its history (full copies would cost 10x more at S = 1000).
#[test]
fn bytes_per_checkpoint_stay_flat_as_history_grows() {
    let at_100 = bytes_per_checkpoint(100);
    let at_1000 = bytes_per_checkpoint(1000);
    eprintln!("bytes per checkpoint: {at_100:.0} at S = 100, {at_1000:.0} at S = 1000");
    assert!(
        at_1000 <= 2.0 * at_100,
        "{at_1000:.0} bytes per checkpoint at S = 1000, {at_100:.0} at S = 100"
    );
}

/// Every value row that names a `channel_blobs` row has it, and no other
/// blob is left.
fn assert_blobs_consistent(saver: &SqliteSaver) {
    let named = count(
        saver,
        "SELECT count(*) FROM channel_values WHERE blob IS NOT NULL",
    );
    let dangling = count(
        saver,
        "SELECT count(*) FROM channel_values AS v WHERE v.blob IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM channel_blobs AS b WHERE b.id = v.blob)",
    );
    assert_eq!(dangling, 0);
    assert_eq!(count(saver, "SELECT count(*) FROM channel_blobs"), named);
}

/// `len` characters of pseudo-random hex (about 4 bits per byte, as the
/// benchmark's text), different for each `seed`.
fn noise(len: usize, seed: usize) -> String {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ (seed as u64 + 1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"0123456789abcdef"[(x % 16) as usize])
        })
        .collect()
}

#[test]
fn long_values_follow_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("d.db"), 4);
    let mut writer = Writer::new("t", false);
    let mut stored = Vec::new();
    for i in 0..12 {
        // Over 640 bytes even packed (random hex packs to about half):
        // stored in `channel_blobs`.
        let big = json!({"text": noise(1600 + i, i)});
        let config = writer.put(
            &saver,
            &[("messages", messages(i + 1)), ("big", big.clone())],
            None,
        );
        stored.push((config, big));
    }
    assert!(count(&saver, "SELECT count(*) FROM channel_blobs") >= 12);
    assert_blobs_consistent(&saver);
    let read = |saver: &SqliteSaver, thread: &str, i: usize| {
        let config = stored[i].0.clone();
        let config = Config::thread(thread)
            .with_ns("")
            .with_checkpoint_id(config.checkpoint_id.unwrap());
        saver.get_tuple(&config).unwrap().unwrap().checkpoint
    };
    for (i, (_, big)) in stored.iter().enumerate() {
        let cp = read(&saver, "t", i);
        assert_eq!(&cp.channel_values["big"], big);
        assert_eq!(cp.channel_values["messages"], messages(i + 1));
    }

    // A copy owns copies of the long values: deleting the source keeps it.
    let before = count(&saver, "SELECT count(*) FROM channel_blobs");
    saver.copy_thread("t", "u").unwrap();
    assert_eq!(
        count(&saver, "SELECT count(*) FROM channel_blobs"),
        2 * before
    );
    assert_blobs_consistent(&saver);
    saver.delete_thread("t").unwrap();
    assert_blobs_consistent(&saver);
    assert_eq!(count(&saver, "SELECT count(*) FROM channel_blobs"), before);
    for (i, (_, big)) in stored.iter().enumerate() {
        assert_eq!(&read(&saver, "u", i).channel_values["big"], big);
    }
    // Pruning drops the long values no checkpoint needs.
    saver
        .prune(&["u".to_owned()], PruneStrategy::KeepLatest)
        .unwrap();
    assert_blobs_consistent(&saver);
    assert_eq!(count(&saver, "SELECT count(*) FROM channel_blobs"), 1);
    assert_eq!(read(&saver, "u", 11).channel_values["big"], stored[11].1);

    // A long value lost from `channel_blobs` is damage, not an absent value.
    saver
        .pool()
        .get()
        .unwrap()
        .execute("DELETE FROM channel_blobs", [])
        .unwrap();
    let config = Config::thread("u")
        .with_ns("")
        .with_checkpoint_id(stored[11].0.checkpoint_id.clone().unwrap());
    let err = SqliteSaver::open(dir.path().join("d.db"))
        .unwrap()
        .get_tuple(&config)
        .unwrap_err();
    assert!(
        matches!(&err, checkpointer::Error::Corrupt { what, .. } if what.contains("channel_blobs")),
        "{err:?}"
    );
    saver.delete_thread("u").unwrap();
    assert_eq!(count(&saver, "SELECT count(*) FROM channel_values"), 0);
}

/// A forked history lists the same versions from non-adjacent
/// checkpoints; every read (list and get, cache warm or off) agrees.
#[test]
fn forked_histories_read_back_through_the_read_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let saver = open(&path, 64);
    let mut writer = Writer::new("t", false);
    let mut configs = Vec::new();
    for i in 0..6 {
        let values = [("messages", messages(i + 1)), ("other", json!(i))];
        configs.push(writer.put(&saver, &values, None));
    }
    // Back on the main line (messages unchanged), then a fork from step 4
    // (messages unchanged there too), then the main line again.
    let put_after = |parent: &Config, step: i64, other: i64, versions: &ChannelVersions| {
        let mut cp = Checkpoint::new(step);
        cp.channel_versions = versions.clone();
        let next = saver.get_next_version(versions.get("other"));
        cp.channel_versions.insert("other".to_owned(), next);
        let tuple = saver.get_tuple(parent).unwrap().unwrap();
        cp.channel_values = tuple.checkpoint.channel_values.clone();
        cp.channel_values.insert("other".to_owned(), json!(other));
        let metadata = CheckpointMetadata::new(CheckpointSource::Loop, step);
        let new_versions = ChannelVersions::from([("other".to_owned(), next)]);
        saver.put(parent, &cp, &metadata, &new_versions).unwrap()
    };
    let at = |config: &Config| {
        saver
            .get_tuple(config)
            .unwrap()
            .unwrap()
            .checkpoint
            .channel_versions
    };
    let fork = put_after(&configs[3], 4, 100, &at(&configs[3]));
    let main = put_after(&configs[5], 6, 200, &at(&configs[5]));
    let thread = Config::thread("t");
    // Warm the read cache, then list.
    let latest = saver.get_tuple(&thread).unwrap().unwrap();
    assert_eq!(latest.config, main);
    let listed = saver.list(Some(&thread), &ListOptions::new()).unwrap();
    assert_eq!(listed.len(), 8);
    let cold = SqliteSaver::open_with(&path, SqliteOptions::new().with_read_cache_bytes(0))
        .unwrap()
        .list(Some(&thread), &ListOptions::new())
        .unwrap();
    assert_eq!(listed, cold);
    for tuple in &listed {
        assert_eq!(
            saver.get_tuple(&tuple.config).unwrap().as_ref(),
            Some(tuple)
        );
    }
    let by_id = |config: &Config| {
        listed
            .iter()
            .find(|t| t.config.checkpoint_id == config.checkpoint_id)
            .unwrap()
            .checkpoint
            .channel_values
            .clone()
    };
    assert_eq!(by_id(&fork)["messages"], messages(4));
    assert_eq!(by_id(&fork)["other"], json!(100));
    assert_eq!(by_id(&main)["messages"], messages(6));
    // Pages of every length agree too.
    for limit in 1..=8 {
        let page = saver
            .list(Some(&thread), &ListOptions::new().limit(limit))
            .unwrap();
        assert_eq!(page[..], listed[..limit]);
    }
}

/// A page whose newer checkpoints are not in the read cache walks their
/// chains through older rows that are: those rows are read with their own
/// chains, not only taken from the cache.
#[test]
fn chains_through_cached_rows_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let saver = open(&dir.path().join("c.db"), 64);
    let mut writer = Writer::new("t", false);
    let configs: Vec<Config> = (0..8)
        .map(|i| {
            writer.put(
                &saver,
                &[("messages", messages(i + 1)), ("other", json!(i))],
                None,
            )
        })
        .collect();
    // Cache the value at step 3 (versions 1 to 4 of messages).
    saver.get_tuple(&configs[3]).unwrap().unwrap();
    let thread = Config::thread("t");
    let page = saver
        .list(
            Some(&thread),
            &ListOptions::new()
                .before(configs[5].checkpoint_id.clone().unwrap())
                .limit(2),
        )
        .unwrap();
    assert_eq!(page[0].checkpoint.channel_values["messages"], messages(5));
    assert_eq!(page[1].checkpoint.channel_values["messages"], messages(4));
    for limit in 1..=8 {
        // Each page caches its newest value: start again from step 3.
        saver.get_tuple(&configs[3]).unwrap().unwrap();
        let page = saver
            .list(Some(&thread), &ListOptions::new().limit(limit))
            .unwrap();
        for (i, tuple) in page.iter().enumerate() {
            assert_eq!(tuple.checkpoint.channel_values["messages"], messages(8 - i));
        }
    }
}

/// The 200-byte message of step `s` of the messages workload.
fn step_message(thread: usize, s: usize) -> Value {
    let mut message = format!("thread {thread} step {s} ");
    while message.len() < 200 {
        message.push(char::from(
            b'a' + u8::try_from(message.len() % 26).expect("below 26"),
        ));
    }
    Value::from(message)
}

/// Writes the messages workload for `threads` threads of `steps` steps,
/// one step of every thread per round (`interleave`) or thread after
/// thread; returns the saver, its bytes per checkpoint (pages in use) and
/// each thread's last config and list.
fn write_threads(
    path: &Path,
    threads: usize,
    steps: usize,
    interleave: bool,
) -> (SqliteSaver, f64, Vec<(Config, Value)>) {
    let saver = open(path, SqliteOptions::new().snapshot_every());
    let empty = used_bytes(&saver);
    let mut writers: Vec<(Writer, Vec<Value>, Config)> = (0..threads)
        .map(|t| {
            (
                Writer::new(&format!("t{t}"), false),
                Vec::new(),
                Config::thread(""),
            )
        })
        .collect();
    let step = |t: usize, s: usize, w: &mut (Writer, Vec<Value>, Config)| {
        w.1.push(step_message(t, s));
        w.2 = w.0.put(
            &saver,
            &[
                ("messages", Value::Array(w.1.clone())),
                ("counter", json!(s)),
            ],
            None,
        );
    };
    if interleave {
        for s in 0..steps {
            for (t, w) in writers.iter_mut().enumerate() {
                step(t, s, w);
            }
        }
    } else {
        for (t, w) in writers.iter_mut().enumerate() {
            for s in 0..steps {
                step(t, s, w);
            }
        }
    }
    let used = u32::try_from(used_bytes(&saver) - empty).expect("a test database is under 4 GiB");
    let per = f64::from(used) / f64::from(u32::try_from(threads * steps).expect("small"));
    let last = writers
        .into_iter()
        .map(|(_, list, config)| (config, Value::Array(list)))
        .collect();
    (saver, per, last)
}

/// Many conversations at once: with far more threads written in turn than
/// the delta cache has entries, each append still finds its base (read
/// from the database) and is stored as a delta, so a checkpoint costs
/// about what it costs when threads come one after another.
#[test]
fn interleaved_threads_keep_their_deltas() {
    const THREADS: usize = 1000;
    const STEPS: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let (apart, apart_bytes, _) = write_threads(&dir.path().join("a.db"), THREADS, STEPS, false);
    drop(apart);
    let (saver, mixed_bytes, last) = write_threads(&dir.path().join("i.db"), THREADS, STEPS, true);
    eprintln!(
        "bytes per checkpoint, {THREADS} threads x {STEPS} steps: {apart_bytes:.0} thread \
         after thread, {mixed_bytes:.0} interleaved"
    );
    // Every append after a thread's first value is a delta.
    let deltas = count(
        &saver,
        "SELECT count(*) FROM channel_values WHERE base IS NOT NULL",
    );
    assert_eq!(deltas, i64::try_from(THREADS * (STEPS - 1)).unwrap());
    assert!(
        mixed_bytes <= 1.3 * apart_bytes,
        "{mixed_bytes:.0} bytes per checkpoint interleaved, {apart_bytes:.0} thread after thread"
    );
    // And every thread reads back exactly, in this process and another.
    check_all_of(&saver, &last);
    drop(saver);
    check_all_of(&open(&dir.path().join("i.db"), 0), &last);
}

/// A saver that did not write a thread (another process, or one reopened)
/// finds the base of its next append in the file, and a value that does
/// not extend what is stored is stored in full: both read back exactly.
#[test]
fn a_fresh_saver_extends_what_another_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let first = open(&path, 128);
    let mut writer = Writer::new("t", false);
    let mut stored = grow(&first, &mut writer, 0, 5, None);
    let deltas = |saver: &SqliteSaver| {
        count(
            saver,
            "SELECT count(*) FROM channel_values WHERE base IS NOT NULL",
        )
    };
    assert_eq!(deltas(&first), 4);
    drop(first);

    // A new saver: nothing cached; the append is still a delta.
    let second = open(&path, 128);
    stored.extend(grow(&second, &mut writer, 5, 1, None));
    assert_eq!(deltas(&second), 5);
    drop(second);

    // Another new saver, with a list that does not start with the stored
    // one: stored in full.
    let third = open(&path, 128);
    let other = json!(["something else", "entirely"]);
    let config = writer.put(&third, &[("messages", other.clone())], None);
    assert_eq!(deltas(&third), 5);
    stored.push((config, other));
    check_all_of(&third, &stored);
}
