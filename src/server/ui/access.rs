//! Who may look: [`UiAccess`], the sign-in sessions behind
//! [`UiAccess::ApiKey`], and the [`Viewer`] every handler gets.
//!
//! Signing in posts an API key to `signin`. A valid key gets a session: 32
//! random bytes from the operating system, in hex, sent back as the cookie
//! `checkpointer_ui_session` (`HttpOnly`, so no script reads it;
//! `SameSite=Strict`, so no other site's page sends it; `Path` is where
//! the page is mounted; 12 hours). The server keeps the key in memory
//! under that session id and asks the [`KeyCheck`] again on every
//! request, so a revoked key stops at the next request. The key itself
//! never goes back to the browser. `signout` forgets the session. Both
//! forms are refused (403) when the browser says they were posted from
//! another site (an `Origin` header that is not the page's own host), so
//! no other page can sign a viewer in with a key of its choosing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, OriginalUri, State};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::UiState;
use super::error::ApiError;
use super::page;

/// Which thread ids a viewer may see.
pub type ThreadFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Checks an API key: the viewer's [`ThreadFilter`], or `None` if the key
/// is invalid or revoked. Called on every request of a signed-in browser.
pub type KeyCheck = Arc<dyn Fn(&str) -> Option<ThreadFilter> + Send + Sync>;

/// How the page lets viewers in.
#[derive(Clone)]
pub enum UiAccess {
    /// Everyone who reaches the address sees every thread (what
    /// `checkpointer ui` serves, on a loopback address only).
    Open,
    /// Viewers sign in with an API key, checked by the [`KeyCheck`] on
    /// every request; they see the threads its filter lets through.
    ApiKey(KeyCheck),
}

impl fmt::Debug for UiAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UiAccess::Open => "UiAccess::Open",
            UiAccess::ApiKey(_) => "UiAccess::ApiKey(..)",
        })
    }
}

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "checkpointer_ui_session";
/// How long a session lasts.
const SESSION_LIFETIME: Duration = Duration::from_hours(12);
/// At most this many sessions are kept; signing in beyond it drops the
/// oldest.
const MAX_SESSIONS: usize = 10_000;

/// The access rule and, for API keys, the live sessions.
pub(crate) struct Gate {
    access: UiAccess,
    sessions: Mutex<HashMap<String, Session>>,
}

/// A signed-in browser.
struct Session {
    key: String,
    started: Instant,
}

impl Gate {
    pub(crate) fn new(access: UiAccess) -> Self {
        Gate {
            access,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The sessions; a panic elsewhere while holding the lock leaves the
    /// map usable, so it is taken back rather than propagated.
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The viewer behind the request's headers, or `None` when it must
    /// sign in (no session, an expired one, or a key no longer valid).
    fn viewer(&self, headers: &HeaderMap) -> Option<Viewer> {
        let check = match &self.access {
            UiAccess::Open => return Some(Viewer { filter: None }),
            UiAccess::ApiKey(check) => check,
        };
        let id = session_cookie(headers)?;
        let key = {
            let mut sessions = self.sessions();
            match sessions.get(id) {
                Some(s) if s.started.elapsed() < SESSION_LIFETIME => s.key.clone(),
                Some(_) => {
                    sessions.remove(id);
                    return None;
                }
                None => return None,
            }
        };
        // The check runs without the lock: it may be slow (a database).
        if let Some(filter) = check(&key) {
            return Some(Viewer {
                filter: Some(filter),
            });
        }
        self.sessions().remove(id);
        None
    }

    /// A new session for a key the check accepts, or `None`.
    fn sign_in(&self, key: &str) -> Result<Option<String>, ApiError> {
        let UiAccess::ApiKey(check) = &self.access else {
            return Ok(None);
        };
        if check(key).is_none() {
            return Ok(None);
        }
        let id = new_session_id()?;
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.started.elapsed() < SESSION_LIFETIME);
        if sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                sessions.remove(&oldest);
            }
        }
        let session = Session {
            key: key.to_owned(),
            started: Instant::now(),
        };
        sessions.insert(id.clone(), session);
        Ok(Some(id))
    }

    /// Whether viewers must sign in.
    pub(crate) fn needs_sign_in(&self) -> bool {
        matches!(self.access, UiAccess::ApiKey(_))
    }
}

