//! The email normalizer (SPEC §5) and the Zoom path segment built from it. Invariants: no panic;
//! a parsed email is already normal (parsing it again is the identity), within 254 bytes, has one
//! '@', no whitespace or control characters, and encodes to one path segment that decodes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoom_sso_revoker::email::Email;
use zoom_sso_revoker::zoom::client::user_segment;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(email) = Email::parse(s) else { return };
    let text = email.as_str();
    assert!(text.len() <= 254, "{text:?}");
    assert_eq!(text.matches('@').count(), 1, "{text:?}");
    assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()), "{text:?}");
    assert_eq!(Email::parse(text).as_ref(), Ok(&email), "normalization is not idempotent for {s:?}");
    let seg = user_segment(&email);
    assert!(!seg.contains(['/', '?', '#']), "{seg}");
    assert_eq!(percent_encoding::percent_decode_str(&seg).decode_utf8().expect("utf-8"), text);
});
