//! The routes, SnapState's (see the README's "HTTP service" section):
//!
//! | route | answer |
//! |---|---|
//! | `POST /checkpoints` | 201 the save (★ `ETag` header); 400, 401, 409, 412, 413, 429 |
//! | `GET /checkpoints/{id}` | 200 the stored save; 404 |
//! | `GET /workflows/{id}/resume` | 200 the latest save (★ with etag); 404 |
//! | `GET /workflows/{id}/replay?from_step&to_step&limit` | 200 filter, then page |
//! | `POST /agents`, `GET /agents`, `GET/PATCH/DELETE /agents/{id}` | SnapState's agent rows |
//! | `POST /webhooks`, `DELETE /webhooks/{id}` | 201 / 204 |
//! | `POST /admin/accounts`, `POST /admin/accounts/{id}/keys`, `DELETE /admin/keys/{id}` | `Bearer <admin secret>` |
//! | `GET /health`, `GET /ready` | 200, or 503 when the storage fails |
//!
//! Every answer carries `X-Request-Id`; every failure is an
//! [`ApiError`] envelope. /checkpoints, /workflows and /webhooks count
//! against the per-key rate limit (/agents does not, as in SnapState).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Map, Value, json};

use super::auth::{Caller, authenticate};
use super::error::{ApiError, ApiResult};
use super::jsform::JsValue;
use super::keys::{constant_time_eq, random_hex};
use super::service::Service;
use super::store::{Agent, AgentPut, Webhook};
use super::webhooks::EVENTS;
use super::workflows::{self, ReplayQuery, SaveOutcome, SaveRequest, iso_millis};

type Shared = State<Arc<Service>>;

/// The service's router (the TTL sweeper is started by
/// [`serve`](super::serve), not here).
pub fn router(service: Arc<Service>) -> Router {
    let body_limit = service.options.body_limit;
    Router::new()
        .route("/checkpoints", post(save_checkpoint))
        .route("/checkpoints/{id}", get(get_checkpoint))
        .route("/workflows/{id}/resume", get(resume_workflow))
        .route("/workflows/{id}/replay", get(replay_workflow))
        .route("/agents", post(register_agent).get(list_agents))
        .route(
            "/agents/{id}",
            get(get_agent).patch(patch_agent).delete(delete_agent),
        )
        .route("/webhooks", post(register_webhook))
        .route("/webhooks/{id}", delete(delete_webhook))
        .route("/admin/accounts", post(admin_create_account))
        .route("/admin/accounts/{id}/keys", post(admin_create_key))
        .route("/admin/keys/{id}", delete(admin_revoke_key))
        .route("/health", get(health))
        .route("/ready", get(health))
        // TODO(issue 13, web page): .nest("/ui", ui::router(saver, UiAccess::ApiKey(check))) once src/server/ui lands.
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(request_id))
        .with_state(service)
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// Gives every answer an `X-Request-Id` (and logs the request).
async fn request_id(request: Request, next: Next) -> Response {
    let id = format!("req_{:012x}", REQUESTS.fetch_add(1, Ordering::Relaxed));
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let mut response = next.run(request).await;
    tracing::debug!(%method, path, status = response.status().as_u16(), request_id = id, "request");
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "Route {} {} not found",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A path id: valid UTF-8 after decoding, at most 255 bytes, no NUL.
fn path_id(id: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    let Path(id) = id.map_err(|e| ApiError::Validation(format!("params/id: {}", e.body_text())))?;
    check_id("params/id", &id, 255)?;
    Ok(id)
}

fn check_id(what: &str, id: &str, max_chars: usize) -> ApiResult<()> {
    if id.contains('\0') {
        return Err(ApiError::Validation(format!("{what} must not contain NUL")));
    }
    if id.chars().count() > max_chars {
        return Err(ApiError::Validation(format!(
            "{what} must NOT have more than {max_chars} characters"
        )));
    }
    Ok(())
}

/// The caller, and one request counted against its key's rate limit when
/// `limited`.
fn caller(service: &Service, headers: &HeaderMap, limited: bool) -> ApiResult<Caller> {
    let caller = authenticate(&*service.store, headers)?;
    if limited {
        service.limiter.check(&caller.key_id)?;
    }
    Ok(caller)
}

/// A JSON object body: the body limit, the content type, the parse.
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> ApiResult<JsValue> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge
        } else {
            ApiError::Validation(format!("body could not be read: {}", e.body_text()))
        }
    })?;
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let kind = kind.to_str().unwrap_or("");
        if !kind
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Unsupported Media Type: {kind}"
            )));
        }
    }
    let value = JsValue::parse(&body)
        .map_err(|e| ApiError::Validation(format!("body is not valid JSON: {e}")))?;
    if value.as_object().is_none() {
        return Err(ApiError::Validation("body must be object".to_owned()));
    }
    Ok(value)
}

