//! SQL text and row shapes shared by the SQLite and PostgreSQL backends. Both dialects accept `$n`
//! placeholders, `ON CONFLICT ... DO UPDATE ... RETURNING` on a partial unique index and integer
//! millisecond timestamps, so the queue's logic is written once here; a backend file holds only
//! what genuinely differs (connection setup, locking, group commit, wake-ups).

use super::{AttemptRecord, ClaimedJob, IngestBatch, IngestCounts, NewEvent, StoreError};
use tokio::sync::oneshot;

/// Most requests one group commit takes; bounds the time any caller waits behind others.
pub const MAX_GROUP: usize = 512;
/// Rows per multi-row statement (SQLite allows 32,766 bound parameters, PostgreSQL 65,535;
/// events take 8 each).
pub const ROWS_PER_STATEMENT: usize = 1000;
/// Prepared statements kept per connection. Group commit builds multi-row statements whose text
/// depends on the row count; the default (100) would re-prepare them all the time.
pub const STATEMENT_CACHE: usize = 1024;
/// Requests waiting for the group-commit writer before `ingest` callers wait for room.
pub const INGEST_QUEUE: usize = 4096;
/// Times a group is retried after a deadlock or serialization failure (PostgreSQL: replicas'
/// groups that collide despite writing rows in the same order, e.g. across chunks).
pub const CONFLICT_RETRIES: usize = 3;

pub type IngestReply = oneshot::Sender<Result<IngestCounts, StoreError>>;
pub type IngestRequest = (IngestBatch, IngestReply);

/// Hands a request to the group-commit writer and waits for the commit that holds it.
pub async fn submit_ingest(
    tx: &tokio::sync::mpsc::Sender<IngestRequest>,
    batch: IngestBatch,
) -> Result<IngestCounts, StoreError> {
    let (reply, rx) = oneshot::channel();
    tx.send((batch, reply)).await.map_err(|_| StoreError::Closed)?;
    rx.await.map_err(|_| StoreError::Closed)?
}

/// One event of a group, with the row id it gets.
pub struct PendingRow<'a> {
    pub batch: usize,
    pub id: String,
    pub source: &'a str,
    pub received_at: i64,
    pub ev: &'a NewEvent,
}

pub fn pending_rows<'a>(batches: &[&'a IngestBatch]) -> Vec<PendingRow<'a>> {
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
    rows
}

/// A deadlock (`40P01`), a serialization failure (`40001`) or an event another replica stored
/// mid-group: the same statements may succeed when run again.
pub fn is_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Protocol(m) if m == CONCURRENT_EVENT)
        || e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40P01" || c == "40001")
}
use crate::email::Email;

/// Coalescing: attach to the person's active job, or create one (appended to a multi-row
/// `INSERT INTO jobs ... VALUES`). If that job's call is already in flight it must run once more,
/// because this event may postdate the call.
pub const UPSERT_JOB_CONFLICT: &str = " ON CONFLICT (email) WHERE state IN ('pending', 'in_flight')
     DO UPDATE SET rerun = CASE WHEN jobs.state = 'in_flight' THEN 1 ELSE jobs.rerun END,
                   updated_at = excluded.updated_at";

/// The id of a person's active job (the email is bound between the two halves): the job the
/// upsert above created or locked in this transaction.
pub const ACTIVE_JOB_OF_OPEN: &str = "(SELECT id FROM jobs WHERE email = ";
pub const ACTIVE_JOB_OF_CLOSE: &str = " AND state IN ('pending', 'in_flight'))";

/// The error that makes a group retry: another replica stored one of its events between the
/// duplicate lookup and the insert.
pub const CONCURRENT_EVENT: &str = "an event of this group was stored concurrently by another replica";

pub const INSERT_REJECTED: &str =
    "INSERT INTO rejected_requests (id, source, received_at, reason, body) VALUES ($1, $2, $3, $4, $5)";

