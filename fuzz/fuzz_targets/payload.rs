//! Payload parsers (Okta batches, the JSON-pointer parser of the generic presets) on arbitrary
//! bytes, then the email normalizer and the Zoom path segment on whatever they extract.
//! Invariants: no panic; a valid email always becomes exactly one path segment.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use std::time::UNIX_EPOCH;
use zoom_sso_revoker::email::Email;
use zoom_sso_revoker::providers::okta::{DEFAULT_EVENT_TYPES, OktaParser};
use zoom_sso_revoker::providers::pointer::PointerParser;
use zoom_sso_revoker::providers::{Authenticator, EventKind, PayloadParser, RawWebhook};
use zoom_sso_revoker::zoom::client::user_segment;

fuzz_target!(|data: &[u8]| {
    // The parsers only take a verified webhook; verify it with a known shared secret.
    let auth = Authenticator::SharedSecretHeader {
        header: HeaderName::from_static("authorization"),
        secrets: vec![SecretString::from("s".to_string())],
    };
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static("s"));
    let raw = RawWebhook {
        source: "fuzz".into(),
        headers,
        body: bytes::Bytes::copy_from_slice(data),
        received_at: UNIX_EPOCH,
    };
    let hook = auth.verify_at(raw, UNIX_EPOCH).expect("right secret");
    let okta = OktaParser { event_types: DEFAULT_EVENT_TYPES.iter().map(|s| s.to_string()).collect() };
    let pointer = PointerParser {
        email_pointer: "/data/email".into(),
        event_type_pointer: Some("/type".into()),
        event_types: vec!["user.disabled".into()],
        event_id_pointer: Some("/id".into()),
        occurred_at_pointer: Some("/at".into()),
    };
    let any_type = PointerParser {
        email_pointer: "/email".into(),
        event_type_pointer: None,
        event_types: vec![],
        event_id_pointer: None,
        occurred_at_pointer: None,
    };
    for parser in [&okta as &dyn PayloadParser, &pointer, &any_type] {
        let Ok(events) = parser.parse(&hook) else { continue };
        for ev in events {
            if let EventKind::Deprovision(Ok(raw_email)) = ev.kind
                && let Ok(email) = Email::parse(&raw_email)
            {
                let seg = user_segment(&email);
                assert!(!seg.contains(['/', '?', '#']), "{seg}");
                let back = percent_encoding::percent_decode_str(&seg).decode_utf8().expect("utf-8");
                assert_eq!(back, email.as_str());
            }
        }
    }
});
