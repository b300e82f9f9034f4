//! The receiving half of the pipeline (SPEC §2 steps 2–5): source → authenticate → parse →
//! normalize and check emails → one durable transaction. Independent of HTTP so the CLI and
//! tests can drive it too.

use crate::config::Config;
use crate::email::{Email, EmailPolicy};
use crate::providers::{AuthError, EventKind, RawWebhook};
use crate::store::{Disposition, DynStore, IngestBatch, IngestCounts, NewEvent, RejectedRequest, StoreError, to_ms};
use crate::telemetry::metrics;
use tracing::{info, warn};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unknown source")]
    UnknownSource,
    #[error("authentication failed: {0}")]
    Unauthorized(AuthError),
    #[error("unparseable payload: {0}")]
    Unparseable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Normalizes and checks one email (SPEC §5): the email as recorded, and whether to revoke.
/// Webhooks and manual revocations both decide here.
pub fn disposition(policy: &EmailPolicy, raw_email: &str) -> (Option<String>, Disposition) {
    match Email::parse(raw_email) {
        Err(e) => (Some(raw_email.to_string()), Disposition::Ignore(format!("invalid email: {e}"))),
        Ok(email) => match policy.check(&email) {
            Err(reason) => (Some(email.to_string()), Disposition::Ignore(reason)),
            Ok(()) => (Some(email.to_string()), Disposition::Queue(email)),
        },
    }
}

/// Processes one webhook, counting its outcome in the metrics (SPEC §9).
pub async fn handle(config: &Config, store: &DynStore, raw: RawWebhook) -> Result<IngestCounts, IngestError> {
    // Only configured names become label values: an attacker choosing paths adds no series.
    let label = config.source(&raw.source).map(|s| s.name.clone()).unwrap_or_else(|| "unknown".into());
    let result = handle_inner(config, store, raw).await;
    match &result {
        Ok(c) => {
            metrics::webhook_events(&label, "accepted", c.accepted);
            metrics::webhook_events(&label, "duplicate", c.duplicates);
            metrics::webhook_events(&label, "ignored", c.ignored);
        }
        Err(IngestError::UnknownSource) => metrics::webhook_rejected(&label, "unknown_source"),
        Err(IngestError::Unauthorized(e)) => metrics::webhook_rejected(&label, e.label()),
        Err(IngestError::Unparseable(_)) => metrics::webhook_rejected(&label, "unparseable"),
        Err(IngestError::Store(_)) => metrics::webhook_rejected(&label, "store_unavailable"),
    }
    result
}

#[tracing::instrument(name = "webhook", skip_all, fields(source = %raw.source, event_ids = tracing::field::Empty))]
async fn handle_inner(config: &Config, store: &DynStore, raw: RawWebhook) -> Result<IngestCounts, IngestError> {
    let source = config.source(&raw.source).ok_or(IngestError::UnknownSource)?;
    let received_at_ms = to_ms(raw.received_at);
    let hook = source.verify(raw).map_err(|e| {
        warn!(reason = e.label(), "webhook rejected");
        IngestError::Unauthorized(e)
    })?;
    let parsed = match source.parser.parse(&hook) {
        Ok(p) => p,
        Err(e) => {
            warn!(reason = %e, "authenticated webhook could not be parsed; kept for replay");
            store
                .record_rejected(RejectedRequest {
                    source: source.name.clone(),
                    received_at_ms,
                    reason: e.0.clone(),
                    body: hook.body().to_vec(),
                })
                .await?;
            return Err(IngestError::Unparseable(e.0));
        }
    };
    // The span carries the provider's event ids (bounded) so one webhook's log lines and the
    // audit trail can be joined.
    let ids: Vec<&str> = parsed.iter().take(20).map(|e| e.event_id.as_str()).collect();
    tracing::Span::current().record("event_ids", ids.join(",").as_str());
    let mut not_deprovisioning = 0;
    let mut events = Vec::with_capacity(parsed.len());
    for ev in parsed {
        let (email, disposition) = match ev.kind {
            EventKind::Ignored(_) => {
                not_deprovisioning += 1;
                continue;
            }
            EventKind::Deprovision(Err(reason)) => (None, Disposition::Ignore(reason)),
            EventKind::Deprovision(Ok(raw_email)) => disposition(&config.policy, &raw_email),
        };
        events.push(NewEvent {
            event_id: ev.event_id,
            event_type: ev.event_type,
            occurred_at: ev.occurred_at,
            email,
            disposition,
        });
    }
    let mut counts = if events.is_empty() {
        IngestCounts::default()
    } else {
        store.ingest(IngestBatch { source: source.name.clone(), received_at_ms, events }).await?
    };
    counts.ignored += not_deprovisioning;
    info!(accepted = counts.accepted, duplicates = counts.duplicates, ignored = counts.ignored, "webhook stored");
    Ok(counts)
}
