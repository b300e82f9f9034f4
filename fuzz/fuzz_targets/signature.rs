//! Signature-header parsing and verification (the generic verifier every preset configures).
//!
//! Input: a selector byte, then header values and a body separated by 0xFF. Invariants: no panic
//! on any header text; random headers never authenticate; and what `sign` produces for the body
//! always verifies (so parsing accepts every format the schemes emit).
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secrecy::{SecretSlice, SecretString};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zoom_sso_revoker::providers::RawWebhook;
use zoom_sso_revoker::providers::verify::{
    Algorithm, Authenticator, Encoding, HmacScheme, SignatureFormat, SignedContent, TimestampRule, TimestampUnit,
};

fn key() -> Vec<SecretSlice<u8>> {
    vec![SecretSlice::from(b"fuzz-secret-one".to_vec()), SecretSlice::from(b"fuzz-secret-two".to_vec())]
}

fn scheme(which: u8) -> Authenticator {
    let h = HeaderName::from_static;
    let ts =
        |headers: Vec<HeaderName>, unit| Some(TimestampRule { headers, unit, tolerance: Duration::from_secs(300) });
    match which % 6 {
        0 => Authenticator::SharedSecretHeader {
            header: h("authorization"),
            secrets: vec![SecretString::from("okta-secret".to_string()), SecretString::from("other".to_string())],
        },
        // GitHub style.
        1 => Authenticator::Hmac(HmacScheme {
            signature_headers: vec![h("x-hub-signature-256")],
            format: SignatureFormat::Prefixed { prefix: "sha256=".into() },
            encoding: Encoding::Hex,
            algorithm: Algorithm::Sha256,
            content: SignedContent::Body,
            timestamp: None,
            id_headers: vec![],
            keys: key(),
        }),
        // WorkOS style: t=<ms>, v1=<hex> in one header.
        2 => Authenticator::Hmac(HmacScheme {
            signature_headers: vec![h("workos-signature")],
            format: SignatureFormat::KeyValue { timestamp_key: "t".into(), signature_key: "v1".into() },
            encoding: Encoding::Hex,
            algorithm: Algorithm::Sha256,
            content: SignedContent::TimestampBody,
            timestamp: ts(vec![], TimestampUnit::Millis),
            id_headers: vec![],
            keys: key(),
        }),
        // Standard Webhooks: id + timestamp headers, "v1,<base64>" list.
        3 => Authenticator::Hmac(HmacScheme {
            signature_headers: vec![h("webhook-signature"), h("svix-signature")],
            format: SignatureFormat::VersionedList { version: "v1".into() },
            encoding: Encoding::Base64,
            algorithm: Algorithm::Sha256,
            content: SignedContent::IdTimestampBody,
            timestamp: ts(vec![h("webhook-timestamp"), h("svix-timestamp")], TimestampUnit::Seconds),
            id_headers: vec![h("webhook-id"), h("svix-id")],
            keys: key(),
        }),
        4 => Authenticator::Hmac(HmacScheme {
            signature_headers: vec![h("x-signature")],
            format: SignatureFormat::Prefixed { prefix: String::new() },
            encoding: Encoding::Base64Url,
            algorithm: Algorithm::Sha1,
            content: SignedContent::TimestampBody,
            timestamp: ts(vec![h("x-timestamp")], TimestampUnit::Seconds),
            id_headers: vec![],
            keys: key(),
        }),
        _ => Authenticator::Hmac(HmacScheme {
            signature_headers: vec![h("x-signature")],
            format: SignatureFormat::Prefixed { prefix: "sha512=".into() },
            encoding: Encoding::Base64,
            algorithm: Algorithm::Sha512,
            content: SignedContent::Body,
            timestamp: None,
            id_headers: vec![],
            keys: key(),
        }),
    }
}

const HEADERS: [&str; 9] = [
    "authorization",
    "x-hub-signature-256",
    "workos-signature",
    "webhook-signature",
    "webhook-timestamp",
    "webhook-id",
    "x-signature",
    "x-timestamp",
    "svix-signature",
];

fn raw(headers: HeaderMap, body: &[u8]) -> RawWebhook {
    RawWebhook { source: "fuzz".into(), headers, body: bytes::Bytes::copy_from_slice(body), received_at: UNIX_EPOCH }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let auth = scheme(sel);
    let now = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let mut parts = rest.split(|b| *b == 0xFF);
    let body = parts.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for (i, value) in parts.enumerate() {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(HEADERS[(i + sel as usize / 6) % HEADERS.len()]), v);
        }
    }
    let forged = auth.verify_at(raw(headers, body), now);
    // A random header equal to a shared secret is possible in principle; an HMAC match is not.
    if let (Ok(_), Authenticator::Hmac(_)) = (&forged, &auth) {
        panic!("random headers authenticated");
    }

    // Round trip: whatever the body, the headers `sign` makes are accepted at the same time.
    let id: String =
        String::from_utf8_lossy(&rest[..rest.len().min(16)]).chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let id = if id.is_empty() { "msg_1".to_string() } else { id };
    let mut signed = HeaderMap::new();
    for (name, value) in auth.sign(body, now, &id) {
        signed.append(name, HeaderValue::from_str(&value).expect("signed header values are ASCII"));
    }
    if let Err(e) = auth.verify_at(raw(signed, body), now) {
        panic!("own signature rejected: {e}");
    }
    let _ = SystemTime::now();
});
