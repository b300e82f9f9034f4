//! Durable storage (SPEC §6): events, jobs, attempts and authenticated-but-unparseable requests.
//!
//! One [`Store`] trait, one implementation per backend chosen by the `DATABASE_URL` scheme. The
//! job queue is ours on purpose (STYLE.md): "accept means committed" needs the event and its job
//! in the same transaction as the dedupe and coalescing constraints.

pub mod ops_sql;
pub mod postgres;
mod sql;
pub mod sqlite;

use crate::email::Email;
use crate::zoom::limiter::CallSchedule;
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Milliseconds since the Unix epoch: the one time format in every table of every backend.
pub fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

pub fn to_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:[redacted]{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Pending,
    InFlight,
    Revoked,
    NotFound,
    DryRun,
    Failed,
    Dead,
}

impl JobState {
    pub const ALL: &[JobState] = &[
        JobState::Pending,
        JobState::InFlight,
        JobState::Revoked,
        JobState::NotFound,
        JobState::DryRun,
        JobState::Failed,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::InFlight => "in_flight",
            JobState::Revoked => "revoked",
            JobState::NotFound => "not_found",
            JobState::DryRun => "dry_run",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Pending | JobState::InFlight)
    }
}

/// What to do with one parsed event.
#[derive(Debug, Clone)]
pub enum Disposition {
    /// Revoke this person.
    Queue(Email),
    /// Keep for the audit trail, do not revoke.
    Ignore(String),
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: Option<String>,
    /// The email as recorded (normalized when valid, as sent when not).
    pub email: Option<String>,
    pub disposition: Disposition,
}

#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub source: String,
    pub received_at_ms: i64,
    pub events: Vec<NewEvent>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestCounts {
    pub accepted: u32,
    pub duplicates: u32,
    pub ignored: u32,
}

/// A job claimed by a worker under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: String,
    pub email: Email,
    /// Attempts including this one.
    pub attempts: u32,
    pub created_at_ms: i64,
    /// Unique per claim; completion is fenced by it.
    pub lease_token: String,
}

/// One Zoom call, for the audit trail.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptRecord {
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub http_status: Option<u16>,
    pub zoom_code: Option<i64>,
    /// `revoked`, `not_found`, `dry_run`, `failed`, `retry`, ...
    pub outcome: String,
    pub error: Option<String>,
}

/// What happens to a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// A terminal state.
    Finish(JobState),
    /// Back to pending, due at this time (ms).
    RetryAt(i64),
}

#[derive(Debug, Clone)]
pub struct RejectedRequest {
    pub source: String,
    pub received_at_ms: i64,
    pub reason: String,
    pub body: Vec<u8>,
}

/// A job as stored; times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct JobRow {
    pub id: String,
    pub email: String,
    pub state: String,
    pub attempts: i64,
    pub next_run_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_zoom_code: Option<i64>,
    pub last_error: Option<String>,
}

/// A received event as stored (the audit trail's first half); times are Unix milliseconds.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventRow {
    pub id: String,
    pub source: String,
    pub event_id: String,
    pub event_type: String,
    pub email: Option<String>,
    pub occurred_at: Option<String>,
    pub received_at: i64,
    /// The job this event queued or attached to; `None` when it was ignored.
    pub job_id: Option<String>,
    /// Why the event was not queued (invalid email, protected, foreign domain, ...).
    pub ignored_reason: Option<String>,
}

/// An authenticated request that could not be parsed, kept so it can be fixed and replayed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RejectedRow {
    pub id: String,
    pub source: String,
    pub received_at: i64,
    pub reason: String,
    pub body: Vec<u8>,
}

/// Which jobs `list_jobs` returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub email: Option<String>,
    pub limit: u32,
}

