//! The one verification mechanism every preset configures (SPEC §3).
//!
//! Two kinds of proof exist among identity providers: a shared secret sent as a header value
//! (Okta, Google) and an HMAC over the raw body plus optional timestamp and id (everyone else).
//! Both live here once; presets only choose parameters. All comparisons are constant-time, every
//! configured secret and every signature in a header is tried, and timestamps are checked in both
//! directions.

use super::{RawWebhook, VerifiedWebhook};
use axum::http::{HeaderMap, HeaderName};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// Why a request was not authenticated. Goes to logs and metrics only, never to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("signature header missing")]
    MissingSignature,
    #[error("signature header malformed")]
    MalformedSignature,
    #[error("no signature matched")]
    BadSignature,
    #[error("timestamp missing")]
    MissingTimestamp,
    #[error("timestamp malformed")]
    MalformedTimestamp,
    #[error("timestamp too old")]
    StaleTimestamp,
    #[error("timestamp too far in the future")]
    FutureTimestamp,
    #[error("delivery id header missing")]
    MissingId,
}

impl AuthError {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            AuthError::MissingSignature => "missing_signature",
            AuthError::MalformedSignature => "malformed_signature",
            AuthError::BadSignature => "bad_signature",
            AuthError::MissingTimestamp => "missing_timestamp",
            AuthError::MalformedTimestamp => "malformed_timestamp",
            AuthError::StaleTimestamp => "stale_timestamp",
            AuthError::FutureTimestamp => "future_timestamp",
            AuthError::MissingId => "missing_id",
        }
    }
}

/// How a source proves its requests.
#[derive(Debug)]
pub enum Authenticator {
    /// The header's whole value equals one of the secrets (Okta's authorization field, Google's
    /// channel token).
    SharedSecretHeader { header: HeaderName, secrets: Vec<SecretString> },
    /// An HMAC signature over the raw body (and optional timestamp and id).
    Hmac(HmacScheme),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
    Base64Url,
}

impl Encoding {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hex" => Some(Self::Hex),
            "base64" => Some(Self::Base64),
            "base64url" => Some(Self::Base64Url),
            _ => None,
        }
    }

    fn decode(self, s: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Hex => hex::decode(s).ok(),
            // Padding is optional in the wild; accept both.
            Encoding::Base64 => STANDARD.decode(s).or_else(|_| STANDARD_NO_PAD.decode(s)).ok(),
            Encoding::Base64Url => URL_SAFE.decode(s).or_else(|_| URL_SAFE_NO_PAD.decode(s)).ok(),
        }
    }

    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => STANDARD.encode(bytes),
            Encoding::Base64Url => URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// What the HMAC covers. `{timestamp}` and `{id}` are the header text exactly as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedContent {
    Body,
    TimestampBody,
    IdTimestampBody,
    /// The body with the timestamp appended, no separator (BambooHR).
    BodyTimestamp,
}

impl SignedContent {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "{body}" => Some(Self::Body),
            "{timestamp}.{body}" => Some(Self::TimestampBody),
            "{id}.{timestamp}.{body}" => Some(Self::IdTimestampBody),
            "{body}{timestamp}" => Some(Self::BodyTimestamp),
            _ => None,
        }
    }
}

/// How signatures sit in the signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureFormat {
    /// `<prefix><sig>`; several may be separated by ',' or spaces.
    Prefixed { prefix: String },
    /// `t=<ts>,v1=<sig>[,v1=<sig>]` (Stripe style; WorkOS, ZITADEL).
    KeyValue { timestamp_key: String, signature_key: String },
    /// `v1,<sig> v1,<sig>` (Standard Webhooks).
    VersionedList { version: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampUnit {
    Seconds,
    Millis,
}

impl TimestampUnit {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "s" | "seconds" => Some(Self::Seconds),
            "ms" | "milliseconds" => Some(Self::Millis),
            _ => None,
        }
    }
}

/// Where the timestamp comes from and how much clock skew is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRule {
    /// Headers to read (first present wins); empty means "from the signature header's key-value
    /// list" ([`SignatureFormat::KeyValue`]).
    pub headers: Vec<HeaderName>,
    pub unit: TimestampUnit,
    pub tolerance: Duration,
}

