//! Sources and provider presets (SPEC §3).
//!
//! A [`Source`] is one configured sender: an [`Authenticator`] (the one shared verification
//! mechanism, configured by the preset) and a [`PayloadParser`] (the preset's own knowledge of
//! its payload). A [`RawWebhook`] becomes a [`VerifiedWebhook`] only inside [`Authenticator`], and
//! only a `VerifiedWebhook` can be parsed into events — so nothing unauthenticated is ever queued.

pub mod google;
pub mod hmac;
pub mod keycloak;
pub mod okta;
pub mod options;
pub mod pointer;
pub mod standard_webhooks;
pub mod verify;
pub mod workos;
pub mod zitadel;

use axum::http::{HeaderMap, HeaderName};
use bytes::Bytes;
use std::fmt;
use std::time::SystemTime;

pub use options::SourceOptions;
pub use verify::{AuthError, Authenticator};

/// A request exactly as received: the bytes are never re-serialized before verification.
#[derive(Debug, Clone)]
pub struct RawWebhook {
    pub source: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub received_at: SystemTime,
}

/// A webhook whose authenticity was proven. Only [`Authenticator::verify`] constructs one.
#[derive(Debug, Clone)]
pub struct VerifiedWebhook {
    raw: RawWebhook,
    /// The sender's delivery id (e.g. `webhook-id`), when the scheme has one.
    delivery_id: Option<String>,
}

impl VerifiedWebhook {
    pub fn source(&self) -> &str {
        &self.raw.source
    }
    pub fn headers(&self) -> &HeaderMap {
        &self.raw.headers
    }
    pub fn body(&self) -> &Bytes {
        &self.raw.body
    }
    pub fn received_at(&self) -> SystemTime {
        self.raw.received_at
    }
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }
    /// The body as JSON, or a parse error that names the problem.
    pub fn json(&self) -> Result<serde_json::Value, ParseError> {
        serde_json::from_slice(&self.raw.body).map_err(|e| ParseError(format!("body is not valid JSON: {e}")))
    }
}

/// One event that a payload held.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    /// The provider's id for the event; dedupe key together with the source name.
    pub event_id: String,
    pub event_type: String,
    /// When the provider says it happened (RFC 3339 text as sent), if it says.
    pub occurred_at: Option<String>,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A deprovisioning event: `Ok(raw email)` or `Err(why no email could be found)`.
    Deprovision(Result<String, String>),
    /// Not a deprovisioning event for this source (counted, not queued).
    Ignored(String),
}

/// An authenticated payload that could not be understood; it is kept with this reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A preset's payload knowledge.
pub trait PayloadParser: Send + Sync + fmt::Debug {
    fn parse(&self, hook: &VerifiedWebhook) -> Result<Vec<ParsedEvent>, ParseError>;
}

/// The preset a source uses (`WEBHOOK_<NAME>_PROVIDER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Okta,
    Workos,
    StandardWebhooks,
    Zitadel,
    Keycloak,
    Google,
    Hmac,
}

impl Provider {
    pub const ALL: &[Provider] = &[
        Provider::Okta,
        Provider::Workos,
        Provider::StandardWebhooks,
        Provider::Zitadel,
        Provider::Keycloak,
        Provider::Google,
        Provider::Hmac,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Okta => "okta",
            Provider::Workos => "workos",
            Provider::StandardWebhooks => "standard-webhooks",
            Provider::Zitadel => "zitadel",
            Provider::Keycloak => "keycloak",
            Provider::Google => "google",
            Provider::Hmac => "hmac",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// One configured sender.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub provider: Provider,
    pub auth: Authenticator,
    pub parser: Box<dyn PayloadParser>,
}

impl Source {
    /// Builds a source from its `WEBHOOK_<NAME>_*` settings.
    pub fn from_options(opts: &SourceOptions) -> Result<Self, crate::config::ConfigError> {
        let provider_raw = opts.require("PROVIDER")?;
        let provider = Provider::parse(&provider_raw).ok_or_else(|| {
            let names: Vec<_> = Provider::ALL.iter().map(|p| p.as_str()).collect();
            opts.invalid("PROVIDER", format!("unknown provider {provider_raw:?}; expected one of {}", names.join(", ")))
        })?;
        let (auth, parser) = match provider {
            Provider::Okta => okta::build(opts)?,
            Provider::Workos => workos::build(opts)?,
            Provider::StandardWebhooks => standard_webhooks::build(opts)?,
            Provider::Zitadel => zitadel::build(opts)?,
            Provider::Keycloak => keycloak::build(opts)?,
            Provider::Google => google::build(opts)?,
            Provider::Hmac => hmac::build(opts)?,
        };
        Ok(Self { name: opts.source_name().to_string(), provider, auth, parser })
    }

    /// Authenticates the raw request.
    pub fn verify(&self, raw: RawWebhook) -> Result<VerifiedWebhook, AuthError> {
        self.auth.verify(raw)
    }

    /// Every header a sender of this source attaches to `body` at `now` — the proof from
    /// [`Authenticator::sign`] plus what the provider's parser needs (Google's state and message
    /// headers). Used by `sign`, `demo` and tests, so they send exactly what `serve` accepts.
    pub fn sign(&self, body: &[u8], now: SystemTime, delivery_id: &str) -> Vec<(HeaderName, String)> {
        let mut headers = self.auth.sign(body, now, delivery_id);
        if self.provider == Provider::Google {
            headers.extend(google::delivery_headers(body, delivery_id, now));
        }
        headers
    }

    /// Answers a provider's `GET` handshake (Okta's one-time verification), if this is one.
    pub fn handshake(&self, headers: &HeaderMap) -> Option<serde_json::Value> {
        match self.provider {
            Provider::Okta => okta::handshake(headers),
            _ => None,
        }
    }
}
