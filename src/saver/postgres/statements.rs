//! Statements prepared once per pooled connection.
//!
//! An unnamed statement (`query_typed`) is parsed and planned by the
//! server on every call, and the saver's statements are large CTEs; a
//! prepared one is sent once per connection and then only bound and
//! executed (one round trip, no parse). The cache lives in the pooled
//! connection's r2d2 extensions, so it is dropped with its connection and
//! works whatever TLS connector the pool's manager uses.

use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use postgres::{Row, Statement};

use super::{BACKEND, PostgresSaver};
use crate::saver::error::{Error, Result};

/// The prepared statements of one connection, by the address of their
/// `'static` text (each statement is one constant).
#[derive(Default)]
struct StatementCache(HashMap<(usize, usize), Statement>);

/// A pooled connection with its statement cache, outside any explicit
/// transaction: each statement is its own transaction.
pub(super) struct Session<'a> {
    client: &'a mut postgres::Client,
    cache: &'a mut StatementCache,
}

/// Something that runs one of the saver's `'static` statements with
/// declared parameter types: a [`Session`] (prepared once, cached) or an
/// open transaction (unnamed, for the rare multi-statement calls).
pub(super) trait RunStatement {
    /// Runs `sql` (its parameters typed `types`) with `params`.
    fn run(
        &mut self,
        sql: &'static str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, postgres::Error>;
}

impl RunStatement for Session<'_> {
    fn run(
        &mut self,
        sql: &'static str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, postgres::Error> {
        let key = (sql.as_ptr() as usize, sql.len());
        let statement = if let Some(statement) = self.cache.0.get(&key) {
            statement.clone()
        } else {
            let statement = self.client.prepare_typed(sql, types)?;
            self.cache.0.insert(key, statement.clone());
            statement
        };
        self.client.query(&statement, params)
    }
}

impl RunStatement for postgres::Transaction<'_> {
    fn run(
        &mut self,
        sql: &'static str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, postgres::Error> {
        let typed: Vec<(&(dyn ToSql + Sync), Type)> =
            params.iter().copied().zip(types.iter().cloned()).collect();
        self.query_typed(sql, &typed)
    }
}

impl PostgresSaver {
    /// Runs `f` on a pooled connection with its statement cache, off any
    /// tokio worker (as `with_client`).
    pub(super) fn with_session<T: Send>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Session<'_>) -> Result<T> + Send,
    ) -> Result<T> {
        let pool = self.pool.as_ref().ok_or_else(|| {
            Error::backend(BACKEND, what.to_owned(), "the saver is being dropped")
        })?;
        super::off_runtime(|| {
            let mut conn = pool.get().map_err(|e| {
                Error::backend(
                    BACKEND,
                    format!("{what}: get a connection to {}", self.name),
                    e,
                )
            })?;
            let mut cache = r2d2::PooledConnection::extensions_mut(&mut conn)
                .remove::<StatementCache>()
                .unwrap_or_default();
            let out = f(&mut Session {
                client: &mut conn,
                cache: &mut cache,
            });
            // A failed call may have left the connection broken; r2d2
            // drops broken connections, and their cache with them.
            r2d2::PooledConnection::extensions_mut(&mut conn).insert(cache);
            out
        })
    }
}
