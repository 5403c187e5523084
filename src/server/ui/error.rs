//! What the page's endpoints answer when they fail: a status and a JSON
//! envelope `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::saver::Error;

/// A failed request to the page's endpoints.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// 404: no such thread, checkpoint or route.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400: a malformed id, namespace or query parameter.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: not signed in, or the key was revoked.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in with an API key (the key is missing, invalid or revoked)",
        )
    }

    /// 403: a sign-in or sign-out form posted from another site.
    pub(crate) fn cross_site() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the form was posted from another site (its Origin is not this page's)",
        )
    }

    /// 405: the page's endpoints only read.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint only answers GET",
        )
    }

    /// 500: the store failed while doing `what` (logged with its cause).
    pub(crate) fn internal(what: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!("web page: {what}: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what}: {cause}"),
        )
    }

    /// A saver error met while doing `what`: the caller's mistakes are
    /// 400, missing data 404, the rest 500.
    pub(crate) fn from_saver(what: &str, e: &Error) -> Self {
        match e {
            Error::EmptyThreadId { .. } | Error::InvalidFilterKey { .. } => {
                Self::bad_request(format!("{what}: {e}"))
            }
            Error::ThreadNotFound { .. } | Error::CheckpointNotFound { .. } => {
                Self::not_found(format!("{what}: {e}"))
            }
            _ => Self::internal(what, e),
        }
    }

    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
