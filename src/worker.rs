//! The worker (SPEC §2.6): claim due jobs under a lease → wait for the rate limiter → call Zoom →
//! record the attempt and the job's next step. Woken at once by ingest; polls only as a fallback.

use crate::config::WorkerConfig;
use crate::retry::RetryPolicy;
use crate::store::{AttemptRecord, ClaimedJob, DynStore, JobState, NextStep, now_ms};
use crate::telemetry::metrics;
use crate::zoom::{Limiter, Outcome, ZoomClient};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, warn};

/// Longest a 429 pauses the whole limiter; longer waits live in the job's next-run time.
const MAX_GLOBAL_PAUSE: Duration = Duration::from_secs(30);
/// Pause of the whole limiter after a 429 without `Retry-After`.
const DEFAULT_429_PAUSE: Duration = Duration::from_secs(1);

pub struct Worker {
    pub store: DynStore,
    /// `None` in dry-run mode: no Zoom call is ever made.
    pub zoom: Option<Arc<ZoomClient>>,
    pub limiter: Arc<Limiter>,
    pub retry: RetryPolicy,
    pub cfg: WorkerConfig,
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Runs until `shutdown`. Then no new call starts; calls in flight get
    /// `WorkerConfig::shutdown_grace` to finish, after which they are abandoned and their jobs
    /// released (pending again, the attempt uncounted) so the next process takes them at once
    /// instead of after the lease. At most one call is thus repeated, never lost.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(self.cfg.concurrency));
        let tasks = TaskTracker::new();
        let hard_stop = CancellationToken::new();
        loop {
            // Interest is registered before the query, so an enqueue between the query and the
            // wait still wakes us.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            // `biased`: once shutdown is requested no further job is claimed, even when a
            // permit is free at the same moment.
            let first = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
            };
            let limit = 1 + permits.available_permits() as u32;
            // Taken before the claim, so it is never later than the lease the store records.
            let lease_end = Instant::now() + self.cfg.lease;
            let jobs = match self.store.claim(now_ms(), self.cfg.lease, limit).await {
                Ok(j) => j,
                Err(e) => {
                    warn!(error = %e, "claiming jobs failed; retrying after the poll interval");
                    drop(first);
                    tokio::select! {
                        _ = tokio::time::sleep(self.cfg.poll_interval) => continue,
                        _ = shutdown.cancelled() => break,
                    }
                }
            };
            if jobs.is_empty() {
                drop(first);
                let wait = match self.store.next_due_ms().await {
                    Ok(Some(due)) => Duration::from_millis((due - now_ms()).max(0) as u64).min(self.cfg.poll_interval),
                    _ => self.cfg.poll_interval,
                };
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => break,
                }
                continue;
            }
            let mut first = Some(first);
            let mut jobs = jobs.into_iter();
            while let Some(job) = jobs.next() {
                let permit = match first.take() {
                    Some(p) => p,
                    None => tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => {
                            // Claimed but never started: hand them straight back.
                            for j in std::iter::once(job).chain(jobs.by_ref()) {
                                self.release(&j).await;
                            }
                            break;
                        }
                        p = permits.clone().acquire_owned() => p.expect("semaphore never closed"),
                    },
                };
                let me = self.clone();
                let span = tracing::info_span!("attempt", job_id = %job.id, attempt = job.attempts);
                let (soft, hard) = (shutdown.clone(), hard_stop.clone());
                tasks.spawn(
                    async move {
                        me.process(job, lease_end, soft, hard).await;
                        drop(permit);
                    }
                    .instrument(span),
                );
            }
        }
        tasks.close();
        if tokio::time::timeout(self.cfg.shutdown_grace, tasks.wait()).await.is_err() {
            warn!(
                grace_secs = self.cfg.shutdown_grace.as_secs_f64(),
                in_flight = tasks.len(),
                "shutdown grace elapsed; releasing the jobs of unfinished Zoom calls"
            );
            hard_stop.cancel();
            tasks.wait().await;
        }
    }

    /// Hands a claimed job back (see [`Worker::run`]).
    async fn release(&self, job: &ClaimedJob) {
        match self.store.release(job, now_ms()).await {
            Ok(true) => info!(job_id = %job.id, "job released for the next process"),
            Ok(false) => {}
            Err(e) => {
                warn!(job_id = %job.id, error = %e, "releasing the job failed; it is retried when its lease expires")
            }
        }
    }

    async fn process(
        &self,
        job: ClaimedJob,
        lease_end: Instant,
        shutdown: CancellationToken,
        hard_stop: CancellationToken,
    ) {
        // A call that has not started when shutdown begins is not started at all. A long wait
        // for a call slot (a 429 pause, a low ceiling, many replicas) must not outlast the lease:
        // another worker would claim the job and both would call. So the lease is renewed while
        // we wait, and a job claimed by someone else meanwhile is left to them.
        let mut lease_end = lease_end;
        let slot = self.limiter.acquire();
        tokio::pin!(slot);
        loop {
            let renew_at = lease_end.checked_sub(self.cfg.call_budget).unwrap_or_else(Instant::now);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return self.release(&job).await,
                _ = &mut slot => break,
                _ = tokio::time::sleep_until(renew_at.into()) => {
                    let until = Instant::now() + self.cfg.lease;
                    match self.store.renew_lease(&job, now_ms() + self.cfg.lease.as_millis() as i64).await {
                        Ok(true) => lease_end = until,
                        Ok(false) => {
                            warn!("another worker claimed the job while it waited for a call slot; leaving it to them");
                            return;
                        }
                        Err(e) => {
                            warn!(error = %e, "renewing the lease failed; the job will be retried when it expires");
                            return;
                        }
                    }
                }
            }
        }
        let started_ms = now_ms();
        let (record, next) = match &self.zoom {
            None => (
                AttemptRecord {
                    started_at_ms: started_ms,
                    duration_ms: 0,
                    http_status: None,
                    zoom_code: None,
                    outcome: "dry_run".into(),
                    error: None,
                },
                NextStep::Finish(JobState::DryRun),
            ),
            Some(zoom) => {
                let report = tokio::select! {
                    biased;
                    // Past the shutdown grace: abandon the call (Zoom may or may not have acted;
                    // revoking twice is harmless) and let the next process redo it.
                    _ = hard_stop.cancelled() => return self.release(&job).await,
                    r = zoom.revoke(&job.email) => r,
                };
                metrics::zoom_call(report.duration, report.outcome.label());
                if matches!(report.outcome, Outcome::RateLimited { .. }) {
                    metrics::rate_limited();
                }
                let next = self.next_step(&job, &report.outcome);
                let error = match &report.outcome {
                    Outcome::Revoked | Outcome::NotFound => None,
                    Outcome::Failed { message, .. }
                    | Outcome::RateLimited { message, .. }
                    | Outcome::Transient { message, .. } => Some(message.clone()),
                };
                let outcome = match next {
                    NextStep::Finish(s) => s.as_str().to_string(),
                    NextStep::RetryAt(_) => format!("retry ({})", report.outcome.label()),
                };
                (
                    AttemptRecord {
                        started_at_ms: started_ms,
                        duration_ms: report.duration.as_millis() as i64,
                        http_status: report.http_status,
                        zoom_code: report.zoom_code,
                        outcome,
                        error,
                    },
                    next,
                )
            }
        };
        info!(outcome = %record.outcome, status = ?record.http_status, zoom_code = ?record.zoom_code, duration_ms = record.duration_ms, "zoom attempt");
        metrics::revocation(match next {
            NextStep::Finish(s) => s.as_str(),
            NextStep::RetryAt(_) => "retry",
        });
        if next == NextStep::Finish(JobState::Revoked) {
            metrics::time_to_revoke((now_ms() - job.created_at_ms) as f64 / 1000.0);
        }
        match self.store.complete(&job, record, next).await {
            Ok(true) => {}
            Ok(false) => warn!("lease lost before completion; the newer claim's result stands"),
            Err(e) => warn!(error = %e, "recording the attempt failed; the lease will expire and the job be retried"),
        }
        // A rerun or an early retry may be due now.
        self.wake.notify_one();
    }

    fn next_step(&self, job: &ClaimedJob, outcome: &Outcome) -> NextStep {
        let now = SystemTime::now();
        let age = Duration::from_millis((now_ms() - job.created_at_ms).max(0) as u64);
        let retry_at = |at: SystemTime| {
            if self.retry.exhausted(job.attempts, age) {
                NextStep::Finish(JobState::Dead)
            } else {
                NextStep::RetryAt(crate::store::to_ms(at))
            }
        };
        match outcome {
            Outcome::Revoked => NextStep::Finish(JobState::Revoked),
            Outcome::NotFound => NextStep::Finish(JobState::NotFound),
            Outcome::Failed { .. } => NextStep::Finish(JobState::Failed),
            Outcome::RateLimited { until, .. } => {
                let until = until.unwrap_or(now + self.retry.delay(job.attempts));
                self.limiter.pause_until(until.max(now + DEFAULT_429_PAUSE), MAX_GLOBAL_PAUSE);
                retry_at(until)
            }
            Outcome::Transient { .. } => retry_at(now + self.retry.delay(job.attempts)),
        }
    }
}
