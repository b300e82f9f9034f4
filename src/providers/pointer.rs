//! A payload parser driven by JSON pointers: one event per request. Used by the generic `hmac`
//! preset and by any preset whose payload is "one event, email somewhere".

use super::{EventKind, ParseError, ParsedEvent, PayloadParser, VerifiedWebhook};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct PointerParser {
    pub email_pointer: String,
    /// Where the event type is; `None` means the request has no type (every request counts).
    pub event_type_pointer: Option<String>,
    /// Deprovisioning types; empty means every event.
    pub event_types: Vec<String>,
    /// Where the event id is, when the scheme has no delivery-id header.
    pub event_id_pointer: Option<String>,
    pub occurred_at_pointer: Option<String>,
}

/// A JSON value as text for ids and types: strings as-is, numbers printed.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl PayloadParser for PointerParser {
    fn parse(&self, hook: &VerifiedWebhook) -> Result<Vec<ParsedEvent>, ParseError> {
        let json = hook.json()?;
        let event_type = match &self.event_type_pointer {
            None => String::new(),
            Some(p) => json
                .pointer(p)
                .and_then(scalar_text)
                .ok_or_else(|| ParseError(format!("no event type (string) at {p}")))?,
        };
        // Delivery id first (it is what the sender repeats on retry), then the pointer, then the
        // body's hash: a byte-identical retry is still recognised as a duplicate.
        let event_id = match (hook.delivery_id(), &self.event_id_pointer) {
            (Some(id), _) => id.to_string(),
            (None, Some(p)) => {
                json.pointer(p).and_then(scalar_text).ok_or_else(|| ParseError(format!("no event id at {p}")))?
            }
            (None, None) => format!("sha256:{}", hex::encode(Sha256::digest(hook.body()))),
        };
        let occurred_at = self.occurred_at_pointer.as_ref().and_then(|p| json.pointer(p)).and_then(scalar_text);
        let kind = if !self.event_types.is_empty() && !self.event_types.contains(&event_type) {
            EventKind::Ignored(format!("event type {event_type:?} is not a deprovisioning type for this source"))
        } else {
            EventKind::Deprovision(match json.pointer(&self.email_pointer) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(format!("value at {} is not a string", self.email_pointer)),
                None => Err(format!("no email at {}", self.email_pointer)),
            })
        };
        Ok(vec![ParsedEvent { event_id, event_type, occurred_at, kind }])
    }
}
