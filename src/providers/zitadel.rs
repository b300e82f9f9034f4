//! ZITADEL Actions v2 event targets: `ZITADEL-Signature: t=<s>,v1=<hex>[,v1=…]` over
//! `{t}.{body}`. Its user events (`user.deactivated`, `user.locked`, `user.removed`) carry only
//! the user's id (`aggregateID`; `userID` is the admin who acted), so until an id→email resolver
//! exists (SPEC §11) the email must come from `EMAIL_POINTER`, which is required.

use super::hmac::{header, utf8_keys};
use super::pointer::{Fields, inline_embedded_json, text_at};
use super::verify::{HmacScheme, TimestampUnit};
use super::{Authenticator, EventKind, ParseError, ParsedEvent, PayloadParser, SourceOptions, VerifiedWebhook};
use crate::config::ConfigError;
use axum::http::HeaderName;
use serde_json::Value;

pub const DEFAULT_EVENT_TYPES: &[&str] = &["user.deactivated", "user.locked", "user.removed"];
/// zitadel-go's `DefaultTolerance`; we also refuse timestamps that far in the future.
const TOLERANCE_SECS: u64 = 300;

pub fn build(opts: &SourceOptions) -> Result<(Authenticator, Box<dyn PayloadParser>), ConfigError> {
    // zitadel-go and ZITADEL's own samples read `ZITADEL-Signature`; the API reference names
    // it `X-ZITADEL-Signature`. Both are accepted unless the header is set explicitly.
    let signature_headers = match opts.get("SIGNATURE_HEADER") {
        Some(_) => vec![header(opts, "SIGNATURE_HEADER", "")?],
        None => vec![HeaderName::from_static("zitadel-signature"), HeaderName::from_static("x-zitadel-signature")],
    };
    let scheme = HmacScheme::stripe_style(
        signature_headers,
        TimestampUnit::Seconds,
        opts.tolerance(TOLERANCE_SECS)?,
        utf8_keys(opts)?,
    );

    let fields = Fields::from_options(opts, "/event_type", DEFAULT_EVENT_TYPES)?;
    if fields.email_override.is_none() {
        // Starting without it would accept every event and revoke no one.
        return Err(opts.invalid(
            "EMAIL_POINTER",
            "is required for zitadel: ZITADEL user events carry only the user id (aggregateID), not the \
             email; point it at the email in the payload, e.g. /event_payload/email (see docs/providers/zitadel.md)",
        ));
    }
    Ok((Authenticator::Hmac(scheme), Box::new(ZitadelParser { fields })))
}

#[derive(Debug)]
pub struct ZitadelParser {
    pub fields: Fields,
}

impl PayloadParser for ZitadelParser {
    fn parse(&self, hook: &VerifiedWebhook) -> Result<Vec<ParsedEvent>, ParseError> {
        let mut json = hook.json()?;
        // `event_payload` is a Go []byte, i.e. base64 of JSON; pointers may reach inside it.
        inline_embedded_json(&mut json, "event_payload");
        let event_type = self.fields.event_type(&json)?;
        // No documented event id: the affected user plus the aggregate's sequence is unique and
        // the same on every delivery of the event.
        let event_id = self.fields.event_id(&json, || {
            Some(format!("{}:{}", text_at(&json, "/aggregateID")?, text_at(&json, "/sequence")?))
        })?;
        let occurred_at = json.get("created_at").and_then(Value::as_str).map(str::to_string);
        let kind = match self.fields.unlisted(&event_type) {
            Some(ignored) => ignored,
            None => EventKind::Deprovision(self.fields.email(&json, || Err("ZITADEL events carry no email".into()))),
        };
        Ok(vec![ParsedEvent { event_id, event_type, occurred_at, kind }])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{EventKind, Source, SourceOptions};

    #[test]
    fn email_pointer_is_required() {
        let err =
            Source::from_options(&SourceOptions::new("z", &[("PROVIDER", "zitadel"), ("SECRET", "k")])).unwrap_err();
        assert!(err.to_string().starts_with("WEBHOOK_Z_EMAIL_POINTER"), "{err}");
    }

    #[test]
    fn sample_payloads() {
        let src = source("zitadel", "k", &[("EMAIL_POINTER", "/event_payload/email")]);
        // The stock deactivation carries ids only: recorded with a reason, never the actor's id.
        let ev = parse_one(&src, &[], "zitadel-user.deactivated.json");
        assert_eq!(ev.event_id, "313014806065971608:7");
        assert_eq!(ev.event_type, "user.deactivated");
        assert!(deprovision_email(&ev).unwrap_err().contains("/event_payload/email"));
        // A base64 event_payload is decoded so the pointer reaches inside it.
        let ev = parse_one(&src, &[], "zitadel-user.locked-with-payload.json");
        assert_eq!(ev.event_id, "313014806065971608:8");
        assert_eq!(deprovision_email(&ev).unwrap(), "Kim.Lee@example.com");
        let other = br#"{"aggregateID":"1","sequence":2,"event_type":"user.reactivated"}"#;
        assert!(matches!(src.parser.parse(&hook(&[], other)).unwrap()[0].kind, EventKind::Ignored(_)));
    }

    #[test]
    fn several_v1_signatures_any_may_match() {
        let src = source("zitadel", "old,new", &[("EMAIL_POINTER", "/e")]);
        let body = b"{}";
        let now = std::time::SystemTime::now();
        let signed = src.sign(body, now, "")[0].1.clone();
        let (ts, sig) = signed.split_once(',').unwrap();
        let header = format!("{ts},v1=nothex,v1={},{sig}", "0".repeat(64));
        assert!(src.auth.verify_at(raw(&[("zitadel-signature", &header)], body), now).is_ok());
        let header = format!("{ts},v1={}", "0".repeat(64));
        assert!(src.auth.verify_at(raw(&[("zitadel-signature", &header)], body), now).is_err());
        // The spelling of ZITADEL's API reference is accepted too.
        assert!(src.auth.verify_at(raw(&[("x-zitadel-signature", &signed)], body), now).is_ok());
    }
}