/// A configured HMAC scheme: the generic verifier every HMAC preset is an instance of.
#[derive(Debug)]
pub struct HmacScheme {
    /// Signature headers, first present wins (aliases such as `svix-signature`).
    pub signature_headers: Vec<HeaderName>,
    pub format: SignatureFormat,
    pub encoding: Encoding,
    pub algorithm: Algorithm,
    pub content: SignedContent,
    pub timestamp: Option<TimestampRule>,
    /// Delivery-id headers, first present wins.
    pub id_headers: Vec<HeaderName>,
    pub keys: Vec<SecretSlice<u8>>,
}

fn first_header<'a>(headers: &'a HeaderMap, names: &[HeaderName]) -> Option<&'a str> {
    names.iter().find_map(|n| headers.get(n)).and_then(|v| v.to_str().ok())
}

fn unix_now(now: SystemTime) -> i128 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

impl Authenticator {
    /// Authenticates against the current clock.
    pub fn verify(&self, raw: RawWebhook) -> Result<VerifiedWebhook, AuthError> {
        let now = SystemTime::now();
        self.verify_at(raw, now)
    }

    /// Authenticates with an injected "now" (tests against published vectors).
    pub fn verify_at(&self, raw: RawWebhook, now: SystemTime) -> Result<VerifiedWebhook, AuthError> {
        let delivery_id = match self {
            Authenticator::SharedSecretHeader { header, secrets } => {
                let got = raw.headers.get(header).ok_or(AuthError::MissingSignature)?.as_bytes();
                // Every secret is compared (no early exit) so timing does not reveal which matched.
                let matched = secrets
                    .iter()
                    .fold(subtle::Choice::from(0), |acc, s| acc | got.ct_eq(s.expose_secret().as_bytes()));
                if !bool::from(matched) {
                    return Err(AuthError::BadSignature);
                }
                None
            }
            Authenticator::Hmac(scheme) => scheme.verify(&raw, now)?,
        };
        Ok(VerifiedWebhook { raw, delivery_id })
    }

    /// The headers a sender would attach to `body` at `now` (first secret): used by `sign`,
    /// `demo`, tests and the benchmark, so they exercise exactly what `verify` accepts.
    pub fn sign(&self, body: &[u8], now: SystemTime, delivery_id: &str) -> Vec<(HeaderName, String)> {
        match self {
            Authenticator::SharedSecretHeader { header, secrets } => {
                vec![(header.clone(), secrets[0].expose_secret().to_string())]
            }
            Authenticator::Hmac(scheme) => scheme.sign(body, now, delivery_id),
        }
    }
}

impl HmacScheme {
    /// The Stripe-style scheme: `t=<timestamp>,v1=<hex>[,v1=...]` over `{t}.{body}` with
    /// HMAC-SHA256, the timestamp taken from the header's `t=` entry (WorkOS in ms, ZITADEL in s).
    pub fn stripe_style(
        signature_headers: Vec<HeaderName>,
        unit: TimestampUnit,
        tolerance: Duration,
        keys: Vec<SecretSlice<u8>>,
    ) -> Self {
        Self {
            signature_headers,
            format: SignatureFormat::KeyValue { timestamp_key: "t".into(), signature_key: "v1".into() },
            encoding: Encoding::Hex,
            algorithm: Algorithm::Sha256,
            content: SignedContent::TimestampBody,
            timestamp: Some(TimestampRule { headers: vec![], unit, tolerance }),
            id_headers: vec![],
            keys,
        }
    }

    fn verify(&self, raw: &RawWebhook, now: SystemTime) -> Result<Option<String>, AuthError> {
        let header = first_header(&raw.headers, &self.signature_headers).ok_or(AuthError::MissingSignature)?;
        let (header_ts, candidates) = self.parse_header(header)?;
        if candidates.is_empty() {
            return Err(AuthError::MalformedSignature);
        }
        let id = first_header(&raw.headers, &self.id_headers).map(str::to_string);
        let ts_text = match &self.timestamp {
            None => None,
            Some(rule) => {
                let text = if rule.headers.is_empty() {
                    header_ts
                } else {
                    first_header(&raw.headers, &rule.headers).map(str::to_string)
                }
                .ok_or(AuthError::MissingTimestamp)?;
                check_timestamp(&text, rule, now)?;
                Some(text)
            }
        };
        if self.content == SignedContent::IdTimestampBody && id.is_none() {
            return Err(AuthError::MissingId);
        }
        let mut matched = false;
        for key in &self.keys {
            let mac = self.mac(key.expose_secret(), id.as_deref(), ts_text.as_deref(), &raw.body);
            for sig in &candidates {
                // Constant-time on the decoded bytes; a length mismatch is not secret.
                matched |= bool::from(mac.as_slice().ct_eq(sig.as_slice()));
            }
        }
        if matched { Ok(id) } else { Err(AuthError::BadSignature) }
    }

