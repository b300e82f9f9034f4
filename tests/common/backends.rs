//! Store backends for tests: a fresh SQLite file always, and a fresh PostgreSQL database per test
//! when `TEST_DATABASE_URL` names a server (`.ci/run` always provides one). Each PostgreSQL test
//! creates its own database and drops it afterwards, also when the test fails.

use sqlx::Connection;
use std::future::Future;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// The PostgreSQL server for tests, if any.
pub fn pg_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.trim().is_empty())
}

/// Prints the skip line and returns `None` when PostgreSQL is not configured.
pub fn pg_or_skip(test: &str) -> Option<String> {
    let url = pg_admin_url();
    if url.is_none() {
        // Straight to stderr, past the test harness's output capture, so the skip is seen.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{test}: skipped: TEST_DATABASE_URL not set");
    }
    url
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let (base, query) = match url[start..].find('?') {
        Some(q) => url.split_at(start + q),
        None => (url, ""),
    };
    let host_end = base[start..].find('/').map(|i| start + i).unwrap_or(base.len());
    format!("{}/{db}{query}", &base[..host_end])
}

impl TestDb {
    /// A fresh database, or `None` (with a skip line) for PostgreSQL without `TEST_DATABASE_URL`.
    pub async fn create(backend: Backend, test: &str) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(TestDb { url, pg: None, _dir: Some(dir) })
            }
            Backend::Postgres => {
                let admin = pg_or_skip(test)?;
                let name = format!("zsr_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let _ = conn.close().await;
                Some(TestDb { url: with_database(&admin, &name), pg: Some((admin, name)), _dir: None })
            }
        }
    }

    /// Drops a PostgreSQL test database (closing whatever connections are left).
    pub async fn drop_db(self) {
        if let Some((admin, name)) = &self.pg {
            let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect to TEST_DATABASE_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut conn)
                .await
                .expect("drop test database");
            let _ = conn.close().await;
        }
    }
}

/// Runs `test` against a fresh database of `backend`, dropping it afterwards; a panic in the
/// test is re-raised after the clean-up.
pub async fn run<F, Fut>(backend: Backend, name: &str, test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::create(backend, name).await else { return };
    let outcome = tokio::spawn(test(db.url.clone())).await;
    db.drop_db().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
