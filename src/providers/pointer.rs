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

/// The overridable fields of a single-event preset (SPEC §3: `EVENT_TYPE_POINTER`,
/// `EVENT_TYPES`, `EVENT_ID_POINTER`, `EMAIL_POINTER`). Each preset supplies its defaults and
/// keeps its own logic for what the defaults cannot express (conditions, fallbacks, ids).
#[derive(Debug, Clone)]
pub struct Fields {
    pub type_pointer: String,
    pub event_types: Vec<String>,
    /// `EVENT_ID_POINTER` when set; otherwise the preset's own id.
    pub id_override: Option<String>,
    /// `EMAIL_POINTER` when set; otherwise the preset's own lookup.
    pub email_override: Option<String>,
}

impl Fields {
    pub fn from_options(
        opts: &super::SourceOptions,
        type_pointer: &str,
        event_types: &[&str],
    ) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            type_pointer: opts.pointer("EVENT_TYPE_POINTER")?.unwrap_or_else(|| type_pointer.to_string()),
            event_types: opts
                .list("EVENT_TYPES")
                .unwrap_or_else(|| event_types.iter().map(|s| s.to_string()).collect()),
            id_override: opts.pointer("EVENT_ID_POINTER")?,
            email_override: opts.pointer("EMAIL_POINTER")?,
        })
    }

    pub fn event_type(&self, json: &Value) -> Result<String, ParseError> {
        text_at(json, &self.type_pointer).ok_or_else(|| ParseError(format!("no event type at {}", self.type_pointer)))
    }

    /// `Some(Ignored)` when `event_type` is not one of this source's deprovisioning types.
    pub fn unlisted(&self, event_type: &str) -> Option<EventKind> {
        (!self.event_types.iter().any(|t| t == event_type)).then(|| {
            EventKind::Ignored(format!("event type {event_type:?} is not a deprovisioning type for this source"))
        })
    }

    /// The id at `EVENT_ID_POINTER` if set, else the preset's `default`.
    pub fn event_id(&self, json: &Value, default: impl FnOnce() -> Option<String>) -> Result<String, ParseError> {
        match &self.id_override {
            Some(p) => text_at(json, p).ok_or_else(|| ParseError(format!("no event id at {p}"))),
            None => default().ok_or_else(|| ParseError("no event id in the payload".into())),
        }
    }

    /// The email at `EMAIL_POINTER` if set, else the preset's `default` lookup.
    pub fn email(&self, json: &Value, default: impl FnOnce() -> Result<String, String>) -> Result<String, String> {
        match &self.email_override {
            Some(p) => first_email(json, &[p.as_str()]),
            None => default(),
        }
    }
}

/// A scalar at `pointer` as text.
pub fn text_at(json: &Value, pointer: &str) -> Option<String> {
    json.pointer(pointer).and_then(scalar_text)
}

/// The first string found at one of `pointers`, or why none was.
pub fn first_email(json: &Value, pointers: &[&str]) -> Result<String, String> {
    pointers
        .iter()
        .find_map(|p| json.pointer(p).and_then(Value::as_str).filter(|s| !s.trim().is_empty()))
        .map(str::to_string)
        .ok_or_else(|| format!("no email at {}", pointers.join(" or ")))
}

/// The `value` of the entry with `primary: true` in the array at `pointer` — never another
/// entry, which may be an alias of someone else's mailbox.
pub fn primary_email(json: &Value, pointer: &str) -> Option<String> {
    json.pointer(pointer)?
        .as_array()?
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .and_then(|e| e.get("value").and_then(Value::as_str))
        .map(str::to_string)
}

/// Replaces a field that holds JSON *as a string* (Keycloak's `representation`, ZITADEL's
/// base64 `event_payload`) with the parsed value, so pointers can reach inside it. A string that
/// is neither JSON nor base64 of JSON is left as it is.
pub fn inline_embedded_json(json: &mut Value, field: &str) {
    use base64::Engine as _;
    let Some(Value::String(text)) = json.get(field) else { return };
    let parsed = serde_json::from_str::<Value>(text).ok().filter(|v| v.is_object() || v.is_array()).or_else(|| {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    });
    if let Some(v) = parsed {
        json[field] = v;
    }
}
