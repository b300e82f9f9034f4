//! Google Workspace Admin SDK (Directory API) push notifications on users. No signature: the
//! channel's `token` comes back in `X-Goog-Channel-Token` and is compared in constant time. What
//! happened is a header (`X-Goog-Resource-State`); the body is the user (`primaryEmail`). The
//! `sync` message that opens every channel has no body and is answered 200 without a job.

use super::pointer::{Fields, first_email};
use super::{Authenticator, EventKind, ParseError, ParsedEvent, PayloadParser, SourceOptions, VerifiedWebhook};
use crate::config::ConfigError;
use axum::http::{HeaderMap, HeaderName};
use serde_json::Value;

pub const DEFAULT_EVENT_TYPES: &[&str] = &["delete", "update"];
pub const TOKEN_HEADER: &str = "x-goog-channel-token";
pub const STATE_HEADER: &str = "x-goog-resource-state";
pub const CHANNEL_HEADER: &str = "x-goog-channel-id";
pub const MESSAGE_HEADER: &str = "x-goog-message-number";

pub fn build(opts: &SourceOptions) -> Result<(Authenticator, Box<dyn PayloadParser>), ConfigError> {
    opts.reject(&["EVENT_TYPE_POINTER"], "Google sends the event type in the X-Goog-Resource-State header")?;
    opts.reject(&["SIGNATURE_HEADER"], "Google always echoes the channel token in X-Goog-Channel-Token")?;
    let auth =
        Authenticator::SharedSecretHeader { header: HeaderName::from_static(TOKEN_HEADER), secrets: opts.secrets()? };
    // The type pointer is never read: the type is a header.
    let fields = Fields::from_options(opts, "/", DEFAULT_EVENT_TYPES)?;
    Ok((auth, Box::new(GoogleParser { fields })))
}

#[derive(Debug)]
pub struct GoogleParser {
    pub fields: Fields,
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    // Google's own example shows a leading space in the value.
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty())
}

impl PayloadParser for GoogleParser {
    fn parse(&self, hook: &VerifiedWebhook) -> Result<Vec<ParsedEvent>, ParseError> {
        let headers = hook.headers();
        let state =
            header_text(headers, STATE_HEADER).ok_or_else(|| ParseError("no X-Goog-Resource-State header".into()))?;
        if state == "sync" {
            // The channel handshake: acknowledge, nothing to do.
            return Ok(vec![]);
        }
        let json = hook.json()?;
        // (channel, message number) is what Google repeats when it retries a message.
        let event_id = self.fields.event_id(&json, || {
            Some(format!("{}:{}", header_text(headers, CHANNEL_HEADER)?, header_text(headers, MESSAGE_HEADER)?))
        })?;
        let kind = if let Some(ignored) = self.fields.unlisted(state) {
            ignored
        } else if state == "update" && json.get("suspended").and_then(Value::as_bool) != Some(true) {
            EventKind::Ignored("update without suspended:true".into())
        } else {
            EventKind::Deprovision(self.fields.email(&json, || first_email(&json, &["/primaryEmail"])))
        };
        Ok(vec![ParsedEvent { event_id, event_type: state.to_string(), occurred_at: None, kind }])
    }
}

/// The headers Google adds besides the token, for `sign`, `demo` and tests: a channel id (the
/// delivery id), a message number, and the state (`update` when the body says `suspended:true`,
/// else `delete`).
pub fn delivery_headers(body: &[u8], delivery_id: &str, now: std::time::SystemTime) -> Vec<(HeaderName, String)> {
    let suspended = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("suspended").and_then(Value::as_bool))
        .unwrap_or(false);
    let number = now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1);
    vec![
        (HeaderName::from_static(CHANNEL_HEADER), delivery_id.to_string()),
        (HeaderName::from_static(MESSAGE_HEADER), number.to_string()),
        (HeaderName::from_static(STATE_HEADER), if suspended { "update" } else { "delete" }.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::{AuthError, EventKind, Source, SourceOptions};

    const HEADERS: &[(&str, &str)] = &[
        ("X-Goog-Channel-ID", "deleteChannel"),
        ("X-Goog-Channel-Token", "245t1234tt83trrt333"),
        ("X-Goog-Resource-ID", "B4ibMJiIhTjAQd7Ff2K2bexk8G4"),
        ("X-Goog-Resource-State", " delete"),
        ("X-Goog-Message-Number", "236440"),
    ];

    #[test]
    fn sample_payload() {
        let src = source("google", "245t1234tt83trrt333", &[]);
        let body = fixture("payloads/google-user-delete.json");
        let verified = src.auth.verify(raw(HEADERS, &body)).unwrap();
        let ev = src.parser.parse(&verified).unwrap().remove(0);
        assert_eq!(ev.event_id, "deleteChannel:236440");
        assert_eq!(ev.event_type, "delete");
        assert_eq!(deprovision_email(&ev).unwrap(), "user@mydomain.com");
        let wrong: Vec<_> = HEADERS
            .iter()
            .map(|&(k, v)| if k == "X-Goog-Channel-Token" { (k, "245t1234tt83trrt334") } else { (k, v) })
            .collect();
        assert_eq!(src.auth.verify(raw(&wrong, &body)).unwrap_err(), AuthError::BadSignature);
    }

    #[test]
    fn sync_is_no_event_and_update_needs_suspended() {
        let src = source("google", "t", &[]);
        let sync = [("x-goog-resource-state", "sync"), ("x-goog-channel-id", "c"), ("x-goog-message-number", "1")];
        assert!(src.parser.parse(&hook(&sync, b"")).unwrap().is_empty());
        let upd = [("x-goog-resource-state", "update"), ("x-goog-channel-id", "c"), ("x-goog-message-number", "9")];
        let ev = src.parser.parse(&hook(&upd, br#"{"primaryEmail":"a@example.com"}"#)).unwrap().remove(0);
        assert!(matches!(ev.kind, EventKind::Ignored(_)));
        let ev =
            src.parser.parse(&hook(&upd, br#"{"primaryEmail":"a@example.com","suspended":true}"#)).unwrap().remove(0);
        assert_eq!(deprovision_email(&ev).unwrap(), "a@example.com");
        let add = [("x-goog-resource-state", "add"), ("x-goog-channel-id", "c"), ("x-goog-message-number", "10")];
        assert!(matches!(src.parser.parse(&hook(&add, b"{}")).unwrap()[0].kind, EventKind::Ignored(_)));
    }

    #[test]
    fn type_pointer_makes_no_sense_here() {
        let err = Source::from_options(&SourceOptions::new(
            "g",
            &[("PROVIDER", "google"), ("SECRET", "t"), ("EVENT_TYPE_POINTER", "/kind")],
        ))
        .unwrap_err();
        assert!(err.to_string().contains("WEBHOOK_G_EVENT_TYPE_POINTER"), "{err}");
    }
}
