//! Pool creation and LangGraph's migrations (`checkpoint_migrations`
//! v0–v9), applied under an advisory lock.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use postgres::config::SslMode;
use r2d2_postgres::PostgresConnectionManager;

use super::options::{PostgresOptions, PostgresTlsMode};
use super::ssl_params::split_ssl_params;
use super::tls::PostgresTls;
use super::{BACKEND, Pool, pg_error};
use crate::saver::error::{Error, Result};

/// LangGraph's migrations (`langgraph-checkpoint-postgres` 3.2.0), in
/// order: the position is the version recorded in `checkpoint_migrations`.
/// The text is Python's, so a database either side set up is the same.
pub(crate) const MIGRATIONS: [&str; 10] = [
    "CREATE TABLE IF NOT EXISTS checkpoint_migrations (
    v INTEGER PRIMARY KEY
);",
    "CREATE TABLE IF NOT EXISTS checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    parent_checkpoint_id TEXT,
    type TEXT,
    checkpoint JSONB NOT NULL,
    metadata JSONB NOT NULL DEFAULT '{}',
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
);",
    "CREATE TABLE IF NOT EXISTS checkpoint_blobs (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    type TEXT NOT NULL,
    blob BYTEA,
    PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
);",
    "CREATE TABLE IF NOT EXISTS checkpoint_writes (
    thread_id TEXT NOT NULL,
    checkpoint_ns TEXT NOT NULL DEFAULT '',
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    channel TEXT NOT NULL,
    type TEXT,
    blob BYTEA NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);",
    "ALTER TABLE checkpoint_blobs ALTER COLUMN blob DROP not null;",
    "SELECT 1;",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoints_thread_id_idx ON checkpoints(thread_id);",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoint_blobs_thread_id_idx ON checkpoint_blobs(thread_id);",
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS checkpoint_writes_thread_id_idx ON checkpoint_writes(thread_id);",
    "ALTER TABLE checkpoint_writes ADD COLUMN IF NOT EXISTS task_path TEXT NOT NULL DEFAULT '';",
];

/// The newest migration this saver knows.
pub(crate) const NEWEST: i64 = 9;
const _: () = assert!(MIGRATIONS.len() == 10, "NEWEST names the last migration");

/// The key of the session advisory lock held while migrating (shared by
/// every worker of this crate; the text `checkpointer` as a number).
const LOCK_KEY: i64 = 0x6368_6b70_6e74_7231;

/// How long a worker waits for another one's migration to finish.
const LOCK_WAIT: Duration = Duration::from_mins(2);

/// A pool for `url` with `options`; TLS as the options say, else as the
/// URL's `sslmode` does.
pub(crate) fn build_pool(url: &str, options: PostgresOptions) -> Result<Pool> {
    let parse_error = |e| Error::backend(BACKEND, format!("parse the URL {}", redact(url)), e);
    let (url_rest, url_tls) = split_ssl_params(url).map_err(parse_error)?;
    let mode = options.tls.or(url_tls).unwrap_or(PostgresTlsMode::Disable);
    let tls = PostgresTls::new(&mode)
        .map_err(|e| Error::backend(BACKEND, format!("connect to {}", redact(url)), e))?;
    let mut config: postgres::Config = url_rest
        .parse()
        .map_err(|e| Error::backend(BACKEND, format!("parse the URL {}", redact(url)), e))?;
    // Never the driver's `Prefer`: a TLS mode must not fall back to plain.
    config.ssl_mode(match mode {
        PostgresTlsMode::Disable => SslMode::Disable,
        _ => SslMode::Require,
    });
    if let Some(timeout) = options.connect_timeout {
        config.connect_timeout(timeout);
    }
    // JIT off: the planner's cost estimates of the reads (a JSONB join
    // per row) turn it on, and compiling took longer than the statement
    // ran. First, so that a `-c jit=on` in the URL's options still wins.
    let mut session = format!("-c jit=off {}", config.get_options().unwrap_or_default());
    if let Some(timeout) = options.statement_timeout {
        session.push_str(" -c statement_timeout=");
        session.push_str(&timeout.as_millis().to_string());
    }
    if !session.trim().is_empty() {
        config.options(session.trim());
    }
    if mode != PostgresTlsMode::Disable {
        probe_tls(&config, &tls, url)?;
    }
    let manager = PostgresConnectionManager::new(config, tls);
    r2d2::Pool::builder()
        .max_size(options.pool_size)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(options.pool_timeout)
        .build(manager)
        .map_err(|e| Error::backend(BACKEND, format!("connect to {}", redact(url)), e))
}

