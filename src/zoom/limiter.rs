//! The outbound rate ceiling for this process (`ZOOM_RATE_LIMIT_PER_SECOND`), shared by every
//! worker task, plus a global pause that a 429 sets so the whole service slows down, not only
//! the job that saw it.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

pub struct Limiter {
    bucket: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(per_second: u32) -> Self {
        let n = NonZeroU32::new(per_second.max(1)).expect("at least 1");
        // Burst of one: calls are spaced evenly, so a Zoom bucket of the same rate never sees
        // more than the ceiling in any window.
        let quota = Quota::per_second(n).allow_burst(NonZeroU32::MIN);
        Self { bucket: RateLimiter::direct(quota), paused_until: Mutex::new(None) }
    }

    /// Waits until a call may be made.
    pub async fn acquire(&self) {
        loop {
            let pause = *self.paused_until.lock().expect("limiter lock");
            match pause {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until.into()).await,
                _ => break,
            }
        }
        self.bucket.until_ready().await;
    }

    /// Pauses every caller until `until` (a 429 from Zoom). Pauses only ever get longer; a pause
    /// is capped at `max` so a far Retry-After (a daily limit) does not freeze the process: those
    /// jobs wait through their persisted next-run time instead.
    pub fn pause_until(&self, until: SystemTime, max: Duration) {
        let wait = until.duration_since(SystemTime::now()).unwrap_or_default().min(max);
        let at = Instant::now() + wait;
        let mut p = self.paused_until.lock().expect("limiter lock");
        if p.is_none_or(|cur| cur < at) {
            *p = Some(at);
        }
    }
}
