//! What a Zoom answer means for the job (SPEC §4 "Outcomes"), and `Retry-After` in all its forms.

use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 204: the token is revoked.
    Revoked,
    /// 404 with code 1001: the person has no Zoom user. Terminal, not an error.
    NotFound,
    /// Other 4xx: terminal at once, with Zoom's code and message (no retry storm).
    Failed { status: u16, code: Option<i64>, message: String },
    /// 429: retry no earlier than `until` (None: back off); `daily` for the daily quota.
    RateLimited { until: Option<SystemTime>, daily: bool, message: String },
    /// 5xx, timeout, connection error, token endpoint trouble: retry with backoff.
    Transient { status: Option<u16>, message: String },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Revoked => "revoked",
            Outcome::NotFound => "not_found",
            Outcome::Failed { .. } => "failed",
            Outcome::RateLimited { .. } => "rate_limited",
            Outcome::Transient { .. } => "transient",
        }
    }
}

/// Zoom's error body: `{"code": <int>, "message": <string>}`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ZoomError {
    pub code: Option<i64>,
    pub message: Option<String>,
}

pub fn parse_error_body(body: &[u8]) -> ZoomError {
    serde_json::from_slice(body).unwrap_or_default()
}

/// Classifies a revoke response. `retry_after` and `rate_limit_type` are the raw headers.
pub fn classify(
    status: u16,
    body: &[u8],
    retry_after: Option<&str>,
    rate_limit_type: Option<&str>,
    now: SystemTime,
) -> (Outcome, Option<i64>) {
    let err = parse_error_body(body);
    let message =
        err.message.clone().unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    let outcome = match status {
        200..=299 => Outcome::Revoked,
        404 if err.code == Some(1001) => Outcome::NotFound,
        429 => {
            let daily = rate_limit_type.is_some_and(|t| t.eq_ignore_ascii_case("daily-limit"));
            let until =
                retry_after.and_then(|v| parse_retry_after(v, now)).or_else(|| daily.then(|| next_utc_midnight(now)));
            Outcome::RateLimited { until, daily, message }
        }
        500..=599 => Outcome::Transient { status: Some(status), message },
        _ => Outcome::Failed { status, code: err.code, message },
    };
    (outcome, err.code)
}

/// The longest wait a `Retry-After` can impose. Zoom's longest legitimate one is the daily limit
/// (until the next UTC midnight, under a day); anything further is a broken header, and honouring
/// it would park the job past the retry policy's age limit, or overflow the clock.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as delta-seconds, an HTTP-date, or ISO-8601/RFC 3339 (Zoom sends the latter),
/// capped at [`MAX_RETRY_AFTER`] from `now`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<SystemTime> {
    let v = value.trim();
    let latest = now + MAX_RETRY_AFTER;
    if let Ok(secs) = v.parse::<u64>() {
        // Added only after capping: a huge delta must not overflow the clock (found by fuzzing).
        return Some(now + Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    if let Ok(t) = httpdate::parse_http_date(v) {
        return Some(t.min(latest));
    }
    if let Ok(t) = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        return Some(SystemTime::from(t).min(latest));
    }
    // ISO-8601 without seconds' fraction or zone designator forms Zoom has been seen to send.
    time::PrimitiveDateTime::parse(v, &time::format_description::well_known::Iso8601::DEFAULT)
        .ok()
        .map(|t| SystemTime::from(t.assume_utc()).min(latest))
}

pub fn next_utc_midnight(now: SystemTime) -> SystemTime {
    let secs = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs((secs / 86_400 + 1) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        assert_eq!(parse_retry_after("3", now), Some(now + Duration::from_secs(3)));
        let http = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(parse_retry_after(&http, now), Some(now + Duration::from_secs(10)));
        // An hour before that midnight: within the one-day cap.
        let iso =
            parse_retry_after("2026-12-04T00:00:00Z", SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_338_800))
                .unwrap();
        assert_eq!(iso.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_796_342_400);
        assert!(parse_retry_after("soon", now).is_none());
    }

    /// Regression (fuzz/artifacts: retry_after crash): a delta that overflows the clock panicked
    /// the worker task; far-future dates parked the job for years. Both are capped at a day.
    #[test]
    fn retry_after_is_capped() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_000_000);
        let day = now + MAX_RETRY_AFTER;
        assert_eq!(parse_retry_after("11111111111111111111", now), Some(day));
        assert_eq!(parse_retry_after(&u64::MAX.to_string(), now), Some(day));
        assert_eq!(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now), Some(day));
        assert_eq!(parse_retry_after("9999-12-31T23:59:59Z", now), Some(day));
        assert_eq!(parse_retry_after("9999-12-31T23:59:59", now), Some(day));
        assert_eq!(parse_retry_after("86399", now), Some(now + Duration::from_secs(86_399)));
        // The exact input the fuzzer found: status selector, header, Zoom error body.
        let (o, _) = classify(
            429,
            br#"{"odn":1001                                 ,"me"#,
            Some("11111111111111111111"),
            Some("11111111111111111111"),
            now,
        );
        assert!(matches!(o, Outcome::RateLimited { until: Some(t), .. } if t == day));
    }

    #[test]
    fn classification() {
        let now = SystemTime::now();
        assert_eq!(classify(204, b"", None, None, now).0, Outcome::Revoked);
        assert_eq!(
            classify(404, br#"{"code":1001,"message":"User does not exist: a@b.c."}"#, None, None, now).0,
            Outcome::NotFound
        );
        assert!(matches!(
            classify(404, br#"{"code":1002,"message":"x"}"#, None, None, now).0,
            Outcome::Failed { status: 404, code: Some(1002), .. }
        ));
        assert!(matches!(
            classify(403, br#"{"code":4711,"message":"scopes"}"#, None, None, now).0,
            Outcome::Failed { status: 403, .. }
        ));
        assert!(matches!(classify(503, b"", None, None, now).0, Outcome::Transient { status: Some(503), .. }));
        let (o, _) = classify(429, b"{}", None, Some("Daily-limit"), now);
        assert_eq!(o, Outcome::RateLimited { until: Some(next_utc_midnight(now)), daily: true, message: "{}".into() });
        let (o, _) = classify(429, b"{}", Some("5"), None, now);
        assert!(
            matches!(o, Outcome::RateLimited { until: Some(t), daily: false, .. } if t == now + Duration::from_secs(5))
        );
    }
}
