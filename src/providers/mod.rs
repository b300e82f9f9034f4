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

    /// The `WEBHOOK_<NAME>_*` suffixes this preset reads besides `PROVIDER` and `SECRET`. Anything
    /// else is refused at start-up: a misspelt override must not be silently ignored.
    pub fn settings(self) -> &'static [&'static str] {
        const OVERRIDES: [&str; 4] = ["EMAIL_POINTER", "EVENT_TYPES", "EVENT_TYPE_POINTER", "EVENT_ID_POINTER"];
        match self {
            Provider::Okta => &["SIGNATURE_HEADER", "EVENT_TYPES"],
            Provider::Workos | Provider::Zitadel => {
                &["SIGNATURE_HEADER", "TOLERANCE_SECS", OVERRIDES[0], OVERRIDES[1], OVERRIDES[2], OVERRIDES[3]]
            }
            Provider::StandardWebhooks => &["TOLERANCE_SECS", OVERRIDES[0], OVERRIDES[1], OVERRIDES[2]],
            Provider::Keycloak => {
                &["SIGNATURE_HEADER", "ALGORITHM", OVERRIDES[0], OVERRIDES[1], OVERRIDES[2], OVERRIDES[3]]
            }
            Provider::Google => &[OVERRIDES[0], OVERRIDES[1], OVERRIDES[3]],
            Provider::Hmac => &[
                "SIGNATURE_HEADER",
                "SIGNATURE_PREFIX",
                "SIGNATURE_ENCODING",
                "ALGORITHM",
                "SIGNED_CONTENT",
                "TIMESTAMP_HEADER",
                "TIMESTAMP_UNIT",
                "TOLERANCE_SECS",
                "ID_HEADER",
                OVERRIDES[0],
                OVERRIDES[1],
                OVERRIDES[2],
                OVERRIDES[3],
            ],
        }
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
        let allowed = provider.settings();
        if let Some(unknown) =
            opts.suffixes().into_iter().find(|s| !matches!(*s, "PROVIDER" | "SECRET") && !allowed.contains(s))
        {
            return Err(opts.invalid(
                unknown,
                format!("is not a setting of the {} preset (it reads: {})", provider.as_str(), allowed.join(", ")),
            ));
        }
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

/// Helpers for the presets' unit tests: sources built from settings as an operator writes them,
/// and fixtures read from `tests/fixtures/`.
#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use axum::http::HeaderValue;

    pub fn source(provider: &str, secret: &str, extra: &[(&str, &str)]) -> Source {
        let mut pairs = vec![("PROVIDER", provider), ("SECRET", secret)];
        pairs.extend_from_slice(extra);
        Source::from_options(&SourceOptions::new("t", &pairs)).expect("valid test source")
    }

    pub fn raw(headers: &[(&str, &str)], body: &[u8]) -> RawWebhook {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(
                HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        RawWebhook { source: "t".into(), headers: h, body: body.to_vec().into(), received_at: SystemTime::now() }
    }

    /// A webhook treated as verified, for parser tests (verification has its own tests).
    pub fn hook(headers: &[(&str, &str)], body: &[u8]) -> VerifiedWebhook {
        VerifiedWebhook { raw: raw(headers, body), delivery_id: None }
    }

    pub fn fixture(path: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// Parses a fixture with the source's parser; returns the single event.
    pub fn parse_one(src: &Source, headers: &[(&str, &str)], file: &str) -> ParsedEvent {
        let mut events = src.parser.parse(&hook(headers, &fixture(&format!("payloads/{file}")))).expect("parses");
        assert_eq!(events.len(), 1, "{file}: one event");
        events.remove(0)
    }

    pub fn deprovision_email(ev: &ParsedEvent) -> Result<String, String> {
        match &ev.kind {
            EventKind::Deprovision(r) => r.clone(),
            EventKind::Ignored(why) => panic!("event {} was ignored: {why}", ev.event_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use serde_json::Value;
    use std::time::{Duration, UNIX_EPOCH};

    /// Every vector in `tests/fixtures/vectors.json` (reference §3.4 and §17) verifies through
    /// the preset an operator would configure, fails when one body byte changes, and — where the
    /// scheme has a timestamp — fails an hour later.
    #[test]
    fn reference_test_vectors() {
        let doc: Value = serde_json::from_slice(&fixture("vectors.json")).unwrap();
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 9);
        for v in vectors {
            let name = v["name"].as_str().unwrap();
            let mut extra: Vec<(String, String)> = Vec::new();
            if let Some(o) = v.get("options").and_then(Value::as_object) {
                extra = o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
            }
            let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let src = source(v["provider"].as_str().unwrap(), v["secret"].as_str().unwrap(), &extra);
            let headers: Vec<(String, String)> = v["headers"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let body = v["body"].as_str().unwrap().as_bytes();
            let now = UNIX_EPOCH + Duration::from_secs(v["now"].as_u64().unwrap());
            assert!(src.auth.verify_at(raw(&headers, body), now).is_ok(), "{name}: must verify");
            let mut tampered = body.to_vec();
            tampered[1] ^= 1;
            assert_eq!(
                src.auth.verify_at(raw(&headers, &tampered), now).unwrap_err(),
                AuthError::BadSignature,
                "{name}: tampered body"
            );
            if let Authenticator::Hmac(verify::HmacScheme { timestamp: Some(_), .. }) = &src.auth {
                let late = now + Duration::from_secs(3600);
                assert_eq!(
                    src.auth.verify_at(raw(&headers, body), late).unwrap_err(),
                    AuthError::StaleTimestamp,
                    "{name}"
                );
                let early = now - Duration::from_secs(3600);
                assert_eq!(
                    src.auth.verify_at(raw(&headers, body), early).unwrap_err(),
                    AuthError::FutureTimestamp,
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn settings_a_preset_does_not_read_are_refused() {
        let err = Source::from_options(&SourceOptions::new(
            "w",
            &[("PROVIDER", "workos"), ("SECRET", "s"), ("EMAIL_POINTR", "/e")],
        ))
        .unwrap_err();
        assert!(err.to_string().starts_with("WEBHOOK_W_EMAIL_POINTR is invalid"), "{err}");
        let err = Source::from_options(&SourceOptions::new(
            "o",
            &[("PROVIDER", "okta"), ("SECRET", "s"), ("EMAIL_POINTER", "/e")],
        ))
        .unwrap_err();
        assert!(err.to_string().contains("WEBHOOK_O_EMAIL_POINTER") && err.to_string().contains("okta"), "{err}");
    }

    #[test]
    fn provider_names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(*p));
        }
        assert_eq!(Provider::parse("Standard-Webhooks"), Some(Provider::StandardWebhooks));
    }

    /// `sign` produces what `verify` accepts, for every preset.
    #[test]
    fn every_preset_accepts_its_own_signature() {
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            ("okta", "okta-secret", &[]),
            ("workos", "wk", &[]),
            ("standard-webhooks", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &[]),
            ("zitadel", "zk", &[("EMAIL_POINTER", "/email")]),
            ("keycloak", "kk", &[]),
            ("google", "gt", &[]),
            ("hmac", "hk", &[]),
        ];
        for (p, secret, extra) in cases {
            let src = source(p, secret, extra);
            let body = br#"{"email":"a@example.com"}"#;
            let now = SystemTime::now();
            let headers: Vec<(String, String)> =
                src.sign(body, now, "msg_1").into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            assert!(src.auth.verify_at(raw(&headers, body), now).is_ok(), "{p}");
        }
    }
}
