//! Okta Event Hooks: a shared-secret header, a one-time GET challenge, and batches of System Log
//! events whose *target* (never the actor, who is the admin) is the person.

use super::hmac::header;
use super::{EventKind, ParseError, ParsedEvent, PayloadParser, SourceOptions, VerifiedWebhook};
use crate::config::ConfigError;
use crate::providers::Authenticator;
use crate::providers::pointer::scalar_text;
use axum::http::HeaderMap;
use serde_json::{Value, json};

pub const DEFAULT_EVENT_TYPES: &[&str] = &[
    "user.lifecycle.deactivate",
    "user.lifecycle.suspend",
    "user.lifecycle.delete.initiated",
    "user.account.lock",
    "user.session.clear",
];

#[derive(Debug)]
pub struct OktaParser {
    pub event_types: Vec<String>,
}

pub fn build(opts: &SourceOptions) -> Result<(Authenticator, Box<dyn PayloadParser>), ConfigError> {
    let auth = Authenticator::SharedSecretHeader {
        header: header(opts, "SIGNATURE_HEADER", "authorization")?,
        secrets: opts.secrets()?,
    };
    let event_types =
        opts.list("EVENT_TYPES").unwrap_or_else(|| DEFAULT_EVENT_TYPES.iter().map(|s| s.to_string()).collect());
    Ok((auth, Box::new(OktaParser { event_types })))
}

/// Okta's one-time verification: echo `X-Okta-Verification-Challenge` as `{"verification": …}`.
pub fn handshake(headers: &HeaderMap) -> Option<Value> {
    let v = headers.get("x-okta-verification-challenge")?.to_str().ok()?;
    Some(json!({ "verification": v }))
}

impl PayloadParser for OktaParser {
    fn parse(&self, hook: &VerifiedWebhook) -> Result<Vec<ParsedEvent>, ParseError> {
        let json = hook.json()?;
        let events = json
            .pointer("/data/events")
            .and_then(Value::as_array)
            .ok_or_else(|| ParseError("no data.events array".into()))?;
        let mut out = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            let event_id = ev
                .get("uuid")
                .and_then(scalar_text)
                .ok_or_else(|| ParseError(format!("data.events[{i}] has no uuid")))?;
            let event_type = ev.get("eventType").and_then(Value::as_str).unwrap_or_default().to_string();
            let occurred_at = ev.get("published").and_then(Value::as_str).map(str::to_string);
            let result = ev.pointer("/outcome/result").and_then(Value::as_str).unwrap_or_default();
            let kind = if !self.event_types.contains(&event_type) {
                EventKind::Ignored(format!("event type {event_type:?} is not a deprovisioning type for this source"))
            } else if result != "SUCCESS" {
                EventKind::Ignored(format!("outcome.result is {result:?}, not SUCCESS"))
            } else {
                let target = ev
                    .get("target")
                    .and_then(Value::as_array)
                    .and_then(|ts| ts.iter().find(|t| t.get("type").and_then(Value::as_str) == Some("User")));
                EventKind::Deprovision(match target.and_then(|t| t.get("alternateId")) {
                    Some(Value::String(s)) => Ok(s.clone()),
                    Some(_) => Err("target User alternateId is not a string".into()),
                    None => Err("no target of type User with an alternateId".into()),
                })
            };
            out.push(ParsedEvent { event_id, event_type, occurred_at, kind });
        }
        Ok(out)
    }
}
