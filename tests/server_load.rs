//! Load on loopback against the SQLite default: many concurrent clients,
//! each saving its own workflow step after step. No error other than a
//! designed 429 (answered by waiting `Retry-After` and saving again), and
//! every acknowledged save readable afterwards with its etag. Throughput
//! and p99 are printed, never asserted (BENCHMARKS.md has the full run:
//! `CHECKPOINTER_LOAD_CLIENTS=200 CHECKPOINTER_LOAD_SAVES=50 cargo test
//! --release --test server_load -- --nocapture`).
#![cfg(feature = "server")]

mod server_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use checkpointer::server::ServiceOptions;
use serde_json::{Value, json};
use server_support::{options, start};

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One client: `saves` saves of workflow `load-{n}`; the acknowledged
/// (checkpoint id, etag) pairs, the latencies and the 429s met.
async fn client(
    url: String,
    key: String,
    n: usize,
    saves: usize,
) -> (Vec<(String, String)>, Vec<Duration>, usize) {
    let http = reqwest::Client::new();
    let (mut acked, mut latencies, mut limited) = (Vec::new(), Vec::new(), 0);
    for step in 1..=saves {
        let body = json!({"workflow_id": format!("load-{n}"), "step": step, "state": {"client": n, "step": step, "notes": vec!["x"; 8]}});
        loop {
            let started = Instant::now();
            let response = http
                .post(format!("{url}/checkpoints"))
                .bearer_auth(&key)
                .json(&body)
                .send()
                .await
                .expect("the server answers");
            let status = response.status().as_u16();
            if status == 429 {
                limited += 1;
                let wait: u64 = response.headers()["retry-after"]
                    .to_str()
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .expect("an integer Retry-After");
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            latencies.push(started.elapsed());
            let answer: Value = response.json().await.expect("a JSON answer");
            assert_eq!(status, 201, "client {n} step {step}: {answer}");
            acked.push((
                answer["checkpoint_id"].as_str().expect("id").to_owned(),
                answer["etag"].as_str().expect("etag").to_owned(),
            ));
            break;
        }
    }
    (acked, latencies, limited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_lose_no_acknowledged_save() {
    let (clients, saves) = (
        knob("CHECKPOINTER_LOAD_CLIENTS", 40),
        knob("CHECKPOINTER_LOAD_SAVES", 10),
    );
    let limit = knob("CHECKPOINTER_LOAD_RATE_LIMIT", clients * saves);
    let s = Arc::new(
        start(ServiceOptions {
            rate_limit_max: limit,
            ..options()
        })
        .await,
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|n| tokio::spawn(client(s.url.clone(), s.key.clone(), n, saves)))
        .collect();
    let (mut acked, mut latencies, mut limited) = (Vec::new(), Vec::new(), 0);
    for task in tasks {
        let (a, l, r) = task.await.expect("a client finished");
        acked.extend(a);
        latencies.extend(l);
        limited += r;
    }
    let elapsed = started.elapsed();
    assert_eq!(acked.len(), clients * saves);
    // Read back with a key of its own, whose window is empty.
    let reader = s
        .service
        .create_key("default", Some("reader"))
        .expect("key")
        .api_key;
    let http = reqwest::Client::new();
    for (id, etag) in &acked {
        let stored: Value = http
            .get(format!("{}/checkpoints/{id}", s.url))
            .bearer_auth(&reader)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            stored["etag"].as_str(),
            Some(etag.as_str()),
            "{id} readable with its etag: {stored}"
        );
    }
    latencies.sort();
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )] // an index into the sorted list
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[i]
    };
    #[allow(clippy::cast_precision_loss)] // a printed figure
    let rate = acked.len() as f64 / elapsed.as_secs_f64();
    println!(
        "load: {clients} clients x {saves} saves on SQLite: {} saves in {:.2} s = {rate:.0} saves/s; p50 {:?}, p99 {:?}, max {:?}; 429s {limited}",
        acked.len(),
        elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
