//! Who is calling: `Authorization: Bearer <key>` checked against the
//! stored hashes on every request (no cache, so a revoked key stops at
//! once), with SnapState's 401 and 403 messages.

use std::time::SystemTime;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use super::error::{ApiError, ApiResult};
use super::keys::key_hash;
use super::store::{ApiKeyRecord, ServiceStore};
use super::workflows::iso_millis;

/// The caller of a request, once its key is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The account it acts for.
    pub account_id: String,
    /// The id of its key (the rate limit counts per key).
    pub key_id: String,
}

/// The bearer token of a request.
pub(crate) fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    // HTTP strips trailing blanks, so `Bearer ` arrives as `Bearer`.
    if header == Some("Bearer") {
        return Err(ApiError::Unauthorized("API key is empty"));
    }
    let value = header
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized(
            "Missing or malformed Authorization header",
        ))?;
    if value.trim().is_empty() {
        return Err(ApiError::Unauthorized("API key is empty"));
    }
    Ok(value.trim())
}

/// The stored key for `raw`, if it works now: `Ok(None)` never; an
/// unknown, revoked or expired key is 401, an inactive account 403.
pub(crate) fn check_key(store: &dyn ServiceStore, raw: &str) -> ApiResult<(ApiKeyRecord, Caller)> {
    let Some(key) = store.key_by_hash(&key_hash(raw))? else {
        return Err(ApiError::Unauthorized("Invalid API key"));
    };
    if key.revoked_at.is_some() {
        return Err(ApiError::Unauthorized("API key has been revoked"));
    }
    if key
        .expires_at
        .as_deref()
        .is_some_and(|at| at <= iso_millis(SystemTime::now()).as_str())
    {
        return Err(ApiError::Unauthorized("API key has expired"));
    }
    match store.account(&key.account_id)? {
        Some(account) if account.active => {}
        _ => return Err(ApiError::Forbidden("Account is inactive")),
    }
    let caller = Caller {
        account_id: key.account_id.clone(),
        key_id: key.id.clone(),
    };
    Ok((key, caller))
}

/// The caller of a request with these headers.
pub(crate) fn authenticate(store: &dyn ServiceStore, headers: &HeaderMap) -> ApiResult<Caller> {
    check_key(store, bearer(headers)?).map(|(_, caller)| caller)
}
