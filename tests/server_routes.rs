//! Every route and error envelope of the service, over HTTP on loopback
//! against a real SQLite file, and hostile inputs: always a 4xx envelope,
//! never a 5xx.
#![cfg(feature = "server")]
// Each test reads as one story of requests and answers.
#![allow(clippy::too_many_lines)]

mod server_support;

#[cfg(feature = "postgres")]
mod pg_support;

use std::time::{Duration, SystemTime};

use checkpointer::server::{ServiceOptions, sweep_expired};
use serde_json::{Value, json};
use server_support::{options, receiver, start};

/// Sends a request; its status.
async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.expect("send").status().as_u16()
}

/// Sends a request; its status and JSON body.
async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    status_json(request.send().await.expect("send")).await
}

async fn status_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// The code of an envelope, either shape.
fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .or(body["code"].as_str())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn save_gives_golden_etags_sizes_ids_and_diffs() {
    let s = start(options()).await;
    let golden = [
        (
            r#"{"sources":["arxiv.org/123"],"progress":0.25}"#,
            45,
            "\"99ebf23ad4d5b076\"",
        ),
        ("{}", 2, "\"44136fa355b3678a\""),
        (
            r#"{"x":1.0,"k":"é","big":1e21,"small":1e-7}"#,
            41,
            "\"b777e38b315d09a9\"",
        ),
    ];
    for (step, (state, size, etag)) in golden.iter().enumerate() {
        let body = format!(r#"{{"workflow_id":"wf","step":{step},"state":{state}}}"#);
        let response = s
            .post("/checkpoints", &s.key)
            .body(body)
            .send()
            .await
            .expect("send");
        assert_eq!(response.headers()["etag"], *etag);
        assert!(response.headers().contains_key("x-request-id"));
        let (status, body) = status_json(response).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            (body["size_bytes"].as_u64(), body["etag"].as_str()),
            (Some(*size), Some(*etag))
        );
        assert_eq!(body["checkpoint_id"], format!("cp_wf_{step:03}"));
    }
    for (step, state) in [
        (10, json!({"a":1,"b":{"c":[1,2]},"d":{}})),
        (11, json!({"a":2,"b":{"c":[1]},"e":{"f":null},"g":[]})),
    ] {
        let body = json!({"workflow_id": "d", "step": step, "state": state});
        let (_, answer) = call(s.post("/checkpoints", &s.key).json(&body)).await;
        if step == 11 {
            assert_eq!(
                answer["diff_from_previous"],
                json!({"added":["e.f"],"removed":["b.c[1]"],"changed":["a"]})
            );
        }
    }
    // The same data through the CLI's view: the workflow is a thread.
    let history = s
        .service
        .saver()
        .checkpoint_summaries("wf", None)
        .expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(
        history[0].metadata.get("etag"),
        Some(json!("\"b777e38b315d09a9\""))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn if_match_per_step_and_per_workflow() {
    let s = start(options()).await;
    let save = |step: u64, state: Value| json!({"workflow_id": "w", "step": step, "state": state});
    let (_, first) = call(
        s.post("/checkpoints", &s.key)
            .json(&save(1, json!({"n": 1}))),
    )
    .await;
    let etag = first["etag"].as_str().expect("etag").to_owned();
    let (status, dup) = call(
        s.post("/checkpoints", &s.key)
            .json(&save(1, json!({"n": 2}))),
    )
    .await;
    assert_eq!((status, code(&dup)), (409, "CONFLICT"));
    assert_eq!(
        dup["error"]["message"],
        "Checkpoint cp_w_001 already exists"
    );
    assert_eq!(
        dup["existing"],
        json!({"checkpoint_id": "cp_w_001", "etag": etag})
    );
    let (status, same) = call(
        s.post("/checkpoints", &s.key)
            .header("if-match", &etag)
            .json(&save(1, json!({"n": 3}))),
    )
    .await;
    assert_eq!(
        (status, same["etag"].as_str()),
        (201, Some(etag.as_str())),
        "idempotent: the stored record"
    );
    let (status, bad) = call(
        s.post("/checkpoints", &s.key)
            .header("if-match", "\"x\"")
            .json(&save(1, json!({}))),
    )
    .await;
    assert_eq!(
        (status, bad["error"]["message"].as_str()),
        (409, Some("ETag mismatch — checkpoint was modified"))
    );
    // SnapState ignores If-Match on a new step; the workflow scope checks it.
    let (status, _) = call(
        s.post("/checkpoints", &s.key)
            .header("if-match", "\"stale\"")
            .json(&save(2, json!({"n": 2}))),
    )
    .await;
    assert_eq!(status, 201);
    let scoped = |tag: &str, step| {
        s.post("/checkpoints", &s.key)
            .header("if-match", tag)
            .header("x-if-match-scope", "workflow")
            .json(&save(step, json!({"n": step})))
    };
    let (status, stale) = call(scoped(&etag, 3)).await;
    assert_eq!((status, code(&stale)), (412, "PRECONDITION_FAILED"));
    let (_, resume) = call(s.get("/workflows/w/resume", &s.key)).await;
    let latest = resume["latest_checkpoint"]["etag"]
        .as_str()
        .expect("resume has the etag")
        .to_owned();
    let (status, _) = call(scoped(&latest, 3)).await;
    assert_eq!(status, 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_resume_and_replay() {
    let s = start(options()).await;
    for step in 1..=5 {
        let body = json!({"workflow_id": "r", "step": step, "state": {"step": step}, "label": format!("s{step}"), "agent_id": "a1", "metadata": {"m": step}});
        assert_eq!(
            status_of(s.post("/checkpoints", &s.key).json(&body)).await,
            201
        );
    }
    let (status, cp) = call(s.get("/checkpoints/cp_r_003", &s.key)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (cp["label"].as_str(), &cp["metadata"]),
        (Some("s3"), &json!({"m": 3, "agent_id": "a1"}))
    );
    assert!(cp["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let (status, missing) = call(s.get("/checkpoints/cp_r_009", &s.key)).await;
    assert_eq!(
        (status, missing["error"]["message"].as_str()),
        (404, Some("Checkpoint cp_r_009 not found"))
    );
    let (_, resume) = call(s.get("/workflows/r/resume", &s.key)).await;
    assert_eq!(
        (
            resume["total_checkpoints"].as_u64(),
            resume["latest_checkpoint"]["step"].as_u64()
        ),
        (Some(5), Some(5))
    );
    let (status, none) = call(s.get("/workflows/nope/resume", &s.key)).await;
    assert_eq!(
        (status, none["error"]["message"].as_str()),
        (404, Some("No checkpoints found for workflow nope"))
    );
    let (_, page) = call(s.get("/workflows/r/replay?from_step=2&to_step=5&limit=2", &s.key)).await;
    let steps: Vec<u64> = page["checkpoints"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["step"].as_u64())
        .collect();
    assert_eq!(
        (steps, page["total"].as_u64(), page["has_more"].as_bool()),
        (vec![2, 3], Some(2), Some(true))
    );
    let (_, rest) = call(s.get("/workflows/r/replay?from_step=4", &s.key)).await;
    assert_eq!(
        (rest["total"].as_u64(), rest["has_more"].as_bool()),
        (Some(2), Some(false))
    );
    let (status, empty) = call(s.get("/workflows/unknown/replay", &s.key)).await;
    assert_eq!((status, empty["total"].as_u64()), (200, Some(0)));
    for bad in [
        "limit=0",
        "limit=1001",
        "from_step=-1",
        "from_step=x",
        "other=1",
    ] {
        let (status, body) = call(s.get(&format!("/workflows/r/replay?{bad}"), &s.key)).await;
        assert_eq!((status, code(&body)), (400, "FST_ERR_VALIDATION"), "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_envelopes_revocation_and_accounts() {
    let s = start(options()).await;
    let url = format!("{}/workflows/x/resume", s.url);
    let client = s.client();
    for (auth, message) in [
        (None, "Missing or malformed Authorization header"),
        (
            Some("Basic abc"),
            "Missing or malformed Authorization header",
        ),
        (Some("Bearer "), "API key is empty"),
        (
            Some("Bearer snp_00000000000000000000000000000000"),
            "Invalid API key",
        ),
    ] {
        let mut request = client.get(&url);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let (status, body) = call(request).await;
        assert_eq!(
            (status, code(&body), body["error"]["message"].as_str()),
            (401, "UNAUTHORIZED", Some(message))
        );
    }
    let minted = s.service.create_key("default", None).expect("key");
    assert_eq!(
        status_of(s.get("/workflows/x/replay", &minted.api_key)).await,
        200
    );
    assert!(s.service.revoke_key(&minted.record.id).expect("revoke"));
    let (status, body) = call(s.get("/workflows/x/replay", &minted.api_key)).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (401, Some("API key has been revoked"))
    );

    // Another account sees none of the default account's workflows.
    let other = s.service.ensure_account(None, "other").expect("account");
    let other_key = s.service.create_key(&other.id, None).expect("key").api_key;
    let body = json!({"workflow_id": "shared-name", "step": 1, "state": {"owner": "default"}});
    assert_eq!(
        status_of(s.post("/checkpoints", &s.key).json(&body)).await,
        201
    );
    assert_eq!(
        status_of(s.get("/workflows/shared-name/resume", &other_key)).await,
        404
    );
    assert_eq!(
        status_of(s.get("/checkpoints/cp_shared-name_001", &other_key)).await,
        404
    );
    assert_eq!(
        status_of(s.post("/checkpoints", &other_key).json(&body)).await,
        201,
        "its own workflow of that name"
    );
    let thread = checkpointer::server::thread_for(&other.id, "shared-name");
    assert!(s.service.saver().has_thread(&thread).expect("read"));
    s.service
        .store()
        .set_account_active(&other.id, false)
        .expect("deactivate");
    let (status, body) = call(s.get("/workflows/shared-name/resume", &other_key)).await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"));
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_routes_mint_and_revoke_keys() {
    let s = start(options()).await;
    let admin = |path: &str, secret: &str| {
        s.client()
            .post(format!("{}{path}", s.url))
            .bearer_auth(secret)
            .header("content-type", "application/json")
    };
    let (status, _) = call(admin("/admin/accounts", "wrong").body("{}")).await;
    assert_eq!(status, 401);
    let (status, account) =
        call(admin("/admin/accounts", "test-admin-secret").json(&json!({"name": "team"}))).await;
    assert_eq!(status, 201);
    let id = account["id"].as_str().expect("id");
    let (status, key) = call(
        admin(&format!("/admin/accounts/{id}/keys"), "test-admin-secret")
            .json(&json!({"label": "ci"})),
    )
    .await;
    assert_eq!(status, 201);
    let api_key = key["api_key"].as_str().expect("key");
    assert!(api_key.starts_with("snp_") && api_key.len() == 36);
    assert_eq!(key["key_prefix"].as_str(), api_key.get(..12));
    assert_eq!(status_of(s.get("/workflows/a/replay", api_key)).await, 200);
    let revoke = s
        .client()
        .delete(format!(
            "{}/admin/keys/{}",
            s.url,
            key["id"].as_str().expect("id")
        ))
        .bearer_auth("test-admin-secret");
    assert_eq!(revoke.send().await.expect("send").status(), 204);
    assert_eq!(
        status_of(s.get("/workflows/a/replay", api_key)).await,
        401,
        "at once"
    );
    let (status, _) = call(admin("/admin/accounts/nobody/keys", "test-admin-secret")).await;
    assert_eq!(status, 404);
    let off = start(ServiceOptions::default()).await;
    let (status, body) = call(
        off.client()
            .post(format!("{}/admin/accounts", off.url))
            .bearer_auth("x")
            .body("{}")
            .header("content-type", "application/json"),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "FORBIDDEN"));
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_state_size_body_size_and_rate() {
    let s = start(ServiceOptions {
        rate_limit_max: 3,
        rate_limit_window: Duration::from_millis(1500),
        ..options()
    })
    .await;
    let big = "x".repeat(1_048_576);
    let body = json!({"workflow_id": "big", "step": 1, "state": {"s": big}});
    let (status, envelope) = call(s.post("/checkpoints", &s.key).json(&body)).await;
    assert_eq!(
        (status, &envelope),
        (
            413,
            &json!({"error": {"code": "PAYLOAD_TOO_LARGE", "message": "State payload exceeds 1MB limit"}})
        )
    );
    let huge = format!(
        r#"{{"workflow_id":"big","step":1,"state":{{"s":"{}"}}}}"#,
        "y".repeat(9 * 1_048_576)
    );
    let (status, envelope) = call(s.post("/checkpoints", &s.key).body(huge)).await;
    assert_eq!(
        (status, code(&envelope)),
        (413, "FST_ERR_CTP_BODY_TOO_LARGE")
    );
    // The state over the limit counted (the body over the body limit was
    // refused before its key was read); two more fill the window.
    for _ in 0..2 {
        assert_eq!(status_of(s.get("/workflows/big/replay", &s.key)).await, 200);
    }
    let (status, envelope) = call(s.get("/workflows/big/replay", &s.key)).await;
    assert_eq!((status, code(&envelope)), (429, "RATE_LIMITED"));
    let response = s
        .get("/workflows/big/replay", &s.key)
        .send()
        .await
        .expect("send");
    assert_eq!(
        response.headers()["retry-after"],
        "2",
        "refused requests count too"
    );
    // /agents is not limited.
    assert_eq!(status_of(s.get("/agents", &s.key)).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_inputs_get_a_4xx_envelope() {
    hostile_inputs(&start(options()).await).await;
}

/// The same on PostgreSQL, whose text and jsonb refuse what SQLite takes.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread")]
async fn hostile_inputs_get_a_4xx_envelope_on_postgres() {
    let Some(url) = pg_support::server_url("hostile_inputs_get_a_4xx_envelope_on_postgres") else {
        return;
    };
    let schema = pg_support::Schema::new(&url);
    let schema_url = schema.url();
    let saver = std::thread::spawn(move || {
        checkpointer::PostgresSaver::open(&schema_url).expect("open PostgreSQL")
    })
    .join()
    .expect("open on a plain thread");
    let dir = tempfile::tempdir().expect("temp dir");
    hostile_inputs(&server_support::start_on(std::sync::Arc::new(saver), options(), dir).await)
        .await;
}

async fn hostile_inputs(s: &server_support::TestServer) {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_state = format!(r#"{{"workflow_id":"w","step":1,"state":{{"a":{deep}}}}}"#);
    let bodies: Vec<(String, &str)> = vec![
        ("{".into(), "malformed"),
        (String::new(), "empty"),
        ("[1,2]".into(), "array body"),
        (r#"{"workflow_id":"w","step":1}"#.into(), "no state"),
        (
            r#"{"workflow_id":"w","step":"x","state":{}}"#.into(),
            "step text",
        ),
        (
            r#"{"workflow_id":"w","step":-1,"state":{}}"#.into(),
            "negative step",
        ),
        (
            r#"{"workflow_id":"w","step":1.5,"state":{}}"#.into(),
            "fractional step",
        ),
        (
            r#"{"workflow_id":"w","step":1e300,"state":{}}"#.into(),
            "huge step",
        ),
        (
            r#"{"workflow_id":"w","step":1,"state":[]}"#.into(),
            "array state",
        ),
        (
            r#"{"workflow_id":"w","step":1,"state":{},"extra":1}"#.into(),
            "unknown field",
        ),
        (
            r#"{"workflow_id":{},"step":1,"state":{}}"#.into(),
            "object id",
        ),
        (
            r#"{"workflow_id":"","step":1,"state":{}}"#.into(),
            "empty id",
        ),
        (
            format!(
                r#"{{"workflow_id":"{}","step":1,"state":{{}}}}"#,
                "w".repeat(129)
            ),
            "long id",
        ),
        (
            r#"{"workflow_id":"a\u0000b","step":1,"state":{}}"#.into(),
            "NUL id",
        ),
        (
            r#"{"workflow_id":"w","step":1,"state":{"k":"a\u0000"}}"#.into(),
            "NUL in the state",
        ),
        (
            r#"{"workflow_id":"w","step":1,"state":{"\u0000":1}}"#.into(),
            "NUL key",
        ),
        (
            r#"{"workflow_id":"w","step":1,"state":{},"metadata":[]}"#.into(),
            "array metadata",
        ),
        (
            r#"{"workflow_id":"w","step":1,"state":{"s":"\ud800"}}"#.into(),
            "lone surrogate",
        ),
        (deep_state, "deep nesting"),
    ];
    for (body, what) in bodies {
        let (status, envelope) = call(s.post("/checkpoints", &s.key).body(body)).await;
        assert!((400..500).contains(&status), "{what}: {status} {envelope}");
        assert!(!code(&envelope).is_empty(), "{what}: {envelope}");
    }
    let raw = s
        .post("/checkpoints", &s.key)
        .body(vec![0xff, 0xfe, b'{'])
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), 400, "non-UTF-8 body");
    let plain = s
        .client()
        .post(format!("{}/checkpoints", s.url))
        .bearer_auth(&s.key)
        .header("content-type", "text/plain");
    let (status, _) = call(plain.body("{}")).await;
    assert_eq!(status, 415);
    for path in [
        "/workflows/a/b/resume",
        "/workflows/../resume",
        "/workflows/a%2Fb/resume",
        "/workflows/%2E%2E/resume",
        "/workflows/a%00b/resume",
        "/workflows/%FF/resume",
        "/checkpoints/%C0%AF",
        "/checkpoints/cp_",
        "/checkpoints/..%2F..%2Fetc",
        "/agents/%00",
    ] {
        let (status, envelope) = call(s.get(path, &s.key)).await;
        assert!((400..500).contains(&status), "{path}: {status} {envelope}");
        assert!(!code(&envelope).is_empty(), "{path}");
    }
    let (status, envelope) = call(s.client().delete(format!("{}/checkpoints", s.url))).await;
    assert_eq!((status, code(&envelope)), (405, "METHOD_NOT_ALLOWED"));
    // The server is still there and well.
    assert_eq!(
        status_of(s.client().get(format!("{}/health", s.url))).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn agents_routes() {
    let s = start(options()).await;
    let agent = json!({"agent_id": "researcher-1", "name": "  Researcher  ", "capabilities": ["search"], "metadata": {"model": "m"}});
    let (status, row) = call(s.post("/agents", &s.key).json(&agent)).await;
    assert_eq!(status, 201);
    assert_eq!(
        (
            row["id"].as_u64(),
            row["name"].as_str(),
            &row["last_seen_at"]
        ),
        (Some(1), Some("Researcher"), &Value::Null)
    );
    let (_, again) = call(
        s.post("/agents", &s.key)
            .json(&json!({"agent_id": "researcher-1", "name": "R2"})),
    )
    .await;
    assert_eq!(
        (again["id"].as_u64(), &again["capabilities"]),
        (Some(1), &json!([])),
        "upsert replaces the fields"
    );
    let (_, list) = call(s.get("/agents", &s.key)).await;
    assert_eq!(list["agents"].as_array().map(Vec::len), Some(1));
    let patch = s
        .client()
        .patch(format!("{}/agents/researcher-1", s.url))
        .bearer_auth(&s.key)
        .header("content-type", "application/json");
    let (status, patched) = call(patch.json(&json!({"description": "finds"}))).await;
    assert_eq!(
        (
            status,
            patched["description"].as_str(),
            patched["name"].as_str()
        ),
        (200, Some("finds"), Some("R2"))
    );
    let empty = s
        .client()
        .patch(format!("{}/agents/researcher-1", s.url))
        .bearer_auth(&s.key)
        .header("content-type", "application/json")
        .body("{}");
    let (status, body) = call(empty).await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (400, Some("No updatable fields provided"))
    );
    for bad in [
        json!({}),
        json!({"agent_id": "has space"}),
        json!({"agent_id": 5}),
        json!({"agent_id": "ok", "x": 1}),
    ] {
        let (status, body) = call(s.post("/agents", &s.key).json(&bad)).await;
        assert_eq!((status, code(&body)), (400, "VALIDATION_ERROR"), "{bad}");
    }
    let (status, body) = call(s.get("/agents/ghost", &s.key)).await;
    assert_eq!(
        (status, code(&body), body["error"]["message"].as_str()),
        (404, "AGENT_NOT_FOUND", Some("Agent 'ghost' not found"))
    );
    let delete = || {
        s.client()
            .delete(format!("{}/agents/researcher-1", s.url))
            .bearer_auth(&s.key)
    };
    assert_eq!(delete().send().await.expect("send").status(), 204);
    assert_eq!(delete().send().await.expect("send").status(), 404);
    let small = start(ServiceOptions {
        max_agents: 2,
        ..options()
    })
    .await;
    for (i, want) in [(1, 201), (2, 201), (3, 400)] {
        let response = small
            .post("/agents", &small.key)
            .json(&json!({"agent_id": format!("a{i}")}))
            .send()
            .await
            .expect("send");
        assert_eq!(response.status().as_u16(), want);
        if want == 400 {
            let (_, body) = status_json(response).await;
            assert_eq!(code(&body), "MAX_AGENTS_REACHED");
        }
    }
}

async fn next_event(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<server_support::Delivery>,
) -> server_support::Delivery {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a webhook within 20 s")
        .expect("receiver open")
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_are_signed_retried_and_cover_resume_and_expiry() {
    let s = start(options()).await;
    let (url, mut rx) = receiver(1).await;
    let hook = json!({"url": url, "events": ["checkpoint.saved", "workflow.resumed", "workflow.expired"], "secret": "s3cret"});
    let (status, registered) = call(s.post("/webhooks", &s.key).json(&hook)).await;
    assert_eq!(status, 201);
    let id = registered["webhook_id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("wh_") && id.len() == 27 && registered.get("secret").is_none());
    for bad in [
        json!({"url": "not a url", "events": ["checkpoint.saved"]}),
        json!({"url": url, "events": []}),
        json!({"url": url, "events": ["x"]}),
    ] {
        assert_eq!(status_of(s.post("/webhooks", &s.key).json(&bad)).await, 400);
    }
    let save = json!({"workflow_id": "hooked", "step": 1, "state": {"a": 1}});
    s.post("/checkpoints", &s.key)
        .header("x-checkpoint-ttl", "1")
        .json(&save)
        .send()
        .await
        .expect("send");
    // The first delivery is refused (500), the retry arrives.
    let first = next_event(&mut rx).await;
    let retry = next_event(&mut rx).await;
    assert_eq!(first.body, retry.body);
    let signature = retry.headers["x-checkpoint-signature"]
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(
        signature,
        checkpointer::server::keys::signature("s3cret", &retry.body)
    );
    assert_eq!(retry.headers["user-agent"], "CheckpointService/1.0");
    let event: Value = serde_json::from_slice(&retry.body).expect("JSON");
    assert_eq!(
        (event["event"].as_str(), event["webhook_id"].as_str()),
        (Some("checkpoint.saved"), Some(id.as_str()))
    );
    assert_eq!(
        event["data"],
        json!({"workflow_id": "hooked", "checkpoint_id": "cp_hooked_001", "step": 1})
    );
    s.get("/workflows/hooked/resume", &s.key)
        .send()
        .await
        .expect("send");
    let resumed: Value = serde_json::from_slice(&next_event(&mut rx).await.body).expect("JSON");
    assert_eq!(resumed["event"], "workflow.resumed");
    // TTL of 1 s: a sweep after it deletes the workflow and says so.
    let later = SystemTime::now() + Duration::from_secs(5);
    let swept = sweep_expired(&s.service, later).await.expect("sweep");
    assert_eq!(swept, vec![("default".to_owned(), "hooked".to_owned())]);
    let expired: Value = serde_json::from_slice(&next_event(&mut rx).await.body).expect("JSON");
    assert_eq!(
        (
            expired["event"].as_str(),
            expired["data"]["workflow_id"].as_str()
        ),
        (Some("workflow.expired"), Some("hooked"))
    );
    assert!(!s.service.saver().has_thread("hooked").expect("read"));
    let delete = || {
        s.client()
            .delete(format!("{}/webhooks/{id}", s.url))
            .bearer_auth(&s.key)
    };
    assert_eq!(delete().send().await.expect("send").status(), 204);
    assert_eq!(delete().send().await.expect("send").status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_ready() {
    let s = start(options()).await;
    for path in ["/health", "/ready"] {
        let (status, body) = call(s.client().get(format!("{}{path}", s.url))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    }
}