    /// Splits the header into (timestamp from a key-value list, decoded candidate signatures).
    /// An entry that does not decode is skipped, not fatal: during a rotation the sender may list
    /// a signature we cannot read next to one we can (zitadel-go skips non-hex `v1` the same way).
    /// No decodable entry at all is [`AuthError::MalformedSignature`].
    fn parse_header(&self, header: &str) -> Result<(Option<String>, Vec<Vec<u8>>), AuthError> {
        let mut ts = None;
        let mut sigs = Vec::new();
        match &self.format {
            SignatureFormat::Prefixed { prefix } => {
                for part in header.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
                    if let Some(sig) = part.strip_prefix(prefix.as_str()) {
                        sigs.extend(self.encoding.decode(sig));
                    }
                }
            }
            SignatureFormat::KeyValue { timestamp_key, signature_key } => {
                for part in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let Some((k, v)) = part.split_once('=') else { continue };
                    let (k, v) = (k.trim(), v.trim());
                    if k == timestamp_key {
                        ts = Some(v.to_string());
                    } else if k == signature_key {
                        sigs.extend(self.encoding.decode(v));
                    }
                }
            }
            SignatureFormat::VersionedList { version } => {
                for part in header.split(' ').filter(|p| !p.is_empty()) {
                    // Other versions (e.g. asymmetric "v1a") are skipped, not errors.
                    if let Some((v, sig)) = part.split_once(',')
                        && v == version
                    {
                        sigs.extend(self.encoding.decode(sig));
                    }
                }
            }
        }
        Ok((ts, sigs))
    }

    fn mac(&self, key: &[u8], id: Option<&str>, ts: Option<&str>, body: &[u8]) -> Vec<u8> {
        macro_rules! run {
            ($d:ty) => {{
                let mut m = <hmac::Hmac<$d> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
                match self.content {
                    SignedContent::Body | SignedContent::BodyTimestamp => {}
                    SignedContent::TimestampBody => {
                        m.update(ts.unwrap_or_default().as_bytes());
                        m.update(b".");
                    }
                    SignedContent::IdTimestampBody => {
                        m.update(id.unwrap_or_default().as_bytes());
                        m.update(b".");
                        m.update(ts.unwrap_or_default().as_bytes());
                        m.update(b".");
                    }
                }
                m.update(body);
                if self.content == SignedContent::BodyTimestamp {
                    m.update(ts.unwrap_or_default().as_bytes());
                }
                m.finalize().into_bytes().to_vec()
            }};
        }
        match self.algorithm {
            Algorithm::Sha1 => run!(sha1::Sha1),
            Algorithm::Sha256 => run!(sha2::Sha256),
            Algorithm::Sha512 => run!(sha2::Sha512),
        }
    }

    fn sign(&self, body: &[u8], now: SystemTime, delivery_id: &str) -> Vec<(HeaderName, String)> {
        let ts = self.timestamp.as_ref().map(|rule| {
            let ms = unix_now(now);
            match rule.unit {
                TimestampUnit::Seconds => (ms / 1000).to_string(),
                TimestampUnit::Millis => ms.to_string(),
            }
        });
        let mac = self.encoding.encode(&self.mac(self.keys[0].expose_secret(), Some(delivery_id), ts.as_deref(), body));
        let mut out = Vec::new();
        let sig_value = match &self.format {
            SignatureFormat::Prefixed { prefix } => format!("{prefix}{mac}"),
            SignatureFormat::KeyValue { timestamp_key, signature_key } => match (&ts, &self.timestamp) {
                (Some(ts), Some(rule)) if rule.headers.is_empty() => {
                    format!("{timestamp_key}={ts},{signature_key}={mac}")
                }
                _ => format!("{signature_key}={mac}"),
            },
            SignatureFormat::VersionedList { version } => format!("{version},{mac}"),
        };
        out.push((self.signature_headers[0].clone(), sig_value));
        if let (Some(ts), Some(rule)) = (&ts, &self.timestamp)
            && let Some(h) = rule.headers.first()
        {
            out.push((h.clone(), ts.clone()));
        }
        if let Some(h) = self.id_headers.first() {
            out.push((h.clone(), delivery_id.to_string()));
        }
        out
    }
}

