//! Keycloak with the p2-inc keycloak-events webhook listener: `X-Keycloak-Signature: <hex>` of
//! HMAC-SHA256 (or legacy SHA-1) over the body, no timestamp. Admin events carry the changed user
//! as `representation`, a JSON document *inside a JSON string*; `authDetails` is the admin who
//! acted and is never read.

use super::hmac::{header, utf8_keys};
use super::pointer::{Fields, first_email, inline_embedded_json, scalar_text};
use super::verify::{Algorithm, Encoding, HmacScheme, SignatureFormat, SignedContent};
use super::{Authenticator, EventKind, ParseError, ParsedEvent, PayloadParser, SourceOptions, VerifiedWebhook};
use crate::config::ConfigError;
use serde_json::Value;

pub const DEFAULT_EVENT_TYPES: &[&str] = &["admin.USER-DELETE", "admin.USER-UPDATE", "access.DELETE_ACCOUNT"];

pub fn build(opts: &SourceOptions) -> Result<(Authenticator, Box<dyn PayloadParser>), ConfigError> {
    let algorithm = match opts.get("ALGORITHM") {
        None => Algorithm::Sha256,
        // The listener's `HmacSHA1` option exists for old installations.
        Some(v) => match Algorithm::parse(v) {
            Some(a @ (Algorithm::Sha256 | Algorithm::Sha1)) => a,
            _ => return Err(opts.invalid("ALGORITHM", format!("{v:?}: expected sha256 or sha1"))),
        },
    };
    let scheme = HmacScheme {
        signature_headers: vec![header(opts, "SIGNATURE_HEADER", "x-keycloak-signature")?],
        // Bare hex, no prefix.
        format: SignatureFormat::Prefixed { prefix: String::new() },
        encoding: Encoding::Hex,
        algorithm,
        content: SignedContent::Body,
        timestamp: None,
        id_headers: vec![],
        keys: utf8_keys(opts)?,
    };
    let fields = Fields::from_options(opts, "/type", DEFAULT_EVENT_TYPES)?;
    Ok((Authenticator::Hmac(scheme), Box::new(KeycloakParser { fields })))
}

#[derive(Debug)]
pub struct KeycloakParser {
    pub fields: Fields,
}

impl PayloadParser for KeycloakParser {
    fn parse(&self, hook: &VerifiedWebhook) -> Result<Vec<ParsedEvent>, ParseError> {
        let mut json = hook.json()?;
        inline_embedded_json(&mut json, "representation");
        let event_type = self.fields.event_type(&json)?;
        // `id` is Keycloak's event id, the same on every retry; `uid` is new per send and only
        // a fallback for payloads without `id`.
        let event_id =
            self.fields.event_id(&json, || json.get("id").or_else(|| json.get("uid")).and_then(scalar_text))?;
        let occurred_at = json.get("time").and_then(Value::as_i64).and_then(rfc3339_from_millis);
        let kind = if let Some(ignored) = self.fields.unlisted(&event_type) {
            ignored
        } else if event_type.ends_with("USER-UPDATE")
            && json.pointer("/representation/enabled").and_then(Value::as_bool) != Some(false)
        {
            // Only an update that leaves the user disabled matters; without "Include
            // representation" on the admin events we cannot tell, so it is not guessed.
            EventKind::Ignored("USER-UPDATE whose representation does not have enabled:false".into())
        } else {
            EventKind::Deprovision(self.fields.email(&json, || email(&json)))
        };
        Ok(vec![ParsedEvent { event_id, event_type, occurred_at, kind }])
    }
}

/// The user's own email from the representation, else from the event details (user events);
/// `details.username` only when it is an email address (realms that log in by email).
fn email(json: &Value) -> Result<String, String> {
    first_email(json, &["/representation/email", "/details/email"]).or_else(|e| {
        json.pointer("/details/username")
            .and_then(Value::as_str)
            .filter(|u| u.contains('@'))
            .map(str::to_string)
            .ok_or_else(|| format!("{e}, and details.username is not an email (an id→email resolver is not built yet)"))
    })
}

fn rfc3339_from_millis(ms: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{EventKind, Source, SourceOptions};

    #[test]
    fn sample_payloads() {
        let src = source("keycloak", "A3jt6D8lz", &[]);
        let ev = parse_one(&src, &[], "keycloak-admin.USER-UPDATE-disabled.json");
        assert_eq!(ev.event_id, "c1d5b2f0-8a57-4f3e-9f5a-0b6a8d5e7c21");
        assert_eq!(ev.occurred_at.as_deref(), Some("2023-11-14T22:13:20.123Z"));
        // From the representation (a JSON string), never authDetails (the admin).
        assert_eq!(deprovision_email(&ev).unwrap(), "M.Garcia@example.com");
        let ev = parse_one(&src, &[], "keycloak-admin.USER-UPDATE-enabled.json");
        assert!(matches!(ev.kind, EventKind::Ignored(_)), "{ev:?}");
        let ev = parse_one(&src, &[], "keycloak-admin.USER-DELETE.json");
        assert_eq!(deprovision_email(&ev).unwrap(), "M.Garcia@example.com");
        let ev = parse_one(&src, &[], "keycloak-access.DELETE_ACCOUNT.json");
        assert_eq!(ev.event_type, "access.DELETE_ACCOUNT");
        assert_eq!(deprovision_email(&ev).unwrap(), "m.garcia@example.com");
    }

    #[test]
    fn delete_without_email_is_recorded_with_a_reason() {
        let src = source("keycloak", "k", &[]);
        let body = br#"{"id":"1","type":"admin.USER-DELETE","details":{"userId":"u"},"authDetails":{"username":"admin@example.com"}}"#;
        let ev = src.parser.parse(&hook(&[], body)).unwrap().remove(0);
        assert!(deprovision_email(&ev).unwrap_err().contains("resolver"));
    }

    #[test]
    fn sha1_option_and_lockout_types() {
        let src = source(
            "keycloak",
            "k",
            &[("ALGORITHM", "sha1"), ("EVENT_TYPES", "access.USER_DISABLED_BY_PERMANENT_LOCKOUT")],
        );
        let body =
            br#"{"id":"2","type":"access.USER_DISABLED_BY_PERMANENT_LOCKOUT","details":{"email":"l@example.com"}}"#;
        let h = src.sign(body, std::time::SystemTime::now(), "");
        assert_eq!(h[0].1.len(), 40, "SHA-1 hex");
        assert!(src.auth.verify(raw(&[(h[0].0.as_str(), h[0].1.as_str())], body)).is_ok());
        assert_eq!(deprovision_email(&src.parser.parse(&hook(&[], body)).unwrap()[0]).unwrap(), "l@example.com");
        let err = Source::from_options(&SourceOptions::new(
            "k",
            &[("PROVIDER", "keycloak"), ("SECRET", "k"), ("ALGORITHM", "sha512")],
        ));
        assert!(err.unwrap_err().to_string().contains("WEBHOOK_K_ALGORITHM"));
    }
}
