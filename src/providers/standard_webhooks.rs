//! Standard Webhooks (standardwebhooks.com; Svix, Clerk and others): `webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64> …` (or the `svix-*` spelling), HMAC-SHA256
//! of `{id}.{timestamp}.{body}` keyed with the base64 behind `whsec_`. The payload format is the
//! sender's, so the email and type are pointers with Standard Webhooks' recommended shape
//! (`{type, timestamp, data}`) as the default.

use super::pointer::PointerParser;
use super::verify::{
    Algorithm, Encoding, HmacScheme, SignatureFormat, SignedContent, TimestampRule, TimestampUnit, decode_whsec,
};
use super::{Authenticator, PayloadParser, SourceOptions};
use crate::config::ConfigError;
use axum::http::HeaderName;
use secrecy::{ExposeSecret, SecretSlice};

pub const DEFAULT_EVENT_TYPES: &[&str] = &["user.deleted", "user.disabled", "user.deactivated", "user.suspended"];
/// The reference libraries' window, both directions.
const TOLERANCE_SECS: u64 = 300;
/// The spec asks for 24–64 random bytes; 16 is the floor below which a key is refused, because a
/// lenient or mistyped secret (pitfall: `whsec_xyz!`) would otherwise give a guessable key.
pub const MIN_KEY_BYTES: usize = 16;

