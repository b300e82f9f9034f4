//! `RETENTION_DAYS` (SPEC §6): finished history older than the retention period is pruned at
//! start and then hourly. Jobs still pending or in flight are never pruned, whatever their age.

use crate::store::{DynStore, now_ms};
use crate::telemetry::metrics;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often pruning runs; history is kept in days, so hourly is precise enough and cheap.
const INTERVAL: Duration = Duration::from_secs(3600);

/// Prunes once: everything finished before now − `retention`.
pub async fn prune_once(
    store: &DynStore,
    retention: Duration,
) -> Result<crate::store::Pruned, crate::store::StoreError> {
    let cutoff = now_ms() - retention.as_millis() as i64;
    let p = store.prune(cutoff).await?;
    for (table, n) in
        [("jobs", p.jobs), ("events", p.events), ("attempts", p.attempts), ("rejected_requests", p.rejected)]
    {
        metrics::pruned(table, n);
    }
    if p != crate::store::Pruned::default() {
        tracing::info!(
            jobs = p.jobs,
            events = p.events,
            attempts = p.attempts,
            rejected = p.rejected,
            "pruned history past RETENTION_DAYS"
        );
    }
    Ok(p)
}

/// Runs until `shutdown`; `None` keeps history forever.
pub async fn run(store: DynStore, retention: Option<Duration>, shutdown: CancellationToken) {
    let Some(retention) = retention else { return };
    loop {
        if let Err(e) = prune_once(&store, retention).await {
            tracing::warn!(error = %e, "pruning history failed; trying again next hour");
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
