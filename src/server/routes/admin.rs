//! The admin routes, behind `Bearer <admin secret>`: accounts, keys.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::input::{json_body, only_fields, string_field};
use super::{Shared, deleted, path_id};
use crate::server::error::{ApiError, ApiResult};
use crate::server::keys::constant_time_eq;
use crate::server::service::Service;

/// The admin routes need `Bearer <admin secret>`; without a configured
/// secret they are off.
pub(super) fn admin(service: &Service, headers: &HeaderMap) -> ApiResult<()> {
    let given = crate::server::auth::bearer(headers)?;
    match &service.options.admin_secret {
        Some(secret) if constant_time_eq(given, secret) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("Invalid admin secret")),
        None => Err(ApiError::Forbidden(
            "The admin API is off: set CHECKPOINTER_ADMIN_SECRET",
        )),
    }
}

pub(super) async fn admin_create_account(
    State(service): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = json_body(&headers, body)?;
    let account = service
        .blocking(move |s| {
            admin(s, &headers)?;
            only_fields(&body, &["name"])?;
            let name = string_field(&body, "name", 0, 255)?.unwrap_or_default();
            s.ensure_account(None, &name)
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(account)).into_response())
}

pub(super) async fn admin_create_key(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let body = if body.as_ref().is_ok_and(Bytes::is_empty) {
        None
    } else {
        Some(json_body(&headers, body)?)
    };
    let minted = service
        .blocking(move |s| {
            admin(s, &headers)?;
            let label = match &body {
                Some(body) => {
                    only_fields(body, &["label"])?;
                    string_field(body, "label", 0, 255)?
                }
                None => None,
            };
            s.create_key(&id, label.as_deref())
        })
        .await?;
    let r = &minted.record;
    let answer = json!({
        "id": r.id, "account_id": r.account_id, "key_prefix": r.key_prefix, "label": r.label,
        "scopes": ["checkpoints:write", "checkpoints:read", "webhooks:manage"],
        "expires_at": r.expires_at, "created_at": r.created_at, "api_key": minted.api_key,
        "note": "Store this key securely. It will not be shown again.",
    });
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

pub(super) async fn admin_revoke_key(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let key = id.clone();
    let found = service
        .blocking(move |s| {
            admin(s, &headers)?;
            s.revoke_key(&key)
        })
        .await?;
    deleted(found, || {
        ApiError::not_found(format!("Active key {id} not found"))
    })
}
