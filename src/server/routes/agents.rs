//! The agent routes: `POST/GET /agents`, `GET/PATCH/DELETE /agents/{id}`
//! (not rate limited, as in SnapState).

use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::input::json_body;
use super::{Shared, check_id, deleted, path_id, with_caller};
use crate::server::error::{ApiError, ApiResult};
use crate::server::jsform::JsValue;
use crate::server::store::{Agent, AgentPut};
use crate::server::workflows::iso_millis;

pub(super) fn valid_agent_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// SnapState's `sanitizeString(name, 255)`: a string, trimmed, at most
/// 255 characters.
pub(super) fn agent_name(v: Option<&JsValue>) -> ApiResult<Option<String>> {
    match v {
        None | Some(JsValue::Null) => Ok(None),
        Some(JsValue::String(s)) if s.trim().is_empty() => Ok(None),
        Some(JsValue::String(s)) => {
            let name: String = s.trim().chars().take(255).collect();
            check_id("name", &name, 255)?;
            Ok(Some(name))
        }
        Some(_) => Err(ApiError::invalid("name must be a string")),
    }
}

pub(super) const AGENT_FIELDS: [&str; 5] = [
    "agent_id",
    "name",
    "description",
    "capabilities",
    "metadata",
];

pub(super) async fn register_agent(
    State(service): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = json_body(&headers, body)?;
    let agent = with_caller(&service, headers, false, move |s, caller| {
        if let Some((k, _)) = body
            .as_object()
            .into_iter()
            .flatten()
            .find(|(k, _)| !AGENT_FIELDS.contains(&k.as_str()))
        {
            return Err(ApiError::invalid(format!("unknown field '{k}'")));
        }
        let agent_id = match body.get("agent_id") {
            None | Some(JsValue::Null) => {
                return Err(ApiError::invalid("agent_id is required"));
            }
            Some(JsValue::String(s)) if s.is_empty() => {
                return Err(ApiError::invalid("agent_id is required"));
            }
            Some(JsValue::String(s)) if valid_agent_id(s) => s.clone(),
            Some(_) => {
                return Err(ApiError::invalid(
                    "agent_id must be 1–255 alphanumeric characters, underscores, or hyphens",
                ));
            }
        };
        let agent = Agent {
            id: 0,
            agent_id,
            name: agent_name(body.get("name"))?,
            description: body
                .get("description")
                .map(JsValue::to_value)
                .filter(|v| !v.is_null()),
            capabilities: body
                .get("capabilities")
                .map_or_else(|| json!([]), JsValue::to_value),
            metadata: body
                .get("metadata")
                .map_or_else(|| json!({}), JsValue::to_value),
            last_seen_at: None,
            created_at: iso_millis(SystemTime::now()),
        };
        match s
            .store
            .put_agent(&caller.account_id, &agent, s.options.max_agents)?
        {
            AgentPut::Stored(agent) => Ok(agent),
            AgentPut::TooMany => Err(ApiError::BadRequest {
                code: "MAX_AGENTS_REACHED",
                message: format!(
                    "Maximum of {} agents allowed per account",
                    s.options.max_agents
                ),
            }),
        }
    })
    .await?;
    Ok((StatusCode::CREATED, axum::Json(agent)).into_response())
}

pub(super) async fn list_agents(State(service): Shared, headers: HeaderMap) -> ApiResult<Response> {
    let agents = with_caller(&service, headers, false, move |s, caller| {
        Ok(s.store.agents(&caller.account_id)?)
    })
    .await?;
    Ok(axum::Json(json!({ "agents": agents })).into_response())
}

pub(super) fn agent_not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        code: "AGENT_NOT_FOUND",
        message: format!("Agent '{id}' not found"),
    }
}

pub(super) async fn get_agent(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let agent = with_caller(&service, headers, false, move |s, caller| {
        s.store
            .agent(&caller.account_id, &id)?
            .ok_or_else(|| agent_not_found(&id))
    })
    .await?;
    Ok(axum::Json(agent).into_response())
}

pub(super) async fn patch_agent(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let body = json_body(&headers, body)?;
    let agent = with_caller(&service, headers, false, move |s, caller| {
        if let Some((k, _)) = body
            .as_object()
            .into_iter()
            .flatten()
            .find(|(k, _)| !AGENT_FIELDS[1..].contains(&k.as_str()))
        {
            return Err(ApiError::invalid(format!("unknown field '{k}'")));
        }
        if body.as_object().is_none_or(<[_]>::is_empty) {
            return Err(ApiError::invalid("No updatable fields provided"));
        }
        let mut agent = s
            .store
            .agent(&caller.account_id, &id)?
            .ok_or_else(|| agent_not_found(&id))?;
        if let Some(name) = body.get("name") {
            agent.name = agent_name(Some(name))?;
        }
        if let Some(v) = body.get("description") {
            agent.description = Some(v.to_value()).filter(|v| !v.is_null());
        }
        if let Some(v) = body.get("capabilities") {
            agent.capabilities = v.to_value();
        }
        if let Some(v) = body.get("metadata") {
            agent.metadata = v.to_value();
        }
        match s.store.put_agent(&caller.account_id, &agent, usize::MAX)? {
            AgentPut::Stored(agent) => Ok(agent),
            AgentPut::TooMany => Err(agent_not_found(&id)),
        }
    })
    .await?;
    Ok(axum::Json(agent).into_response())
}

pub(super) async fn delete_agent(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let key = id.clone();
    let found = with_caller(&service, headers, false, move |s, caller| {
        Ok(s.store.delete_agent(&caller.account_id, &key)?)
    })
    .await?;
    deleted(found, || agent_not_found(&id))
}
