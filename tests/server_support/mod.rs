//! A service on a free loopback port over a fresh SQLite file, with a
//! fresh key of the default account; and a loopback webhook receiver.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use checkpointer::SqliteSaver;
use checkpointer::server::{DeliveryOptions, Service, ServiceOptions, ServiceSaver, serve};
use tokio::sync::mpsc;

pub struct TestServer {
    pub url: String,
    pub key: String,
    pub service: Arc<Service>,
    pub dir: tempfile::TempDir,
}

/// Options for tests: quick webhook retries.
pub fn options() -> ServiceOptions {
    ServiceOptions {
        delivery: DeliveryOptions {
            attempts: 3,
            backoff: Duration::from_millis(50),
            timeout: Duration::from_secs(5),
        },
        admin_secret: Some("test-admin-secret".to_owned()),
        ..ServiceOptions::default()
    }
}

pub async fn start(options: ServiceOptions) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let saver = Arc::new(SqliteSaver::open(dir.path().join("service.db")).expect("open SQLite"));
    start_on(saver, options, dir).await
}

/// The service on `saver` (`dir` is kept as long as the server).
pub async fn start_on(
    saver: Arc<dyn ServiceSaver>,
    options: ServiceOptions,
    dir: tempfile::TempDir,
) -> TestServer {
    let service = Service::new(saver, options);
    let key = service
        .create_key("default", Some("test"))
        .expect("mint a key")
        .api_key;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(serve(listener, Arc::clone(&service)));
    TestServer {
        url,
        key,
        service,
        dir,
    }
}

impl TestServer {
    #[allow(clippy::unused_self)] // read as `s.client()`, beside `s.post` and `s.get`
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    pub fn post(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.client()
            .post(format!("{}{path}", self.url))
            .bearer_auth(key)
            .header("content-type", "application/json")
    }

    pub fn get(&self, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.client()
            .get(format!("{}{path}", self.url))
            .bearer_auth(key)
    }
}

/// One delivered webhook: its headers and raw body.
pub struct Delivery {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A loopback webhook receiver that answers `fail_first` requests with
/// 500, then 200; every request reaches the channel.
pub async fn receiver(fail_first: usize) -> (String, mpsc::UnboundedReceiver<Delivery>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let seen = Arc::clone(&seen);
            async move {
                let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = tx.send(Delivery { headers, body });
                if n < fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}
