//! A fresh PostgreSQL schema per test, on the server `CHECKPOINTER_PG_URL`
//! names (`.ci/postgres` starts one). Without the variable a test is
//! skipped with a printed line, and fails under `CI=true`.

#![allow(dead_code)]

use checkpointer::{PostgresOptions, PostgresSaver};

/// The server's URL, or `None` (after printing why) to skip.
///
/// # Panics
///
/// Under `CI=true` when the variable is unset: CI must test PostgreSQL.
pub fn server_url(test: &str) -> Option<String> {
    match std::env::var("CHECKPOINTER_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "{test}: CI=true but CHECKPOINTER_PG_URL is unset (.ci/postgres starts a server)"
            )
        }
        _ => {
            eprintln!("{test}: skipped, CHECKPOINTER_PG_URL is unset (source .ci/postgres)");
            None
        }
    }
}

/// A schema of its own, dropped (with everything in it) on drop.
pub struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// A new empty schema on the server at `url`.
    pub fn new(url: &str) -> Schema {
        let name = format!("cp_test_{:016x}", fastrand_u64());
        execute(url, &format!("CREATE SCHEMA {name}")).expect("create a test schema");
        Schema {
            url: url.to_owned(),
            name,
        }
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server URL with this schema as the search path.
    pub fn url(&self) -> String {
        with_search_path(&self.url, &self.name)
    }

    /// A client of the server on this schema.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).expect("connect to the test schema")
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = execute(
            &self.url,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

/// Runs `sql` on a new connection, on a plain thread: the test's own
/// `postgres` client must not run on a tokio worker (a guard may be
/// made or dropped inside a `#[tokio::test]`).
fn execute(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let mut client =
            postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        client.batch_execute(&sql).map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_owned())?
}

/// `url` with `search_path` set to `schema` for every session.
pub fn with_search_path(url: &str, schema: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-c%20search_path%3D{schema}")
    } else {
        format!("{url} options='-c search_path={schema}'")
    }
}

/// A saver on a fresh schema, with the schema as its guard; `None` to skip.
pub fn fresh(test: &str) -> Option<(PostgresSaver, Schema)> {
    fresh_with(test, PostgresOptions::new().with_pool_size(4))
}

/// [`fresh`] with `options`.
pub fn fresh_with(test: &str, options: PostgresOptions) -> Option<(PostgresSaver, Schema)> {
    let url = server_url(test)?;
    let schema = Schema::new(&url);
    let saver = PostgresSaver::open_with(&schema.url(), options).expect("open a PostgresSaver");
    Some((saver, schema))
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