pub fn build(opts: &SourceOptions) -> Result<(Authenticator, Box<dyn PayloadParser>), ConfigError> {
    opts.reject(&["SIGNATURE_HEADER"], "Standard Webhooks always uses webhook-signature (or svix-signature)")?;
    opts.reject(&["EVENT_ID_POINTER"], "the event id is the signed webhook-id header, which senders repeat on retry")?;
    let mut keys = Vec::new();
    for (i, secret) in opts.secrets()?.iter().enumerate() {
        let key = decode_whsec(secret.expose_secret(), MIN_KEY_BYTES)
            .map_err(|e| opts.invalid("SECRET", format!("secret #{}: {e}", i + 1)))?;
        keys.push(SecretSlice::from(key));
    }
    let h = HeaderName::from_static;
    let scheme = HmacScheme {
        signature_headers: vec![h("webhook-signature"), h("svix-signature")],
        format: SignatureFormat::VersionedList { version: "v1".into() },
        encoding: Encoding::Base64,
        algorithm: Algorithm::Sha256,
        content: SignedContent::IdTimestampBody,
        timestamp: Some(TimestampRule {
            headers: vec![h("webhook-timestamp"), h("svix-timestamp")],
            unit: TimestampUnit::Seconds,
            tolerance: opts.tolerance(TOLERANCE_SECS)?,
        }),
        // `webhook-id` is the idempotency key: the parser uses it as the event id.
        id_headers: vec![h("webhook-id"), h("svix-id")],
        keys,
    };
    let parser = PointerParser {
        email_pointer: opts.pointer("EMAIL_POINTER")?.unwrap_or_else(|| "/data/email".into()),
        event_type_pointer: Some(opts.pointer("EVENT_TYPE_POINTER")?.unwrap_or_else(|| "/type".into())),
        event_types: opts
            .list("EVENT_TYPES")
            .unwrap_or_else(|| DEFAULT_EVENT_TYPES.iter().map(|s| s.to_string()).collect()),
        event_id_pointer: None,
        occurred_at_pointer: Some("/timestamp".into()),
    };
    Ok((Authenticator::Hmac(scheme), Box::new(parser)))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{EventKind, Source, SourceOptions};
    use crate::config::ConfigError;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn sample_payload_and_dedupe_on_webhook_id() {
        let src = source("standard-webhooks", SECRET, &[]);
        let body = fixture("payloads/standard-webhooks-user.deleted.json");
        let now = std::time::SystemTime::now();
        let headers: Vec<(String, String)> =
            src.sign(&body, now, "msg_2abc").into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let verified = src.auth.verify_at(raw(&headers, &body), now).unwrap();
        let ev = src.parser.parse(&verified).unwrap().remove(0);
        assert_eq!(ev.event_id, "msg_2abc");
        assert_eq!(ev.occurred_at.as_deref(), Some("2026-12-03T16:00:00Z"));
        assert_eq!(deprovision_email(&ev).unwrap(), "ana.silva@example.com");
        let other = br#"{"type":"user.created","data":{"email":"a@example.com"}}"#;
        assert!(matches!(src.parser.parse(&hook(&[], other)).unwrap()[0].kind, EventKind::Ignored(_)));
    }

    #[test]
    fn short_or_non_base64_secrets_are_refused_at_start_up() {
        for bad in ["whsec_c2hvcnQ=", "whsec_not base64!", "whsec_", "plain-text-secret"] {
            let err =
                Source::from_options(&SourceOptions::new("sw", &[("PROVIDER", "standard-webhooks"), ("SECRET", bad)]))
                    .unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { var, .. } | ConfigError::Missing { var } if var == "WEBHOOK_SW_SECRET"),
                "{bad}: {err}"
            );
        }
        // The second of two secrets is checked too.
        let err = Source::from_options(&SourceOptions::new(
            "sw",
            &[("PROVIDER", "standard-webhooks"), ("SECRET", &format!("{SECRET},whsec_c2hvcnQ="))],
        ))
        .unwrap_err();
        assert!(err.to_string().contains("WEBHOOK_SW_SECRET") && err.to_string().contains("#2"), "{err}");
    }

    /// The negative cases of the reference libraries' tests (reference §3.4), on vector B.
    #[test]
    fn reference_negative_cases() {
        use super::super::AuthError;
        use std::time::{Duration, UNIX_EPOCH};
        let src = source("standard-webhooks", SECRET, &[]);
        let body = br#"{"test": 2432232314}"#;
        let now = UNIX_EPOCH + Duration::from_secs(1614265330);
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let req = |sig: &str, id: Option<&str>, ts: Option<&str>| {
            let mut h = vec![("webhook-signature", sig)];
            h.extend(id.map(|v| ("webhook-id", v)));
            h.extend(ts.map(|v| ("webhook-timestamp", v)));
            raw(&h, body)
        };
        let (id, ts) = (Some("msg_p5jXN8AQM9LWM0D4loKWxJek"), Some("1614265330"));
        let verify = |r| src.auth.verify_at(r, now);
        let junk = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        assert!(verify(req(&format!("{junk} v2,{} {good}", &good[3..]), id, ts)).is_ok());
        assert_eq!(verify(req(&format!("{junk} v2,{}", &good[3..]), id, ts)).unwrap_err(), AuthError::BadSignature);
        assert!(verify(req("v1,", id, ts)).is_err());
        assert!(verify(req(&good[..8], id, ts)).is_err());
        assert_eq!(verify(req(good, None, ts)).unwrap_err(), AuthError::MissingId);
        assert_eq!(verify(req(good, id, None)).unwrap_err(), AuthError::MissingTimestamp);
        assert_eq!(
            src.auth
                .verify_at(raw(&[("webhook-id", id.unwrap()), ("webhook-timestamp", ts.unwrap())], body), now)
                .unwrap_err(),
            AuthError::MissingSignature
        );
        assert_eq!(
            src.auth.verify_at(req(good, id, ts), now + Duration::from_secs(301)).unwrap_err(),
            AuthError::StaleTimestamp
        );
        assert_eq!(
            src.auth.verify_at(req(good, id, ts), now - Duration::from_secs(301)).unwrap_err(),
            AuthError::FutureTimestamp
        );
    }

    /// Signatures made by the official `standardwebhooks` crate verify here, with either header
    /// spelling, and ours verify there.
    #[test]
    fn cross_check_with_the_standardwebhooks_crate() {
        let theirs = standardwebhooks::Webhook::new(SECRET).unwrap();
        let ours = source("standard-webhooks", SECRET, &[]);
        let body = fixture("payloads/standard-webhooks-user.deleted.json");
        let now = std::time::SystemTime::now();
        let ts = now.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let sig = theirs.sign("msg_cross", ts, &body).unwrap();
        for prefix in ["webhook", "svix"] {
            let ts = ts.to_string();
            let headers = [
                (format!("{prefix}-id"), "msg_cross"),
                (format!("{prefix}-timestamp"), ts.as_str()),
                (format!("{prefix}-signature"), sig.as_str()),
            ];
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            assert!(ours.auth.verify_at(raw(&headers, &body), now).is_ok(), "{prefix}-*");
        }
        let mut map = axum::http::HeaderMap::new();
        for (k, v) in ours.sign(&body, now, "msg_ours") {
            map.insert(axum::http::HeaderName::from_bytes(k.as_str().as_bytes()).unwrap(), v.parse().unwrap());
        }
        theirs.verify(&body, &map).expect("the reference library accepts our signature");
    }
}