fn js_type(v: &JsValue) -> &'static str {
    match v {
        JsValue::Null => "null",
        JsValue::Bool(_) => "boolean",
        JsValue::Number(_) => "number",
        JsValue::String(_) => "string",
        JsValue::Array(_) => "array",
        JsValue::Object(_) => "object",
    }
}

/// A string field, with AJV's coercion of numbers and booleans.
fn string_field(body: &JsValue, name: &str, min: usize, max: usize) -> ApiResult<Option<String>> {
    let text = match body.get(name) {
        None => return Ok(None),
        Some(JsValue::String(s)) => s.clone(),
        Some(v @ (JsValue::Number(_) | JsValue::Bool(_))) => v.stringify(),
        Some(_) => return Err(ApiError::Validation(format!("body/{name} must be string"))),
    };
    let chars = text.chars().count();
    if chars < min {
        return Err(ApiError::Validation(format!(
            "body/{name} must NOT have fewer than {min} characters"
        )));
    }
    check_id(&format!("body/{name}"), &text, max)?;
    Ok(Some(text))
}

/// A non-negative integer, with AJV's coercion of numeric strings.
fn step_field(v: &JsValue) -> ApiResult<u64> {
    const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
    let x = match v {
        JsValue::Number(x) => *x,
        JsValue::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| ApiError::Validation("body/step must be integer".to_owned()))?,
        JsValue::Bool(b) => f64::from(u8::from(*b)),
        _ => return Err(ApiError::Validation("body/step must be integer".to_owned())),
    };
    if !x.is_finite() || x.fract() != 0.0 {
        return Err(ApiError::Validation("body/step must be integer".to_owned()));
    }
    if x < 0.0 {
        return Err(ApiError::Validation("body/step must be >= 0".to_owned()));
    }
    if x > MAX_SAFE {
        return Err(ApiError::Validation(
            "body/step must be <= 9007199254740991".to_owned(),
        ));
    }
    // Integral, non-negative and below 2^53: exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(x as u64)
}

fn only_fields(body: &JsValue, allowed: &[&str]) -> ApiResult<()> {
    let extra = body
        .as_object()
        .into_iter()
        .flatten()
        .find(|(k, _)| !allowed.contains(&k.as_str()));
    match extra {
        Some((k, _)) => Err(ApiError::Validation(format!(
            "body must NOT have additional properties ('{k}')"
        ))),
        None => Ok(()),
    }
}

fn object_field(body: &JsValue, name: &str) -> ApiResult<Option<Map<String, Value>>> {
    match body.get(name) {
        None => Ok(None),
        Some(v @ JsValue::Object(_)) => match v.to_value() {
            Value::Object(map) => Ok(Some(map)),
            _ => Ok(None),
        },
        Some(_) => Err(ApiError::Validation(format!("body/{name} must be object"))),
    }
}

