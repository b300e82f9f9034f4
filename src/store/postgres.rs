//! PostgreSQL backend for several replicas on one database (SPEC §7). The queue logic is the
//! shared one in `sql.rs`; what is PostgreSQL's own lives here: claims that skip rows another
//! replica has locked, wake-ups by `LISTEN/NOTIFY`, and the Zoom call schedule every replica
//! shares.

use crate::zoom::limiter::CallSchedule;
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// The channel the `jobs_pending_notify` trigger (migrations/postgres) signals.
pub const JOBS_CHANNEL: &str = "zoom_sso_revoker_jobs";

/// Connections per replica: the group-commit writer, the listener, claims and completions; plus
/// a couple for the call schedule. Small on purpose: a managed PostgreSQL limits connections
/// across replicas.
const MAX_CONNECTIONS: u32 = 10;
const SCHEDULE_CONNECTIONS: u32 = 2;

// A plain `BEGIN` (read committed): the unique constraints, not the isolation level, make
// concurrent groups from several replicas agree; a deadlock between two groups is retried.
super::sql::shared_queries!(sqlx::Postgres, "BEGIN");

/// Rows another replica is claiming right now are skipped rather than waited for.
const CLAIM: &str = super::sql::claim_sql!("FOR UPDATE SKIP LOCKED");

pub struct PgStore {
    pool: PgPool,
    ingest_tx: mpsc::Sender<q::IngestRequest>,
    schedule: Arc<PgCallSchedule>,
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // Senders time out within seconds (Okta: 3 s): a 503 soon beats a late 200.
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(
                PgConnectOptions::from_str(url)?
                    .statement_cache_capacity(q::STATEMENT_CACHE)
                    // Statements are prepared once per connection, often while the tables are
                    // still empty; a generic plan chosen then (a sequential scan) stays cached
                    // as the tables grow. Measured: the duplicate lookup went from 0.2 ms to 5 ms
                    // within seconds of load. Custom plans cost a little planning, never a scan.
                    .options([("plan_cache_mode", "force_custom_plan")]),
            )
            .await?;
        // The call schedule is timing, not data: a reservation lost in a database crash costs
        // nothing, so its commits skip the wait for the disk (one fewer fsync before each call).
        let opts = PgConnectOptions::from_str(url)?.options([("synchronous_commit", "off")]);
        let schedule_pool = PgPoolOptions::new()
            .max_connections(SCHEDULE_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts)
            .await?;
        let (ingest_tx, rx) = mpsc::channel(q::INGEST_QUEUE);
        tokio::spawn(writer(pool.clone(), rx));
        Ok(Self { schedule: Arc::new(PgCallSchedule { pool: schedule_pool }), pool, ingest_tx })
    }

    /// The connection pool, for callers (tests, benchmark) that inspect the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

super::sql::store_impl!(PgStore, {
    async fn migrate(&self) -> Result<(), StoreError> {
        // sqlx takes an advisory lock here, so replicas starting together migrate once.
        sqlx::migrate!("./migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    async fn listen(&self, wake: Arc<Notify>, shutdown: CancellationToken) -> Result<(), StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(JOBS_CHANNEL).await?;
        tokio::spawn(async move {
            loop {
                let received = tokio::select! {
                    r = listener.try_recv() => r,
                    _ = shutdown.cancelled() => return,
                };
                match received {
                    Ok(Some(_)) => wake.notify_one(),
                    // The connection dropped and was re-established: notifications sent in
                    // between are lost, so look for work once.
                    Ok(None) => wake.notify_one(),
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN connection failed; workers fall back to polling until it is back");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = shutdown.cancelled() => return,
                        }
                    }
                }
            }
        });
        Ok(())
    }

    fn call_schedule(&self) -> Option<Arc<dyn CallSchedule>> {
        Some(self.schedule.clone())
    }
});

/// The shared Zoom call schedule: one row holding the next free slot in microseconds of the
/// database's clock, so replicas with skewed clocks still agree. A reservation is one atomic
/// `UPDATE`: the slot is `greatest(now, next_slot)` and `next_slot` advances by the interval, so
/// no two reservations, from any replica, are closer than the interval.
pub struct PgCallSchedule {
    pool: PgPool,
}

/// Now on the database's clock, in microseconds.
macro_rules! db_now_us {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    };
}

/// `$1` interval: returns how long until the reserved slot.
const RESERVE_SLOT: &str = concat!(
    "WITH now AS (SELECT ",
    db_now_us!(),
    " AS us)
     UPDATE zoom_rate_limit SET next_slot_us = GREATEST(next_slot_us, (SELECT us FROM now)) + $1
     WHERE id = 1
     RETURNING next_slot_us - $1 - (SELECT us FROM now)"
);

/// `$1` pause: no slot before now + pause.
const PUSH_OUT: &str =
    concat!("UPDATE zoom_rate_limit SET next_slot_us = GREATEST(next_slot_us, ", db_now_us!(), " + $1) WHERE id = 1");

#[async_trait]
impl CallSchedule for PgCallSchedule {
    async fn reserve(&self, interval: Duration) -> anyhow::Result<Duration> {
        let interval_us = interval.as_micros() as i64;
        let wait_us: i64 = sqlx::query_scalar(RESERVE_SLOT).bind(interval_us).fetch_one(&self.pool).await?;
        Ok(Duration::from_micros(wait_us.max(0) as u64))
    }

    async fn push_out(&self, pause: Duration) -> anyhow::Result<()> {
        sqlx::query(PUSH_OUT).bind(pause.as_micros() as i64).execute(&self.pool).await?;
        Ok(())
    }
}
