//! `PostgresOptions`: pool size, timeouts and TLS of a
//! [`PostgresSaver`](crate::PostgresSaver).

use std::path::PathBuf;
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// TLS (default: the URL's `sslmode` and `sslrootcert`, as libpq reads
    /// them; without `sslmode`, none). Anything but
    /// [`PostgresTlsMode::Disable`] needs the feature `postgres-tls`.
    pub tls: Option<PostgresTlsMode>,
}

/// Whether and how connections are encrypted: libpq's `sslmode`.
///
/// In a URL: `?sslmode=disable` (also `allow` and `prefer`: this saver
/// never falls back silently, so it does not try TLS unless asked),
/// `?sslmode=require`, or `?sslmode=verify-full&sslrootcert=/path/ca.pem`.
/// `verify-ca` is refused (use `verify-full`).
///
/// ```
/// use checkpointer::{PostgresOptions, PostgresTlsMode};
/// let options = PostgresOptions::new().with_tls(PostgresTlsMode::VerifyFull {
///     ca_file: "/etc/ssl/db-ca.pem".into(),
/// });
/// assert!(matches!(options.tls, Some(PostgresTlsMode::VerifyFull { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PostgresTlsMode {
    /// Plain connections.
    Disable,
    /// Encrypted, but the server's certificate is not checked: safe from
    /// eavesdropping, not from a server that impersonates yours.
    Require,
    /// Encrypted, and the server's certificate must chain to a CA in
    /// `ca_file` (PEM) and name the host connected to.
    VerifyFull {
        /// The CA certificates (PEM) the server's certificate must chain to.
        ca_file: PathBuf,
    },
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 10,
            connect_timeout: None,
            statement_timeout: None,
            pool_timeout: Duration::from_secs(30),
            tls: None,
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

    /// TLS as `mode`, whatever the URL says.
    #[must_use]
    pub fn with_tls(mut self, mode: PostgresTlsMode) -> Self {
        self.tls = Some(mode);
        self
    }
}
