//! The web page that browses thread history: the threads of a store; for
//! one thread its history drawn as branches (an SVG tree from parent ids,
//! forks visible); for a checkpoint its state, metadata, pending writes
//! and diff against its parent. Plain HTML with a little script, built
//! into the binary: no build step, nothing fetched at run time.
//!
//! [`router`] serves it on any [`CheckpointAdmin`], read-only. It works
//! at the root of a server and nested under a prefix (every link is
//! relative to a `<base href>` the page is given):
//!
//! ```no_run
//! use std::sync::Arc;
//! use checkpointer::{CheckpointAdmin, SqliteSaver};
//! use checkpointer::server::ui::{UiAccess, router};
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let saver: Arc<dyn CheckpointAdmin> = Arc::new(SqliteSaver::open("checkpoints.db")?);
//! let app = axum::Router::new().nest("/ui", router(saver, UiAccess::Open));
//! // Or, answering `/ui/` too: checkpointer::server::ui::nested("/ui", saver, UiAccess::Open)
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?; // http://127.0.0.1:8080/ui/
//! # Ok(())
//! # }
//! ```
//!
//! # Routes
//!
//! Relative to the mount point:
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | the page (or, with [`UiAccess::ApiKey`] and no session, the sign-in form, status 401) |
//! | `GET app.js`, `GET style.css` | its script and style |
//! | `POST signin` | form field `key`: a valid key gets a session cookie and a 303 to the page; another key gets the form again (401) |
//! | `POST signout` | forgets the session, clears the cookie, 303 to the page |
//! | `GET api/threads?offset=&limit=` | `{"threads": [{thread_id, checkpoints, namespaces, latest_checkpoint_id, last_step, last_ts}], offset, limit, has_more}`, most recently updated first; `limit` 1 to 500 (default 50) |
//! | `GET api/threads/{thread_id}/history?ns=&limit=` | `{thread_id, checkpoint_ns, namespaces, total, has_more, lanes, checkpoints: [{checkpoint_id, checkpoint_ns, parent_checkpoint_id, step, source, ts, lane, row, branch_from, parent_missing, children}]}`, newest first: one namespace (the root by default), at most `limit` (default 1000) checkpoints; see [`HistoryNode`] |
//! | `GET api/checkpoints/{thread_id}/{checkpoint_id}?ns=` | `{thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, ts, step, source, metadata, state, channel_versions, pending_writes, diff: {against, parent_found, channels: [{channel, change, old, new, added_items?, removed_items?, common_items?}]}}`; `change` is `added`, `removed`, `appended`, `truncated`, `diverged` or `changed` ([`Change`](crate::saver::diff::Change)) |
//!
//! Ids are one path segment each, percent-encoded (`/` in a thread id is
//! `%2F`). Every failure is JSON, `{"error": {"code", "message"}}`: 404
//! `not_found` for an unknown thread, checkpoint, namespace or route (and
//! for a thread the viewer may not see), 400 `bad_request` for a malformed
//! id (not UTF-8, with a NUL byte, over 4096 bytes) or query, 401
//! `unauthorized` without a valid session, 405 for another method, 500
//! `internal` when the store fails. A thread id of exactly `.` or `..`
//! cannot be named in a path (clients resolve dot segments, `%2E` too),
//! so the page cannot open such a thread.
//!
//! # Signing in
//!
//! With [`UiAccess::ApiKey`] the page shows a form to paste an API key.
//! The browser then holds only a session cookie (`HttpOnly`,
//! `SameSite=Strict`, 12 hours, a random 256-bit id); the server maps it
//! to the key and checks the key with the [`KeyCheck`] on every request,
//! so a revoked key is refused at once. The forms are refused (403
//! `forbidden`) when the browser's `Origin` is another site. The cookie
//! has no `Secure` flag (the page is also served on plain loopback
//! HTTP): put a TLS proxy in front of a page reached over a network.
//!
//! # Escaping
//!
//! The HTML holds nothing from the database: the script puts every id
//! and value into the page as text (never as markup) and shows control
//! characters as `\u{…}`; a Content-Security-Policy allows only the page's
//! own script.

mod access;
mod api;
mod error;
mod layout;
mod page;

use std::sync::Arc;

use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

pub use access::{KeyCheck, ThreadFilter, UiAccess};
pub use layout::HistoryNode;

use crate::saver::CheckpointAdmin;
use access::Gate;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct UiState {
    saver: Arc<dyn CheckpointAdmin>,
    gate: Arc<Gate>,
}

/// The page and its JSON endpoints on `saver`, read-only, letting viewers
/// in as `access` says. Mount it anywhere (`Router::nest("/ui", …)`) or
/// serve it at the root.
pub fn router(saver: Arc<dyn CheckpointAdmin>, access: UiAccess) -> Router {
    let state = UiState {
        saver,
        gate: Arc::new(Gate::new(access)),
    };
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/style.css", get(page::style))
        .route("/signin", post(access::sign_in))
        .route("/signout", post(access::sign_out))
        .route("/api/threads", get(api::threads))
        .route("/api/threads/{thread_id}/history", get(api::history))
        .route(
            "/api/checkpoints/{thread_id}/{checkpoint_id}",
            get(api::checkpoint),
        )
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::map_response(page::security_headers))
        .with_state(state)
}

/// [`router`] nested under `prefix` (such as `"/ui"`; it must start with
/// `/` and not end with one), with `prefix/` redirected to `prefix`: a
/// router nested with [`Router::nest`] answers `/ui` and `/ui/…` but not
/// `/ui/`.
pub fn nested(prefix: &str, saver: Arc<dyn CheckpointAdmin>, access: UiAccess) -> Router {
    let home = prefix.to_owned();
    Router::new().nest(prefix, router(saver, access)).route(
        &format!("{prefix}/"),
        get(move || {
            let home = home.clone();
            async move { Redirect::permanent(&home) }
        }),
    )
}
