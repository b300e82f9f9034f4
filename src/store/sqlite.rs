//! SQLite backend: one file, WAL, `synchronous=FULL` (an acknowledged webhook survives a crash
//! and a power loss). Ingest goes through one writer task that groups concurrent requests into a
//! shared transaction — each caller is still answered only after the commit that holds its rows.

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

super::sql::store_impl!(SqliteStore, {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }
});
