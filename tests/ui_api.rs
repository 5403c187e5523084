//! The web page's routes and JSON endpoints over real HTTP, on SQLite and
//! (with `CHECKPOINTER_PG_URL`) PostgreSQL: every endpoint, the branch
//! layout of a fork, diffs, paging, every error as JSON, hostile ids.
#![cfg(feature = "server")]

#[path = "ui_support/mod.rs"]
mod ui_support;

#[cfg(feature = "postgres")]
#[path = "pg_support/mod.rs"]
mod pg_support;

use std::sync::Arc;

use checkpointer::server::ui::{UiAccess, nested, router};
use checkpointer::{Checkpoint, CheckpointAdmin, CheckpointMetadata, CheckpointSource, Config};
use serde_json::{Value, json};
use ui_support::{
    DOTTED, EVIL, EVIL_CHANNEL, EVIL_VALUE, FORKED, SLASHED, client, fill, get_json, seg, serve,
};

/// One test per case per backend.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $case() {
                let (saver, _dir) = crate::ui_support::sqlite();
                super::$case(saver);
            })*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(#[test]
            fn $case() {
                let Some((saver, _schema)) = crate::pg_support::fresh(stringify!($case)) else {
                    return;
                };
                super::$case(std::sync::Arc::new(saver));
            })*
        }
    };
}

cases!(
    the_page_and_its_files_are_served,
    threads_have_counts_steps_and_times,
    threads_come_in_pages,
    history_draws_the_fork,
    namespaces_are_selectable,
    a_checkpoint_has_state_writes_and_its_diff,
    unknown_threads_and_checkpoints_are_json_404s,
    bad_ids_and_queries_are_json_400s,
    ids_with_slashes_and_dots_stay_one_segment,
    hostile_ids_come_back_exactly,
    the_router_works_nested_under_a_prefix,
);

fn open(saver: Arc<dyn CheckpointAdmin>) -> ui_support::Served {
    serve(router(saver, UiAccess::Open))
}

/// The newest root checkpoint of `thread` through the history and
/// checkpoint endpoints, the id percent-encoded as one segment.
fn newest_checkpoint(
    http: &reqwest::blocking::Client,
    srv: &ui_support::Served,
    thread: &str,
) -> Value {
    let (status, h) = get_json(
        http,
        &srv.url(&format!("/api/threads/{}/history", seg(thread))),
    );
    assert_eq!(status, 200, "{thread:?}: {h}");
    assert_eq!(h["thread_id"], thread);
    let cp = h["checkpoints"][0]["checkpoint_id"].as_str().unwrap();
    let (status, c) = get_json(
        http,
        &srv.url(&format!("/api/checkpoints/{}/{cp}", seg(thread))),
    );
    assert_eq!(status, 200, "{thread:?}: {c}");
    assert_eq!(c["thread_id"], thread);
    c
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error envelope: {body}"))
}