/// Claim: `$1` lease token, `$2` lease end, `$3` now, `$4` limit. `$lock` is the backend's row
/// locking clause: PostgreSQL's `FOR UPDATE SKIP LOCKED` lets replicas claim side by side
/// without waiting for each other; SQLite has one writer and needs none.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET state = 'in_flight', lease_token = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
             WHERE id IN (
                SELECT id FROM jobs
                WHERE (state = 'pending' AND next_run_at <= $3) OR (state = 'in_flight' AND lease_until < $3)
                ORDER BY next_run_at LIMIT $4 ",
            $lock,
            ")
             RETURNING id, email, attempts, created_at"
        )
    };
}
pub(crate) use claim_sql;

pub const INSERT_ATTEMPT: &str =
    "INSERT INTO attempts (id, job_id, started_at, duration_ms, http_status, zoom_code, outcome, error)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Completion, fenced by the lease token: a worker whose lease expired (and was taken over)
/// matches no row. A terminal outcome with `rerun` set goes back to pending at once (see
/// [`UPSERT_JOB`]). `$1` state, `$2` next run, `$3` now, `$4` finished at, `$5..$7` last
/// status/code/error, `$8` job id, `$9` lease token.
pub const COMPLETE_JOB: &str = "UPDATE jobs SET
        state = CASE WHEN rerun = 1 AND $1 <> 'pending' THEN 'pending' ELSE $1 END,
        next_run_at = CASE WHEN rerun = 1 AND $1 <> 'pending' THEN $3 ELSE $2 END,
        finished_at = CASE WHEN rerun = 1 AND $1 <> 'pending' THEN NULL ELSE $4 END,
        rerun = CASE WHEN $1 <> 'pending' THEN 0 ELSE rerun END,
        lease_token = NULL, lease_until = NULL, updated_at = $3,
        last_status = $5, last_zoom_code = $6, last_error = $7
     WHERE id = $8 AND lease_token = $9 AND state = 'in_flight'
     RETURNING id";

/// Extends a claim's lease, fenced by its token: `$1` job id, `$2` lease token, `$3` new end.
pub const RENEW_LEASE: &str =
    "UPDATE jobs SET lease_until = $3 WHERE id = $1 AND lease_token = $2 AND state = 'in_flight'";

pub const NEXT_DUE: &str = "SELECT MIN(t) FROM (
        SELECT MIN(next_run_at) AS t FROM jobs WHERE state = 'pending'
        UNION ALL SELECT MIN(lease_until) FROM jobs WHERE state = 'in_flight') AS due";

macro_rules! job_columns {
    () => {
        "id, email, state, attempts, next_run_at, created_at, updated_at, finished_at, last_status, last_zoom_code, last_error"
    };
}

pub const JOB_BY_ID: &str = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");

pub const JOBS_FOR_EMAIL: &str =
    concat!("SELECT ", job_columns!(), " FROM jobs WHERE email = $1 ORDER BY created_at DESC, id DESC");

pub const ATTEMPTS_OF_JOB: &str = "SELECT started_at, duration_ms, http_status, zoom_code, outcome, error
     FROM attempts WHERE job_id = $1 ORDER BY started_at, id";

pub const COUNT_BY_STATE: &str = "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state ORDER BY state";

/// A row of [`claim_sql`]'s `RETURNING`.
#[derive(sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: String,
    pub email: String,
    pub attempts: i64,
    pub created_at: i64,
}

impl ClaimedRow {
    pub fn into_job(self, lease_token: &str) -> Result<ClaimedJob, StoreError> {
        let email = Email::parse(&self.email)
            .map_err(|e| StoreError::Invalid(format!("stored email {:?}: {e}", self.email)))?;
        Ok(ClaimedJob {
            id: self.id,
            email,
            attempts: self.attempts as u32,
            created_at_ms: self.created_at,
            lease_token: lease_token.to_string(),
        })
    }
}

/// A row of [`ATTEMPTS_OF_JOB`].
#[derive(sqlx::FromRow)]
pub struct AttemptRow {
    pub started_at: i64,
    pub duration_ms: i64,
    pub http_status: Option<i64>,
    pub zoom_code: Option<i64>,
    pub outcome: String,
    pub error: Option<String>,
}

