//! TTL: each save sets its workflow's expiry (the default TTL or
//! `X-Checkpoint-TTL`), refreshed by every save; reads treat an expired
//! workflow as gone, and a background sweeper deletes it and ★ sends
//! `workflow.expired` (which SnapState accepts but never sends).

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use super::error::ApiResult;
use super::service::Service;
use super::workflows::delete_expired;

/// Deletes every workflow whose latest save expired by `now` and sends
/// `workflow.expired` for each; returns `(account, workflow)` of each.
pub async fn sweep_expired(
    service: &Arc<Service>,
    now: SystemTime,
) -> ApiResult<Vec<(String, String)>> {
    let gone = service
        .blocking(move |s| delete_expired(&*s.saver, &s.locks, now))
        .await?;
    let mut swept = Vec::new();
    for (account, workflow) in gone {
        tracing::info!(account, workflow, "workflow expired and deleted");
        service.hooks.emit(
            &service.store,
            &account,
            "workflow.expired",
            json!({"workflow_id": workflow, "expired_at": super::workflows::iso_millis(now)}),
        );
        swept.push((account, workflow));
    }
    Ok(swept)
}

/// The sweeper loop: one sweep per `sweep_interval`.
pub(crate) async fn run_sweeper(service: Arc<Service>) {
    let mut tick = tokio::time::interval(service.options.sweep_interval);
    loop {
        tick.tick().await;
        if let Err(e) = sweep_expired(&service, SystemTime::now()).await {
            tracing::error!(error = %e, "TTL sweep failed");
        }
    }
}