/// 32 bytes from the operating system's random source, in hex.
fn new_session_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal("make a session id", &e))?;
    Ok(bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

/// The value of the session cookie in the request, if any.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// Who is looking: the threads they may see.
#[derive(Clone)]
pub(crate) struct Viewer {
    filter: Option<ThreadFilter>,
}

impl Viewer {
    /// Whether the viewer may see `thread_id`.
    pub(crate) fn may_see(&self, thread_id: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f(thread_id))
    }

    /// Whether the viewer sees every thread.
    pub(crate) fn sees_all(&self) -> bool {
        self.filter.is_none()
    }
}

impl FromRequestParts<UiState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &UiState) -> Result<Self, ApiError> {
        let gate = Arc::clone(&state.gate);
        let headers = parts.headers.clone();
        // The key check may block (a database): off the async threads.
        tokio::task::spawn_blocking(move || gate.viewer(&headers))
            .await
            .map_err(|e| ApiError::internal("check the session", &e))?
            .ok_or_else(ApiError::unauthorized)
    }
}

/// Whether a form post comes from the page's own site: no `Origin` header
/// (not a browser, or an old one), or one whose host is the `Host` the
/// request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let authority = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

/// The sign-in form's body.
#[derive(serde::Deserialize)]
pub(crate) struct SignIn {
    key: String,
}

/// `POST signin`: a valid key gets a session cookie and goes to the page;
/// any other gets the form again, with a message, as 401.
pub(crate) async fn sign_in(
    State(state): State<UiState>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    form: Result<axum::Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::cross_site().into_response();
    }
    let base = page::mount_prefix(original.path(), uri.path());
    let Ok(axum::Form(SignIn { key })) = form else {
        return page::sign_in_page(&base, Some("Paste an API key to sign in."));
    };
    let gate = Arc::clone(&state.gate);
    let key = key.trim().to_owned();
    let made = tokio::task::spawn_blocking(move || gate.sign_in(&key)).await;
    match made {
        Ok(Ok(Some(id))) => {
            let cookie = format!(
                "{COOKIE_NAME}={id}; HttpOnly; SameSite=Strict; Path={}; Max-Age={}",
                page::home(&base),
                SESSION_LIFETIME.as_secs()
            );
            redirect_home(&base, &cookie)
        }
        Ok(Ok(None)) => {
            page::sign_in_page(&base, Some("That key is not valid (or it was revoked)."))
        }
        Ok(Err(e)) => e.into_response(),
        Err(e) => ApiError::internal("sign in", &e).into_response(),
    }
}

/// `POST signout`: forgets the session and clears the cookie.
pub(crate) async fn sign_out(
    State(state): State<UiState>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if !same_origin(&headers) {
        return ApiError::cross_site().into_response();
    }
    let base = page::mount_prefix(original.path(), uri.path());
    if let Some(id) = session_cookie(&headers) {
        state.gate.sessions().remove(id);
    }
    let cookie = format!(
        "{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path={}; Max-Age=0",
        page::home(&base)
    );
    redirect_home(&base, &cookie)
}

/// 303 to the page, setting `cookie`.
fn redirect_home(base: &str, cookie: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    match (
        HeaderValue::from_str(page::home(base)),
        HeaderValue::from_str(cookie),
    ) {
        (Ok(location), Ok(cookie)) => {
            headers.insert(LOCATION, location);
            headers.insert(SET_COOKIE, cookie);
            response
        }
        _ => ApiError::bad_request("the page's address cannot be put in a header").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; checkpointer_ui_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
        headers.insert(
            COOKIE,
            HeaderValue::from_static("checkpointer_ui_sessionx=abc"),
        );
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn a_form_from_another_site_is_told_apart() {
        let headers = |origin: Option<&'static str>| {
            let mut h = HeaderMap::new();
            h.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
            if let Some(o) = origin {
                h.insert(ORIGIN, HeaderValue::from_static(o));
            }
            h
        };
        assert!(same_origin(&headers(None)));
        assert!(same_origin(&headers(Some("http://127.0.0.1:8080"))));
        assert!(!same_origin(&headers(Some("http://127.0.0.1:9090"))));
        assert!(!same_origin(&headers(Some("https://evil.example"))));
        assert!(!same_origin(&headers(Some("null"))));
    }

    #[test]
    fn session_ids_are_64_hex_digits_and_differ() {
        let (a, b) = (new_session_id().unwrap(), new_session_id().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
