//! SQLite backend: one file, WAL, `synchronous=FULL` (an acknowledged webhook survives a crash
//! and a power loss). Ingest goes through one writer task that groups concurrent requests into a
//! shared transaction — each caller is still answered only after the commit that holds its rows.

use super::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use std::str::FromStr;
use tokio::sync::{mpsc, oneshot};

/// Most requests one group commit takes; bounds the time any caller waits behind others.
const MAX_GROUP: usize = 512;

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
/// them together with a few multi-row statements. If the group fails, each request is retried
/// alone, so one bad request cannot fail its neighbours.
async fn writer(pool: SqlitePool, mut rx: mpsc::Receiver<(IngestBatch, IngestReply)>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        let batches: Vec<&IngestBatch> = group.iter().map(|(b, _)| b).collect();
        match commit(&pool, &batches).await {
            Ok(counts) => {
                for ((_, reply), c) in group.drain(..).zip(counts) {
                    let _ = reply.send(Ok(c));
                }
            }
            Err(_) if group.len() > 1 => {
                for (batch, reply) in group.drain(..) {
                    let r = commit(&pool, &[&batch]).await.map(|mut c| c.remove(0)).map_err(StoreError::Db);
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                if let Some((_, reply)) = group.pop() {
                    let _ = reply.send(Err(StoreError::Db(e)));
                }
            }
        }
    }
}

/// Rows per multi-row statement (SQLite allows 32,766 bound parameters; events take 8 each).
const ROWS_PER_STATEMENT: usize = 1000;

/// Stores the batches in one transaction; returns each batch's counts.
async fn commit(pool: &SqlitePool, batches: &[&IngestBatch]) -> Result<Vec<IngestCounts>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    match ingest_all(&mut conn, batches).await {
        Ok(c) => {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(c)
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

struct PendingRow<'a> {
    batch: usize,
    id: String,
    source: &'a str,
    received_at: i64,
    ev: &'a NewEvent,
}

async fn ingest_all(
    conn: &mut sqlx::SqliteConnection,
    batches: &[&IngestBatch],
) -> Result<Vec<IngestCounts>, sqlx::Error> {
    let mut counts = vec![IngestCounts::default(); batches.len()];
    let mut rows = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        for ev in &b.events {
            rows.push(PendingRow {
                batch: i,
                id: uuid::Uuid::now_v7().to_string(),
                source: &b.source,
                received_at: b.received_at_ms,
                ev,
            });
        }
    }
    // 1. Events; a (source, event id) seen before is a duplicate, recognised by the constraint.
    let mut inserted = std::collections::HashSet::with_capacity(rows.len());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (id, source, event_id, event_type, email, occurred_at, received_at, ignored_reason) ",
        );
        q.push_values(chunk, |mut b, r| {
            let reason = match &r.ev.disposition {
                Disposition::Ignore(reason) => Some(reason.as_str()),
                Disposition::Queue(_) => None,
            };
            b.push_bind(&r.id)
                .push_bind(r.source)
                .push_bind(&r.ev.event_id)
                .push_bind(&r.ev.event_type)
                .push_bind(&r.ev.email)
                .push_bind(&r.ev.occurred_at)
                .push_bind(r.received_at)
                .push_bind(reason);
        });
        q.push(" ON CONFLICT (source, event_id) DO NOTHING RETURNING id");
        for id in q.build_query_scalar::<String>().fetch_all(&mut *conn).await? {
            inserted.insert(id);
        }
    }
    let mut queued = Vec::new();
    for r in &rows {
        let c = &mut counts[r.batch];
        match (&r.ev.disposition, inserted.contains(&r.id)) {
            (_, false) => c.duplicates += 1,
            (Disposition::Ignore(_), true) => c.ignored += 1,
            (Disposition::Queue(email), true) => {
                c.accepted += 1;
                queued.push((r, email));
            }
        }
    }
    // 2. Jobs: attach to the person's active job or create one. If that job's call is already in
    //    flight it must run once more, since this event may postdate the call.
    for chunk in queued.chunks(ROWS_PER_STATEMENT) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO jobs (id, email, state, next_run_at, created_at, updated_at) ");
        q.push_values(chunk, |mut b, (r, email)| {
            b.push_bind(uuid::Uuid::now_v7().to_string())
                .push_bind(email.as_str())
                .push("'pending'")
                .push_bind(r.received_at)
                .push_bind(r.received_at)
                .push_bind(r.received_at);
        });
        q.push(
            " ON CONFLICT (email) WHERE state IN ('pending', 'in_flight')
              DO UPDATE SET rerun = CASE WHEN jobs.state = 'in_flight' THEN 1 ELSE jobs.rerun END,
                            updated_at = excluded.updated_at",
        );
        q.build().execute(&mut *conn).await?;
        // 3. Link the events to their job.
        let mut q = QueryBuilder::<Sqlite>::new(
            "UPDATE events SET job_id = (SELECT j.id FROM jobs j WHERE j.email = events.email
                                          AND j.state IN ('pending', 'in_flight'))
             WHERE id IN (",
        );
        let mut sep = q.separated(", ");
        for (r, _) in chunk {
            sep.push_bind(&r.id);
        }
        q.push(")");
        q.build().execute(&mut *conn).await?;
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

use super::ops_sql::{self as sql, JOB_COLUMNS};

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

    async fn list_jobs(&self, filter: &JobFilter) -> Result<Vec<JobRow>, StoreError> {
        Ok(sqlx::query_as(sql::LIST_JOBS)
            .bind(filter.state.map(JobState::as_str))
            .bind(filter.email.as_deref())
            .bind(i64::from(filter.limit.max(1)))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn events_for_email(&self, email: &str) -> Result<Vec<EventRow>, StoreError> {
        Ok(sqlx::query_as(sql::EVENTS_FOR_EMAIL).bind(email).fetch_all(&self.pool).await?)
    }

    async fn events_for_job(&self, job_id: &str) -> Result<Vec<EventRow>, StoreError> {
        Ok(sqlx::query_as(sql::EVENTS_FOR_JOB).bind(job_id).fetch_all(&self.pool).await?)
    }

    async fn list_rejected(&self, limit: u32) -> Result<Vec<RejectedRow>, StoreError> {
        Ok(sqlx::query_as(sql::LIST_REJECTED).bind(i64::from(limit.max(1))).fetch_all(&self.pool).await?)
    }

    async fn retry_job(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(sql::RETRY_JOB).bind(id).bind(now_ms).execute(&self.pool).await?.rows_affected();
        Ok(n == 1)
    }

    async fn release(&self, job: &ClaimedJob, now_ms: i64) -> Result<bool, StoreError> {
        let n = sqlx::query(sql::RELEASE)
            .bind(&job.id)
            .bind(&job.lease_token)
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn prune(&self, before_ms: i64) -> Result<Pruned, StoreError> {
        let mut tx = self.pool.begin().await?;
        let attempts = sqlx::query(sqlx::AssertSqlSafe(sql::prune_attempts()))
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let events = sqlx::query(sqlx::AssertSqlSafe(sql::prune_events()))
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let jobs = sqlx::query(sql::PRUNE_JOBS).bind(before_ms).execute(&mut *tx).await?.rows_affected();
        let rejected = sqlx::query(sql::PRUNE_REJECTED).bind(before_ms).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(Pruned { jobs, events, attempts, rejected })
    }

    async fn oldest_active_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(sql::OLDEST_ACTIVE).fetch_one(&self.pool).await?)
    }
}
