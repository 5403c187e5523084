//! The service: its options, its state and `serve`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::error::{ApiError, ApiResult};
use super::keys::{SHOWN_PREFIX_LEN, key_hash, new_api_key, random_hex};
use super::rate_limit::RateLimiter;
use super::saver_store::SaverServiceStore;
use super::store::{Account, ApiKeyRecord, ServiceStore};
use super::webhooks::{DeliveryOptions, WebhookSender};
use super::workflows::{DEFAULT_ACCOUNT, WorkflowLocks, iso_millis, workflow_of};
use crate::saver::{CheckpointAdmin, ThreadLeases};

/// What the service runs on: a saver with the admin calls and thread
/// leases ([`SqliteSaver`](crate::SqliteSaver), `PostgresSaver`,
/// [`InMemorySaver`](crate::InMemorySaver)).
pub trait ServiceSaver: CheckpointAdmin + ThreadLeases {}

impl<T: CheckpointAdmin + ThreadLeases + ?Sized> ServiceSaver for T {}

/// How the service behaves; SnapState's defaults.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    /// Requests per key per window (SnapState: 100).
    pub rate_limit_max: usize,
    /// The window (SnapState: 60 s).
    pub rate_limit_window: Duration,
    /// The TTL of a workflow when a save gives no `X-Checkpoint-TTL`
    /// (SnapState: 604 800 s, 7 days).
    pub default_ttl: Duration,
    /// The largest state, as JavaScript writes it (1 MiB).
    pub max_state_bytes: u64,
    /// The largest request body: above the state limit, so that a large
    /// state gets the application's 413 envelope (8 MiB).
    pub body_limit: usize,
    /// The secret of the admin routes (`Bearer <secret>`); `None` turns
    /// them off (★ SnapState has a well-known default instead).
    pub admin_secret: Option<String>,
    /// How often the TTL sweeper runs (SnapState: 60 s).
    pub sweep_interval: Duration,
    /// Agents per account (SnapState: 50).
    pub max_agents: usize,
    /// Webhook delivery.
    pub delivery: DeliveryOptions,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            rate_limit_max: 100,
            rate_limit_window: Duration::from_mins(1),
            default_ttl: Duration::from_hours(168),
            max_state_bytes: 1_048_576,
            body_limit: 8 * 1_048_576,
            admin_secret: None,
            sweep_interval: Duration::from_mins(1),
            max_agents: 50,
            delivery: DeliveryOptions::default(),
        }
    }
}

/// A key just made: the only time its text is seen.
#[derive(Clone, Debug)]
pub struct MintedKey {
    /// What is stored of it.
    pub record: ApiKeyRecord,
    /// The key itself (`snp_` + 32 hex).
    pub api_key: String,
}

/// The running service's state, shared by every request.
pub struct Service {
    pub(crate) saver: Arc<dyn CheckpointAdmin>,
    pub(crate) store: Arc<dyn ServiceStore>,
    pub(crate) options: ServiceOptions,
    pub(crate) limiter: RateLimiter,
    pub(crate) locks: WorkflowLocks,
    pub(crate) hooks: WebhookSender,
    pub(crate) started: Instant,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("store", &self.store)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// The service on `saver`, its records in the same saver.
    pub fn new(saver: Arc<dyn ServiceSaver>, options: ServiceOptions) -> Arc<Service> {
        let leases: Arc<dyn ThreadLeases> = saver.clone();
        let store: Arc<dyn ServiceStore> = Arc::new(SaverServiceStore::in_saver(leases));
        Service::with_store(saver, store, options)
    }

    /// The service on `saver` with its records in `store`.
    pub fn with_store(
        saver: Arc<dyn CheckpointAdmin>,
        store: Arc<dyn ServiceStore>,
        options: ServiceOptions,
    ) -> Arc<Service> {
        Arc::new(Service {
            saver,
            store,
            limiter: RateLimiter::new(options.rate_limit_max, options.rate_limit_window),
            locks: WorkflowLocks::default(),
            hooks: WebhookSender::new(options.delivery.clone()),
            options,
            started: Instant::now(),
        })
    }

