//! The operator's questions, answered once for the CLI and the admin API alike (SPEC §6, §8):
//! manual revocations through the same queue, job listings and details, retries, a person's
//! whole audit trail, and `check`. Rendering for terminals lives in [`render`].

pub mod check;
pub mod render;

use crate::email::{Email, EmailPolicy};
use crate::ingest;
use crate::store::{
    AttemptRecord, Disposition, DynStore, EventRow, IngestBatch, JobFilter, JobRow, JobState, NewEvent, RejectedRow,
    StoreError, now_ms,
};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The source name of manual revocations (reserved: no webhook source may use it).
pub const MANUAL_SOURCE: &str = "manual";
/// The event type of manual revocations.
pub const MANUAL_EVENT_TYPE: &str = "manual.revoke";
/// `jobs list --state rejected`: authenticated requests that could not be parsed.
pub const REJECTED: &str = "rejected";
/// Default number of rows a listing returns.
pub const DEFAULT_LIMIT: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What happened to one email of a manual revocation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ManualResult {
    /// The email as recorded (normalized when valid).
    pub email: String,
    /// `queued` or `ignored`.
    pub outcome: String,
    /// Why it was ignored (invalid, protected, foreign domain).
    pub reason: Option<String>,
    pub job_id: Option<String>,
    /// The job's state (after waiting, with `--wait`).
    pub state: Option<String>,
}

/// Enqueues a manual revocation per email: an event from source `manual` in the same store and
/// queue as webhooks, so it is deduplicated, coalesced, rate limited and audited the same way.
pub async fn revoke(store: &DynStore, policy: &EmailPolicy, emails: &[String]) -> Result<Vec<ManualResult>, OpsError> {
    if emails.is_empty() {
        return Err(OpsError::BadInput("no email given".into()));
    }
    let mut out = Vec::with_capacity(emails.len());
    for raw in emails {
        let (recorded, disposition) = ingest::disposition(policy, raw);
        let event_id = uuid::Uuid::now_v7().to_string();
        let reason = match &disposition {
            Disposition::Ignore(r) => Some(r.clone()),
            Disposition::Queue(_) => None,
        };
        let batch = IngestBatch {
            source: MANUAL_SOURCE.into(),
            received_at_ms: now_ms(),
            events: vec![NewEvent {
                event_id: event_id.clone(),
                event_type: MANUAL_EVENT_TYPE.into(),
                occurred_at: None,
                email: recorded.clone(),
                disposition,
            }],
        };
        store.ingest(batch).await?;
        let email = recorded.unwrap_or_default();
        let job_id = match reason {
            Some(_) => None,
            None => store
                .events_for_email(&email)
                .await?
                .into_iter()
                .find(|e| e.event_id == event_id)
                .and_then(|e| e.job_id),
        };
        let state = match &job_id {
            Some(id) => store.job(id).await?.map(|j| j.state),
            None => None,
        };
        tracing::info!(job_id = ?job_id, queued = reason.is_none(), "manual revocation recorded");
        out.push(ManualResult {
            email,
            outcome: if reason.is_none() { "queued" } else { "ignored" }.into(),
            reason,
            job_id,
            state,
        });
    }
    Ok(out)
}

/// Waits until every queued job of `results` is in a final state (or `timeout`), updating
/// their `state`. Returns false on timeout. The worker of a running `serve` does the work; this
/// only watches the store.
pub async fn wait_final(store: &DynStore, results: &mut [ManualResult], timeout: Duration) -> Result<bool, OpsError> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut all = true;
        for r in results.iter_mut() {
            let Some(id) = &r.job_id else { continue };
            if let Some(j) = store.job(id).await? {
                all &= JobState::parse(&j.state).is_some_and(JobState::is_terminal);
                r.state = Some(j.state);
            }
        }
        if all {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An authenticated request that could not be parsed, as shown to operators.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RejectedView {
    pub id: String,
    pub source: String,
    pub received_at: i64,
    pub reason: String,
    /// The body as received (invalid UTF-8 replaced), so it can be fixed and replayed.
    pub body: String,
}

impl From<RejectedRow> for RejectedView {
    fn from(r: RejectedRow) -> Self {
        Self {
            id: r.id,
            source: r.source,
            received_at: r.received_at,
            reason: r.reason,
            body: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }
}

/// `jobs list`: jobs, or with state `rejected` the unparseable requests.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Listing {
    Jobs(Vec<JobRow>),
    Rejected(Vec<RejectedView>),
}

pub async fn list(
    store: &DynStore,
    state: Option<&str>,
    email: Option<&str>,
    limit: Option<u32>,
) -> Result<Listing, OpsError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, 10_000);
    match state.map(str::trim).filter(|s| !s.is_empty()) {
        Some(REJECTED) => {
            // Rejected requests have no email: they failed before one could be read.
            if email.is_some() {
                return Err(OpsError::BadInput("--email does not apply to rejected requests".into()));
            }
            Ok(Listing::Rejected(store.list_rejected(limit).await?.into_iter().map(Into::into).collect()))
        }
        other => {
            let state = match other {
                None => None,
                Some(s) => Some(JobState::parse(s).ok_or_else(|| {
                    let names: Vec<_> = JobState::ALL.iter().map(|s| s.as_str()).chain([REJECTED]).collect();
                    OpsError::BadInput(format!("unknown state {s:?}; expected one of {}", names.join(", ")))
                })?),
            };
            let email = email.map(normalize_for_lookup);
            Ok(Listing::Jobs(store.list_jobs(&JobFilter { state, email, limit }).await?))
        }
    }
}

