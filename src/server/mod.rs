//! `checkpointer serve`: an HTTP checkpoint service compatible with
//! SnapState's API, so the real `snapstate-sdk` works against it
//! unchanged, on any checkpoint saver (feature `server`).
//!
//! A workflow is a thread and a save a checkpoint ([`workflows`]), so the
//! CLI, the graph and the service see the same data. Accounts, keys,
//! agents and webhooks are kept by a [`ServiceStore`] (in the same saver
//! by default, [`SaverServiceStore`]). The routes, bodies, status codes
//! and envelopes are SnapState's ([`routes`]); where SnapState has a bug
//! the service does what its authors meant, and it does better where the
//! reference marks ★: per-account data, replay that filters then pages,
//! resume with the etag, an opt-in workflow-level `If-Match`
//! (`X-If-Match-Scope: workflow`, answered 412 when stale), revocation at
//! once, and `workflow.resumed`/`workflow.expired` webhooks with retries.
//!
//! The web page that browses thread history is [`ui`]: mounted at `/ui`
//! behind API keys by the service, and served read-only without keys by
//! `checkpointer ui`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use checkpointer::server::{Service, ServiceOptions};
//! use checkpointer::SqliteSaver;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let saver = Arc::new(SqliteSaver::open("checkpoints.db")?);
//! let service = Service::new(saver, ServiceOptions::default());
//! let key = service.create_key(checkpointer::server::DEFAULT_ACCOUNT, Some("ci"))?;
//! println!("export SNAPSTATE_API_KEY={}", key.api_key);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! checkpointer::server::serve(listener, service).await?;
//! # Ok(()) }
//! ```

mod auth;
pub mod diff;
mod error;
pub mod jsform;
pub mod keys;
mod memory_store;
mod rate_limit;
pub mod routes;
mod saver_store;
mod service;
mod store;
mod ttl;
pub mod ui;
mod webhooks;
pub mod workflows;

pub use auth::Caller;
pub use error::{ApiError, ApiResult};
pub use memory_store::{MemoryServiceStore, MemoryTables};
pub use rate_limit::RateLimiter;
pub use saver_store::{SERVICE_THREAD_PREFIX, SaverServiceStore, SaverTables};
pub use service::{MintedKey, Service, ServiceOptions, ServiceSaver, serve};
pub use store::{
    Account, Agent, AgentPut, ApiKeyRecord, RecordTables, ServiceStore, StoreError, StoreResult,
    TableStore, Webhook,
};
pub use ttl::sweep_expired;
pub use webhooks::{DeliveryOptions, EVENTS, WebhookSender};
pub use workflows::{DEFAULT_ACCOUNT, thread_for, workflow_of};
