//! The outbound rate ceiling (`ZOOM_RATE_LIMIT_PER_SECOND`), shared by every worker task, plus a
//! global pause that a 429 sets so the whole service slows down, not only the job that saw it.
//!
//! One process keeps the ceiling with an in-process bucket. Several replicas (SPEC §7) share a
//! [`CallSchedule`] kept by the store: each call reserves the next free time slot there, so the
//! ceiling holds for the sum of all replicas, and a 429 pushes the next slot out for all of them.

use async_trait::async_trait;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A call schedule shared by every replica (the PostgreSQL store keeps one row for it).
#[async_trait]
pub trait CallSchedule: Send + Sync + 'static {
    /// Reserves the next free call slot, at least `interval` after the previous reservation of
    /// any replica; returns how long to wait for it.
    async fn reserve(&self, interval: Duration) -> anyhow::Result<Duration>;
    /// No slot is handed out to anyone for `pause` from now (a 429 from Zoom).
    async fn push_out(&self, pause: Duration) -> anyhow::Result<()>;
}

pub struct Limiter {
    bucket: DefaultDirectRateLimiter,
    paused_until: Mutex<Option<Instant>>,
    shared: Option<(Arc<dyn CallSchedule>, Duration)>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("shared", &self.shared.is_some()).finish_non_exhaustive()
    }
}

impl Limiter {
    pub fn new(per_second: u32) -> Self {
        let n = NonZeroU32::new(per_second.max(1)).expect("at least 1");
        // Burst of one: calls are spaced evenly, so a Zoom bucket of the same rate never sees
        // more than the ceiling in any window.
        let quota = Quota::per_second(n).allow_burst(NonZeroU32::MIN);
        Self { bucket: RateLimiter::direct(quota), paused_until: Mutex::new(None), shared: None }
    }

    /// A limiter whose ceiling `per_second` is shared with every other process on `schedule`.
    /// The in-process bucket stays as well: it keeps this replica under the ceiling on its own
    /// while the shared schedule is unreachable.
    pub fn shared(per_second: u32, schedule: Arc<dyn CallSchedule>) -> Self {
        // Rounded up, so the spacing never admits more than the ceiling.
        let interval = Duration::from_micros(1_000_000u64.div_ceil(u64::from(per_second.max(1))));
        Self { shared: Some((schedule, interval)), ..Self::new(per_second) }
    }

    /// Waits until a call may be made.
    pub async fn acquire(&self) {
        loop {
            self.wait_for_pause().await;
            self.bucket.until_ready().await;
            let Some((schedule, interval)) = &self.shared else { return };
            match schedule.reserve(*interval).await {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate schedule unreachable; keeping this replica's own ceiling");
                    return;
                }
            }
            // A 429 seen here while this call waited for its slot: take a new slot after the pause.
            if !self.is_paused() {
                return;
            }
        }
    }

    fn is_paused(&self) -> bool {
        self.paused_until.lock().expect("limiter lock").is_some_and(|until| until > Instant::now())
    }

    async fn wait_for_pause(&self) {
        loop {
            let pause = *self.paused_until.lock().expect("limiter lock");
            match pause {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until.into()).await,
                _ => break,
            }
        }
    }

    /// Pauses every caller until `until` (a 429 from Zoom); with a shared schedule, every replica.
    /// Pauses only ever get longer; a pause is capped at `max` so a far Retry-After (a daily
    /// limit) does not freeze the service: those jobs wait through their persisted next-run time.
    pub fn pause_until(&self, until: SystemTime, max: Duration) {
        let wait = until.duration_since(SystemTime::now()).unwrap_or_default().min(max);
        let at = Instant::now() + wait;
        {
            let mut p = self.paused_until.lock().expect("limiter lock");
            if p.is_none_or(|cur| cur < at) {
                *p = Some(at);
            }
        }
        if let Some((schedule, _)) = &self.shared {
            let schedule = schedule.clone();
            tokio::spawn(async move {
                if let Err(e) = schedule.push_out(wait).await {
                    tracing::warn!(error = %e, "could not pause the shared rate schedule; only this replica pauses");
                }
            });
        }
    }
}
