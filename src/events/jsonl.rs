//! The JSONL directory event log: purpose-agent's `JSONLCheckpointer`
//! layout.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::error::{EventError, EventResult};
use super::event::Event;
use super::log::{EventLog, check_event, check_run_id, duplicate, select_since};
use super::pyjson;
use super::run_dir::{is_safe, run_dir_name};
use super::state::RunState;

/// The events file of a run directory.
pub const EVENTS_FILE: &str = "events.jsonl";
/// The snapshot file of a run directory.
pub const SNAPSHOT_FILE: &str = "snapshot.json";
/// The file that holds the raw run id in a run directory whose name is a
/// hash (see [`run_dir_name`]).
pub const RUN_ID_FILE: &str = "run_id";

/// An [`EventLog`] in a directory, in purpose-agent's layout:
/// `DIR/<run>/events.jsonl` (one `json.dumps` of each event per line) and
/// `DIR/<run>/snapshot.json` (`indent=2`), so that purpose-agent's
/// `JSONLCheckpointer(DIR)` and this log read each other's runs.
///
/// Where it differs from purpose-agent, on purpose:
/// - `<run>` is [`run_dir_name`]: a run id unsafe as a file name is
///   hashed (the raw id is kept in `DIR/<run>/run_id`), never used as a
///   path.
/// - Reads create nothing (purpose-agent creates the run directory on
///   every call).
/// - An append holds an exclusive lock on `events.jsonl`, refuses a
///   `(lane, seq)` the file already has, and is fsynced; a snapshot is
///   written to a temporary file and renamed over the old one, so a crash
///   leaves the old or the new snapshot, never a torn one.
/// - A line that is not JSON at all (a write torn by a crash) is skipped
///   as purpose-agent skips it; a JSON line that is not an event (an
///   unknown kind, no `run_id`) is an [`EventError::Corrupt`] naming the
///   file and line.
///
/// `list_runs` orders by the modification time of `snapshot.json`
/// (strictly increasing within one process; runs saved by different
/// processes in the same instant come in directory-name order).
#[derive(Debug)]
pub struct JsonlEventLog {
    base: PathBuf,
    /// What this process knows of each events file: how far it has read
    /// it and the `(lane, seq)` pairs up to there.
    index: Mutex<HashMap<PathBuf, Numbers>>,
}

#[derive(Debug, Default)]
struct Numbers {
    offset: u64,
    seen: HashSet<(String, u64)>,
}

impl JsonlEventLog {
    /// The log in directory `base`, which is created if missing.
    pub fn open(base: impl Into<PathBuf>) -> EventResult<Self> {
        let base = base.into();
        fs::create_dir_all(&base)
            .map_err(EventError::io("create the event log directory", &base))?;
        Ok(JsonlEventLog {
            base,
            index: Mutex::new(HashMap::new()),
        })
    }

    /// The directory.
    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The directory of run `run_id` (which may not exist).
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.base.join(run_dir_name(run_id))
    }

    /// The run directory, created, with the raw id beside a hashed name.
    fn make_run_dir(&self, run_id: &str) -> EventResult<PathBuf> {
        let dir = self.run_dir(run_id);
        fs::create_dir_all(&dir).map_err(EventError::io("create the run directory", &dir))?;
        if !is_safe(run_id) {
            let id_file = dir.join(RUN_ID_FILE);
            if !id_file.exists() {
                fs::write(&id_file, run_id)
                    .map_err(EventError::io("write the run id", &id_file))?;
            }
        }
        Ok(dir)
    }

    /// Reads the lines of `file` after what `numbers` has seen, records
    /// their numbers, and says whether the file ends in a torn line.
    fn catch_up(file: &mut File, path: &Path, numbers: &mut Numbers) -> EventResult<bool> {
        let len = file.metadata().map_err(EventError::io("stat", path))?.len();
        if len < numbers.offset {
            // Replaced or truncated behind our back: read it again.
            *numbers = Numbers::default();
        }
        let mut tail = Vec::new();
        file.seek(SeekFrom::Start(numbers.offset))
            .and_then(|_| file.read_to_end(&mut tail))
            .map_err(EventError::io("read", path))?;
        let complete = tail.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in String::from_utf8_lossy(&tail[..complete]).lines() {
            if let Ok(event) = serde_json::from_str::<Event>(line) {
                numbers.seen.insert((event.lane_id, event.seq));
            }
        }
        numbers.offset += complete as u64;
        Ok(complete < tail.len())
    }
}

/// Reads a file that may be missing (`None`).
fn read_optional(operation: &'static str, path: &Path) -> EventResult<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EventError::Io {
            operation,
            path: path.to_owned(),
            source,
        }),
    }
}

