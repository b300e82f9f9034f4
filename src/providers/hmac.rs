//! The generic `hmac` preset: every parameter of the shared verifier is a setting (SPEC §3).
//! Defaults are GitHub's `X-Hub-Signature-256: sha256=<hex>` over the body.

use super::pointer::PointerParser;
use super::verify::{
    Algorithm, Authenticator, Encoding, HmacScheme, SignatureFormat, SignedContent, TimestampRule, TimestampUnit,
};
use super::{PayloadParser, SourceOptions};
use crate::config::ConfigError;
use axum::http::HeaderName;
use secrecy::{ExposeSecret, SecretSlice};
use std::time::Duration;

/// Parses a header name setting.
pub fn header(opts: &SourceOptions, suffix: &str, default: &str) -> Result<HeaderName, ConfigError> {
    let v = opts.get(suffix).unwrap_or(default);
    HeaderName::from_bytes(v.to_ascii_lowercase().as_bytes())
        .map_err(|_| opts.invalid(suffix, format!("{v:?} is not a valid HTTP header name")))
}

/// Keys used as the secret's UTF-8 bytes (the convention of every HMAC sender but Standard
/// Webhooks).
pub fn utf8_keys(opts: &SourceOptions) -> Result<Vec<SecretSlice<u8>>, ConfigError> {
    Ok(opts.secrets()?.iter().map(|s| SecretSlice::from(s.expose_secret().as_bytes().to_vec())).collect())
}

pub fn build(opts: &SourceOptions) -> Result<(Authenticator, Box<dyn PayloadParser>), ConfigError> {
    let encoding = match opts.get("SIGNATURE_ENCODING") {
        None => Encoding::Hex,
        Some(v) => Encoding::parse(v)
            .ok_or_else(|| opts.invalid("SIGNATURE_ENCODING", format!("{v:?}: expected hex, base64 or base64url")))?,
    };
    let algorithm = match opts.get("ALGORITHM") {
        None => Algorithm::Sha256,
        Some(v) => Algorithm::parse(v)
            .ok_or_else(|| opts.invalid("ALGORITHM", format!("{v:?}: expected sha256, sha1 or sha512")))?,
    };
    let content = match opts.get("SIGNED_CONTENT") {
        None => SignedContent::Body,
        Some(v) => SignedContent::parse(v).ok_or_else(|| {
            opts.invalid(
                "SIGNED_CONTENT",
                format!(
                    "{v:?}: expected {{body}}, {{timestamp}}.{{body}}, {{id}}.{{timestamp}}.{{body}} or {{body}}{{timestamp}}"
                ),
            )
        })?,
    };
    let timestamp = match opts.get("TIMESTAMP_HEADER") {
        None => None,
        Some(_) => {
            let unit = match opts.get("TIMESTAMP_UNIT") {
                None => TimestampUnit::Seconds,
                Some(v) => TimestampUnit::parse(v)
                    .ok_or_else(|| opts.invalid("TIMESTAMP_UNIT", format!("{v:?}: expected s or ms")))?,
            };
            let tolerance = opts.parse::<u64>("TOLERANCE_SECS")?.unwrap_or(300);
            Some(TimestampRule {
                headers: vec![header(opts, "TIMESTAMP_HEADER", "")?],
                unit,
                tolerance: Duration::from_secs(tolerance),
            })
        }
    };
    if content != SignedContent::Body && timestamp.is_none() {
        return Err(opts.invalid("SIGNED_CONTENT", "signs a timestamp, so TIMESTAMP_HEADER must be set"));
    }
    let id_headers = match opts.get("ID_HEADER") {
        None => vec![],
        Some(_) => vec![header(opts, "ID_HEADER", "")?],
    };
    if content == SignedContent::IdTimestampBody && id_headers.is_empty() {
        return Err(opts.invalid("SIGNED_CONTENT", "signs an id, so ID_HEADER must be set"));
    }
    let scheme = HmacScheme {
        signature_headers: vec![header(opts, "SIGNATURE_HEADER", "x-hub-signature-256")?],
        // An empty setting means "unset", so a bare signature (Merge, BambooHR) is spelled `none`.
        format: SignatureFormat::Prefixed {
            prefix: match opts.get("SIGNATURE_PREFIX") {
                None => "sha256=".to_string(),
                Some(p) if p.eq_ignore_ascii_case("none") => String::new(),
                Some(p) => p.to_string(),
            },
        },
        encoding,
        algorithm,
        content,
        timestamp,
        id_headers,
        keys: utf8_keys(opts)?,
    };
    let parser = PointerParser {
        email_pointer: opts.pointer("EMAIL_POINTER")?.unwrap_or_else(|| "/email".into()),
        event_type_pointer: opts.pointer("EVENT_TYPE_POINTER")?,
        event_types: opts.list("EVENT_TYPES").unwrap_or_default(),
        event_id_pointer: opts.pointer("EVENT_ID_POINTER")?,
        occurred_at_pointer: None,
    };
    if !parser.event_types.is_empty() && parser.event_type_pointer.is_none() {
        return Err(opts.invalid("EVENT_TYPES", "is set, so EVENT_TYPE_POINTER must say where the type is"));
    }
    Ok((Authenticator::Hmac(scheme), Box::new(parser)))
}
