//! Choosing a backend by URL, as mooncat-checkpoint does.

use std::path::PathBuf;
use std::sync::Arc;

use super::{FileLedger, LedgerError, LedgerResult, MemoryLedger, StepLedger};

/// The variable naming the ledger when no URL is given (mooncat's).
pub const ENV_LEDGER_URL: &str = "MOONCAT_CHECKPOINT_URL";
/// The ledger when neither a URL nor [`ENV_LEDGER_URL`] is given.
pub const DEFAULT_LEDGER_URL: &str = "file://./.mooncat/checkpoints";

/// A parsed ledger URL. As mooncat, the path is the text after the
/// scheme: `file:///abs` is `/abs`, `sqlite://./x.db` is `./x.db`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LedgerUrl {
    /// `memory://` (anything after it is ignored).
    Memory,
    /// `file://PATH`: a [`FileLedger`] directory.
    File(PathBuf),
    /// `sqlite://PATH`: a `SqliteLedger` file (feature `sqlite`).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`: a `PostgresLedger` (feature
    /// `postgres`), the URL as given.
    Postgres(String),
}

impl LedgerUrl {
    /// Parses `url`; any other scheme is
    /// [`LedgerError::UnsupportedUrl`].
    ///
    /// ```
    /// use checkpointer::ledger::LedgerUrl;
    ///
    /// assert_eq!(LedgerUrl::parse("sqlite://./x.db")?, LedgerUrl::Sqlite("./x.db".into()));
    /// assert_eq!(LedgerUrl::parse("file:///var/cp")?, LedgerUrl::File("/var/cp".into()));
    /// assert!(LedgerUrl::parse("redis://x").is_err());
    /// # Ok::<(), checkpointer::ledger::LedgerError>(())
    /// ```
    pub fn parse(url: &str) -> LedgerResult<Self> {
        if url.starts_with("memory://") {
            return Ok(LedgerUrl::Memory);
        }
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(LedgerUrl::File(PathBuf::from(path)));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(LedgerUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(LedgerUrl::Postgres(url.to_owned()));
        }
        Err(LedgerError::UnsupportedUrl {
            url: url.to_owned(),
            reason: "use file://PATH, sqlite://PATH, memory:// or postgres://…".into(),
        })
    }
}

/// The URL to open: `explicit` when given and not empty, else
/// [`ENV_LEDGER_URL`] when set and not empty, else
/// [`DEFAULT_LEDGER_URL`].
pub fn resolve_ledger_url(explicit: Option<&str>) -> String {
    explicit
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| std::env::var(ENV_LEDGER_URL).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| DEFAULT_LEDGER_URL.to_owned())
}

/// Opens the ledger at `url`, or at [`resolve_ledger_url`]`(None)` when
/// `None`: what front doors (the CLI, a graph's options) call, so that
/// they work on any backend.
///
/// ```
/// use checkpointer::ledger::{ClaimOptions, open_ledger};
///
/// let ledger = open_ledger(Some("memory://"))?;
/// assert_eq!(ledger.claim("ns", "k", &ClaimOptions::new())?.kind(), "claimed");
/// # Ok::<(), checkpointer::ledger::LedgerError>(())
/// ```
pub fn open_ledger(url: Option<&str>) -> LedgerResult<Arc<dyn StepLedger>> {
    let url = resolve_ledger_url(url);
    #[cfg(not(all(feature = "sqlite", feature = "postgres")))]
    let unsupported = |feature: &str| LedgerError::UnsupportedUrl {
        url: url.clone(),
        reason: format!("this build has no feature `{feature}`"),
    };
    match LedgerUrl::parse(&url)? {
        LedgerUrl::Memory => Ok(Arc::new(MemoryLedger::new())),
        LedgerUrl::File(path) => Ok(Arc::new(FileLedger::open(path)?)),
        #[cfg(feature = "sqlite")]
        LedgerUrl::Sqlite(path) => Ok(Arc::new(super::SqliteLedger::open(path)?)),
        #[cfg(not(feature = "sqlite"))]
        LedgerUrl::Sqlite(_) => Err(unsupported("sqlite")),
        #[cfg(feature = "postgres")]
        LedgerUrl::Postgres(url) => Ok(Arc::new(super::PostgresLedger::connect(&url)?)),
        #[cfg(not(feature = "postgres"))]
        LedgerUrl::Postgres(_) => Err(unsupported("postgres")),
    }
}