/// The events of the complete lines of an events file.
fn parse_events(run_id: &str, path: &Path, text: &str) -> EventResult<Vec<Event>> {
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    let mut events = Vec::new();
    for (number, line) in complete.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue; // torn by a crash, as purpose_agent skips it
        };
        let event = serde_json::from_value(value).map_err(|e| EventError::Corrupt {
            run_id: run_id.to_owned(),
            location: format!("{} line {}", path.display(), number + 1),
            reason: e.to_string(),
        })?;
        events.push(event);
    }
    Ok(events)
}

/// Numbers the temporary snapshot files of this process: two threads may
/// snapshot one run at once.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A modification time later than any this process gave before.
fn next_mtime() -> SystemTime {
    static LAST_NANOS: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    // 1 µs apart: file systems keep at least that much of a time.
    let mut last = LAST_NANOS.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1_000));
        match LAST_NANOS.compare_exchange(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return SystemTime::UNIX_EPOCH + Duration::from_nanos(next),
            Err(seen) => last = seen,
        }
    }
}

impl EventLog for JsonlEventLog {
    fn save_event(&self, event: &Event) -> EventResult<()> {
        check_event(event)?;
        let mut line = pyjson::to_line(event).map_err(|e| EventError::Corrupt {
            run_id: event.run_id.clone(),
            location: "the event to save".to_owned(),
            reason: e.to_string(),
        })?;
        line.push('\n');
        let path = self.make_run_dir(&event.run_id)?.join(EVENTS_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(EventError::io("open", &path))?;
        file.lock().map_err(EventError::io("lock", &path))?;
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        let numbers = index.entry(path.clone()).or_default();
        if Self::catch_up(&mut file, &path, numbers)? {
            // End the torn line first, so that ours is a line of its own.
            line.insert(0, '\n');
        }
        if numbers.seen.contains(&(event.lane_id.clone(), event.seq)) {
            return Err(duplicate(event));
        }
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(EventError::io("append to", &path))?;
        numbers.offset += line.len() as u64;
        numbers.seen.insert((event.lane_id.clone(), event.seq));
        Ok(())
    }

    fn list_events(&self, run_id: &str, since_seq: u64) -> EventResult<Vec<Event>> {
        check_run_id("list_events", run_id)?;
        let path = self.run_dir(run_id).join(EVENTS_FILE);
        let Some(text) = read_optional("read", &path)? else {
            return Ok(Vec::new());
        };
        Ok(select_since(parse_events(run_id, &path, &text)?, since_seq))
    }

    fn save_snapshot(&self, run_id: &str, state: &RunState) -> EventResult<()> {
        check_run_id("save_snapshot", run_id)?;
        let text = pyjson::to_pretty(state).map_err(|e| EventError::Corrupt {
            run_id: run_id.to_owned(),
            location: "the snapshot to save".to_owned(),
            reason: e.to_string(),
        })?;
        let dir = self.make_run_dir(run_id)?;
        let path = dir.join(SNAPSHOT_FILE);
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp.{}.{n}", std::process::id()));
        let write = || -> io::Result<()> {
            let mut file = File::create(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.set_modified(next_mtime())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(EventError::io("write the snapshot", &path))
    }

    fn load_latest(&self, run_id: &str) -> EventResult<Option<RunState>> {
        check_run_id("load_latest", run_id)?;
        let path = self.run_dir(run_id).join(SNAPSHOT_FILE);
        let Some(text) = read_optional("read the snapshot", &path)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| EventError::Corrupt {
                run_id: run_id.to_owned(),
                location: path.display().to_string(),
                reason: e.to_string(),
            })
    }

    fn delete_run(&self, run_id: &str) -> EventResult<()> {
        check_run_id("delete_run", run_id)?;
        let dir = self.run_dir(run_id);
        self.index
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&dir.join(EVENTS_FILE));
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(EventError::Io {
                operation: "remove the run directory",
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    fn list_runs(&self) -> EventResult<Vec<String>> {
        let entries = match fs::read_dir(&self.base) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(EventError::Io {
                    operation: "list",
                    path: self.base.clone(),
                    source,
                });
            }
        };
        let mut runs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(EventError::io("list", &self.base))?;
            let dir = entry.path();
            let Ok(modified) = fs::metadata(dir.join(SNAPSHOT_FILE)).and_then(|m| m.modified())
            else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let id = read_optional("read the run id", &dir.join(RUN_ID_FILE))?.unwrap_or(name);
            runs.push((modified, id));
        }
        runs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        Ok(runs.into_iter().map(|(_, id)| id).collect())
    }
}
