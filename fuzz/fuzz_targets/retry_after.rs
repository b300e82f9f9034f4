//! Zoom's `Retry-After` (delta-seconds, HTTP-date, ISO-8601) and the classification of any
//! response: Zoom's answers are input too. Invariant: no panic on any header or body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};
use zoom_sso_revoker::zoom::outcome::classify;

fuzz_target!(|data: &[u8]| {
    let Some((&status, rest)) = data.split_first() else { return };
    let now = UNIX_EPOCH + Duration::from_secs(1_780_000_000);
    let text = String::from_utf8_lossy(rest);
    let (header, body) = text.split_once('\n').unwrap_or((&text, ""));
    let status = [204, 400, 401, 403, 404, 429, 500, 503][status as usize % 8];
    let _ = classify(status, body.as_bytes(), Some(header), Some(header), now);
    let _ = zoom_sso_revoker::zoom::parse_retry_after(header, now);
});
