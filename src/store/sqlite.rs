//! SQLite backend: one file, WAL, `synchronous=FULL` (an acknowledged webhook survives a crash
//! and a power loss). Ingest goes through one writer task that groups concurrent requests into a
//! shared transaction — each caller is still answered only after the commit that holds its rows.

use super::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::str::FromStr;
use tokio::sync::{mpsc, oneshot};

/// Most requests one group commit takes; bounds the time any caller waits behind others.
const MAX_GROUP: usize = 256;

type IngestReply = oneshot::Sender<Result<IngestCounts, StoreError>>;

pub struct SqliteStore {
    pool: SqlitePool,
    ingest_tx: mpsc::Sender<(IngestBatch, IngestReply)>,
}

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(8).min_connections(1).connect_with(opts).await?;
        let (ingest_tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer(pool.clone(), rx));
        Ok(Self { pool, ingest_tx })
    }
}

/// The group-commit loop: take one request, then whatever else is already waiting, and commit
/// them together. Rows of a request whose statements fail are rolled back to its savepoint so
/// one bad request cannot fail its neighbours.
async fn writer(pool: SqlitePool, mut rx: mpsc::Receiver<(IngestBatch, IngestReply)>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let result = commit_group(&pool, &group).await;
        match result {
            Ok(counts) => {
                for ((_, reply), c) in group.drain(..).zip(counts) {
                    let _ = reply.send(c);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for (_, reply) in group.drain(..) {
                    let _ = reply.send(Err(StoreError::Invalid(format!("commit failed: {msg}"))));
                }
            }
        }
    }
}

async fn commit_group(
    pool: &SqlitePool,
    group: &[(IngestBatch, IngestReply)],
) -> Result<Vec<Result<IngestCounts, StoreError>>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let mut out = Vec::with_capacity(group.len());
    for (batch, _) in group {
        sqlx::query("SAVEPOINT req").execute(&mut *conn).await?;
        match ingest_one(&mut conn, batch).await {
            Ok(c) => {
                sqlx::query("RELEASE req").execute(&mut *conn).await?;
                out.push(Ok(c));
            }
            Err(e) => {
                sqlx::query("ROLLBACK TO req").execute(&mut *conn).await?;
                sqlx::query("RELEASE req").execute(&mut *conn).await?;
                out.push(Err(StoreError::Db(e)));
            }
        }
    }
    if let Err(e) = sqlx::query("COMMIT").execute(&mut *conn).await {
        let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        return Err(e);
    }
    Ok(out)
}

