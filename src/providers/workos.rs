//! WorkOS Directory Sync events: `WorkOS-Signature: t=<ms>, v1=<hex>` over `{t}.{body}`, and
//! one event per request whose `data` is the directory user.

use super::hmac::{header, utf8_keys};
use super::pointer::{Fields, first_email, primary_email};
use super::verify::{HmacScheme, TimestampUnit};
use super::{Authenticator, EventKind, ParseError, ParsedEvent, PayloadParser, SourceOptions, VerifiedWebhook};
use crate::config::ConfigError;
use serde_json::Value;

pub const DEFAULT_EVENT_TYPES: &[&str] = &["dsync.user.deleted", "dsync.user.updated"];
/// `suspended` was merged into `inactive` on 2023-12-11; older senders still use it.
const INACTIVE_STATES: &[&str] = &["inactive", "suspended"];
/// The SDKs' window (workos-python checks it in both directions, as we do).
const TOLERANCE_SECS: u64 = 180;

pub fn build(opts: &SourceOptions) -> Result<(Authenticator, Box<dyn PayloadParser>), ConfigError> {
    // The timestamp is the `t=` entry of the signature header, in milliseconds.
    let scheme = HmacScheme::stripe_style(
        vec![header(opts, "SIGNATURE_HEADER", "workos-signature")?],
        TimestampUnit::Millis,
        opts.tolerance(TOLERANCE_SECS)?,
        utf8_keys(opts)?,
    );

    let fields = Fields::from_options(opts, "/event", DEFAULT_EVENT_TYPES)?;
    Ok((Authenticator::Hmac(scheme), Box::new(WorkosParser { fields })))
}

#[derive(Debug)]
pub struct WorkosParser {
    pub fields: Fields,
}

impl PayloadParser for WorkosParser {
    fn parse(&self, hook: &VerifiedWebhook) -> Result<Vec<ParsedEvent>, ParseError> {
        let json = hook.json()?;
        let event_type = self.fields.event_type(&json)?;
        let event_id = self.fields.event_id(&json, || json.get("id").and_then(super::pointer::scalar_text))?;
        let occurred_at = json.get("created_at").and_then(Value::as_str).map(str::to_string);
        let kind = if let Some(ignored) = self.fields.unlisted(&event_type) {
            ignored
        } else if event_type.ends_with(".updated") && !is_inactive(&json) {
            // An update is a deprovisioning only when it leaves the user inactive.
            EventKind::Ignored("updated user is not inactive or suspended".into())
        } else {
            EventKind::Deprovision(self.fields.email(&json, || email(&json)))
        };
        Ok(vec![ParsedEvent { event_id, event_type, occurred_at, kind }])
    }
}

fn is_inactive(json: &Value) -> bool {
    json.pointer("/data/state").and_then(Value::as_str).is_some_and(|s| INACTIVE_STATES.contains(&s))
}

/// `data.email` (current payloads), else the *primary* entry of `data.emails[]` (older payloads)
/// or of `data.custom_attributes.emails[]`.
fn email(json: &Value) -> Result<String, String> {
    first_email(json, &["/data/email"])
        .ok()
        .or_else(|| primary_email(json, "/data/emails"))
        .or_else(|| primary_email(json, "/data/custom_attributes/emails"))
        .ok_or_else(|| "no data.email and no primary entry in data.emails[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{AuthError, EventKind};
    use std::time::{Duration, SystemTime};

    #[test]
    fn sample_payloads() {
        let src = source("workos", "s", &[]);
        let ev = parse_one(&src, &[], "workos-dsync.user.deleted.json");
        assert_eq!(ev.event_id, "event_09FKJ843CVE8F7BXQSPFH0M53V");
        assert_eq!(ev.event_type, "dsync.user.deleted");
        assert_eq!(deprovision_email(&ev).unwrap(), "lela.block@example.com");
        // Older shape: the primary entry of data.emails[], never the alias listed before it.
        let ev = parse_one(&src, &[], "workos-dsync.user.updated-legacy.json");
        assert_eq!(ev.event_id, "wh_123");
        assert_eq!(deprovision_email(&ev).unwrap(), "Blair.Lunceford@example.com");
        let ev = parse_one(&src, &[], "workos-dsync.user.updated-active.json");
        assert!(matches!(ev.kind, EventKind::Ignored(_)), "{ev:?}");
    }

    #[test]
    fn no_primary_email_is_no_email() {
        let src = source("workos", "s", &[]);
        let body = br#"{"id":"e","event":"dsync.user.deleted","data":{"emails":[{"primary":false,"value":"alias@example.com"}]}}"#;
        let ev = src.parser.parse(&hook(&[], body)).unwrap().remove(0);
        assert!(deprovision_email(&ev).is_err());
    }

    #[test]
    fn overrides() {
        let src = source(
            "workos",
            "s",
            &[("EVENT_TYPES", "user.deleted"), ("EMAIL_POINTER", "/data/mail"), ("EVENT_ID_POINTER", "/data/id")],
        );
        let body = br#"{"id":"e","event":"user.deleted","data":{"id":"u1","mail":"x@example.com"}}"#;
        let ev = src.parser.parse(&hook(&[], body)).unwrap().remove(0);
        assert_eq!((ev.event_id.as_str(), deprovision_email(&ev).unwrap().as_str()), ("u1", "x@example.com"));
    }

    #[test]
    fn millisecond_timestamps_and_both_directions() {
        let src = source("workos", "s", &[]);
        let body = b"{}";
        let now = SystemTime::now();
        let sign_at = |t: SystemTime| {
            let h = src.sign(body, t, "");
            raw(&[(h[0].0.as_str(), h[0].1.as_str())], body)
        };
        assert!(sign_at(now).headers.get("workos-signature").unwrap().to_str().unwrap().starts_with("t=1"));
        assert!(src.auth.verify_at(sign_at(now - Duration::from_secs(170)), now).is_ok());
        assert_eq!(
            src.auth.verify_at(sign_at(now - Duration::from_secs(190)), now).unwrap_err(),
            AuthError::StaleTimestamp
        );
        assert_eq!(
            src.auth.verify_at(sign_at(now + Duration::from_secs(190)), now).unwrap_err(),
            AuthError::FutureTimestamp
        );
        // Without the space after the comma (workos-node tolerates it; so do we).
        let h = src.sign(body, now, "")[0].1.replace(", ", ",");
        assert!(src.auth.verify_at(raw(&[("workos-signature", h.as_str())], body), now).is_ok());
        // A seconds timestamp is never read as milliseconds-in-range: it is 1970, i.e. stale.
        let (t, v1) = h.split_once(',').unwrap();
        let secs = t.trim_start_matches("t=").parse::<u64>().unwrap() / 1000;
        let h = format!("t={secs},{v1}");
        assert_eq!(
            src.auth.verify_at(raw(&[("workos-signature", h.as_str())], body), now).unwrap_err(),
            AuthError::StaleTimestamp
        );
    }
}
