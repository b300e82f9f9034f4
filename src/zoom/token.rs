//! Server-to-Server OAuth access tokens: cached, refreshed before expiry, refreshed by one caller
//! at a time (Zoom invalidates the previous token when a new one is issued, so a refresh storm
//! would log our own workers out).

use crate::config::ZoomConfig;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

/// Refresh when less than this is left.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct AccessToken {
    pub value: Arc<SecretString>,
    expires_at: Instant,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token request failed: {0}")]
    Http(String),
    #[error("token endpoint answered {status}: {message}")]
    Rejected { status: u16, message: String },
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default = "default_expiry")]
    expires_in: u64,
}

fn default_expiry() -> u64 {
    3600
}

pub struct TokenCache {
    http: reqwest::Client,
    cfg: ZoomConfig,
    current: RwLock<Option<AccessToken>>,
    refresh: Mutex<()>,
    refreshes: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    pub fn new(http: reqwest::Client, cfg: ZoomConfig) -> Self {
        Self { http, cfg, current: RwLock::new(None), refresh: Mutex::new(()), refreshes: 0.into() }
    }

    /// How many tokens this process has fetched.
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn fresh(t: &Option<AccessToken>) -> Option<AccessToken> {
        t.as_ref().filter(|t| t.expires_at > Instant::now() + REFRESH_MARGIN).cloned()
    }

    /// A valid token, fetching one if needed (single-flight).
    pub async fn get(&self) -> Result<AccessToken, TokenError> {
        if let Some(t) = Self::fresh(&*self.current.read().await) {
            return Ok(t);
        }
        let _guard = self.refresh.lock().await;
        // Someone else may have refreshed while we waited.
        if let Some(t) = Self::fresh(&*self.current.read().await) {
            return Ok(t);
        }
        let t = self.fetch().await?;
        *self.current.write().await = Some(t.clone());
        Ok(t)
    }

    /// Drops `bad` (a 401 from Zoom) unless it was already replaced.
    pub async fn invalidate(&self, bad: &AccessToken) {
        let mut cur = self.current.write().await;
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(&c.value, &bad.value)) {
            *cur = None;
        }
    }

    async fn fetch(&self) -> Result<AccessToken, TokenError> {
        self.refreshes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        crate::telemetry::metrics::token_refresh();
        let resp = self
            .http
            .post(&self.cfg.oauth_token_url)
            .basic_auth(&self.cfg.client_id, Some(self.cfg.client_secret.expose_secret()))
            .form(&[("grant_type", "account_credentials"), ("account_id", self.cfg.account_id.as_str())])
            .send()
            .await
            .map_err(|e| TokenError::Http(e.without_url().to_string()))?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| TokenError::Http(e.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            let message = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return Err(TokenError::Rejected { status, message });
        }
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|e| TokenError::Http(format!("token response is not valid: {e}")))?;
        Ok(AccessToken {
            value: Arc::new(SecretString::from(parsed.access_token)),
            expires_at: Instant::now() + Duration::from_secs(parsed.expires_in),
        })
    }
}
