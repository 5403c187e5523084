//! `POST /webhooks` and `DELETE /webhooks/{id}`.

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::input::{json_body, only_fields};
use super::{Shared, deleted, path_id, with_caller};
use crate::server::error::{ApiError, ApiResult};
use crate::server::jsform::JsValue;
use crate::server::keys::random_hex;
use crate::server::store::Webhook;
use crate::server::webhooks::EVENTS;
use crate::server::workflows::iso_millis;

pub(super) fn webhook_of(body: &JsValue) -> ApiResult<Webhook> {
    only_fields(body, &["url", "events", "secret"])?;
    let url = match body.get("url") {
        Some(JsValue::String(url)) => url.clone(),
        Some(_) => return Err(ApiError::Validation("body/url must be string".to_owned())),
        None => {
            return Err(ApiError::Validation(
                "body must have required property 'url'".to_owned(),
            ));
        }
    };
    let parsed = reqwest::Url::parse(&url)
        .map_err(|_| ApiError::Validation("body/url must match format \"uri\"".to_owned()))?;
    if url.len() > 2048 || !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::Validation(
            "body/url must be an http(s) URL of at most 2048 characters".to_owned(),
        ));
    }
    let events = match body.get("events") {
        Some(JsValue::Array(items)) if !items.is_empty() => items,
        Some(JsValue::Array(_)) => {
            return Err(ApiError::Validation(
                "body/events must NOT have fewer than 1 items".to_owned(),
            ));
        }
        Some(_) => return Err(ApiError::Validation("body/events must be array".to_owned())),
        None => {
            return Err(ApiError::Validation(
                "body must have required property 'events'".to_owned(),
            ));
        }
    };
    let mut names = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match event {
            JsValue::String(e) if EVENTS.contains(&e.as_str()) => names.push(e.clone()),
            _ => {
                return Err(ApiError::Validation(format!(
                    "body/events/{i} must be equal to one of the allowed values"
                )));
            }
        }
    }
    let secret = match body.get("secret") {
        None => None,
        Some(JsValue::String(s)) if s.chars().count() <= 256 => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::Validation(
                "body/secret must be a string of at most 256 characters".to_owned(),
            ));
        }
    };
    Ok(Webhook {
        webhook_id: format!("wh_{}", random_hex(12)?),
        url,
        events: names,
        secret,
        created_at: iso_millis(SystemTime::now()),
    })
}

pub(super) async fn register_webhook(
    State(service): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = json_body(&headers, body)?;
    let hook = with_caller(&service, headers, true, move |s, caller| {
        let hook = webhook_of(&body)?;
        s.store.add_webhook(&caller.account_id, &hook)?;
        Ok(hook)
    })
    .await?;
    let answer = json!({"webhook_id": hook.webhook_id, "url": hook.url, "events": hook.events, "created_at": hook.created_at});
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

pub(super) async fn delete_webhook(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let key = id.clone();
    let found = with_caller(&service, headers, true, move |s, caller| {
        Ok(s.store.delete_webhook(&caller.account_id, &key)?)
    })
    .await?;
    deleted(found, || {
        ApiError::not_found(format!("Webhook {id} not found"))
    })
}