/// One job with everything that led to it and every call it made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobDetail {
    pub job: JobRow,
    pub events: Vec<EventRow>,
    pub attempts: Vec<AttemptRecord>,
}

pub async fn show(store: &DynStore, id: &str) -> Result<JobDetail, OpsError> {
    let job = store.job(id).await?.ok_or_else(|| OpsError::NotFound(format!("no job with id {id}")))?;
    detail(store, job).await
}

async fn detail(store: &DynStore, job: JobRow) -> Result<JobDetail, OpsError> {
    let events = store.events_for_job(&job.id).await?;
    let attempts = store.attempts(&job.id).await?;
    Ok(JobDetail { job, events, attempts })
}

/// The result of one retry request.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RetryReport {
    pub id: String,
    pub retried: bool,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// Puts a `failed` or `dead` job back in the queue. Its attempt count is kept, so the retry
/// policy gives it one more attempt (a transient failure makes it dead again, to be retried
/// again once the cause is fixed); a success or a final answer ends it as usual.
pub async fn retry(store: &DynStore, id: &str) -> Result<RetryReport, OpsError> {
    if store.retry_job(id, now_ms()).await? {
        tracing::info!(job_id = %id, "job retried by an operator");
        return Ok(RetryReport { id: id.into(), retried: true, reason: None });
    }
    let job = store.job(id).await?.ok_or_else(|| OpsError::NotFound(format!("no job with id {id}")))?;
    let reason = match job.state.as_str() {
        "failed" | "dead" => "this person already has an active job (it will revoke them)".to_string(),
        s => format!("only failed or dead jobs can be retried; this one is {s}"),
    };
    Ok(RetryReport { id: id.into(), retried: false, reason: Some(reason) })
}

/// Retries every dead job.
pub async fn retry_all_dead(store: &DynStore) -> Result<Vec<RetryReport>, OpsError> {
    let dead = store.list_jobs(&JobFilter { state: Some(JobState::Dead), email: None, limit: 100_000 }).await?;
    let mut out = Vec::with_capacity(dead.len());
    for j in dead {
        out.push(retry(store, &j.id).await?);
    }
    Ok(out)
}

/// A person's whole history (SPEC §6).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Audit {
    pub email: String,
    /// One line: the newest job's state, or why the events were ignored, or `no record`.
    pub outcome: String,
    /// Every event received for this email, oldest first (ignored ones with their reason).
    pub events: Vec<EventRow>,
    /// Every job, newest first, each with its attempts.
    pub jobs: Vec<JobDetail>,
}

pub async fn audit(store: &DynStore, email: &str) -> Result<Audit, OpsError> {
    let email = normalize_for_lookup(email);
    let events = store.events_for_email(&email).await?;
    let mut jobs = Vec::new();
    for j in store.jobs_for_email(&email).await? {
        jobs.push(detail(store, j).await?);
    }
    let outcome = match (jobs.first(), events.last()) {
        (Some(d), _) => match d.job.finished_at {
            Some(_) => d.job.state.clone(),
            None => format!("{} (not final yet)", d.job.state),
        },
        (None, Some(e)) => format!("ignored: {}", e.ignored_reason.as_deref().unwrap_or("no reason recorded")),
        (None, None) => "no record".into(),
    };
    Ok(Audit { email, outcome, events, jobs })
}

/// Emails are stored normalized when valid and as sent when not; look up the same way.
fn normalize_for_lookup(raw: &str) -> String {
    Email::parse(raw).map(|e| e.to_string()).unwrap_or_else(|_| raw.trim().to_string())
}
