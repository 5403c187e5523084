//! Webhook delivery: `POST url` with `{"event","webhook_id","timestamp",
//! "data"}`, `Content-Type: application/json`, `User-Agent:
//! CheckpointService/1.0` and, with a secret, `X-Checkpoint-Signature:
//! sha256=<hex HMAC-SHA256(secret, raw body)>`. ★ A failed delivery (an
//! error or a non-2xx answer) is tried again with exponential backoff;
//! delivery runs on its own tasks and never holds up a save. URLs may be
//! `http` or `https` (rustls, with the Mozilla root certificates built in).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use super::keys::signature;
use super::store::{ServiceStore, Webhook};
use super::workflows::iso_millis;

/// The events a webhook may ask for.
pub const EVENTS: [&str; 3] = ["checkpoint.saved", "workflow.resumed", "workflow.expired"];

/// How webhooks are sent.
#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each.
    pub backoff: Duration,
    /// The timeout of one attempt.
    pub timeout: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Sends the events of accounts to their webhooks.
#[derive(Clone, Debug)]
pub struct WebhookSender {
    /// The HTTP client, or why none could be built (then every delivery
    /// is logged as failed).
    client: Result<reqwest::Client, String>,
    options: DeliveryOptions,
}

impl WebhookSender {
    /// A sender with these options.
    pub fn new(options: DeliveryOptions) -> Self {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent("CheckpointService/1.0")
            .build()
            .map_err(|e| e.to_string());
        WebhookSender { client, options }
    }

    /// Sends `event` with `data` to every webhook of the account that asked
    /// for it, in the background (must run inside a tokio runtime).
    pub fn emit(
        &self,
        store: &Arc<dyn ServiceStore>,
        account_id: &str,
        event: &'static str,
        data: Value,
    ) {
        let (sender, store, account_id) = (self.clone(), Arc::clone(store), account_id.to_owned());
        tokio::spawn(async move {
            let account = account_id.clone();
            let hooks = tokio::task::spawn_blocking(move || store.webhooks(&account)).await;
            let hooks = match hooks {
                Ok(Ok(hooks)) => hooks,
                Ok(Err(e)) => {
                    tracing::error!(account_id, event, error = %e, "webhooks not read; event dropped");
                    return;
                }
                Err(e) => {
                    tracing::error!(account_id, event, error = %e, "webhook task failed");
                    return;
                }
            };
            for hook in hooks
                .into_iter()
                .filter(|h| h.events.iter().any(|e| e == event))
            {
                let (sender, data) = (sender.clone(), data.clone());
                tokio::spawn(async move { sender.deliver(&hook, event, &data).await });
            }
        });
    }

    /// Delivers one event to one webhook, retrying; whether it arrived.
    pub async fn deliver(&self, hook: &Webhook, event: &str, data: &Value) -> bool {
        let client = match &self.client {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(webhook = %hook.webhook_id, event, error = %e, "no HTTP client; webhook not sent");
                return false;
            }
        };
        let body = json!({
            "event": event,
            "webhook_id": hook.webhook_id,
            "timestamp": iso_millis(SystemTime::now()),
            "data": data,
        })
        .to_string();
        let mut wait = self.options.backoff;
        for attempt in 1..=self.options.attempts.max(1) {
            let mut request = client
                .post(&hook.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(secret) = &hook.secret {
                request =
                    request.header("X-Checkpoint-Signature", signature(secret, body.as_bytes()));
            }
            match request.send().await {
                Ok(answer) if answer.status().is_success() => return true,
                Ok(answer) => {
                    tracing::warn!(webhook = %hook.webhook_id, event, attempt, status = answer.status().as_u16(), "webhook refused");
                }
                Err(e) => {
                    tracing::warn!(webhook = %hook.webhook_id, event, attempt, error = %e, "webhook not delivered");
                }
            }
            if attempt < self.options.attempts {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        tracing::error!(webhook = %hook.webhook_id, event, "webhook given up");
        false
    }
}
