//! Signing in to the page with `UiAccess::ApiKey`: valid, invalid and
//! revoked keys, the session cookie, sign-out, and each key seeing only
//! its threads.
#![cfg(feature = "server")]

#[path = "ui_support/mod.rs"]
mod ui_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use checkpointer::server::ui::{KeyCheck, ThreadFilter, UiAccess, nested, router};
use reqwest::blocking::Client;
use serde_json::Value;
use ui_support::{EVIL, FORKED, Served, client, fill, get_json, seg, serve};

/// Live keys: key → the thread-id prefix it may see.
type Keys = Arc<Mutex<HashMap<String, String>>>;

fn key_check(keys: &Keys) -> KeyCheck {
    let keys = Arc::clone(keys);
    Arc::new(move |key: &str| {
        let prefix = keys.lock().unwrap().get(key).cloned()?;
        let filter: ThreadFilter = Arc::new(move |thread: &str| thread.starts_with(&prefix));
        Some(filter)
    })
}

fn setup(prefix: &str) -> (Served, Keys, tempfile::TempDir) {
    let (saver, dir) = ui_support::sqlite();
    fill(&*saver);
    let keys: Keys = Arc::new(Mutex::new(HashMap::from([
        ("key-forked".to_owned(), FORKED.to_owned()),
        ("key-all".to_owned(), String::new()),
    ])));
    let access = UiAccess::ApiKey(key_check(&keys));
    let app = if prefix.is_empty() {
        router(saver, access)
    } else {
        nested(prefix, saver, access)
    };
    (serve(app), keys, dir)
}

/// Posts the sign-in form; the response.
fn sign_in(http: &Client, srv: &Served, prefix: &str, key: &str) -> reqwest::blocking::Response {
    http.post(srv.url(&format!("{prefix}/signin")))
        .form(&[("key", key)])
        .send()
        .expect("POST signin")
}

/// The `name=value` of the session cookie a response sets, with its
/// attributes.
fn set_cookie(r: &reqwest::blocking::Response) -> (String, String) {
    let header = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pair = header.split(';').next().unwrap().trim().to_owned();
    (pair, header)
}

