//! The file step ledger: mooncat's JSON layout, safe across processes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::machine::{self, Outcome, ledger_transitions};
use super::{
    LedgerError, LedgerResult, StepLedger, StepRecord, StepStatus, check_namespace, now_ms,
    storage_key,
};

/// A step ledger in a directory (`file://PATH`), in mooncat's layout: one
/// record per file, `<root>/<namespace>/<storage_key>.json`, 2-space
/// indented JSON with camelCase keys ([`StepRecord`]), written to
/// `<file>.tmp.<pid>` and renamed over the old file. Python's and the TS
/// `FileBackend`s read and write the same files.
///
/// Beyond mooncat, it is safe across processes and durable:
/// - every change of a record runs under an exclusive advisory lock
///   (`flock`) on `<root>/<namespace>/<storage_key>.lock`, so two
///   processes (or threads) claiming one step never both win; mooncat's
///   own lock is per process, so a Python process sharing the directory
///   is only as safe as mooncat (use SQLite to race Python workers);
/// - `done` and `fail` sync the file before the rename and the directory
///   after it, so a finished step stays finished through a power cut.
///
/// As mooncat, a record file that does not parse reads as no record
/// (logged as a warning) and the next claim replaces it; files not
/// ending in `.json` are ignored.
#[derive(Debug)]
pub struct FileLedger {
    root: PathBuf,
}

fn io_err(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LedgerError {
    let path = path.to_owned();
    move |source| LedgerError::Io {
        operation,
        path,
        source,
    }
}

impl FileLedger {
    /// The ledger in `root` (created if missing, as mooncat does).
    pub fn open(root: impl Into<PathBuf>) -> LedgerResult<Self> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_err("create the ledger directory", &root))?;
        Ok(FileLedger { root })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn record_path(&self, ns: &str, sk: &str) -> PathBuf {
        self.root.join(ns).join(format!("{sk}.json"))
    }

    /// Takes the step's lock, creating the namespace directory.
    fn lock(&self, operation: &'static str, ns: &str, sk: &str) -> LedgerResult<File> {
        let dir = self.root.join(ns);
        fs::create_dir_all(&dir).map_err(io_err(operation, &dir))?;
        let path = dir.join(format!("{sk}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(operation, &path))?;
        file.lock().map_err(io_err(operation, &path))?;
        Ok(file)
    }

    fn update<T>(
        &self,
        operation: &'static str,
        ns: &str,
        key: &str,
        change: impl FnOnce(Option<StepRecord>, i64) -> LedgerResult<Outcome<T>>,
    ) -> LedgerResult<T> {
        let sk = storage_key(key);
        let _lock = self.lock(operation, ns, &sk)?;
        let path = self.record_path(ns, &sk);
        let old = read_record(&path)?;
        let (out, write) = change(old, now_ms())?;
        if let Some(record) = write {
            let durable = record.status != StepStatus::Claimed;
            write_record(operation, &path, &record, durable)?;
        }
        Ok(out)
    }

    /// The namespace directories.
    fn namespaces(&self) -> LedgerResult<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("gc", &self.root)(e)),
        };
        Ok(entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }

    /// The `(storage key, record)` of every readable record file of `ns`.
    fn records(
        &self,
        operation: &'static str,
        ns: &str,
    ) -> LedgerResult<Vec<(String, StepRecord)>> {
        let dir = self.root.join(ns);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(operation, &dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(sk) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            // A file removed since read_dir, or unreadable, is skipped.
            if let Ok(Some(record)) = read_record(&entry.path()) {
                out.push((sk.to_owned(), record));
            }
        }
        Ok(out)
    }
}

/// The record in `path`; `None` when there is none, or (with a warning)
/// when it does not parse.
fn read_record(path: &Path) -> LedgerResult<Option<StepRecord>> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read a ledger record", path)(e)),
    };
    match serde_json::from_slice(&text) {
        Ok(record) => Ok(Some(record)),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "unreadable ledger record: treated as absent");
            Ok(None)
        }
    }
}

/// Writes `record` to `path` through `<path>.tmp.<pid>` and a rename;
/// when `durable`, syncs the file and then the directory.
fn write_record(
    operation: &'static str,
    path: &Path,
    record: &StepRecord,
    durable: bool,
) -> LedgerResult<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let written = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(record.to_file_json().as_bytes())?;
        if durable {
            file.sync_all()?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(operation, &tmp)(e));
    }
    fs::rename(&tmp, path).map_err(io_err(operation, path))?;
    // A directory is synced through a handle on it (Unix; elsewhere the
    // rename is as durable as the platform makes it).
    #[cfg(unix)]
    if durable && let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(operation, dir))?;
    }
    Ok(())
}

impl StepLedger for FileLedger {
    ledger_transitions!();

    fn get(&self, ns: &str, key: &str) -> LedgerResult<Option<StepRecord>> {
        check_namespace("get", ns)?;
        read_record(&self.record_path(ns, &storage_key(key)))
    }

    fn reset(&self, ns: &str, key: &str) -> LedgerResult<bool> {
        check_namespace("reset", ns)?;
        let sk = storage_key(key);
        let _lock = self.lock("reset", ns, &sk)?;
        let path = self.record_path(ns, &sk);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_err("reset", &path)(e)),
        }
    }

    fn list(&self, ns: &str, status: Option<StepStatus>) -> LedgerResult<Vec<StepRecord>> {
        check_namespace("list", ns)?;
        let records = self.records("list", ns)?.into_iter().map(|(_, r)| r);
        Ok(machine::listing(records, status))
    }

    fn gc(&self, older_than_ms: u64) -> LedgerResult<usize> {
        let cutoff = machine::gc_cutoff(now_ms(), older_than_ms);
        let mut removed = 0;
        for ns in self.namespaces()? {
            for (sk, record) in self.records("gc", &ns)? {
                if !machine::gc_due(&record, cutoff) {
                    continue;
                }
                // Under the step's lock, and only if it is still due.
                let _lock = self.lock("gc", &ns, &sk)?;
                let path = self.record_path(&ns, &sk);
                if read_record(&path)?.is_some_and(|r| machine::gc_due(&r, cutoff))
                    && fs::remove_file(&path).is_ok()
                {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
