//! Shared black-box test harness: the real service on `127.0.0.1:0`, a fresh SQLite file per
//! test, the simulated Zoom on its own port, and typed helpers. Logs stay silent unless
//! `TEST_LOG` is set.
#![allow(dead_code)]

pub mod backends;

use serde_json::Value;
use std::time::{Duration, Instant, SystemTime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use zoom_sso_revoker::config::{Config, ConfigArgs};
use zoom_sso_revoker::sim::SimZoom;
use zoom_sso_revoker::store::{self, DynStore, JobRow, JobState};

pub const OKTA_SECRET: &str = "okta-test-authorization";
pub const HR_SECRET: &str = "hr-test-secret";

/// Settings every test starts from; tests append or override pairs.
pub fn base_vars(zoom: &SimZoom, db_url: &str) -> Vec<(String, String)> {
    [
        ("LISTEN_ADDR", "127.0.0.1:0".to_string()),
        ("DATABASE_URL", db_url.to_string()),
        ("ZOOM_RATE_LIMIT_PER_SECOND", "200".to_string()),
        ("ZOOM_TIMEOUT_SECS", "5".to_string()),
        ("WEBHOOK_SOURCES", "okta,hr".to_string()),
        ("RETRY_BASE_MS", "100".to_string()),
        ("RETRY_JITTER", "none".to_string()),
        ("WORKER_POLL_MS", "200".to_string()),
        ("WEBHOOK_OKTA_PROVIDER", "okta".to_string()),
        ("WEBHOOK_OKTA_SECRET", OKTA_SECRET.to_string()),
        ("WEBHOOK_HR_PROVIDER", "hmac".to_string()),
        ("WEBHOOK_HR_SECRET", HR_SECRET.to_string()),
        ("WEBHOOK_HR_EVENT_TYPE_POINTER", "/type".to_string()),
        ("WEBHOOK_HR_EVENT_TYPES", "user.disabled".to_string()),
        ("WEBHOOK_HR_EVENT_ID_POINTER", "/id".to_string()),
    ]
    .into_iter()
    .chain(zoom.service_vars())
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Replaces or adds `key=value` in `vars`.
pub fn set(vars: &mut Vec<(String, String)>, key: &str, value: &str) {
    vars.retain(|(k, _)| k != key);
    vars.push((key.to_string(), value.to_string()));
}

/// Splits variables into the service's settings and the per-source map, then validates.
pub fn try_config_from(vars: &[(String, String)]) -> Result<Config, zoom_sso_revoker::config::ConfigError> {
    let (source_vars, args): (Vec<_>, Vec<_>) =
        vars.iter().cloned().partition(|(k, _)| k.starts_with("WEBHOOK_") && k != "WEBHOOK_SOURCES");
    let args = ConfigArgs::from_vars(&args).expect("valid test settings");
    Config::from_args(&args, &source_vars.into_iter().collect())
}

/// As [`try_config_from`], for settings that must be valid.
pub fn config_from(vars: &[(String, String)]) -> Config {
    try_config_from(vars).expect("valid test configuration")
}

pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        zoom_sso_revoker::telemetry::init(zoom_sso_revoker::config::LogFormat::Text);
    }
}

pub struct TestApp {
    pub base_url: String,
    pub zoom: SimZoom,
    pub store: DynStore,
    pub db_url: String,
    pub config: Config,
    pub http: reqwest::Client,
    shutdown: CancellationToken,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    pub dir: std::sync::Arc<tempfile::TempDir>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the service with the base settings changed by `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Vec<(String, String)>)) -> TestApp {
    let zoom = SimZoom::start().await.expect("sim zoom");
    let dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
    let db_url = format!("sqlite://{}", dir.path().join("test.db").display());
    let mut vars = base_vars(&zoom, &db_url);
    tweak(&mut vars);
    start(zoom, dir, vars).await
}

/// Starts (or restarts) the service with exactly these settings.
pub async fn start(zoom: SimZoom, dir: std::sync::Arc<tempfile::TempDir>, vars: Vec<(String, String)>) -> TestApp {
    init_logs();
    let config = config_from(&vars);
    let db_url = config.database_url.clone();
    let store = store::connect(&db_url).await.expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let handle =
        tokio::spawn(zoom_sso_revoker::run_with_store(config.clone(), store.clone(), listener, shutdown.clone()));
    TestApp { base_url, zoom, store, db_url, config, http: reqwest::Client::new(), shutdown, handle: Some(handle), dir }
}

impl TestApp {
    /// Stops the service and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(h) = self.handle.take() {
            h.await.expect("service task").expect("service result");
        }
    }

    /// Headers the configured source would accept for `body`.
    pub fn sign(&self, source: &str, body: &[u8]) -> Vec<(String, String)> {
        self.config
            .source(source)
            .expect("source configured")
            .auth
            .sign(body, SystemTime::now(), &uuid::Uuid::now_v7().to_string())
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// Posts raw bytes with exactly these headers.
    pub async fn post_raw(&self, source: &str, body: Vec<u8>, headers: &[(String, String)]) -> reqwest::Response {
        let mut req =
            self.http.post(format!("{}/webhooks/{source}", self.base_url)).header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req.body(body).send().await.expect("request")
    }

    /// Posts `body` correctly signed for `source`.
    pub async fn post_signed(&self, source: &str, body: &Value) -> reqwest::Response {
        let bytes = serde_json::to_vec(body).unwrap();
        let headers = self.sign(source, &bytes);
        self.post_raw(source, bytes, &headers).await
    }

    /// Waits until the person's newest job is in a terminal state.
    pub async fn wait_terminal(&self, email: &str) -> JobRow {
        self.wait_job(email, |j| JobState::parse(&j.state).is_some_and(JobState::is_terminal), Duration::from_secs(20))
            .await
    }

    pub async fn wait_job(&self, email: &str, pred: impl Fn(&JobRow) -> bool, timeout: Duration) -> JobRow {
        let deadline = Instant::now() + timeout;
        loop {
            let jobs = self.store.jobs_for_email(email).await.unwrap();
            if let Some(j) = jobs.into_iter().next().filter(|j| pred(j)) {
                return j;
            }
            assert!(Instant::now() < deadline, "no matching job for {email} within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An Okta event-hook delivery with the given `data.events[]`.
pub fn okta_batch(events: Vec<Value>) -> Value {
    serde_json::json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/who7hphp39JoHLni81d7",
        "eventId": uuid::Uuid::new_v4().to_string(),
        "data": { "events": events },
        "eventTime": "2026-12-03T17:03:37.093Z",
        "contentType": "application/json"
    })
}

/// One Okta System Log event: `actor` is the admin, `target` the person.
pub fn okta_event(event_type: &str, result: &str, target: &str) -> Value {
    serde_json::json!({
        "uuid": uuid::Uuid::new_v4().to_string(),
        "published": "2026-12-03T17:03:35.000Z",
        "eventType": event_type,
        "displayMessage": "test",
        "outcome": { "result": result, "reason": null },
        "actor": { "id": "00uADMIN", "type": "User", "alternateId": "okta.admin@example.com", "displayName": "Admin" },
        "target": [
            { "id": "0oaAPP", "type": "AppInstance", "alternateId": "app@example.com", "displayName": "Zoom" },
            { "id": "00uTARGET", "type": "User", "alternateId": target, "displayName": "Target" }
        ]
    })
}

/// A generic HMAC (`hr` source) event.
pub fn hr_event(id: &str, email: &str) -> Value {
    serde_json::json!({ "id": id, "type": "user.disabled", "email": email })
}

pub mod bin;
