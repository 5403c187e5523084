//! The SQLite part of [`CheckpointAdmin::check`](crate::CheckpointAdmin::check):
//! `integrity_check` and `foreign_key_check`, then every checkpoint read
//! back.

use rusqlite::Connection;

use super::SqliteSaver;
use crate::saver::check::CheckReport;
use crate::saver::error::Result;

impl SqliteSaver {
    /// Checks the database: pages and indexes (`PRAGMA integrity_check`),
    /// references between tables (`PRAGMA foreign_key_check`), then every
    /// checkpoint read back in full. Changes nothing.
    pub(super) fn check_store(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();
        {
            let conn = self.conn()?;
            integrity(&conn, "integrity_check", &mut report);
            foreign_keys(&conn, &mut report);
        }
        report.read_everything(self);
        Ok(report)
    }

    /// `PRAGMA quick_check` (what [`SqliteOptions::with_quick_check`]
    /// runs at open): the problems it reports, none when it says `ok`.
    ///
    /// [`SqliteOptions::with_quick_check`]: crate::SqliteOptions::with_quick_check
    pub(super) fn quick_check_problems(conn: &Connection) -> Vec<String> {
        let mut report = CheckReport::default();
        integrity(conn, "quick_check", &mut report);
        report.problems
    }
}

/// `PRAGMA <pragma>` (`integrity_check` or `quick_check`): every line but
/// a lone `ok` is a problem.
fn integrity(conn: &Connection, pragma: &str, report: &mut CheckReport) {
    let rows = conn
        .prepare(&format!("PRAGMA {pragma}"))
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        });
    match rows {
        Ok(lines) if lines == ["ok"] => {}
        Ok(lines) => report
            .problems
            .extend(lines.into_iter().map(|l| format!("{pragma}: {l}"))),
        Err(e) => report.problems.push(format!("{pragma} could not run: {e}")),
    }
}

/// `PRAGMA foreign_key_check`: each row that refers to a missing one.
fn foreign_keys(conn: &Connection, report: &mut CheckReport) {
    let rows = conn
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| {
                Ok(format!(
                    "foreign_key_check: a row of {} (rowid {}) refers to a missing row of {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?
                        .map_or_else(|| "none".to_owned(), |id| id.to_string()),
                    r.get::<_, String>(2)?
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        });
    match rows {
        Ok(lines) => report.problems.extend(lines),
        Err(e) => report
            .problems
            .push(format!("foreign_key_check could not run: {e}")),
    }
}