/// What `prune` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub jobs: u64,
    pub events: u64,
    pub attempts: u64,
    pub rejected: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store is shutting down")]
    Closed,
    #[error("{0}")]
    Invalid(String),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Stores events and their jobs in one durable transaction (dedupe and coalescing included).
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestCounts, StoreError>;
    /// Keeps an authenticated request that could not be parsed.
    async fn record_rejected(&self, req: RejectedRequest) -> Result<(), StoreError>;
    /// Claims up to `limit` due jobs (pending and due, or in flight with an expired lease).
    async fn claim(&self, now_ms: i64, lease: Duration, limit: u32) -> Result<Vec<ClaimedJob>, StoreError>;
    /// Records an attempt and moves the job on, fenced by the claim's lease token. Returns false
    /// when the lease was lost (another worker owns the job now); the attempt is recorded anyway.
    async fn complete(&self, job: &ClaimedJob, attempt: AttemptRecord, next: NextStep) -> Result<bool, StoreError>;
    /// The earliest `next_run_at` of a pending job, or lease expiry of an in-flight one.
    async fn next_due_ms(&self) -> Result<Option<i64>, StoreError>;
    /// One job by id.
    async fn job(&self, id: &str) -> Result<Option<JobRow>, StoreError>;
    /// Jobs of one email, newest first.
    async fn jobs_for_email(&self, email: &str) -> Result<Vec<JobRow>, StoreError>;
    /// Attempts of one job, oldest first.
    async fn attempts(&self, job_id: &str) -> Result<Vec<AttemptRecord>, StoreError>;
    /// Number of jobs per state.
    async fn count_by_state(&self) -> Result<Vec<(String, i64)>, StoreError>;

    // --- Operations (CLI, admin API, metrics, retention, shutdown) ---

    /// Jobs matching `filter`, newest first.
    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRow>, StoreError>;
    /// Events received for one email (as recorded), oldest first.
    async fn events_for_email(&self, email: &str) -> Result<Vec<EventRow>, StoreError>;
    /// Events attached to one job, oldest first.
    async fn events_for_job(&self, job_id: &str) -> Result<Vec<EventRow>, StoreError>;
    /// Authenticated-but-unparseable requests, newest first.
    async fn list_rejected(&self, limit: u32) -> Result<Vec<RejectedRow>, StoreError>;
    /// Puts a `failed` or `dead` job back to pending, due at `now_ms`. False when the job does
    /// not exist, is in another state, or its person already has an active job.
    async fn retry_job(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Gives a claimed job back unattempted (graceful shutdown): pending, due at `now_ms`, the
    /// claim's attempt uncounted. Fenced by the lease token; false when the lease was lost.
    async fn release(&self, job: &ClaimedJob, now_ms: i64) -> Result<bool, StoreError>;
    /// Extends a claim's lease to `lease_until_ms` (a worker still waiting for its call slot).
    /// Fenced by the lease token: false when another worker has claimed the job meanwhile.
    async fn renew_lease(&self, job: &ClaimedJob, lease_until_ms: i64) -> Result<bool, StoreError>;
    /// Deletes finished jobs (with their events and attempts), ignored events and rejected
    /// requests older than `before_ms`. Active jobs are never touched.
    async fn prune(&self, before_ms: i64) -> Result<Pruned, StoreError>;
    /// `created_at` of the oldest pending or in-flight job.
    async fn oldest_active_ms(&self) -> Result<Option<i64>, StoreError>;

    // --- Several processes on one database (PostgreSQL) ---

    /// Wakes `wake` whenever any process sharing this database makes a job pending, until
    /// `shutdown`. Returns once interest is registered, so a job made pending after it returns
    /// is never missed. A single-process backend has nothing to add to the in-process wake-ups.
    async fn listen(&self, wake: Arc<Notify>, shutdown: CancellationToken) -> Result<(), StoreError> {
        let _ = (wake, shutdown);
        Ok(())
    }

    /// The Zoom call schedule shared by every process on this database, when there can be
    /// several; `None` keeps the limiter in-process.
    fn call_schedule(&self) -> Option<Arc<dyn CallSchedule>> {
        None
    }
}

pub type DynStore = Arc<dyn Store>;

/// Opens the store named by `DATABASE_URL` (`sqlite:...` or `postgres://`/`postgresql://`) and
/// runs migrations. Usable on its own: the benchmark and tests open stores with it.
pub async fn connect(url: &str) -> Result<DynStore, StoreError> {
    let store: DynStore = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::connect(url).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(postgres::PgStore::connect(url).await?)
    } else {
        return Err(StoreError::Invalid(format!(
            "DATABASE_URL {}: expected sqlite://PATH or postgres://...",
            redact_url(url)
        )));
    };
    store.migrate().await?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_password() {
        assert_eq!(super::redact_url("postgres://u:secret@h/db"), "postgres://u:[redacted]@h/db");
        assert_eq!(super::redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