fn check_timestamp(text: &str, rule: &TimestampRule, now: SystemTime) -> Result<(), AuthError> {
    let value: i128 = text.trim().parse().map_err(|_| AuthError::MalformedTimestamp)?;
    let sent_ms = match rule.unit {
        TimestampUnit::Seconds => value.checked_mul(1000).ok_or(AuthError::MalformedTimestamp)?,
        TimestampUnit::Millis => value,
    };
    // Saturating: a hostile timestamp near i128::MIN must not overflow.
    let skew = unix_now(now).saturating_sub(sent_ms);
    let tol = rule.tolerance.as_millis() as i128;
    if skew > tol {
        Err(AuthError::StaleTimestamp)
    } else if skew < -tol {
        Err(AuthError::FutureTimestamp)
    } else {
        Ok(())
    }
}

/// Decodes a Standard-Webhooks style secret: optional `whsec_` prefix, strict base64, at least
/// `min_len` bytes. `Err` is a message for the configuration error.
pub fn decode_whsec(secret: &str, min_len: usize) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD.decode(b64).map_err(|e| format!("secret is not valid base64 after 'whsec_': {e}"))?;
    if key.len() < min_len {
        return Err(format!("secret decodes to {} bytes; at least {min_len} are required", key.len()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn raw(headers: &[(&str, &str)], body: &str) -> RawWebhook {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        RawWebhook {
            source: "t".into(),
            headers: h,
            body: body.as_bytes().to_vec().into(),
            received_at: SystemTime::now(),
        }
    }

    fn github(secrets: &[&str]) -> Authenticator {
        Authenticator::Hmac(HmacScheme {
            signature_headers: vec![HeaderName::from_static("x-hub-signature-256")],
            format: SignatureFormat::Prefixed { prefix: "sha256=".into() },
            encoding: Encoding::Hex,
            algorithm: Algorithm::Sha256,
            content: SignedContent::Body,
            timestamp: None,
            id_headers: vec![],
            keys: secrets.iter().map(|s| SecretSlice::from(s.as_bytes().to_vec())).collect(),
        })
    }

    const GH_SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_published_vector() {
        let a = github(&["It's a Secret to Everybody"]);
        assert!(a.verify(raw(&[("x-hub-signature-256", GH_SIG)], "Hello, World!")).is_ok());
        assert_eq!(
            a.verify(raw(&[("x-hub-signature-256", GH_SIG)], "Hello, World?")).unwrap_err(),
            AuthError::BadSignature
        );
        assert_eq!(a.verify(raw(&[], "Hello, World!")).unwrap_err(), AuthError::MissingSignature);
        assert_eq!(
            a.verify(raw(&[("x-hub-signature-256", "sha256=zz")], "Hello, World!")).unwrap_err(),
            AuthError::MalformedSignature
        );
        assert_eq!(
            a.verify(raw(&[("x-hub-signature-256", "md5=abcd")], "Hello, World!")).unwrap_err(),
            AuthError::MalformedSignature
        );
        // Signing reproduces the published header.
        let signed = a.sign(b"Hello, World!", SystemTime::now(), "x");
        assert_eq!(signed[0].1, GH_SIG);
    }

    #[test]
    fn rotation_and_multiple_signatures() {
        let a = github(&["old", "It's a Secret to Everybody"]);
        assert!(a.verify(raw(&[("x-hub-signature-256", GH_SIG)], "Hello, World!")).is_ok());
        let b = github(&["It's a Secret to Everybody"]);
        let both = format!("sha256={}, {GH_SIG}", "00".repeat(32));
        assert!(b.verify(raw(&[("x-hub-signature-256", &both)], "Hello, World!")).is_ok());
    }

    #[test]
    fn standard_webhooks_published_vectors() {
        let sw = |secret: &str| {
            Authenticator::Hmac(HmacScheme {
                signature_headers: vec![HeaderName::from_static("webhook-signature")],
                format: SignatureFormat::VersionedList { version: "v1".into() },
                encoding: Encoding::Base64,
                algorithm: Algorithm::Sha256,
                content: SignedContent::IdTimestampBody,
                timestamp: Some(TimestampRule {
                    headers: vec![HeaderName::from_static("webhook-timestamp")],
                    unit: TimestampUnit::Seconds,
                    tolerance: Duration::from_secs(300),
                }),
                id_headers: vec![HeaderName::from_static("webhook-id")],
                keys: vec![SecretSlice::from(decode_whsec(secret, 16).unwrap())],
            })
        };
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let a = sw("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
        let req = raw(
            &[
                ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
                ("webhook-timestamp", "1649367553"),
                ("webhook-signature", "v1a,xyz v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="),
            ],
            r#"{"email":"test@example.com","username":"test_user"}"#,
        );
        let ok = a.verify_at(req.clone(), at(1649367553 + 10)).unwrap();
        assert_eq!(ok.delivery_id(), Some("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"));
        assert_eq!(a.verify_at(req.clone(), at(1649367553 + 301)).unwrap_err(), AuthError::StaleTimestamp);
        assert_eq!(a.verify_at(req, at(1649367553 - 301)).unwrap_err(), AuthError::FutureTimestamp);

        let b = sw("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let req = raw(
            &[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
            ],
            r#"{"test": 2432232314}"#,
        );
        assert!(b.verify_at(req, at(1614265330)).is_ok());
        assert!(decode_whsec("whsec_c2hvcnQ=", 16).is_err());
        assert!(decode_whsec("whsec_not base64!", 16).is_err());
    }

    #[test]
    fn key_value_millis_vector() {
        // WorkOS-style vector from the reference (§17.2).
        let a = Authenticator::Hmac(HmacScheme::stripe_style(
            vec![HeaderName::from_static("workos-signature")],
            TimestampUnit::Millis,
            Duration::from_secs(180),
            vec![SecretSlice::from(b"whsec_workos_test_secret".to_vec())],
        ));
        let body = r#"{"id":"evt_1","event":"dsync.user.deleted","data":{"email":"lela.block@example.com"}}"#;
        let header = "t=1700000000000, v1=41691242600e2597fb5ab91e9f8951d29c186e569a9a3e52637560b1f941a908";
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + 5_000);
        assert!(a.verify_at(raw(&[("workos-signature", header)], body), now).is_ok());
        // Reading milliseconds as seconds would put the timestamp ~54,000 years in the future.
        let late = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + 181_000);
        assert_eq!(
            a.verify_at(raw(&[("workos-signature", header)], body), late).unwrap_err(),
            AuthError::StaleTimestamp
        );
        let signed = a.sign(body.as_bytes(), now, "");
        assert!(a.verify_at(raw(&[("workos-signature", &signed[0].1)], body), now).is_ok());
    }

    #[test]
    fn shared_secret_header() {
        let a = Authenticator::SharedSecretHeader {
            header: HeaderName::from_static("authorization"),
            secrets: vec![SecretString::from("one".to_string()), SecretString::from("two".to_string())],
        };
        assert!(a.verify(raw(&[("authorization", "two")], "{}")).is_ok());
        assert_eq!(a.verify(raw(&[("authorization", "tw")], "{}")).unwrap_err(), AuthError::BadSignature);
        assert_eq!(a.verify(raw(&[], "{}")).unwrap_err(), AuthError::MissingSignature);
    }
    /// Whatever arrives in a signature or timestamp header, parsing and verifying never panics,
    /// for every header grammar the presets use.
    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        fn schemes() -> Vec<HmacScheme> {
            let kv = |unit| HmacScheme {
                signature_headers: vec![HeaderName::from_static("sig")],
                format: SignatureFormat::KeyValue { timestamp_key: "t".into(), signature_key: "v1".into() },
                encoding: Encoding::Hex,
                algorithm: Algorithm::Sha256,
                content: SignedContent::TimestampBody,
                timestamp: Some(TimestampRule { headers: vec![], unit, tolerance: Duration::from_secs(300) }),
                id_headers: vec![],
                keys: vec![SecretSlice::from(b"k".to_vec())],
            };
            let sw = HmacScheme {
                signature_headers: vec![HeaderName::from_static("sig")],
                format: SignatureFormat::VersionedList { version: "v1".into() },
                encoding: Encoding::Base64,
                algorithm: Algorithm::Sha256,
                content: SignedContent::IdTimestampBody,
                timestamp: Some(TimestampRule {
                    headers: vec![HeaderName::from_static("ts")],
                    unit: TimestampUnit::Seconds,
                    tolerance: Duration::from_secs(300),
                }),
                id_headers: vec![HeaderName::from_static("id")],
                keys: vec![SecretSlice::from(vec![7u8; 24])],
            };
            let prefixed = |prefix: &str, encoding| HmacScheme {
                signature_headers: vec![HeaderName::from_static("sig")],
                format: SignatureFormat::Prefixed { prefix: prefix.into() },
                encoding,
                algorithm: Algorithm::Sha512,
                content: SignedContent::BodyTimestamp,
                timestamp: Some(TimestampRule {
                    headers: vec![HeaderName::from_static("ts")],
                    unit: TimestampUnit::Millis,
                    tolerance: Duration::from_secs(1),
                }),
                id_headers: vec![],
                keys: vec![SecretSlice::from(b"k".to_vec())],
            };
            vec![
                kv(TimestampUnit::Millis),
                kv(TimestampUnit::Seconds),
                sw,
                prefixed("sha256=", Encoding::Hex),
                prefixed("", Encoding::Base64Url),
            ]
        }

        proptest! {
            #[test]
            fn arbitrary_header_text(sig in "\\PC{0,200}", ts in "\\PC{0,40}", shaped in "(t=-?[0-9]{0,25},? ?v1=[0-9a-f]{0,70},?){0,3}|(v1[a]?,[A-Za-z0-9+/=]{0,50} ?){0,3}") {
                for scheme in schemes() {
                    let _ = scheme.parse_header(&sig);
                    let _ = scheme.parse_header(&shaped);
                    for header in [&sig, &shaped] {
                        let mut h = HeaderMap::new();
                        if let Ok(v) = HeaderValue::from_str(header) { h.insert("sig", v); }
                        if let Ok(v) = HeaderValue::from_str(&ts) { h.insert("ts", v.clone()); h.insert("id", v); }
                        let raw = RawWebhook { source: "p".into(), headers: h, body: bytes::Bytes::from_static(b"{}"), received_at: SystemTime::now() };
                        let _ = scheme.verify(&raw, SystemTime::now());
                    }
                }
            }

            #[test]
            fn arbitrary_bytes_in_headers(sig in proptest::collection::vec(any::<u8>(), 0..120), ts in proptest::collection::vec(any::<u8>(), 0..30)) {
                for scheme in schemes() {
                    let mut h = HeaderMap::new();
                    if let Ok(v) = HeaderValue::from_bytes(&sig) { h.insert("sig", v); }
                    if let Ok(v) = HeaderValue::from_bytes(&ts) { h.insert("ts", v.clone()); h.insert("id", v); }
                    let raw = RawWebhook { source: "p".into(), headers: h, body: bytes::Bytes::new(), received_at: SystemTime::now() };
                    let _ = scheme.verify(&raw, SystemTime::now());
                    let _ = scheme.verify(&raw, UNIX_EPOCH);
                }
            }

            #[test]
            fn extreme_timestamps(ts in prop_oneof![Just(i128::MIN.to_string()), Just(i128::MAX.to_string()), any::<i128>().prop_map(|v| v.to_string())]) {
                for unit in [TimestampUnit::Seconds, TimestampUnit::Millis] {
                    let rule = TimestampRule { headers: vec![], unit, tolerance: Duration::from_secs(300) };
                    prop_assert!(check_timestamp(&ts, &rule, SystemTime::now()).is_err());
                }
            }

            #[test]
            fn arbitrary_whsec_secrets(secret in "\\PC{0,80}") {
                let _ = decode_whsec(&secret, 16);
            }
        }
    }
}
