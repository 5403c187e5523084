//! Reading requests: a JSON object body (limit, content type, parse) and
//! its fields, with the schema messages and coercions of SnapState's
//! Fastify/AJV validation.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

use super::check_id;
use crate::server::error::{ApiError, ApiResult};
use crate::server::jsform::JsValue;

/// A JSON object body: the body limit, the content type, the parse.
pub(super) fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<JsValue> {
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
    if holds_nul(&value) {
        // PostgreSQL's jsonb cannot store U+0000; refusing it on every
        // backend keeps the service's answers the same on each.
        return Err(ApiError::Validation(
            "body must not contain the character U+0000 (NUL) in any string or key".to_owned(),
        ));
    }
    Ok(value)
}

/// Whether a string or key anywhere in `value` holds U+0000.
fn holds_nul(value: &JsValue) -> bool {
    match value {
        JsValue::String(s) => s.contains('\0'),
        JsValue::Array(items) => items.iter().any(holds_nul),
        JsValue::Object(props) => props.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        JsValue::Null | JsValue::Bool(_) | JsValue::Number(_) => false,
    }
}

pub(super) fn js_type(v: &JsValue) -> &'static str {
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
pub(super) fn string_field(
    body: &JsValue,
    name: &str,
    min: usize,
    max: usize,
) -> ApiResult<Option<String>> {
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
pub(super) fn step_field(v: &JsValue) -> ApiResult<u64> {
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

pub(super) fn only_fields(body: &JsValue, allowed: &[&str]) -> ApiResult<()> {
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

pub(super) fn object_field(body: &JsValue, name: &str) -> ApiResult<Option<Map<String, Value>>> {
    match body.get(name) {
        None => Ok(None),
        Some(v @ JsValue::Object(_)) => match v.to_value() {
            Value::Object(map) => Ok(Some(map)),
            _ => Ok(None),
        },
        Some(_) => Err(ApiError::Validation(format!("body/{name} must be object"))),
    }
}