    /// The saver of the workflows.
    pub fn saver(&self) -> &Arc<dyn CheckpointAdmin> {
        &self.saver
    }

    /// The store of accounts, keys, agents and webhooks.
    pub fn store(&self) -> &Arc<dyn ServiceStore> {
        &self.store
    }

    /// The options.
    pub fn options(&self) -> &ServiceOptions {
        &self.options
    }

    /// Makes an account (`default` for [`DEFAULT_ACCOUNT`], else a new
    /// `acct_` id) unless `id` is given and exists.
    pub fn ensure_account(&self, id: Option<&str>, name: &str) -> ApiResult<Account> {
        if let Some(id) = id {
            if let Some(account) = self.store.account(id)? {
                return Ok(account);
            }
            if id.is_empty() || id.contains('~') {
                return Err(ApiError::invalid(
                    "an account id may not be empty or hold '~'",
                ));
            }
        }
        let account = Account {
            id: id.map_or_else(
                || random_hex(6).map(|h| format!("acct_{h}")),
                |id| Ok(id.to_owned()),
            )?,
            name: name.to_owned(),
            active: true,
            created_at: iso_millis(SystemTime::now()),
        };
        self.store.create_account(&account)?;
        Ok(account)
    }

    /// Mints a key for `account_id` (the default account is made on first
    /// use; any other must exist).
    pub fn create_key(&self, account_id: &str, label: Option<&str>) -> ApiResult<MintedKey> {
        if account_id == DEFAULT_ACCOUNT {
            self.ensure_account(Some(DEFAULT_ACCOUNT), "default")?;
        } else if self.store.account(account_id)?.is_none() {
            return Err(ApiError::not_found(format!(
                "Account {account_id} not found"
            )));
        }
        let api_key = new_api_key()?;
        let record = ApiKeyRecord {
            id: format!("key_{}", random_hex(6)?),
            account_id: account_id.to_owned(),
            key_hash: key_hash(&api_key),
            key_prefix: api_key[..SHOWN_PREFIX_LEN].to_owned(),
            label: label.map(str::to_owned),
            created_at: iso_millis(SystemTime::now()),
            expires_at: None,
            revoked_at: None,
        };
        self.store.add_key(&record)?;
        Ok(MintedKey { record, api_key })
    }

    /// Revokes a key; whether it was active.
    pub fn revoke_key(&self, key_id: &str) -> ApiResult<bool> {
        Ok(self
            .store
            .revoke_key(key_id, &iso_millis(SystemTime::now()))?)
    }

    /// For the web page: which threads the account of an API key may see,
    /// `None` if the key does not work (unknown, revoked, expired,
    /// inactive account).
    pub fn thread_filter(
        &self,
        api_key: &str,
    ) -> Option<impl Fn(&str) -> bool + Send + Sync + 'static> {
        let (_, caller) = super::auth::check_key(&*self.store, api_key).ok()?;
        Some(move |thread: &str| {
            workflow_of(thread).is_some_and(|(account, _)| account == caller.account_id)
        })
    }

    /// Runs `work` on the blocking pool (every saver and store call is
    /// synchronous).
    pub(crate) async fn blocking<T, F>(self: &Arc<Self>, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Service) -> ApiResult<T> + Send + 'static,
    {
        let service = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&service))
            .await
            .map_err(|e| ApiError::Internal(format!("request task failed: {e}")))?
    }
}

/// Serves `service` on `listener` until the process ends, with the TTL
/// sweeper running beside it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<Service>,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(super::ttl::run_sweeper(Arc::clone(&service)));
    let app = super::routes::router(service);
    let served = axum::serve(listener, app).await;
    sweeper.abort();
    served
}
