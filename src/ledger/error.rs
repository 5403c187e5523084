//! The errors of step ledgers.

use std::fmt;
use std::path::PathBuf;

use crate::saver::BoxError;

/// Why a `done` or `fail` found no lease to finish (mooncat's two
/// reasons, in its order of checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseLostReason {
    /// No record, or one that is not `claimed` (done, failed).
    NotClaimed,
    /// The record is claimed under another token (re-claimed after the
    /// lease expired, or a wrong token).
    TokenMismatch,
}

impl fmt::Display for LeaseLostReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeaseLostReason::NotClaimed => "the record is missing or not claimed",
            LeaseLostReason::TokenMismatch => {
                "the lease token does not match (re-claimed or expired)"
            }
        })
    }
}

/// What a [`StepLedger`](super::StepLedger) call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The namespace is empty or has a character outside `[a-zA-Z0-9_-]`.
    #[error("{operation}: invalid namespace {namespace:?} (only letters, digits, '_' and '-')")]
    InvalidNamespace {
        /// The call.
        operation: &'static str,
        /// The namespace given.
        namespace: String,
    },
    /// `done` or `fail` without the live lease (mooncat's `LeaseLostError`);
    /// nothing changed.
    #[error("lease lost: {namespace}/{key} — {reason}")]
    LeaseLost {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
        /// Why.
        reason: LeaseLostReason,
    },
    /// A `done` result whose JSON (as Python's `json.dumps` writes it) is
    /// over [`MAX_INLINE_RESULT_BYTES`](super::MAX_INLINE_RESULT_BYTES):
    /// store it elsewhere and pass a `result_ref`. Nothing changed.
    #[error(
        "done of {namespace}/{key}: the result is {bytes} bytes of JSON, over the {limit}-byte \
         limit (store it elsewhere and pass a result_ref)"
    )]
    ResultTooLarge {
        /// The namespace.
        namespace: String,
        /// The key.
        key: String,
        /// The result's size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A backend URL this build cannot open.
    #[error("unsupported step ledger URL {url:?}: {reason}")]
    UnsupportedUrl {
        /// The URL.
        url: String,
        /// What is wrong (the schemes this build knows).
        reason: String,
    },
    /// A stored record cannot be read.
    #[error("{namespace}/{key}: stored record is unreadable: {reason}")]
    Corrupt {
        /// The namespace.
        namespace: String,
        /// The key (the storage key when the raw key is unknown).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a ledger file failed.
    #[error("{operation} of {path}: {source}")]
    Io {
        /// The call.
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The database under the ledger failed.
    #[error("{backend} step ledger, {operation}: {source}")]
    Backend {
        /// `sqlite` or `postgres`.
        backend: &'static str,
        /// The call, with the namespace and key it was about.
        operation: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
}

impl LedgerError {
    /// A driver's error as [`LedgerError::Backend`].
    pub fn backend(
        backend: &'static str,
        operation: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        LedgerError::Backend {
            backend,
            operation: operation.into(),
            source: source.into(),
        }
    }

    /// `LeaseLost` for `namespace`/`key`.
    pub fn lease_lost(namespace: &str, key: &str, reason: LeaseLostReason) -> Self {
        LedgerError::LeaseLost {
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            reason,
        }
    }
}

/// A step ledger's result.
pub type LedgerResult<T> = std::result::Result<T, LedgerError>;
