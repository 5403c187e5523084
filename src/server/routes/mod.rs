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
//! | `GET /ui` | the web page of thread history ([`ui`]), signed in with an API key; its account's workflows only |
//!
//! Every answer carries `X-Request-Id`; every failure is an
//! [`ApiError`] envelope. /checkpoints, /workflows and /webhooks count
//! against the per-key rate limit (/agents does not, as in SnapState).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::json;

use super::auth::{Caller, authenticate};
use super::error::{ApiError, ApiResult};
use super::service::Service;
use super::ui::{self, ThreadFilter, UiAccess};
use super::workflows::iso_millis;

mod admin;
mod agents;
mod checkpoints;
mod hooks;
mod input;

use admin::{admin_create_account, admin_create_key, admin_revoke_key};
use agents::{delete_agent, get_agent, list_agents, patch_agent, register_agent};
use checkpoints::{get_checkpoint, replay_workflow, resume_workflow, save_checkpoint};
use hooks::{delete_webhook, register_webhook};

pub(super) type Shared = State<Arc<Service>>;

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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(Arc::clone(&service))
        // The web page, signed in with an API key; it answers its own
        // errors, and sees only the threads of the key's account.
        .merge(ui::nested(
            "/ui",
            Arc::clone(service.saver()),
            ui_access(service),
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(request_id))
}

/// The web page's sign-in: a key lets its viewer in while it is valid
/// (checked on every request, so a revoked key stops at once), to see its
/// account's workflows.
fn ui_access(service: Arc<Service>) -> UiAccess {
    UiAccess::ApiKey(Arc::new(move |api_key: &str| {
        service
            .thread_filter(api_key)
            .map(|sees| Arc::new(sees) as ThreadFilter)
    }))
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// How long one request may take, body included, before it is answered
/// 503 (so that a client that sends its body slowly holds nothing for
/// long).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Gives every answer an `X-Request-Id`, logs the request, bounds its
/// time, and turns a panic in a handler into a 500 envelope (none is
/// known; this is the net under the net).
async fn request_id(request: Request, next: Next) -> Response {
    use futures::FutureExt as _;
    let id = format!("req_{:012x}", REQUESTS.fetch_add(1, Ordering::Relaxed));
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let run = std::panic::AssertUnwindSafe(next.run(request)).catch_unwind();
    let mut response = match tokio::time::timeout(REQUEST_TIMEOUT, run).await {
        Ok(Ok(response)) => response,
        Ok(Err(_)) => {
            ApiError::Internal(format!("the handler of {method} {path} panicked")).into_response()
        }
        Err(_) => ApiError::Unavailable(format!(
            "{method} {path} took more than {REQUEST_TIMEOUT:?}"
        ))
        .into_response(),
    };
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
pub(super) fn path_id(id: Result<Path<String>, PathRejection>) -> ApiResult<String> {
    let Path(id) = id.map_err(|e| ApiError::Validation(format!("params/id: {}", e.body_text())))?;
    check_id("params/id", &id, 255)?;
    Ok(id)
}

pub(super) fn check_id(what: &str, id: &str, max_chars: usize) -> ApiResult<()> {
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
pub(super) fn caller(service: &Service, headers: &HeaderMap, limited: bool) -> ApiResult<Caller> {
    let caller = authenticate(&*service.store, headers)?;
    if limited {
        service.limiter.check(&caller.key_id)?;
    }
    Ok(caller)
}

/// Runs `work` for the caller of a request on the blocking pool (every
/// saver and store call is synchronous).
pub(super) async fn with_caller<T, F>(
    service: &Arc<Service>,
    headers: HeaderMap,
    limited: bool,
    work: F,
) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&Service, &Caller) -> ApiResult<T> + Send + 'static,
{
    service
        .blocking(move |s| {
            let caller = caller(s, &headers, limited)?;
            work(s, &caller)
        })
        .await
}

/// 204 if something was deleted, else the given 404.
pub(super) fn deleted(found: bool, missing: impl FnOnce() -> ApiError) -> ApiResult<Response> {
    if found {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(missing())
    }
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
