//! The retry schedule (SPEC §4): exponential backoff with full jitter, capped, with an attempt
//! and an age limit. The worker persists the resulting next-run time, so a restart keeps it.

use rand::Rng;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// A random delay between zero and the exponential bound (spreads a herd of retries).
    Full,
    /// Exactly the exponential bound (predictable; for tests and debugging).
    None,
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub base: Duration,
    pub factor: f64,
    pub max_delay: Duration,
    pub max_attempts: u32,
    pub max_age: Duration,
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            factor: 2.0,
            max_delay: Duration::from_secs(600),
            max_attempts: 20,
            max_age: Duration::from_secs(72 * 3600),
            jitter: Jitter::Full,
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the delay after the `attempt`-th failed attempt (1-based).
    pub fn bound(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(64) as i32);
        let secs = (self.base.as_secs_f64() * exp).min(self.max_delay.as_secs_f64());
        Duration::from_secs_f64(secs.max(0.0))
    }

    /// The delay before the next attempt after the `attempt`-th failed one.
    pub fn delay(&self, attempt: u32) -> Duration {
        let bound = self.bound(attempt);
        match self.jitter {
            Jitter::None => bound,
            Jitter::Full => {
                let ms = bound.as_millis() as u64;
                Duration::from_millis(if ms == 0 { 0 } else { rand::rng().random_range(0..=ms) })
            }
        }
    }

    /// Whether a job that has made `attempts` attempts and is `age` old must stop retrying.
    pub fn exhausted(&self, attempts: u32, age: Duration) -> bool {
        attempts >= self.max_attempts || age >= self.max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let p = RetryPolicy { jitter: Jitter::None, ..Default::default() };
        let d: Vec<_> = (1..=11).map(|a| p.bound(a).as_secs()).collect();
        assert_eq!(d, vec![2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(p.delay(3), Duration::from_secs(8));
        assert_eq!(p.bound(10_000), Duration::from_secs(600));
    }

    #[test]
    fn full_jitter_stays_within_bound() {
        let p = RetryPolicy::default();
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = p.delay(4);
            assert!(d <= Duration::from_secs(16));
            distinct.insert(d);
        }
        assert!(distinct.len() > 10, "jitter must actually spread delays");
    }

    #[test]
    fn exhaustion() {
        let p = RetryPolicy::default();
        assert!(!p.exhausted(19, Duration::from_secs(60)));
        assert!(p.exhausted(20, Duration::from_secs(60)));
        assert!(p.exhausted(1, Duration::from_secs(72 * 3600)));
    }
}
