//! The HTML, script and style of the page (files beside this one, built
//! into the binary: nothing is fetched at run time), and the headers that
//! keep it safe to show data from the database.
//!
//! The HTML carries no data from the database: the script fetches the
//! JSON endpoints and puts every id, value and metadata string into the
//! page as text nodes (`textContent`, SVG `<text>`), never as markup, and
//! shows control characters as `\u{…}`. The Content-Security-Policy allows
//! scripts only from the page's own address, so even injected markup could
//! not run.

use axum::extract::{OriginalUri, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::UiState;
use super::access::Viewer;
use super::error::ApiError;

const SHELL_HTML: &str = include_str!("assets/shell.html");
const INDEX_MAIN: &str = include_str!("assets/index.html");
const SIGN_IN_MAIN: &str = include_str!("assets/signin.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The sign-out button, shown when viewers sign in.
const SIGN_OUT_FORM: &str =
    r#"<form method="post" action="signout" class="signout"><button>Sign out</button></form>"#;

/// Where the router is mounted, without a trailing slash (`""` at the
/// root, `/ui` when nested there), from the request's original path and
/// the path the router saw.
pub(crate) fn mount_prefix(original: &str, inner: &str) -> String {
    if let Some(prefix) = original.strip_suffix(inner) {
        return prefix.to_owned();
    }
    // Nested at `/ui`, a request for `/ui` reaches the router as `/`.
    if inner == "/" {
        return original.trim_end_matches('/').to_owned();
    }
    String::new()
}

/// The page's own address: the mount point itself (`/ui`, which a nested
/// router always answers, unlike `/ui/`), or `/` at the root.
pub(crate) fn home(base: &str) -> &str {
    if base.is_empty() { "/" } else { base }
}

/// A whole HTML document: `main` in the shell (head, header), with links
/// relative to the mount point `base`. The fragments go in first and the
/// escaped address last, so nothing in it is ever taken for a placeholder.
fn document(base: &str, title: &str, script: bool, header: &str, main: &str) -> String {
    let script = if script {
        r#"<script src="app.js" defer></script>"#
    } else {
        ""
    };
    SHELL_HTML
        .replace("{{TITLE}}", title)
        .replace("{{SCRIPT}}", script)
        .replace("{{HEADER}}", header)
        .replace("{{MAIN}}", main)
        .replace("{{HOME}}", &html_escape(home(base)))
        .replace("{{BASE}}", &html_escape(&format!("{base}/")))
}

/// `text` safe inside HTML text and double-quoted attributes.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `GET /`: the page, or the sign-in form when the viewer must sign in.
pub(crate) async fn index(
    State(state): State<UiState>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    viewer: Result<Viewer, ApiError>,
) -> Response {
    let base = mount_prefix(original.path(), uri.path());
    match viewer {
        Ok(_) => {
            let sign_out = if state.gate.needs_sign_in() {
                SIGN_OUT_FORM
            } else {
                ""
            };
            let header = format!(r#"<span id="crumb"></span>{sign_out}"#);
            let html = document(&base, "checkpointer", true, &header, INDEX_MAIN);
            with_type(StatusCode::OK, "text/html; charset=utf-8", html)
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => sign_in_page(&base, None),
        Err(e) => e.into_response(),
    }
}

/// The sign-in form (status 401), with `message` above it if given.
pub(crate) fn sign_in_page(base: &str, message: Option<&str>) -> Response {
    let message = message.map_or_else(String::new, |m| {
        format!(r#"<p class="message" id="message">{}</p>"#, html_escape(m))
    });
    let main = SIGN_IN_MAIN.replace("{{MESSAGE}}", &message);
    let html = document(base, "Sign in · checkpointer", false, "", &main);
    with_type(StatusCode::UNAUTHORIZED, "text/html; charset=utf-8", html)
}

/// `GET app.js`.
pub(crate) async fn script() -> Response {
    with_type(StatusCode::OK, "text/javascript; charset=utf-8", APP_JS)
}

/// `GET style.css`.
pub(crate) async fn style() -> Response {
    with_type(StatusCode::OK, "text/css; charset=utf-8", STYLE_CSS)
}

fn with_type(status: StatusCode, content_type: &'static str, body: impl Into<String>) -> Response {
    let mut response = (status, body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Every response: scripts, styles and requests from the page's own
/// address only; not framed; no MIME sniffing; no referrer to other
/// sites (`same-origin`, not `no-referrer`: with that, browsers send
/// `Origin: null` on the page's own form posts, which the sign-in check
/// refuses).
pub(crate) async fn security_headers(mut response: Response) -> Response {
    const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
        img-src 'self' data:; connect-src 'self'; form-action 'self'; \
        frame-ancestors 'none'; base-uri 'self'";
    let headers = response.headers_mut();
    for (name, value) in [
        ("content-security-policy", POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_found_nested_and_at_the_root() {
        assert_eq!(mount_prefix("/ui/api/threads", "/api/threads"), "/ui");
        assert_eq!(mount_prefix("/ui", "/"), "/ui");
        assert_eq!(mount_prefix("/ui/", "/"), "/ui");
        assert_eq!(mount_prefix("/", "/"), "");
        assert_eq!(mount_prefix("/signin", "/signin"), "");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            html_escape(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }
}
