//! dcc-mcp-core's JSON checkpoint file, shared with Python.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::entry::now_epoch_seconds;
use super::error::check_job_id;
use super::{JobEntry, JobError, JobResult, JobStore};

/// How long a write waits for the sidecar lock before it goes on unlocked
/// (dcc-mcp-core's 2 s).
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);
const LOCK_RETRY: Duration = Duration::from_millis(10);

type Jobs = BTreeMap<String, JobEntry>;

/// Jobs in one JSON file, in dcc-mcp-core 0.20.49's exact format: one
/// object `{job_id: {"job_id", "saved_at", "progress_hint", "context"}}`,
/// written with a 2-space indent, `{}` when empty.
///
/// Every write takes the advisory lock on the sidecar `<file>.lock`
/// (flock, retried every 10 ms up to the timeout, then unlocked with a
/// warning, as dcc-mcp-core does), re-reads the file, merges it (per job
/// the newest `saved_at` wins, a tie goes to this write) and replaces the
/// file atomically (a temp file `<name>.*.tmp` in the same directory,
/// then a rename). Unlike dcc-mcp-core, every `get` and `list_ids`
/// re-reads the file, so they see another process's save; and a clear is
/// recorded in the sidecar `<file>.cleared` (`{job_id: cleared_at}`), so a
/// job that a Python process still holds in memory and writes back with
/// its old `saved_at` stays cleared for this store. An unreadable or
/// invalid file reads as empty, with a warning.
#[derive(Debug)]
pub struct JsonFileJobStore {
    path: PathBuf,
    lock_timeout: Duration,
    in_process: Mutex<()>,
}

impl JsonFileJobStore {
    /// The jobs in `path` (created on the first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonFileJobStore {
            path: path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            in_process: Mutex::new(()),
        }
    }

    /// The same store with another lock timeout.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sidecar(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// The jobs on disk, without the cleared ones.
    fn read_visible(&self) -> Jobs {
        let cleared = read_cleared(&self.sidecar(".cleared"));
        let mut jobs = read_jobs(&self.path);
        jobs.retain(|id, e| cleared.get(id).is_none_or(|at| e.saved_at > *at));
        jobs
    }

    /// Runs `change` on the merged file under both locks and writes the
    /// result when it says so.
    fn update<T>(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut Jobs, &mut BTreeMap<String, f64>) -> (T, bool),
    ) -> JobResult<T> {
        let _guard = self
            .in_process
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _lock = self.lock_file(operation)?;
        let cleared_path = self.sidecar(".cleared");
        let mut cleared = read_cleared(&cleared_path);
        let mut jobs = self.read_visible();
        let before = cleared.clone();
        let (out, write) = change(&mut jobs, &mut cleared);
        if cleared != before {
            let text = serde_json::to_string_pretty(&cleared).unwrap_or_else(|_| "{}".into());
            write_atomic(operation, &cleared_path, &text)?;
        }
        if write {
            let text = serde_json::to_string_pretty(&jobs).unwrap_or_else(|_| "{}".into());
            write_atomic(operation, &self.path, &text)?;
        }
        Ok(out)
    }

    fn lock_file(&self, operation: &'static str) -> JobResult<Option<File>> {
        let path = self.sidecar(".lock");
        let io = |source| JobError::Io {
            operation,
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(file)),
                Err(TryLockError::WouldBlock) if start.elapsed() < self.lock_timeout => {
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(TryLockError::WouldBlock) => {
                    tracing::warn!(path = %path.display(), "could not lock within {:?}; writing unlocked", self.lock_timeout);
                    return Ok(None);
                }
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
        }
    }
}

fn read_jobs(path: &Path) -> Jobs {
    let Ok(text) = fs::read_to_string(path) else {
        return Jobs::new();
    };
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) else {
        tracing::warn!(path = %path.display(), "not a JSON object of jobs; reading it as empty");
        return Jobs::new();
    };
    map.into_iter()
        .filter_map(|(id, v)| match serde_json::from_value::<JobEntry>(v) {
            Ok(e) => Some((id, e)),
            Err(error) => {
                tracing::warn!(path = %path.display(), job_id = %id, %error, "skipping an invalid job entry");
                None
            }
        })
        .collect()
}

fn read_cleared(path: &Path) -> BTreeMap<String, f64> {
    fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn write_atomic(operation: &'static str, path: &Path, text: &str) -> JobResult<()> {
    let io = |source| JobError::Io {
        operation,
        path: path.to_owned(),
        source,
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(
        "{name}.{}-{:x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

impl JobStore for JsonFileJobStore {
    fn save(&self, job_id: &str, state: Value, progress_hint: &str) -> JobResult<()> {
        check_job_id("save", job_id)?;
        let entry = JobEntry::now(job_id, state, progress_hint);
        self.update("save", |jobs, cleared| {
            cleared.remove(job_id);
            let newer = jobs
                .get(job_id)
                .is_none_or(|old| entry.saved_at >= old.saved_at);
            if newer {
                jobs.insert(job_id.to_owned(), entry);
            }
            ((), true)
        })
    }

    fn get(&self, job_id: &str) -> JobResult<Option<JobEntry>> {
        check_job_id("get", job_id)?;
        Ok(self.read_visible().remove(job_id))
    }

    fn clear(&self, job_id: &str) -> JobResult<bool> {
        check_job_id("clear", job_id)?;
        self.update("clear", |jobs, cleared| {
            let existed = jobs.remove(job_id).is_some();
            if existed {
                cleared.insert(job_id.to_owned(), now_epoch_seconds());
            }
            (existed, existed)
        })
    }

    fn list_ids(&self) -> JobResult<Vec<String>> {
        Ok(self.read_visible().into_keys().collect())
    }

    fn clear_all(&self) -> JobResult<usize> {
        self.update("clear_all", |jobs, cleared| {
            let now = now_epoch_seconds();
            let count = jobs.len();
            for id in std::mem::take(jobs).into_keys() {
                cleared.insert(id, now);
            }
            (count, true)
        })
    }
}
