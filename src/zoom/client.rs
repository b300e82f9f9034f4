//! `DELETE {base}/users/{email}/token`, with the one-refresh-on-401 rule.

use super::outcome::{Outcome, classify};
use super::token::{TokenCache, TokenError};
use crate::config::ZoomConfig;
use crate::email::Email;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::ExposeSecret;
use std::time::{Duration, Instant, SystemTime};

/// Everything but RFC 3986 unreserved characters, `@` and `+` is escaped, so whatever an email
/// holds (`/`, `?`, `#`, `%`, `..`) it stays exactly one path segment.
const SEGMENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@').remove(b'+');

/// The path segment for an email.
pub fn user_segment(email: &Email) -> String {
    utf8_percent_encode(email.as_str(), SEGMENT).to_string()
}

/// The result of one revoke (which may include one token refresh and one retry).
#[derive(Debug, Clone)]
pub struct CallReport {
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub zoom_code: Option<i64>,
    pub duration: Duration,
    pub tracking_id: Option<String>,
}

pub struct ZoomClient {
    http: reqwest::Client,
    api_base: String,
    pub tokens: TokenCache,
}

impl ZoomClient {
    pub fn new(cfg: &ZoomConfig) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            // Never forward the bearer token to wherever a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("zoom-sso-revoker/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { tokens: TokenCache::new(http.clone(), cfg.clone()), http, api_base: cfg.api_base_url.clone() })
    }

    /// Revokes `email`'s SSO token.
    pub async fn revoke(&self, email: &Email) -> CallReport {
        let started = Instant::now();
        let url = format!("{}/users/{}/token", self.api_base, user_segment(email));
        let mut refreshed_once = false;
        loop {
            let token = match self.tokens.get().await {
                Ok(t) => t,
                Err(e) => return report(token_outcome(e), None, None, started, None),
            };
            let resp = match self.http.delete(&url).bearer_auth(token.value.expose_secret()).send().await {
                Ok(r) => r,
                Err(e) => {
                    let kind = if e.is_timeout() {
                        "timeout"
                    } else if e.is_connect() {
                        "connection error"
                    } else {
                        "request error"
                    };
                    let message = format!("{kind}: {}", e.without_url());
                    return report(Outcome::Transient { status: None, message }, None, None, started, None);
                }
            };
            let status = resp.status().as_u16();
            let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            let retry_after = header("retry-after");
            let limit_type = header("x-ratelimit-type");
            let tracking = header("x-zm-trackingid");
            let body = match resp.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    let message = format!("reading response: {}", e.without_url());
                    return report(
                        Outcome::Transient { status: Some(status), message },
                        Some(status),
                        None,
                        started,
                        tracking,
                    );
                }
            };
            if status == 401 && !refreshed_once {
                // Zoom code 124: expired or invalidated token. Drop it, refresh once, retry now.
                refreshed_once = true;
                self.tokens.invalidate(&token).await;
                continue;
            }
            let (mut outcome, code) =
                classify(status, &body, retry_after.as_deref(), limit_type.as_deref(), SystemTime::now());
            if status == 401 {
                // Still rejected right after a fresh token: another app may be invalidating our
                // tokens (Zoom issues one per account); retry later rather than give up.
                outcome = Outcome::Transient {
                    status: Some(401),
                    message: format!("token rejected after refresh (code {code:?})"),
                };
            }
            return report(outcome, Some(status), code, started, tracking);
        }
    }

    /// Fetches a token now (`check`).
    pub async fn check_token(&self) -> Result<(), TokenError> {
        self.tokens.get().await.map(|_| ())
    }
}

fn token_outcome(e: TokenError) -> Outcome {
    Outcome::Transient { status: None, message: format!("could not get a Zoom access token: {e}") }
}

fn report(
    outcome: Outcome,
    http_status: Option<u16>,
    zoom_code: Option<i64>,
    started: Instant,
    tracking_id: Option<String>,
) -> CallReport {
    CallReport { outcome, http_status, zoom_code, duration: started.elapsed(), tracking_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_segment_whatever_the_email() {
        for raw in [
            "a/b@x.com",
            "a?b@x.com",
            "a#b@x.com",
            "a%2Fb@x.com",
            "..@x.com",
            "../..@x.com",
            "a+tag@x.com",
            "jürgen@x.de",
        ] {
            let seg = user_segment(&Email::parse(raw).unwrap());
            assert!(!seg.contains('/') && !seg.contains('?') && !seg.contains('#'), "{raw} -> {seg}");
            let decoded = percent_encoding::percent_decode_str(&seg).decode_utf8().unwrap();
            assert_eq!(decoded, raw.to_lowercase());
        }
        assert_eq!(user_segment(&Email::parse("a+tag@x.com").unwrap()), "a+tag@x.com");
        assert_eq!(user_segment(&Email::parse("a%2Fb@x.com").unwrap()), "a%252fb@x.com");
    }
}