fn get_with(http: &Client, url: &str, cookie: &str) -> (u16, Value, String) {
    let r = http.get(url).header("cookie", cookie).send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[test]
fn without_a_session_the_page_asks_for_a_key_and_the_api_refuses() {
    let (srv, _keys, _dir) = setup("/ui");
    let http = client();
    let r = http.get(srv.url("/ui")).send().unwrap();
    assert_eq!(r.status(), 401);
    let html = r.text().unwrap();
    assert!(
        html.contains(r#"<form method="post" action="signin""#),
        "{html}"
    );
    assert!(html.contains(r#"<base href="/ui/">"#));
    let (status, body) = get_json(&http, &srv.url("/ui/api/threads"));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = get_json(
        &http,
        &srv.url(&format!("/ui/api/threads/{FORKED}/history")),
    );
    assert_eq!(status, 401);
    // A made-up session id is no session.
    let (status, _, _) = get_with(
        &http,
        &srv.url("/ui/api/threads"),
        &format!("checkpointer_ui_session={}", "ab".repeat(32)),
    );
    assert_eq!(status, 401);
}

#[test]
fn a_valid_key_gets_a_strict_http_only_session_cookie() {
    let (srv, _keys, _dir) = setup("/ui");
    let http = client();
    let r = sign_in(&http, &srv, "/ui", "key-forked");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui");
    let (pair, header) = set_cookie(&r);
    let id = pair
        .strip_prefix("checkpointer_ui_session=")
        .expect("the session cookie");
    assert_eq!(id.len(), 64, "{header}");
    assert!(
        !header.contains("key-forked"),
        "the key never goes back to the browser"
    );
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(
            header.split("; ").any(|a| a == attribute),
            "{attribute} in {header}"
        );
    }
    let (status, _, html) = get_with(&http, &srv.url("/ui"), &pair);
    assert_eq!(status, 200);
    assert!(html.contains("Sign out"));
    let (status, body, _) = get_with(&http, &srv.url("/ui/api/threads"), &pair);
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["thread_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [FORKED], "the key sees only its threads");
    let (status, _, _) = get_with(
        &http,
        &srv.url(&format!("/ui/api/threads/{FORKED}/history")),
        &pair,
    );
    assert_eq!(status, 200);
    // Another account's thread is reported exactly as a missing one.
    let (status, body, _) = get_with(
        &http,
        &srv.url(&format!("/ui/api/threads/{}/history", seg(EVIL))),
        &pair,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[test]
fn an_invalid_key_gets_the_form_again_and_no_cookie() {
    let (srv, _keys, _dir) = setup("/ui");
    let http = client();
    for form in [
        &[("key", "not-a-key")][..],
        &[("key", "")][..],
        &[("other", "x")][..],
    ] {
        let r = http.post(srv.url("/ui/signin")).form(form).send().unwrap();
        assert_eq!(r.status(), 401, "{form:?}");
        assert!(r.headers().get("set-cookie").is_none(), "{form:?}");
        let html = r.text().unwrap();
        assert!(html.contains(r#"id="message""#), "{form:?}: {html}");
    }
    let r = sign_in(&http, &srv, "/ui", "not-a-key");
    assert!(
        r.text()
            .unwrap()
            .contains("That key is not valid (or it was revoked).")
    );
}

#[test]
fn a_form_posted_from_another_site_is_refused() {
    let (srv, _keys, _dir) = setup("/ui");
    let http = client();
    let r = http
        .post(srv.url("/ui/signin"))
        .header("origin", "https://evil.example")
        .form(&[("key", "key-all")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());
    let body: Value = r.json().unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    // The page's own origin is welcome.
    let r = http
        .post(srv.url("/ui/signin"))
        .header("origin", srv.origin.as_str())
        .form(&[("key", "key-all")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let (pair, _) = set_cookie(&r);
    let out = http
        .post(srv.url("/ui/signout"))
        .header("cookie", &pair)
        .header("origin", "http://elsewhere:1")
        .send()
        .unwrap();
    assert_eq!(out.status(), 403, "another site cannot sign the viewer out");
    assert_eq!(get_with(&http, &srv.url("/ui/api/threads"), &pair).0, 200);
}

#[test]
fn a_revoked_key_stops_at_the_next_request() {
    let (srv, keys, _dir) = setup("/ui");
    let http = client();
    let (pair, _) = set_cookie(&sign_in(&http, &srv, "/ui", "key-all"));
    let (status, body, _) = get_with(&http, &srv.url("/ui/api/threads"), &pair);
    assert_eq!(status, 200);
    assert_eq!(
        body["threads"].as_array().unwrap().len(),
        4,
        "key-all sees every thread"
    );
    keys.lock().unwrap().remove("key-all");
    let (status, body, _) = get_with(&http, &srv.url("/ui/api/threads"), &pair);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _, html) = get_with(&http, &srv.url("/ui"), &pair);
    assert_eq!(status, 401);
    assert!(html.contains("action=\"signin\""));
    // Putting the key back does not revive the session: it was forgotten.
    keys.lock().unwrap().insert("key-all".into(), String::new());
    let (status, _, _) = get_with(&http, &srv.url("/ui/api/threads"), &pair);
    assert_eq!(status, 401);
    let r = sign_in(&http, &srv, "/ui", "key-all");
    assert_eq!(r.status(), 303);
}

#[test]
fn signing_out_forgets_the_session() {
    let (srv, _keys, _dir) = setup("");
    let http = client();
    let r = sign_in(&http, &srv, "", "key-all");
    assert_eq!(r.headers()["location"], "/");
    let (pair, header) = set_cookie(&r);
    assert!(header.contains("Path=/"), "{header}");
    assert_eq!(get_with(&http, &srv.url("/api/threads"), &pair).0, 200);
    let out = http
        .post(srv.url("/signout"))
        .header("cookie", &pair)
        .send()
        .unwrap();
    assert_eq!(out.status(), 303);
    let (cleared, header) = set_cookie(&out);
    assert_eq!(cleared, "checkpointer_ui_session=");
    assert!(header.contains("Max-Age=0"), "{header}");
    assert_eq!(get_with(&http, &srv.url("/api/threads"), &pair).0, 401);
}