/// Connects once, so that a TLS failure (a certificate the CA did not
/// sign, a server without TLS) is reported at once and with its cause:
/// the pool would retry until its timeout and keep only the driver's
/// summary ("error performing TLS handshake").
fn probe_tls(config: &postgres::Config, tls: &PostgresTls, url: &str) -> Result<()> {
    let client = config.connect(tls.clone()).map_err(|e| {
        let cause = std::error::Error::source(&e).map(ToString::to_string);
        let detail = match cause {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        };
        Error::backend(
            BACKEND,
            format!("connect to {} with TLS", redact(url)),
            detail,
        )
    })?;
    drop(client);
    Ok(())
}

/// `url` without its password, for errors.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Brings the database to migration v9 (LangGraph's newest), as Python's
/// `setup()` does, under a session advisory lock so that many workers
/// starting at once do not race; refuses a database migrated further.
pub(crate) fn migrate(pool: &Pool, name: &str) -> Result<()> {
    let mut conn = pool
        .get()
        .map_err(|e| Error::backend(BACKEND, format!("connect to {name}"), e))?;
    lock(&mut conn, name)?;
    let result = apply_missing(&mut conn, name)
        // Our own lease table (issue 12), beside LangGraph's.
        .and_then(|()| super::lease::setup(&mut conn, name));
    let unlock = conn
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .map_err(pg_error(|| format!("release the setup lock on {name}")));
    result.and(unlock.map(drop))
}

/// Takes the setup lock, polling: a session blocked inside
/// `pg_advisory_lock` holds a snapshot, which the holder's
/// `CREATE INDEX CONCURRENTLY` would wait for.
fn lock(conn: &mut postgres::Client, name: &str) -> Result<()> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        let row = conn
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
            .map_err(pg_error(|| format!("take the setup lock on {name}")))?;
        if row.get::<_, bool>(0) {
            return Ok(());
        }
        if started.elapsed() > LOCK_WAIT {
            return Err(Error::backend(
                BACKEND,
                format!("take the setup lock on {name}"),
                format!("another worker held it for more than {LOCK_WAIT:?}"),
            ));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

fn apply_missing(conn: &mut postgres::Client, name: &str) -> Result<()> {
    let current = current_version(conn, name)?;
    if current > NEWEST {
        return Err(Error::SchemaTooNew {
            path: PathBuf::from(name),
            found: current,
            supported: NEWEST,
        });
    }
    for (v, statement) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current + 1).unwrap_or(0))
    {
        let v = i32::try_from(v).unwrap_or(i32::MAX);
        // Each its own autocommit statement: CREATE INDEX CONCURRENTLY
        // cannot run in a transaction block.
        conn.batch_execute(statement)
            .map_err(pg_error(|| format!("apply migration v{v} on {name}")))?;
        conn.execute(
            "INSERT INTO checkpoint_migrations (v) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&v],
        )
        .map_err(pg_error(|| format!("record migration v{v} on {name}")))?;
    }
    Ok(())
}

/// The newest recorded migration, -1 for a database without the table.
fn current_version(conn: &mut postgres::Client, name: &str) -> Result<i64> {
    let context = || format!("read the migration version of {name}");
    let row = conn
        .query_one(
            "SELECT to_regclass('checkpoint_migrations') IS NOT NULL",
            &[],
        )
        .map_err(pg_error(context))?;
    if !row.get::<_, bool>(0) {
        return Ok(-1);
    }
    let row = conn
        .query_one("SELECT max(v)::bigint FROM checkpoint_migrations", &[])
        .map_err(pg_error(context))?;
    Ok(row.get::<_, Option<i64>>(0).unwrap_or(-1))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::build_pool;
    use crate::saver::postgres::PostgresOptions;

    /// `(jit, statement_timeout)` of a connection of a pool on `url`.
    fn settings(url: &str, options: PostgresOptions) -> (String, String) {
        let pool = build_pool(url, options).expect("pool");
        let mut conn = pool.get().expect("connection");
        let row = conn
            .query_one(
                "SELECT current_setting('jit'), current_setting('statement_timeout')",
                &[],
            )
            .expect("settings");
        (row.get(0), row.get(1))
    }

    #[test]
    fn pooled_connections_run_without_jit_unless_the_url_asks_for_it() {
        let url = match std::env::var("CHECKPOINTER_PG_URL") {
            Ok(url) if !url.is_empty() => url,
            // Under CI a missing server is a failure, never a skip.
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("CI=true but CHECKPOINTER_PG_URL is unset (.ci/postgres starts a server)")
            }
            _ => {
                eprintln!("skipped: CHECKPOINTER_PG_URL is unset (source .ci/postgres)");
                return;
            }
        };
        let timeout = PostgresOptions::new().with_statement_timeout(Duration::from_secs(7));
        assert_eq!(settings(&url, timeout), ("off".into(), "7s".into()));
        let sep = if url.contains('?') { '&' } else { '?' };
        let user = format!("{url}{sep}options=-c%20jit%3Don");
        assert_eq!(settings(&user, PostgresOptions::new()).0, "on");
    }
}
