//! Prometheus metrics (SPEC §9). Names live here once; the pipeline records through the small
//! functions below so no label can ever carry an email (only source names, outcomes and fixed
//! reasons, all from configuration or code).

use crate::store::{DynStore, StoreError, now_ms};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub const WEBHOOKS: &str = "zoom_sso_revoker_webhooks_total";
pub const REVOCATIONS: &str = "zoom_sso_revoker_revocations_total";
pub const ZOOM_LATENCY: &str = "zoom_sso_revoker_zoom_request_duration_seconds";
pub const TIME_TO_REVOKE: &str = "zoom_sso_revoker_webhook_to_revoked_seconds";
pub const ZOOM_429: &str = "zoom_sso_revoker_zoom_rate_limited_total";
pub const TOKEN_REFRESHES: &str = "zoom_sso_revoker_zoom_token_refreshes_total";
pub const JOBS: &str = "zoom_sso_revoker_jobs";
pub const PENDING: &str = "zoom_sso_revoker_jobs_pending";
pub const DEAD: &str = "zoom_sso_revoker_jobs_dead";
pub const OLDEST_PENDING: &str = "zoom_sso_revoker_oldest_pending_age_seconds";
pub const PRUNED: &str = "zoom_sso_revoker_pruned_rows_total";

/// Zoom answers in tens of milliseconds normally, seconds when slow, up to the timeout.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Webhook to revoked: milliseconds on the hot path, minutes to hours through retries.
const TIME_TO_REVOKE_BUCKETS: &[f64] =
    &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle. A process has one recorder;
/// several services in one process (tests) share it, so counters there are process totals.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(ZOOM_LATENCY.into()), LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(TIME_TO_REVOKE.into()), TIME_TO_REVOKE_BUCKETS))
            .expect("bucket lists are non-empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder was installed first; then ours still renders (empty).
        let _ = metrics::set_global_recorder(recorder);
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(
        WEBHOOKS,
        "Webhook events by source and outcome (accepted, duplicate, ignored) and rejected requests by reason."
    );
    describe_counter!(
        REVOCATIONS,
        "Zoom revocation attempts by outcome (revoked, not_found, dry_run, failed, dead, retry)."
    );
    describe_histogram!(ZOOM_LATENCY, metrics::Unit::Seconds, "Duration of one Zoom revoke call.");
    describe_histogram!(
        TIME_TO_REVOKE,
        metrics::Unit::Seconds,
        "From the first webhook of a job to Zoom confirming the revocation."
    );
    describe_counter!(ZOOM_429, "Zoom answers 429 (rate limited).");
    describe_counter!(TOKEN_REFRESHES, "Zoom OAuth access tokens fetched.");
    describe_gauge!(JOBS, "Jobs by state.");
    describe_gauge!(PENDING, "Jobs waiting for Zoom (pending or in flight).");
    describe_gauge!(DEAD, "Jobs that exhausted their retries.");
    describe_gauge!(OLDEST_PENDING, metrics::Unit::Seconds, "Age of the oldest job waiting for Zoom (0 when none).");
    describe_counter!(PRUNED, "Rows removed by RETENTION_DAYS pruning, by table.");
}

/// Events of one webhook: `outcome` is accepted, duplicate or ignored.
pub fn webhook_events(source: &str, outcome: &'static str, n: u32) {
    if n > 0 {
        counter!(WEBHOOKS, "source" => source.to_string(), "outcome" => outcome, "reason" => "")
            .increment(u64::from(n));
    }
}

/// A refused request. `source` must be a configured source name (or "unknown").
pub fn webhook_rejected(source: &str, reason: &'static str) {
    counter!(WEBHOOKS, "source" => source.to_string(), "outcome" => "rejected", "reason" => reason).increment(1);
}

/// One attempt's result: a final state or `retry`.
pub fn revocation(outcome: &'static str) {
    counter!(REVOCATIONS, "outcome" => outcome).increment(1);
}

pub fn zoom_call(duration: Duration, outcome: &'static str) {
    histogram!(ZOOM_LATENCY, "outcome" => outcome).record(duration.as_secs_f64());
}

pub fn time_to_revoke(seconds: f64) {
    histogram!(TIME_TO_REVOKE).record(seconds.max(0.0));
}

pub fn rate_limited() {
    counter!(ZOOM_429).increment(1);
}

pub fn token_refresh() {
    counter!(TOKEN_REFRESHES).increment(1);
}

pub fn pruned(table: &'static str, n: u64) {
    counter!(PRUNED, "table" => table).increment(n);
}

/// Sets the queue gauges from the store (at scrape time, so they are exact across replicas).
pub async fn refresh_gauges(store: &DynStore) -> Result<(), StoreError> {
    let counts = store.count_by_state().await?;
    let count = |s: &str| counts.iter().find(|(st, _)| st == s).map(|(_, n)| *n).unwrap_or(0);
    for st in crate::store::JobState::ALL {
        gauge!(JOBS, "state" => st.as_str()).set(count(st.as_str()) as f64);
    }
    gauge!(PENDING).set((count("pending") + count("in_flight")) as f64);
    gauge!(DEAD).set(count("dead") as f64);
    let age = store.oldest_active_ms().await?.map(|t| (now_ms() - t).max(0) as f64 / 1000.0).unwrap_or(0.0);
    gauge!(OLDEST_PENDING).set(age);
    Ok(())
}

/// The Prometheus text exposition, gauges refreshed first.
pub async fn render(store: &DynStore) -> String {
    let h = handle();
    if let Err(e) = refresh_gauges(store).await {
        tracing::warn!(error = %e, "metrics: could not read queue gauges from the store");
    }
    h.run_upkeep();
    h.render()
}