async fn ingest_one(conn: &mut sqlx::SqliteConnection, batch: &IngestBatch) -> Result<IngestCounts, sqlx::Error> {
    let mut counts = IngestCounts::default();
    let now = batch.received_at_ms;
    for ev in &batch.events {
        let row_id = uuid::Uuid::now_v7().to_string();
        let ignored_reason = match &ev.disposition {
            Disposition::Ignore(r) => Some(r.as_str()),
            Disposition::Queue(_) => None,
        };
        let inserted = sqlx::query(
            "INSERT INTO events (id, source, event_id, event_type, email, occurred_at, received_at, ignored_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source, event_id) DO NOTHING",
        )
        .bind(&row_id)
        .bind(&batch.source)
        .bind(&ev.event_id)
        .bind(&ev.event_type)
        .bind(&ev.email)
        .bind(&ev.occurred_at)
        .bind(now)
        .bind(ignored_reason)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 0 {
            counts.duplicates += 1;
            continue;
        }
        let Disposition::Queue(email) = &ev.disposition else {
            counts.ignored += 1;
            continue;
        };
        // Attach to the person's active job, or create one. If that job's call is already in
        // flight, it must run once more: this event may postdate the call.
        let job_id: String = sqlx::query_scalar(
            "INSERT INTO jobs (id, email, state, next_run_at, created_at, updated_at)
             VALUES ($1, $2, 'pending', $3, $3, $3)
             ON CONFLICT (email) WHERE state IN ('pending', 'in_flight')
             DO UPDATE SET rerun = CASE WHEN jobs.state = 'in_flight' THEN 1 ELSE jobs.rerun END,
                           updated_at = excluded.updated_at
             RETURNING id",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(email.as_str())
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("UPDATE events SET job_id = $1 WHERE id = $2")
            .bind(&job_id)
            .bind(&row_id)
            .execute(&mut *conn)
            .await?;
        counts.accepted += 1;
    }
    Ok(counts)
}

fn job_row(r: &sqlx::sqlite::SqliteRow) -> Result<JobRow, sqlx::Error> {
    Ok(JobRow {
        id: r.try_get("id")?,
        email: r.try_get("email")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_run_at: r.try_get("next_run_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        finished_at: r.try_get("finished_at")?,
        last_status: r.try_get("last_status")?,
        last_zoom_code: r.try_get("last_zoom_code")?,
        last_error: r.try_get("last_error")?,
    })
}

const JOB_COLUMNS: &str = "id, email, state, attempts, next_run_at, created_at, updated_at, finished_at, last_status, last_zoom_code, last_error";

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
        let (tx, rx) = oneshot::channel();
        self.ingest_tx.send((batch, tx)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn record_rejected(&self, req: RejectedRequest) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO rejected_requests (id, source, received_at, reason, body) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&req.source)
        .bind(req.received_at_ms)
        .bind(&req.reason)
        .bind(&req.body)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim(&self, now_ms: i64, lease: Duration, limit: u32) -> Result<Vec<ClaimedJob>, StoreError> {
        let token = uuid::Uuid::now_v7().to_string();
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'in_flight', lease_token = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
             WHERE id IN (
                SELECT id FROM jobs
                WHERE (state = 'pending' AND next_run_at <= $3) OR (state = 'in_flight' AND lease_until < $3)
                ORDER BY next_run_at LIMIT $4)
             RETURNING id, email, attempts, created_at",
        )
        .bind(&token)
        .bind(now_ms + lease.as_millis() as i64)
        .bind(now_ms)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for r in rows {
            let email: String = r.try_get("email")?;
            jobs.push(ClaimedJob {
                id: r.try_get("id")?,
                email: Email::parse(&email).map_err(|e| StoreError::Invalid(format!("stored email {email:?}: {e}")))?,
                attempts: r.try_get::<i64, _>("attempts")? as u32,
                created_at_ms: r.try_get("created_at")?,
                lease_token: token.clone(),
            });
        }
        Ok(jobs)
    }

    async fn complete(&self, job: &ClaimedJob, a: AttemptRecord, next: NextStep) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO attempts (id, job_id, started_at, duration_ms, http_status, zoom_code, outcome, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(&job.id)
        .bind(a.started_at_ms)
        .bind(a.duration_ms)
        .bind(a.http_status.map(i64::from))
        .bind(a.zoom_code)
        .bind(&a.outcome)
        .bind(&a.error)
        .execute(&mut *tx)
        .await?;
        let now = now_ms();
        let (state, next_run, finished) = match next {
            NextStep::Finish(s) => (s.as_str(), now, Some(now)),
            NextStep::RetryAt(at) => ("pending", at, None),
        };
        // A terminal outcome with `rerun` set goes back to pending at once (see ingest).
        let updated = sqlx::query(
            "UPDATE jobs SET
                state = CASE WHEN rerun = 1 AND $1 <> 'pending' THEN 'pending' ELSE $1 END,
                next_run_at = CASE WHEN rerun = 1 AND $1 <> 'pending' THEN $3 ELSE $2 END,
                finished_at = CASE WHEN rerun = 1 AND $1 <> 'pending' THEN NULL ELSE $4 END,
                rerun = CASE WHEN $1 <> 'pending' THEN 0 ELSE rerun END,
                lease_token = NULL, lease_until = NULL, updated_at = $3,
                last_status = $5, last_zoom_code = $6, last_error = $7
             WHERE id = $8 AND lease_token = $9 AND state = 'in_flight'",
        )
        .bind(state)
        .bind(next_run)
        .bind(now)
        .bind(finished)
        .bind(a.http_status.map(i64::from))
        .bind(a.zoom_code)
        .bind(&a.error)
        .bind(&job.id)
        .bind(&job.lease_token)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(updated == 1)
    }

    async fn next_due_ms(&self) -> Result<Option<i64>, StoreError> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(t) FROM (
                SELECT MIN(next_run_at) AS t FROM jobs WHERE state = 'pending'
                UNION ALL SELECT MIN(lease_until) FROM jobs WHERE state = 'in_flight')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(v)
    }

    async fn job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.as_ref().map(job_row).transpose()?)
    }

    async fn jobs_for_email(&self, email: &str) -> Result<Vec<JobRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE email = $1 ORDER BY created_at DESC, id DESC"
        )))
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_row).collect::<Result<_, _>>()?)
    }

    async fn attempts(&self, job_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT started_at, duration_ms, http_status, zoom_code, outcome, error FROM attempts WHERE job_id = $1 ORDER BY started_at, id",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AttemptRecord {
                    started_at_ms: r.try_get("started_at")?,
                    duration_ms: r.try_get("duration_ms")?,
                    http_status: r.try_get::<Option<i64>, _>("http_status")?.map(|s| s as u16),
                    zoom_code: r.try_get("zoom_code")?,
                    outcome: r.try_get("outcome")?,
                    error: r.try_get("error")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    async fn count_by_state(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
