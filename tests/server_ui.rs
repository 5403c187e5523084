//! The web page as `checkpointer serve` mounts it: at `/ui`, signed in
//! with one of the service's API keys, showing only that key's account's
//! workflows, and closed to a key the moment it is revoked.
#![cfg(feature = "server")]

mod server_support;

use serde_json::{Value, json};
use server_support::{TestServer, options, start};

/// Saves step 1 of `workflow` with `key`.
async fn save(s: &TestServer, key: &str, workflow: &str) {
    let r = s
        .post("/checkpoints", key)
        .json(&json!({"workflow_id": workflow, "step": 1, "state": {"n": 1}}))
        .send()
        .await
        .expect("POST /checkpoints");
    assert_eq!(r.status(), 201, "save {workflow}");
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// Signs in at `/ui/signin` with `key`; the session cookie (`name=value`).
async fn sign_in(s: &TestServer, key: &str) -> String {
    // The answer is a redirect to the page that sets the cookie: not
    // followed, so that its header is the one read.
    let r = no_redirects()
        .post(format!("{}/ui/signin", s.url))
        .form(&[("key", key)])
        .send()
        .await
        .expect("POST /ui/signin");
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap_or_else(|| panic!("no session cookie (status {})", r.status()))
        .to_str()
        .expect("ASCII cookie");
    cookie.split(';').next().expect("name=value").to_owned()
}

/// GET `path` under the service with the session `cookie`: status and JSON.
async fn get(s: &TestServer, path: &str, cookie: &str) -> (u16, Value) {
    let r = s
        .client()
        .get(format!("{}{path}", s.url))
        .header("cookie", cookie)
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn thread_ids(threads: &Value) -> Vec<String> {
    threads["threads"]
        .as_array()
        .expect("a threads list")
        .iter()
        .map(|t| t["thread_id"].as_str().expect("thread_id").to_owned())
        .collect()
}

#[tokio::test]
async fn each_key_sees_its_accounts_workflows_and_a_revoked_key_stops() {
    let s = start(options()).await;
    let acme = s.service.ensure_account(None, "Acme").expect("account");
    let acme_key = s.service.create_key(&acme.id, Some("acme")).expect("key");
    save(&s, &s.key, "mine").await;
    save(&s, &acme_key.api_key, "theirs").await;
    let theirs = checkpointer::server::thread_for(&acme.id, "theirs");

    let default_session = sign_in(&s, &s.key).await;
    let (status, threads) = get(&s, "/ui/api/threads", &default_session).await;
    assert_eq!(status, 200, "{threads}");
    assert_eq!(thread_ids(&threads), ["mine"]);
    // Another account's thread is not there, as if it did not exist.
    let (status, body) = get(
        &s,
        &format!("/ui/api/threads/{theirs}/history"),
        &default_session,
    )
    .await;
    assert_eq!(status, 404, "{body}");

    let acme_session = sign_in(&s, &acme_key.api_key).await;
    let (status, threads) = get(&s, "/ui/api/threads", &acme_session).await;
    assert_eq!(status, 200, "{threads}");
    assert_eq!(thread_ids(&threads), std::slice::from_ref(&theirs));
    let (status, history) = get(
        &s,
        &format!("/ui/api/threads/{theirs}/history"),
        &acme_session,
    )
    .await;
    assert_eq!(status, 200, "{history}");

    // Revoked through the service: the next request of its session is
    // refused, the other account's session goes on.
    assert!(s.service.revoke_key(&acme_key.record.id).expect("revoke"));
    let (status, body) = get(&s, "/ui/api/threads", &acme_session).await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = get(&s, "/ui/api/threads", &default_session).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_page_needs_a_session_not_a_bearer_key() {
    let s = start(options()).await;
    // The service's own routes take the key as a bearer token; the page
    // takes it only through its sign-in form.
    let r = s.get("/ui/api/threads", &s.key).send().await.expect("GET");
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("a JSON envelope");
    assert!(body["error"]["code"].is_string(), "{body}");
    let r = s
        .client()
        .get(format!("{}/ui", s.url))
        .send()
        .await
        .expect("GET /ui");
    assert_eq!(r.status(), 401);
    let html = r.text().await.expect("HTML");
    assert!(html.contains("signin"), "the sign-in form: {html}");
    // `/ui/` leads to the page, and the service's other answers keep
    // their request ids.
    let r = no_redirects()
        .get(format!("{}/ui/", s.url))
        .send()
        .await
        .expect("GET /ui/");
    assert_eq!(r.status(), 308);
    assert!(r.headers().contains_key("x-request-id"));
}
