//! `PostgresOptions`: pool size and timeouts of a [`PostgresSaver`](crate::PostgresSaver).

use std::time::Duration;

/// How [`PostgresSaver::open_with`](crate::PostgresSaver::open_with)
/// connects.
///
/// ```
/// use std::time::Duration;
/// use checkpointer::PostgresOptions;
/// let options = PostgresOptions::new()
///     .with_pool_size(16)
///     .with_statement_timeout(Duration::from_secs(5));
/// assert_eq!(options.pool_size, 16);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// Most connections the pool opens (default 10).
    pub pool_size: u32,
    /// Time to establish one connection (default: the URL's
    /// `connect_timeout`, else none).
    pub connect_timeout: Option<Duration>,
    /// The server's `statement_timeout` for every statement of the saver
    /// (default: the server's).
    pub statement_timeout: Option<Duration>,
    /// How long a call waits for a free (or new) connection before it
    /// fails (default 30 s).
    pub pool_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 10,
            connect_timeout: None,
            statement_timeout: None,
            pool_timeout: Duration::from_secs(30),
        }
    }
}

impl PostgresOptions {
    /// The defaults.
    pub fn new() -> Self {
        PostgresOptions::default()
    }

    /// At most `size` connections (at least 1).
    #[must_use]
    pub fn with_pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// A limit on establishing one connection.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// A `statement_timeout` for every statement.
    #[must_use]
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }

    /// How long a call waits for a connection of the pool.
    #[must_use]
    pub fn with_pool_timeout(mut self, timeout: Duration) -> Self {
        self.pool_timeout = timeout;
        self
    }
}
