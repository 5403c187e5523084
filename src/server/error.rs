//! Every failure of the service as a JSON envelope with a 4xx or 5xx
//! status, in SnapState's shapes: `{"error":{"code","message"}}` for the
//! application's errors and Fastify's
//! `{"statusCode","code","error","message"}` for a body that fails the
//! schema or the body limit (the SDK reads both).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::store::StoreError;

/// A failure, as the client sees it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 `FST_ERR_VALIDATION`: the request fails the route's schema
    /// (`body must have required property 'step'`).
    #[error("{0}")]
    Validation(String),
    /// 400 with an application code (`VALIDATION_ERROR`,
    /// `MAX_AGENTS_REACHED`).
    #[error("{message}")]
    BadRequest {
        /// The code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// 401 `UNAUTHORIZED`.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403 `FORBIDDEN`.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404 with a code (`NOT_FOUND`, `AGENT_NOT_FOUND`).
    #[error("{message}")]
    NotFound {
        /// The code.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// 405: the path exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `CONFLICT`, with the existing checkpoint when the step exists.
    #[error("{message}")]
    Conflict {
        /// What conflicts.
        message: String,
        /// The existing checkpoint's id and etag.
        existing: Option<(String, String)>,
    },
    /// 412 `PRECONDITION_FAILED`: a workflow-level `If-Match` that is not
    /// the latest etag.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413 `PAYLOAD_TOO_LARGE`: the state is over the limit.
    #[error("State payload exceeds 1MB limit")]
    StateTooLarge,
    /// 413 `FST_ERR_CTP_BODY_TOO_LARGE`: the request body is over the
    /// body limit.
    #[error("Request body is too large")]
    BodyTooLarge,
    /// 415: a body that is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 `RATE_LIMITED`, with `Retry-After` in whole seconds.
    #[error("Rate limit exceeded")]
    RateLimited {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 500: a bug or a failed dependency (logged with its context).
    #[error("{0}")]
    Internal(String),
    /// 503: the storage cannot be reached.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// A `NOT_FOUND` 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code: "NOT_FOUND",
            message: message.into(),
        }
    }

    /// A `VALIDATION_ERROR` 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "VALIDATION_ERROR",
            message: message.into(),
        }
    }

    /// Its status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::StateTooLarge | ApiError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "FST_ERR_VALIDATION",
            ApiError::BadRequest { code, .. } | ApiError::NotFound { code, .. } => code,
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::Conflict { .. } => "CONFLICT",
            ApiError::PreconditionFailed(_) => "PRECONDITION_FAILED",
            ApiError::StateTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::BodyTooLarge => "FST_ERR_CTP_BODY_TOO_LARGE",
            ApiError::UnsupportedMediaType(_) => "FST_ERR_CTP_INVALID_MEDIA_TYPE",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Internal(_) => "INTERNAL_ERROR",
            ApiError::Unavailable(_) => "SERVICE_UNAVAILABLE",
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let status = self.status();
        match self {
            ApiError::Validation(_)
            | ApiError::BodyTooLarge
            | ApiError::UnsupportedMediaType(_) => {
                json!({
                    "statusCode": status.as_u16(),
                    "code": self.code(),
                    "error": status.canonical_reason().unwrap_or("Error"),
                    "message": self.to_string(),
                })
            }
            ApiError::Conflict {
                existing: Some((checkpoint_id, etag)),
                ..
            } => json!({
                "error": {"code": self.code(), "message": self.to_string()},
                "existing": {"checkpoint_id": checkpoint_id, "etag": etag},
            }),
            _ => json!({"error": {"code": self.code(), "message": self.to_string()}}),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<crate::Error> for ApiError {
    fn from(e: crate::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "request refused");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if let ApiError::RateLimited { retry_after } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The result of a handler.
pub type ApiResult<T> = std::result::Result<T, ApiError>;
