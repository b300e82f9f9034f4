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