impl From<AttemptRow> for AttemptRecord {
    fn from(r: AttemptRow) -> Self {
        AttemptRecord {
            started_at_ms: r.started_at,
            duration_ms: r.duration_ms,
            http_status: r.http_status.map(|s| s as u16),
            zoom_code: r.zoom_code,
            outcome: r.outcome,
            error: r.error,
        }
    }
}

/// The queries both backends run, written once and expanded for each backend's `sqlx` database
/// type and its transaction-opening statement (`shared_queries!(sqlx::Sqlite, "BEGIN IMMEDIATE")`):
/// sqlx's generic bounds for "any database with these column types" are longer than the code
/// they would guard.
macro_rules! shared_queries {
    ($db:ty, $begin:literal) => {
        use $crate::store::sql as q;
        use $crate::store::{
            AttemptRecord, ClaimedJob, Disposition, IngestBatch, IngestCounts, JobRow, NextStep, RejectedRequest,
            StoreError,
        };

        /// The group-commit loop: take one request, then whatever else is already waiting, and
        /// commit them together with a few multi-row statements. If the group fails, each request
        /// is retried alone, so one bad request cannot fail its neighbours. The writer keeps one
        /// connection for itself: a pool checkout (and its liveness ping) per group cost as much
        /// as the group's rows.
        async fn writer(pool: sqlx::Pool<$db>, mut rx: tokio::sync::mpsc::Receiver<q::IngestRequest>) {
            let mut group = Vec::with_capacity(q::MAX_GROUP);
            let mut conn: Option<sqlx::pool::PoolConnection<$db>> = None;
            while rx.recv_many(&mut group, q::MAX_GROUP).await > 0 {
                let batches: Vec<&IngestBatch> = group.iter().map(|(b, _)| b).collect();
                match commit(&pool, &mut conn, &batches).await {
                    Ok(counts) => {
                        for ((_, reply), c) in group.drain(..).zip(counts) {
                            let _ = reply.send(Ok(c));
                        }
                    }
                    Err(_) if group.len() > 1 => {
                        for (batch, reply) in group.drain(..) {
                            let r = commit(&pool, &mut conn, &[&batch])
                                .await
                                .map(|mut c| c.remove(0))
                                .map_err(StoreError::Db);
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

        /// Stores the batches in one transaction on the writer's connection (checked out again
        /// after any error, in case that connection is the problem); returns each batch's counts.
        /// A deadlock or serialization failure (another replica's group) is retried a few times.
        async fn commit(
            pool: &sqlx::Pool<$db>,
            conn: &mut Option<sqlx::pool::PoolConnection<$db>>,
            batches: &[&IngestBatch],
        ) -> Result<Vec<IngestCounts>, sqlx::Error> {
            let mut tries = 0;
            loop {
                let c = match conn {
                    Some(c) => c,
                    None => conn.insert(pool.acquire().await?),
                };
                let result = match sqlx::query($begin).execute(&mut **c).await {
                    Ok(_) => match ingest_all(c, batches).await {
                        Ok(counts) => sqlx::query("COMMIT").execute(&mut **c).await.map(|_| counts),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                match result {
                    Ok(counts) => return Ok(counts),
                    Err(e) => {
                        let _ = sqlx::query("ROLLBACK").execute(&mut **c).await;
                        *conn = None;
                        tries += 1;
                        if !(q::is_conflict(&e) && tries <= q::CONFLICT_RETRIES) {
                            return Err(e);
                        }
                    }
                }
            }
        }

        /// The group's events and jobs in three multi-row statements (per chunk), none of which
        /// returns a row per event: sqlx's SQLite driver hands every result row across a thread,
        /// which cost more than writing the rows.
        async fn ingest_all(
            conn: &mut <$db as sqlx::Database>::Connection,
            batches: &[&IngestBatch],
        ) -> Result<Vec<IngestCounts>, sqlx::Error> {
            let mut counts = vec![IngestCounts::default(); batches.len()];
            let mut rows = q::pending_rows(batches);
            // Every replica writes rows in the same order, so two groups touching the same
            // events or people wait for each other instead of deadlocking.
            rows.sort_by(|a, b| (a.source, &a.ev.event_id).cmp(&(b.source, &b.ev.event_id)));
            // 1. Duplicates: events already stored (an indexed lookup per source; a retry is
            //    rare, so usually no row comes back) or repeated within this group.
            let mut stored = std::collections::HashSet::new();
            for same_source in rows.chunk_by(|a, b| a.source == b.source) {
                for chunk in same_source.chunks(q::ROWS_PER_STATEMENT) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT event_id FROM events WHERE source = ");
                    qb.push_bind(chunk[0].source).push(" AND event_id IN (");
                    let mut sep = qb.separated(", ");
                    for r in chunk {
                        sep.push_bind(&r.ev.event_id);
                    }
                    qb.push(")");
                    for id in qb.build_query_scalar::<String>().fetch_all(&mut *conn).await? {
                        stored.insert((chunk[0].source, id));
                    }
                }
            }
            // One job row per person per group, in email order: PostgreSQL refuses an upsert
            // that would touch the same row twice in one statement.
            let mut people = std::collections::BTreeMap::new();
            let mut seen = std::collections::HashSet::new();
            let mut fresh = Vec::with_capacity(rows.len());
            for r in &rows {
                let c = &mut counts[r.batch];
                if stored.contains(&(r.source, r.ev.event_id.clone())) || !seen.insert((r.source, r.ev.event_id.as_str())) {
                    c.duplicates += 1;
                    continue;
                }
                match &r.ev.disposition {
                    Disposition::Ignore(_) => c.ignored += 1,
                    Disposition::Queue(email) => {
                        c.accepted += 1;
                        people.entry(email.as_str()).or_insert(r.received_at);
                    }
                }
                fresh.push(r);
            }
            // 2. Jobs: attach to the person's active job or create one. If that job's call is
            //    already in flight it must run once more, since this event may postdate the call.
            let people: Vec<(&str, i64)> = people.into_iter().collect();
            for chunk in people.chunks(q::ROWS_PER_STATEMENT) {
                let mut qb =
                    sqlx::QueryBuilder::<$db>::new("INSERT INTO jobs (id, email, state, next_run_at, created_at, updated_at) ");
                qb.push_values(chunk, |mut b, (email, at)| {
                    b.push_bind(uuid::Uuid::now_v7().to_string())
                        .push_bind(*email)
                        .push("'pending'")
                        .push_bind(*at)
                        .push_bind(*at)
                        .push_bind(*at);
                });
                qb.push(q::UPSERT_JOB_CONFLICT);
                qb.build().execute(&mut *conn).await?;
            }
            // 3. Events, each linked to its person's active job (the one just upserted). The
            //    unique constraint stays the arbiter: if another replica stored one of these
            //    events after step 1, fewer rows go in and the whole group is retried.
            for chunk in fresh.chunks(q::ROWS_PER_STATEMENT) {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO events (id, source, event_id, event_type, email, occurred_at, received_at, ignored_reason, job_id) ",
                );
                qb.push_values(chunk, |mut b, r| {
                    let (reason, queued) = match &r.ev.disposition {
                        Disposition::Ignore(reason) => (Some(reason.as_str()), None),
                        Disposition::Queue(email) => (None, Some(email.as_str())),
                    };
                    b.push_bind(&r.id)
                        .push_bind(r.source)
                        .push_bind(&r.ev.event_id)
                        .push_bind(&r.ev.event_type)
                        .push_bind(&r.ev.email)
                        .push_bind(&r.ev.occurred_at)
                        .push_bind(r.received_at)
                        .push_bind(reason);
                    match queued {
                        Some(email) => {
                            b.push(q::ACTIVE_JOB_OF_OPEN).push_bind_unseparated(email).push_unseparated(q::ACTIVE_JOB_OF_CLOSE);
                        }
                        None => {
                            b.push("NULL");
                        }
                    }
                });
                qb.push(" ON CONFLICT (source, event_id) DO NOTHING");
                if qb.build().execute(&mut *conn).await?.rows_affected() != chunk.len() as u64 {
                    return Err(sqlx::Error::Protocol(q::CONCURRENT_EVENT.into()));
                }
            }
            Ok(counts)
        }

        /// Claims due jobs with this backend's claim statement (see `claim_sql!`).
        async fn claim_jobs<'e>(
            conn: impl sqlx::Executor<'e, Database = $db>,
            claim_sql: &'static str,
            now_ms: i64,
            lease: std::time::Duration,
            limit: u32,
        ) -> Result<Vec<ClaimedJob>, StoreError> {
            let token = uuid::Uuid::now_v7().to_string();
            let rows: Vec<q::ClaimedRow> = sqlx::query_as(claim_sql)
                .bind(&token)
                .bind(now_ms + lease.as_millis() as i64)
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(conn)
                .await?;
            rows.into_iter().map(|r| r.into_job(&token)).collect()
        }

        /// Records the attempt and moves the job on in one transaction; false when the lease was
        /// lost (the attempt is kept for the audit trail either way).
        async fn complete_job(
            pool: &sqlx::Pool<$db>,
            job: &ClaimedJob,
            a: AttemptRecord,
            next: NextStep,
        ) -> Result<bool, StoreError> {
            let mut tx = pool.begin().await?;
            sqlx::query(q::INSERT_ATTEMPT)
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
            let now = $crate::store::now_ms();
            let (state, next_run, finished) = match next {
                NextStep::Finish(s) => (s.as_str(), now, Some(now)),
                NextStep::RetryAt(at) => ("pending", at, None),
            };
            let updated: Option<String> = sqlx::query_scalar(q::COMPLETE_JOB)
                .bind(state)
                .bind(next_run)
                .bind(now)
                .bind(finished)
                .bind(a.http_status.map(i64::from))
                .bind(a.zoom_code)
                .bind(&a.error)
                .bind(&job.id)
                .bind(&job.lease_token)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(updated.is_some())
        }

        async fn insert_rejected(pool: &sqlx::Pool<$db>, req: RejectedRequest) -> Result<(), StoreError> {
            sqlx::query(q::INSERT_REJECTED)
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&req.source)
                .bind(req.received_at_ms)
                .bind(&req.reason)
                .bind(&req.body)
                .execute(pool)
                .await?;
            Ok(())
        }

        async fn select_next_due(pool: &sqlx::Pool<$db>) -> Result<Option<i64>, StoreError> {
            Ok(sqlx::query_scalar(q::NEXT_DUE).fetch_one(pool).await?)
        }

        async fn select_job(pool: &sqlx::Pool<$db>, id: &str) -> Result<Option<JobRow>, StoreError> {
            Ok(sqlx::query_as(q::JOB_BY_ID).bind(id).fetch_optional(pool).await?)
        }

        async fn select_jobs_for_email(pool: &sqlx::Pool<$db>, email: &str) -> Result<Vec<JobRow>, StoreError> {
            Ok(sqlx::query_as(q::JOBS_FOR_EMAIL).bind(email).fetch_all(pool).await?)
        }

        async fn select_attempts(pool: &sqlx::Pool<$db>, job_id: &str) -> Result<Vec<AttemptRecord>, StoreError> {
            let rows: Vec<q::AttemptRow> = sqlx::query_as(q::ATTEMPTS_OF_JOB).bind(job_id).fetch_all(pool).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        }

        async fn select_count_by_state(pool: &sqlx::Pool<$db>) -> Result<Vec<(String, i64)>, StoreError> {
            Ok(sqlx::query_as(q::COUNT_BY_STATE).fetch_all(pool).await?)
        }

        // --- Operations: the statements of `ops_sql`, run the same way on every backend ---

        async fn select_list_jobs(
            pool: &sqlx::Pool<$db>,
            filter: &$crate::store::JobFilter,
        ) -> Result<Vec<JobRow>, StoreError> {
            Ok(sqlx::query_as($crate::store::ops_sql::LIST_JOBS)
                .bind(filter.state.map($crate::store::JobState::as_str))
                .bind(filter.email.as_deref())
                .bind(i64::from(filter.limit.max(1)))
                .fetch_all(pool)
                .await?)
        }

        async fn select_events(
            pool: &sqlx::Pool<$db>,
            statement: &'static str,
            key: &str,
        ) -> Result<Vec<$crate::store::EventRow>, StoreError> {
            Ok(sqlx::query_as(statement).bind(key).fetch_all(pool).await?)
        }

        async fn select_rejected(
            pool: &sqlx::Pool<$db>,
            limit: u32,
        ) -> Result<Vec<$crate::store::RejectedRow>, StoreError> {
            Ok(sqlx::query_as($crate::store::ops_sql::LIST_REJECTED)
                .bind(i64::from(limit.max(1)))
                .fetch_all(pool)
                .await?)
        }

        async fn update_retry_job(pool: &sqlx::Pool<$db>, id: &str, now_ms: i64) -> Result<bool, StoreError> {
            let n = sqlx::query($crate::store::ops_sql::RETRY_JOB)
                .bind(id)
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        }

        async fn update_release(pool: &sqlx::Pool<$db>, job: &ClaimedJob, now_ms: i64) -> Result<bool, StoreError> {
            let n = sqlx::query($crate::store::ops_sql::RELEASE)
                .bind(&job.id)
                .bind(&job.lease_token)
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        }

        async fn update_renew(pool: &sqlx::Pool<$db>, job: &ClaimedJob, lease_until_ms: i64) -> Result<bool, StoreError> {
            let n = sqlx::query(q::RENEW_LEASE)
                .bind(&job.id)
                .bind(&job.lease_token)
                .bind(lease_until_ms)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n == 1)
        }

        async fn delete_pruned(pool: &sqlx::Pool<$db>, before_ms: i64) -> Result<$crate::store::Pruned, StoreError> {
            use $crate::store::ops_sql as ops;
            let mut tx = pool.begin().await?;
            let attempts = sqlx::query(sqlx::AssertSqlSafe(ops::prune_attempts()))
                .bind(before_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let events = sqlx::query(sqlx::AssertSqlSafe(ops::prune_events()))
                .bind(before_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let jobs = sqlx::query(ops::PRUNE_JOBS).bind(before_ms).execute(&mut *tx).await?.rows_affected();
            let rejected = sqlx::query(ops::PRUNE_REJECTED).bind(before_ms).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            Ok($crate::store::Pruned { jobs, events, attempts, rejected })
        }

        async fn select_oldest_active(pool: &sqlx::Pool<$db>) -> Result<Option<i64>, StoreError> {
            Ok(sqlx::query_scalar($crate::store::ops_sql::OLDEST_ACTIVE).fetch_one(pool).await?)
        }
    };
}
pub(crate) use shared_queries;

/// `impl Store` for a backend: its own methods (`migrate`, and PostgreSQL's `listen` and call
/// schedule) followed by the ones every backend shares, which only call the queries
/// [`shared_queries!`] generated in the backend's module on its `pool`, `ingest_tx` and `CLAIM`.
macro_rules! store_impl {
    ($ty:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $ty {
            $($own)*

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

                async fn renew_lease(&self, job: &ClaimedJob, lease_until_ms: i64) -> Result<bool, StoreError> {
                    update_renew(&self.pool, job, lease_until_ms).await
                }

                async fn prune(&self, before_ms: i64) -> Result<super::Pruned, StoreError> {
                    delete_pruned(&self.pool, before_ms).await
                }

                async fn oldest_active_ms(&self) -> Result<Option<i64>, StoreError> {
                    select_oldest_active(&self.pool).await
                }
        }
    };
}
pub(crate) use store_impl;
