//! `POST /checkpoints`, `GET /checkpoints/{id}`, `GET /workflows/{id}/resume`
//! and `GET /workflows/{id}/replay`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::input::{js_type, json_body, object_field, only_fields, step_field, string_field};
use super::{Shared, path_id, with_caller};
use crate::server::error::{ApiError, ApiResult};
use crate::server::jsform::JsValue;
use crate::server::service::Service;
use crate::server::workflows::{self, ReplayQuery, SaveOutcome, SaveRequest, iso_millis};

/// `X-Checkpoint-TTL`: JavaScript's `parseInt`, used only when > 0.
pub(super) fn ttl_header(headers: &HeaderMap, default: Duration) -> Duration {
    let Some(text) = headers
        .get("x-checkpoint-ttl")
        .and_then(|v| v.to_str().ok())
    else {
        return default;
    };
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    match digits.parse::<u64>() {
        // At most 100 years, so that a huge value cannot overflow a time.
        Ok(secs) if secs > 0 => Duration::from_secs(secs.min(100 * 365 * 86_400)),
        _ => default,
    }
}

pub(super) fn save_request(
    headers: &HeaderMap,
    body: &JsValue,
    service: &Service,
) -> ApiResult<SaveRequest> {
    only_fields(
        body,
        &[
            "workflow_id",
            "step",
            "state",
            "label",
            "agent_id",
            "metadata",
        ],
    )?;
    for required in ["workflow_id", "step", "state"] {
        if body.get(required).is_none() {
            return Err(ApiError::Validation(format!(
                "body must have required property '{required}'"
            )));
        }
    }
    let workflow_id = string_field(body, "workflow_id", 1, 128)?.unwrap_or_default();
    let step = step_field(body.get("step").unwrap_or(&JsValue::Null))?;
    let state = match body.get("state") {
        Some(state @ JsValue::Object(_)) => state.clone(),
        other => {
            let kind = other.map_or("nothing", js_type);
            return Err(ApiError::Validation(format!(
                "body/state must be object (not {kind})"
            )));
        }
    };
    let scope = headers
        .get("x-if-match-scope")
        .and_then(|v| v.to_str().ok());
    Ok(SaveRequest {
        workflow_id,
        step,
        state,
        label: string_field(body, "label", 0, 256)?,
        agent_id: string_field(body, "agent_id", 0, 255)?,
        metadata: object_field(body, "metadata")?,
        ttl: ttl_header(headers, service.options.default_ttl),
        if_match: headers
            .get(header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        workflow_if_match: scope.is_some_and(|s| s.eq_ignore_ascii_case("workflow")),
    })
}

pub(super) async fn save_checkpoint(
    State(service): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = json_body(&headers, body)?;
    let outcome = with_caller(&service, headers.clone(), true, move |s, caller| {
        let request = save_request(&headers, &body, s)?;
        let size = crate::server::jsform::size_bytes(&request.state.stringify());
        if size > s.options.max_state_bytes {
            return Err(ApiError::StateTooLarge);
        }
        let outcome = workflows::save(&*s.saver, &s.locks, &caller.account_id, &request)?;
        Ok((caller.clone(), request.agent_id, outcome))
    })
    .await?;
    let (caller, agent_id, outcome) = outcome;
    let saved = match outcome {
        SaveOutcome::Idempotent(saved) => saved,
        SaveOutcome::Created(saved) => {
            let data = json!({"workflow_id": saved.workflow_id, "checkpoint_id": saved.checkpoint_id, "step": saved.step});
            service
                .hooks
                .emit(&service.store, &caller.account_id, "checkpoint.saved", data);
            if let Some(agent) = agent_id {
                touch_agent(&service, caller.account_id.clone(), agent);
            }
            saved
        }
    };
    let mut response = (StatusCode::CREATED, axum::Json(saved.save_answer())).into_response();
    if let Ok(tag) = HeaderValue::from_str(&saved.etag) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

/// Marks an agent seen by a save, in the background and at most once a
/// minute per agent (each mark rewrites the account's agent table).
pub(super) fn touch_agent(service: &Arc<Service>, account_id: String, agent_id: String) {
    let service = Arc::clone(service);
    tokio::task::spawn_blocking(move || {
        let now = SystemTime::now();
        let a_minute_ago = iso_millis(now.checked_sub(Duration::from_mins(1)).unwrap_or(now));
        match service.store.agent(&account_id, &agent_id) {
            Ok(Some(agent))
                if agent
                    .last_seen_at
                    .as_deref()
                    .is_none_or(|t| t < a_minute_ago.as_str()) =>
            {
                if let Err(e) = service
                    .store
                    .touch_agent(&account_id, &agent_id, &iso_millis(now))
                {
                    tracing::warn!(account_id, agent_id, error = %e, "agent last_seen_at not updated");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(account_id, agent_id, error = %e, "agent not read"),
        }
    });
}

pub(super) async fn get_checkpoint(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let saved = with_caller(&service, headers, true, move |s, caller| {
        workflows::get(&*s.saver, &caller.account_id, &id)?
            .ok_or_else(|| ApiError::not_found(format!("Checkpoint {id} not found")))
    })
    .await?;
    Ok(axum::Json(saved).into_response())
}

pub(super) async fn resume_workflow(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let (caller, answer) = with_caller(&service, headers, true, move |s, caller| {
        let answer = workflows::resume(&*s.saver, &caller.account_id, &id)?.ok_or_else(|| {
            ApiError::not_found(format!("No checkpoints found for workflow {id}"))
        })?;
        Ok((caller.clone(), answer))
    })
    .await?;
    let latest = &answer["latest_checkpoint"];
    let data = json!({"workflow_id": answer["workflow_id"], "checkpoint_id": latest["checkpoint_id"], "step": latest["step"]});
    service
        .hooks
        .emit(&service.store, &caller.account_id, "workflow.resumed", data);
    Ok(axum::Json(answer).into_response())
}

pub(super) fn replay_query(pairs: &[(String, String)]) -> ApiResult<ReplayQuery> {
    let mut query = ReplayQuery {
        from_step: None,
        to_step: None,
        limit: 100,
    };
    for (key, value) in pairs {
        let number = || {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| ApiError::Validation(format!("querystring/{key} must be integer")))
        };
        match key.as_str() {
            "from_step" => query.from_step = Some(number()?),
            "to_step" => query.to_step = Some(number()?),
            "limit" => {
                let limit = number()?;
                if !(1..=1000).contains(&limit) {
                    return Err(ApiError::Validation(format!(
                        "querystring/limit must be {} 1000",
                        if limit < 1 { ">= 1, and <=" } else { "<=" }
                    )));
                }
                query.limit = usize::try_from(limit).unwrap_or(1000);
            }
            other => {
                return Err(ApiError::Validation(format!(
                    "querystring must NOT have additional properties ('{other}')"
                )));
            }
        }
    }
    Ok(query)
}

pub(super) async fn replay_workflow(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::Validation(format!("querystring: {}", e.body_text())))?;
    let answer = with_caller(&service, headers, true, move |s, caller| {
        let query = replay_query(&pairs)?;
        workflows::replay(&*s.saver, &caller.account_id, &id, query)
    })
    .await?;
    Ok(axum::Json(answer).into_response())
}
