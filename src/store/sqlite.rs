//! SQLite backend: one file, WAL, `synchronous=FULL` (an acknowledged webhook survives a crash
//! and a power loss). Ingest goes through one writer task that groups concurrent requests into a
//! shared transaction — each caller is still answered only after the commit that holds its rows.

use super::Store;
use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::mpsc;

pub struct SqliteStore {
    pool: SqlitePool,
    ingest_tx: mpsc::Sender<q::IngestRequest>,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .statement_cache_capacity(q::STATEMENT_CACHE);
        let pool = SqlitePoolOptions::new().max_connections(8).min_connections(1).connect_with(opts).await?;
        let (ingest_tx, rx) = mpsc::channel(q::INGEST_QUEUE);
        tokio::spawn(writer(pool.clone(), rx));
        Ok(Self { pool, ingest_tx })
    }
}

// `BEGIN IMMEDIATE` takes the write lock up front, so a group never fails half-way on a busy
// database.
super::sql::shared_queries!(sqlx::Sqlite, "BEGIN IMMEDIATE");

/// SQLite has a single writer, so claiming needs no row locks.
const CLAIM: &str = super::sql::claim_sql!("");

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn ingest(&self, batch: IngestBatch) -> Result<IngestCounts, StoreError> {
        q::submit_ingest(&self.ingest_tx, batch).await
    }

    async fn record_rejected(&self, req: RejectedRequest) -> Result<(), StoreError> {
        insert_rejected(&self.pool, req).await
    }

    async fn claim(&self, now_ms: i64, lease: Duration, limit: u32) -> Result<Vec<ClaimedJob>, StoreError> {
        claim_jobs(&self.pool, CLAIM, now_ms, lease, limit).await
    }

    async fn complete(&self, job: &ClaimedJob, attempt: AttemptRecord, next: NextStep) -> Result<bool, StoreError> {
        complete_job(&self.pool, job, attempt, next).await
    }

    async fn next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        select_next_due(&self.pool).await
    }

    async fn job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        select_job(&self.pool, id).await
    }

    async fn jobs_for_email(&self, email: &str) -> Result<Vec<JobRow>, StoreError> {
        select_jobs_for_email(&self.pool, email).await
    }

    async fn attempts(&self, job_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        select_attempts(&self.pool, job_id).await
    }

    async fn count_by_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        select_count_by_state(&self.pool).await
    }

    async fn list_jobs(&self, filter: &super::JobFilter) -> Result<Vec<JobRow>, StoreError> {
        select_list_jobs(&self.pool, filter).await
    }

    async fn events_for_email(&self, email: &str) -> Result<Vec<super::EventRow>, StoreError> {
        select_events(&self.pool, super::ops_sql::EVENTS_FOR_EMAIL, email).await
    }

    async fn events_for_job(&self, job_id: &str) -> Result<Vec<super::EventRow>, StoreError> {
        select_events(&self.pool, super::ops_sql::EVENTS_FOR_JOB, job_id).await
    }

    async fn list_rejected(&self, limit: u32) -> Result<Vec<super::RejectedRow>, StoreError> {
        select_rejected(&self.pool, limit).await
    }

    async fn retry_job(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        update_retry_job(&self.pool, id, now_ms).await
    }

    async fn release(&self, job: &ClaimedJob, now_ms: i64) -> Result<bool, StoreError> {
        update_release(&self.pool, job, now_ms).await
    }

    async fn prune(&self, before_ms: i64) -> Result<super::Pruned, StoreError> {
        delete_pruned(&self.pool, before_ms).await
    }

    async fn oldest_active_ms(&self) -> Result<Option<i64>, StoreError> {
        select_oldest_active(&self.pool).await
    }
}
