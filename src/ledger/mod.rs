//! The step ledger: side effects that run once per key, across crashes,
//! retries and processes, compatible with mooncat-checkpoint 0.1.0
//! (Python).
//!
//! A worker [`claim`](StepLedger::claim)s a step by namespace and key. A
//! new step is [`Claim::Claimed`] with a lease and a fencing token: the
//! worker runs it and records it [`done`](StepLedger::done) with its
//! result (or [`fail`](StepLedger::fail)ed). A later claim of a done step
//! gets [`Claim::Done`] with the stored result instead of running it
//! again; a claim while another worker's lease is live gets
//! [`Claim::Busy`]; a lease that lapsed (the worker died) is claimed
//! again, and the old worker's `done` is refused
//! ([`LedgerError::LeaseLost`]).
//!
//! - [`StepLedger`]: the contract (its doc's `# Contract` lists every
//!   rule), with [`StepRecord`] (mooncat's record JSON) and
//!   [`storage_key`] (mooncat's key hashing).
//! - [`MemoryLedger`] (`memory://`): the reference.
//! - [`FileLedger`] (`file://PATH`): mooncat's JSON files, with a file
//!   lock per step and fsync on `done`/`fail`.
//! - `SqliteLedger` (`sqlite://PATH`, feature `sqlite`): mooncat's table
//!   in a WAL file.
//! - `PostgresLedger` (`postgres://…`, feature `postgres`): the same
//!   columns in the table `mooncat_checkpoints`.
//! - [`open_ledger`]: the backend a URL names (`memory://`, `file://PATH`,
//!   `sqlite://PATH`, `postgres://…`), else `MOONCAT_CHECKPOINT_URL`, else
//!   `file://./.mooncat/checkpoints`, as mooncat chooses.
//!
//! ```
//! use checkpointer::ledger::{Claim, ClaimOptions, MemoryLedger, StepLedger};
//! use serde_json::json;
//!
//! let ledger = MemoryLedger::new();
//! let options = ClaimOptions::new().with_owner("run-1");
//! match ledger.claim("emails", "welcome:user-42", &options)? {
//!     Claim::Claimed { token, .. } => {
//!         // ... send the e-mail, once ...
//!         ledger.done("emails", "welcome:user-42", &token, json!({"sent": true}), None)?;
//!     }
//!     Claim::Done(record) => println!("already sent: {}", record.result),
//!     Claim::Busy(_) => println!("another worker is sending it"),
//!     Claim::Failed(record) => println!("failed: {:?}", record.error),
//! }
//! # Ok::<(), checkpointer::ledger::LedgerError>(())
//! ```
//!
//! # Writing a backend
//!
//! A backend stores records by `(namespace, storage_key)` and implements
//! the four transitions with [`machine`]: read the record inside a lock or
//! transaction, call the machine's function, write what it returns.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod columns;
mod contract;
mod error;
mod file;
mod key;
pub mod machine;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod record;
mod size;
#[cfg(feature = "sqlite")]
mod sqlite;
mod token;
mod url;

pub use contract::{Claim, ClaimOptions, DEFAULT_EXTEND_MS, DEFAULT_LEASE_MS, StepLedger};
pub use error::{LeaseLostReason, LedgerError, LedgerResult};
pub use file::FileLedger;
pub use key::{MAX_PLAIN_KEY_LEN, check_namespace, storage_key};
pub use memory::MemoryLedger;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresLedger;
pub use record::{StepRecord, StepStatus};
pub use size::{MAX_INLINE_RESULT_BYTES, python_json_len};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SQLITE_LEDGER_BUSY_TIMEOUT, SqliteLedger};
pub use token::{new_lease_token, now_ms};
pub use url::{DEFAULT_LEDGER_URL, ENV_LEDGER_URL, LedgerUrl, open_ledger, resolve_ledger_url};