/// `X-Checkpoint-TTL`: JavaScript's `parseInt`, used only when > 0.
fn ttl_header(headers: &HeaderMap, default: Duration) -> Duration {
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

fn save_request(headers: &HeaderMap, body: &JsValue, service: &Service) -> ApiResult<SaveRequest> {
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

async fn save_checkpoint(
    State(service): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = json_body(&headers, body)?;
    let outcome = service
        .blocking(move |s| {
            let caller = caller(s, &headers, true)?;
            let request = save_request(&headers, &body, s)?;
            let size = super::jsform::size_bytes(&request.state.stringify());
            if size > s.options.max_state_bytes {
                return Err(ApiError::StateTooLarge);
            }
            let outcome = workflows::save(&*s.saver, &s.locks, &caller.account_id, &request)?;
            Ok((caller, request.agent_id, outcome))
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
fn touch_agent(service: &Arc<Service>, account_id: String, agent_id: String) {
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

async fn get_checkpoint(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let saved = service
        .blocking(move |s| {
            let caller = caller(s, &headers, true)?;
            workflows::get(&*s.saver, &caller.account_id, &id)?
                .ok_or_else(|| ApiError::not_found(format!("Checkpoint {id} not found")))
        })
        .await?;
    Ok(axum::Json(saved).into_response())
}

async fn resume_workflow(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let (caller, answer) = service
        .blocking(move |s| {
            let caller = caller(s, &headers, true)?;
            let answer =
                workflows::resume(&*s.saver, &caller.account_id, &id)?.ok_or_else(|| {
                    ApiError::not_found(format!("No checkpoints found for workflow {id}"))
                })?;
            Ok((caller, answer))
        })
        .await?;
    let latest = &answer["latest_checkpoint"];
    let data = json!({"workflow_id": answer["workflow_id"], "checkpoint_id": latest["checkpoint_id"], "step": latest["step"]});
    service
        .hooks
        .emit(&service.store, &caller.account_id, "workflow.resumed", data);
    Ok(axum::Json(answer).into_response())
}

fn replay_query(pairs: &[(String, String)]) -> ApiResult<ReplayQuery> {
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

async fn replay_workflow(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let Query(pairs) =
        query.map_err(|e| ApiError::Validation(format!("querystring: {}", e.body_text())))?;
    let answer = service
        .blocking(move |s| {
            let caller = caller(s, &headers, true)?;
            let query = replay_query(&pairs)?;
            workflows::replay(&*s.saver, &caller.account_id, &id, query)
        })
        .await?;
    Ok(axum::Json(answer).into_response())
}

fn valid_agent_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// SnapState's `sanitizeString(name, 255)`: a string, trimmed, at most
/// 255 characters.
fn agent_name(v: Option<&JsValue>) -> ApiResult<Option<String>> {
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

const AGENT_FIELDS: [&str; 5] = [
    "agent_id",
    "name",
    "description",
    "capabilities",
    "metadata",
];

async fn register_agent(
    State(service): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = json_body(&headers, body)?;
    let agent = service
        .blocking(move |s| {
            let caller = caller(s, &headers, false)?;
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

async fn list_agents(State(service): Shared, headers: HeaderMap) -> ApiResult<Response> {
    let agents = service
        .blocking(move |s| {
            let caller = caller(s, &headers, false)?;
            Ok(s.store.agents(&caller.account_id)?)
        })
        .await?;
    Ok(axum::Json(json!({ "agents": agents })).into_response())
}

fn agent_not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        code: "AGENT_NOT_FOUND",
        message: format!("Agent '{id}' not found"),
    }
}

async fn get_agent(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let agent = service
        .blocking(move |s| {
            let caller = caller(s, &headers, false)?;
            s.store
                .agent(&caller.account_id, &id)?
                .ok_or_else(|| agent_not_found(&id))
        })
        .await?;
    Ok(axum::Json(agent).into_response())
}

async fn patch_agent(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    let body = json_body(&headers, body)?;
    let agent = service
        .blocking(move |s| {
            let caller = caller(s, &headers, false)?;
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

async fn delete_agent(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    service
        .blocking(move |s| {
            let caller = caller(s, &headers, false)?;
            if s.store.delete_agent(&caller.account_id, &id)? {
                Ok(())
            } else {
                Err(agent_not_found(&id))
            }
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn webhook_of(body: &JsValue) -> ApiResult<Webhook> {
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

async fn register_webhook(
    State(service): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = json_body(&headers, body)?;
    let hook = service
        .blocking(move |s| {
            let caller = caller(s, &headers, true)?;
            let hook = webhook_of(&body)?;
            s.store.add_webhook(&caller.account_id, &hook)?;
            Ok(hook)
        })
        .await?;
    let answer = json!({"webhook_id": hook.webhook_id, "url": hook.url, "events": hook.events, "created_at": hook.created_at});
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

async fn delete_webhook(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    service
        .blocking(move |s| {
            let caller = caller(s, &headers, true)?;
            if s.store.delete_webhook(&caller.account_id, &id)? {
                Ok(())
            } else {
                Err(ApiError::not_found(format!("Webhook {id} not found")))
            }
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The admin routes need `Bearer <admin secret>`; without a configured
/// secret they are off.
fn admin(service: &Service, headers: &HeaderMap) -> ApiResult<()> {
    let given = super::auth::bearer(headers)?;
    match &service.options.admin_secret {
        Some(secret) if constant_time_eq(given, secret) => Ok(()),
        Some(_) => Err(ApiError::Unauthorized("Invalid admin secret")),
        None => Err(ApiError::Forbidden(
            "The admin API is off: set CHECKPOINTER_ADMIN_SECRET",
        )),
    }
}

async fn admin_create_account(
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

async fn admin_create_key(
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

async fn admin_revoke_key(
    State(service): Shared,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let id = path_id(id)?;
    service
        .blocking(move |s| {
            admin(s, &headers)?;
            if s.revoke_key(&id)? {
                Ok(())
            } else {
                Err(ApiError::not_found(format!("Active key {id} not found")))
            }
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn health(State(service): Shared) -> Response {
    let storage = service.blocking(|s| Ok(s.saver.threads(Some(1))?)).await;
    let ok = storage.is_ok();
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": service.started.elapsed().as_secs(),
        "storage": if ok { "ok" } else { "error" },
        "timestamp": iso_millis(SystemTime::now()),
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