fn the_page_and_its_files_are_served(saver: Arc<dyn CheckpointAdmin>) {
    fill(&*saver);
    let srv = open(saver);
    let http = client();
    let page = http.get(srv.url("/")).send().unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    // Not `no-referrer`: with it a browser posts the sign-in form with
    // `Origin: null`, which the cross-site check refuses.
    assert_eq!(page.headers()["referrer-policy"], "same-origin");
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().unwrap();
    assert!(html.contains(r#"<base href="/">"#), "{html}");
    assert!(html.contains(r#"<script src="app.js""#));
    assert!(!html.contains("Sign out"), "an open page has no sign-out");
    assert!(
        !html.contains(FORKED),
        "the HTML carries no data from the database"
    );
    for (path, kind, needle) in [
        ("/app.js", "text/javascript", "api/threads"),
        ("/style.css", "text/css", "#tree"),
    ] {
        let r = http.get(srv.url(path)).send().unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        assert!(r.text().unwrap().contains(needle), "{path}");
    }
}

fn threads_have_counts_steps_and_times(saver: Arc<dyn CheckpointAdmin>) {
    fill(&*saver);
    let srv = open(saver);
    let (status, body) = get_json(&client(), &srv.url("/api/threads"));
    assert_eq!(status, 200, "{body}");
    let threads = body["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 4, "{body}");
    assert_eq!(
        (
            body["offset"].clone(),
            body["limit"].clone(),
            body["has_more"].clone()
        ),
        (json!(0), json!(50), json!(false))
    );
    let forked = threads.iter().find(|t| t["thread_id"] == FORKED).unwrap();
    assert_eq!(forked["checkpoints"], 5);
    assert_eq!(forked["namespaces"], 2);
    // The newest checkpoint over all namespaces is the subgraph's (step 0).
    assert_eq!(forked["last_step"], 0);
    let ts = forked["last_ts"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
}

fn threads_come_in_pages(saver: Arc<dyn CheckpointAdmin>) {
    fill(&*saver);
    for i in 0..23 {
        let cp = Checkpoint::new(0);
        let thread = Config::thread(format!("bulk-{i:02}"));
        saver
            .put(
                &thread,
                &cp,
                &CheckpointMetadata::new(CheckpointSource::Loop, 0),
                &cp.channel_versions,
            )
            .unwrap();
    }
    let srv = open(saver);
    let http = client();
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let (status, body) = get_json(
            &http,
            &srv.url(&format!("/api/threads?offset={offset}&limit=10")),
        );
        assert_eq!(status, 200, "{body}");
        let page = body["threads"].as_array().unwrap();
        seen.extend(
            page.iter()
                .map(|t| t["thread_id"].as_str().unwrap().to_owned()),
        );
        if body["has_more"] == false {
            assert!(page.len() <= 10);
            break;
        }
        assert_eq!(page.len(), 10);
        offset += 10;
    }
    assert_eq!(seen.len(), 27, "every thread once: {seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 27);
    // Most recently updated first: the bulk threads were written last.
    assert_eq!(seen[0], "bulk-22");
}

fn history_draws_the_fork(saver: Arc<dyn CheckpointAdmin>) {
    let fx = fill(&*saver);
    let srv = open(saver);
    let (status, h) = get_json(
        &client(),
        &srv.url(&format!("/api/threads/{FORKED}/history")),
    );
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["checkpoint_ns"], "");
    assert_eq!(
        (
            h["total"].clone(),
            h["lanes"].clone(),
            h["has_more"].clone()
        ),
        (json!(4), json!(2), json!(false))
    );
    let nodes = h["checkpoints"].as_array().unwrap();
    let ids: Vec<&str> = nodes
        .iter()
        .map(|n| n["checkpoint_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [&fx.d, &fx.c, &fx.b, &fx.a], "newest first");
    let node = |id: &str| nodes.iter().find(|n| n["checkpoint_id"] == id).unwrap();
    for id in [&fx.a, &fx.b, &fx.c] {
        assert_eq!(node(id)["lane"], 0);
    }
    let d = node(&fx.d);
    assert_eq!(d["lane"], 1);
    assert_eq!(
        d["branch_from"],
        json!(fx.b),
        "the fork names where it started"
    );
    assert_eq!(
        (d["step"].clone(), d["source"].clone()),
        (json!(1), json!("fork"))
    );
    assert_eq!(node(&fx.b)["children"], 2);
    assert_eq!(node(&fx.a)["parent_checkpoint_id"], Value::Null);
    assert!(
        nodes
            .iter()
            .all(|n| n["ts"].as_str().is_some_and(|t| !t.is_empty()))
    );
    // A smaller page keeps the newest and marks the cut.
    let (_, h) = get_json(
        &client(),
        &srv.url(&format!("/api/threads/{FORKED}/history?limit=2")),
    );
    assert_eq!(
        (h["has_more"].clone(), h["total"].clone()),
        (json!(true), json!(4))
    );
    let nodes = h["checkpoints"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert!(nodes.iter().all(|n| n["parent_missing"] == true), "{h}");
}

fn namespaces_are_selectable(saver: Arc<dyn CheckpointAdmin>) {
    let fx = fill(&*saver);
    let srv = open(saver);
    let http = client();
    let (_, h) = get_json(&http, &srv.url(&format!("/api/threads/{FORKED}/history")));
    assert_eq!(h["namespaces"], json!(["", "child:1"]));
    let (status, h) = get_json(
        &http,
        &srv.url(&format!("/api/threads/{FORKED}/history?ns=child%3A1")),
    );
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["checkpoint_ns"], "child:1");
    assert_eq!(h["checkpoints"][0]["checkpoint_id"], json!(fx.sub));
    let (status, e) = get_json(
        &http,
        &srv.url(&format!("/api/threads/{FORKED}/history?ns=nope")),
    );
    assert_eq!((status, error_code(&e)), (404, "not_found"));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("namespace \"nope\""),
        "{e}"
    );
    // A checkpoint is found in its namespace without naming it.
    let (status, c) = get_json(
        &http,
        &srv.url(&format!("/api/checkpoints/{FORKED}/{}", fx.sub)),
    );
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["checkpoint_ns"], "child:1");
    assert_eq!(c["state"]["inner"], 1);
}

fn a_checkpoint_has_state_writes_and_its_diff(saver: Arc<dyn CheckpointAdmin>) {
    let fx = fill(&*saver);
    let srv = open(saver);
    let http = client();
    let (status, c) = get_json(
        &http,
        &srv.url(&format!("/api/checkpoints/{FORKED}/{}?ns=", fx.c)),
    );
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        c["state"],
        json!({"messages": ["hi", "hello"], "mood": "happy"})
    );
    assert_eq!(
        (c["step"].clone(), c["source"].clone()),
        (json!(1), json!("loop"))
    );
    assert_eq!(c["metadata"]["step"], 1);
    assert_eq!(c["parent_checkpoint_id"], json!(fx.b));
    let writes = c["pending_writes"].as_array().unwrap();
    assert_eq!(writes.len(), 1);
    assert_eq!(
        (
            writes[0]["task_id"].clone(),
            writes[0]["channel"].clone(),
            writes[0]["value"].clone()
        ),
        (json!("task-1"), json!("messages"), json!("pending!"))
    );
    let diff = &c["diff"];
    assert_eq!(
        (diff["against"].clone(), diff["parent_found"].clone()),
        (json!(fx.b), json!(true))
    );
    assert_eq!(
        diff["channels"],
        json!([
            {"channel": "messages", "change": "appended", "old": ["hi"], "new": ["hi", "hello"],
             "added_items": ["hello"], "common_items": 1},
            {"channel": "mood", "change": "added", "old": null, "new": "happy"},
        ])
    );
    // The fork replaced the list: it diverges from its parent's.
    let (_, d) = get_json(
        &http,
        &srv.url(&format!("/api/checkpoints/{FORKED}/{}", fx.d)),
    );
    assert_eq!(d["diff"]["channels"][0]["change"], "diverged", "{d}");
    assert_eq!(d["diff"]["channels"][0]["removed_items"], json!(["hi"]));
    // The first checkpoint has no parent: every channel is new.
    let (_, a) = get_json(
        &http,
        &srv.url(&format!("/api/checkpoints/{FORKED}/{}", fx.a)),
    );
    assert_eq!(a["diff"]["against"], Value::Null);
    assert_eq!(a["diff"]["channels"][0]["change"], "added", "{a}");
}

fn unknown_threads_and_checkpoints_are_json_404s(saver: Arc<dyn CheckpointAdmin>) {
    let fx = fill(&*saver);
    let srv = open(saver);
    let http = client();
    for path in [
        "/api/threads/nobody/history".to_owned(),
        format!("/api/checkpoints/nobody/{}", fx.a),
        format!("/api/checkpoints/{FORKED}/no-such-checkpoint"),
        format!("/api/checkpoints/{FORKED}/{}?ns=child%3A1", fx.a),
        "/api/nothing".to_owned(),
        "/no/such/page".to_owned(),
    ] {
        let (status, body) = get_json(&http, &srv.url(&path));
        assert_eq!(
            (status, error_code(&body)),
            (404, "not_found"),
            "{path}: {body}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, body) = get_json(&http, &srv.url("/api/threads/nobody/history"));
    assert_eq!(body["error"]["message"], "thread \"nobody\" not found");
    let r = http.post(srv.url("/api/threads")).send().unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().unwrap();
    assert_eq!(error_code(&body), "method_not_allowed");
}

fn bad_ids_and_queries_are_json_400s(saver: Arc<dyn CheckpointAdmin>) {
    fill(&*saver);
    let srv = open(saver);
    let http = client();
    let long = "x".repeat(5000);
    for path in [
        "/api/threads/%FF%FE/history".to_owned(),
        // PostgreSQL keeps no NUL in text: refused on every backend.
        "/api/threads/a%00b/history".to_owned(),
        format!("/api/checkpoints/{FORKED}/a%00b"),
        format!("/api/threads/{FORKED}/history?ns=%00"),
        format!("/api/threads/{long}/history"),
        format!("/api/checkpoints/{FORKED}/{long}"),
        format!("/api/threads/{FORKED}/history?ns={long}"),
        "/api/threads?limit=0".to_owned(),
        "/api/threads?limit=501".to_owned(),
        "/api/threads?limit=ten".to_owned(),
        "/api/threads?offset=-1".to_owned(),
        format!("/api/threads/{FORKED}/history?limit=0"),
    ] {
        let (status, body) = get_json(&http, &srv.url(&path));
        assert_eq!(
            (status, error_code(&body)),
            (400, "bad_request"),
            "{path}: {body}"
        );
    }
}

fn ids_with_slashes_and_dots_stay_one_segment(saver: Arc<dyn CheckpointAdmin>) {
    fill(&*saver);
    let srv = open(saver);
    let http = client();
    for id in [SLASHED, DOTTED] {
        let c = newest_checkpoint(&http, &srv, id);
        assert_eq!(c["state"]["x"], id);
    }
    // A raw slash splits the id into two segments: no route matches.
    let (status, body) = get_json(&http, &srv.url("/api/threads/team/a/history"));
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    // Dot segments are resolved by the client before they are sent; what
    // arrives names no route, never a file.
    for path in [
        "/api/threads/../history",
        "/api/threads/%2E%2E/history",
        "/api/../../etc/passwd",
    ] {
        let (status, body) = get_json(&http, &srv.url(path));
        assert_eq!((status, error_code(&body)), (404, "not_found"), "{path}");
    }
}

fn hostile_ids_come_back_exactly(saver: Arc<dyn CheckpointAdmin>) {
    fill(&*saver);
    let srv = open(saver);
    let http = client();
    let (_, body) = get_json(&http, &srv.url("/api/threads"));
    assert!(
        body["threads"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["thread_id"] == EVIL),
        "{body}"
    );
    let c = newest_checkpoint(&http, &srv, EVIL);
    assert_eq!(c["state"][EVIL_CHANNEL], EVIL_VALUE);
    // The JSON is served as JSON, never as something a browser would render.
    let r = http.get(srv.url("/api/threads")).send().unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

fn the_router_works_nested_under_a_prefix(saver: Arc<dyn CheckpointAdmin>) {
    let fx = fill(&*saver);
    let app = nested("/ui", saver, UiAccess::Open);
    let srv = serve(app);
    let http = client();
    let r = http.get(srv.url("/ui")).send().unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().unwrap();
    assert!(html.contains(r#"<base href="/ui/">"#), "{html}");
    assert!(html.contains(r#"<a href="/ui" id="home">"#), "{html}");
    let r = http.get(srv.url("/ui/")).send().unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (308, "/ui")
    );
    let (status, body) = get_json(&http, &srv.url("/ui/api/threads"));
    assert_eq!(status, 200, "{body}");
    let (status, _) = get_json(
        &http,
        &srv.url(&format!("/ui/api/checkpoints/{FORKED}/{}", fx.c)),
    );
    assert_eq!(status, 200);
    let r = http.get(srv.url("/ui/app.js")).send().unwrap();
    assert_eq!(r.status(), 200);
    // Outside the prefix, nothing of the page.
    assert_eq!(
        http.get(srv.url("/api/threads")).send().unwrap().status(),
        404
    );
}
