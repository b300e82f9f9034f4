//! The store contract (SPEC §6, §7), run against every backend: SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set. Several stores opened on one database stand in for replicas.

mod common;

use common::backends::{self, Backend};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zoom_sso_revoker::email::Email;
use zoom_sso_revoker::store::{
    self, AttemptRecord, ClaimedJob, Disposition, DynStore, IngestBatch, JobState, NewEvent, NextStep, RejectedRequest,
    now_ms,
};

/// Every test runs once per backend, each on its own fresh database.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::backends::run(super::Backend::Sqlite, stringify!($name), super::$name).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::backends::run(super::Backend::Postgres, concat!("postgres::", stringify!($name)), super::$name).await;
            })*
        }
    };
}

store_tests!(
    ingest_dedupes_and_coalesces,
    dedupe_and_coalescing_hold_across_replicas,
    expired_lease_is_taken_over_and_late_result_is_fenced,
    event_during_call_runs_the_job_again,
    retry_time_is_persisted_and_respected,
    concurrent_claims_never_share_a_job,
    rejected_requests_are_kept,
    operations_queries_work,
);

fn queue(id: &str, email: &str) -> NewEvent {
    NewEvent {
        event_id: id.to_string(),
        event_type: "user.disabled".into(),
        occurred_at: None,
        email: Some(email.to_string()),
        disposition: Disposition::Queue(Email::parse(email).unwrap()),
    }
}

fn batch(events: Vec<NewEvent>) -> IngestBatch {
    IngestBatch { source: "hr".into(), received_at_ms: now_ms(), events }
}

fn attempt(outcome: &str, status: u16) -> AttemptRecord {
    AttemptRecord {
        started_at_ms: now_ms(),
        duration_ms: 5,
        http_status: Some(status),
        zoom_code: None,
        outcome: outcome.into(),
        error: None,
    }
}

const LEASE: Duration = Duration::from_secs(30);

async fn claim_one(store: &DynStore, at: i64) -> ClaimedJob {
    let mut jobs = store.claim(at, LEASE, 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "expected exactly one due job");
    jobs.pop().unwrap()
}

async fn ingest_dedupes_and_coalesces(url: String) {
    let store = store::connect(&url).await.unwrap();
    let ignored = NewEvent {
        event_id: "e3".into(),
        event_type: "user.disabled".into(),
        occurred_at: None,
        email: Some("boss@example.com".into()),
        disposition: Disposition::Ignore("protected".into()),
    };
    let events = vec![queue("e1", "a@example.com"), queue("e2", "a@example.com"), ignored];
    let first = store.ingest(batch(events.clone())).await.unwrap();
    assert_eq!((first.accepted, first.duplicates, first.ignored), (2, 0, 1));
    let again = store.ingest(batch(events)).await.unwrap();
    assert_eq!((again.accepted, again.duplicates, again.ignored), (0, 3, 0));

    let jobs = store.jobs_for_email("a@example.com").await.unwrap();
    assert_eq!(jobs.len(), 1, "two events for one person coalesce into one job");
    assert_eq!(jobs[0].state, "pending");
    assert!(store.jobs_for_email("boss@example.com").await.unwrap().is_empty());
    assert_eq!(store.count_by_state().await.unwrap(), vec![("pending".to_string(), 1)]);
    assert_eq!(store.job(&jobs[0].id).await.unwrap().unwrap(), jobs[0]);
}

async fn dedupe_and_coalescing_hold_across_replicas(url: String) {
    let replicas: Vec<DynStore> = vec![
        store::connect(&url).await.unwrap(),
        store::connect(&url).await.unwrap(),
        store::connect(&url).await.unwrap(),
    ];
    // The same delivery arrives at every replica many times (a sender retrying through a load
    // balancer), interleaved with distinct events for one person and for many people.
    let mut tasks = Vec::new();
    for i in 0..30 {
        let s = replicas[i % 3].clone();
        tasks.push(tokio::spawn(async move {
            let events = vec![
                queue("same", "dup@example.com"),
                queue(&format!("b{i}"), "b@example.com"),
                queue(&format!("c{i}"), &format!("c{i}@example.com")),
            ];
            s.ingest(batch(events)).await.unwrap()
        }));
    }
    let (mut accepted, mut duplicates) = (0, 0);
    for t in tasks {
        let c = t.await.unwrap();
        accepted += c.accepted;
        duplicates += c.duplicates;
    }
    assert_eq!(accepted, 1 + 30 + 30);
    assert_eq!(duplicates, 29);
    for email in ["dup@example.com", "b@example.com"] {
        let jobs = replicas[0].jobs_for_email(email).await.unwrap();
        assert_eq!(jobs.len(), 1, "{email}: one active job however many replicas saw events");
    }
    assert_eq!(replicas[1].count_by_state().await.unwrap(), vec![("pending".to_string(), 32)]);
}

async fn expired_lease_is_taken_over_and_late_result_is_fenced(url: String) {
    let store = store::connect(&url).await.unwrap();
    store.ingest(batch(vec![queue("e1", "a@example.com")])).await.unwrap();
    let t0 = now_ms();
    let first = store.claim(t0, Duration::from_secs(1), 10).await.unwrap().pop().expect("claimed");
    assert!(store.claim(t0 + 500, LEASE, 10).await.unwrap().is_empty(), "a leased job is not claimable");
    assert_eq!(store.next_due_ms().await.unwrap(), Some(t0 + 1000), "the lease end is when it is due again");

    let second = store.claim(t0 + 1001, LEASE, 10).await.unwrap().pop().expect("expired lease is claimable");
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempts, 2);
    assert_ne!(second.lease_token, first.lease_token);

    // The first owner finishes while the second one still holds the job: fenced out, the job
    // stays the second owner's.
    let early = store.complete(&first, attempt("revoked", 204), NextStep::Finish(JobState::Revoked));
    assert!(!early.await.unwrap(), "a lost lease cannot complete the job");
    let row = store.job(&first.id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.finished_at), ("in_flight", None));

    assert!(store.complete(&second, attempt("revoked", 204), NextStep::Finish(JobState::Revoked)).await.unwrap());
    let settled = store.job(&first.id).await.unwrap().unwrap();
    // The first owner wakes up late with a different answer: recorded, but it changes nothing.
    let late = store.complete(&first, attempt("retry (server error)", 503), NextStep::RetryAt(now_ms() + 60_000));
    assert!(!late.await.unwrap(), "the late result is fenced out");
    assert_eq!(store.job(&first.id).await.unwrap().unwrap(), settled);
    let attempts = store.attempts(&first.id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.http_status).collect::<Vec<_>>(), vec![Some(204), Some(204), Some(503)]);
}

async fn event_during_call_runs_the_job_again(url: String) {
    let store = store::connect(&url).await.unwrap();
    store.ingest(batch(vec![queue("e1", "a@example.com")])).await.unwrap();
    let job = claim_one(&store, now_ms()).await;
    // A new event while the call is in flight attaches to the job and asks for one more run.
    let c = store.ingest(batch(vec![queue("e2", "a@example.com")])).await.unwrap();
    assert_eq!(c.accepted, 1);
    assert_eq!(store.jobs_for_email("a@example.com").await.unwrap().len(), 1);
    assert!(store.complete(&job, attempt("revoked", 204), NextStep::Finish(JobState::Revoked)).await.unwrap());
    let row = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.finished_at), ("pending", None));

    let again = claim_one(&store, now_ms()).await;
    assert_eq!(again.id, job.id);
    assert!(store.complete(&again, attempt("revoked", 204), NextStep::Finish(JobState::Revoked)).await.unwrap());
    assert_eq!(store.job(&job.id).await.unwrap().unwrap().state, "revoked");
    // Finished: the next event for the person starts a new job.
    store.ingest(batch(vec![queue("e3", "a@example.com")])).await.unwrap();
    assert_eq!(store.jobs_for_email("a@example.com").await.unwrap().len(), 2);
}

async fn retry_time_is_persisted_and_respected(url: String) {
    let store = store::connect(&url).await.unwrap();
    store.ingest(batch(vec![queue("e1", "a@example.com")])).await.unwrap();
    let job = claim_one(&store, now_ms()).await;
    let at = now_ms() + 5_000;
    assert!(store.complete(&job, attempt("retry (server error)", 503), NextStep::RetryAt(at)).await.unwrap());
    // A second connection (a restart, or another replica) sees the same schedule.
    let other = store::connect(&url).await.unwrap();
    assert_eq!(other.next_due_ms().await.unwrap(), Some(at));
    assert!(other.claim(at - 1, LEASE, 10).await.unwrap().is_empty());
    let retried = claim_one(&other, at).await;
    assert_eq!(retried.attempts, 2);
    let row = other.job(&job.id).await.unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.last_status), ("in_flight", Some(503)));
}

async fn concurrent_claims_never_share_a_job(url: String) {
    let replicas: Vec<DynStore> = vec![
        store::connect(&url).await.unwrap(),
        store::connect(&url).await.unwrap(),
        store::connect(&url).await.unwrap(),
    ];
    let events = (0..60).map(|i| queue(&format!("e{i}"), &format!("p{i}@example.com"))).collect();
    replicas[0].ingest(batch(events)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..9 {
        let s = replicas[i % 3].clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let jobs = s.claim(now_ms(), LEASE, 4).await.unwrap();
                if jobs.is_empty() {
                    return mine;
                }
                mine.extend(jobs.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(seen.insert(id.clone()), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 60);
}

async fn rejected_requests_are_kept(url: String) {
    let store = store::connect(&url).await.unwrap();
    let req = RejectedRequest {
        source: "hr".into(),
        received_at_ms: now_ms(),
        reason: "no email at /email".into(),
        body: b"{\"not\": \"json\"\xff".to_vec(),
    };
    store.record_rejected(req.clone()).await.unwrap();
    store.record_rejected(req).await.unwrap();
    store.ping().await.unwrap();
}

/// The operations statements (listings, audit, retry, release, retention) on this backend.
async fn operations_queries_work(url: String) {
    use zoom_sso_revoker::store::JobFilter;
    let store = store::connect(&url).await.unwrap();
    let t0 = now_ms();
    store.ingest(batch(vec![queue("e1", "a@example.com"), queue("e2", "b@example.com")])).await.unwrap();
    let a = store.jobs_for_email("a@example.com").await.unwrap().remove(0);
    assert_eq!(store.oldest_active_ms().await.unwrap(), Some(a.created_at));
    let pending = store.list_jobs(&JobFilter { state: Some(JobState::Pending), email: None, limit: 10 }).await.unwrap();
    assert_eq!(pending.len(), 2);
    let only_a = JobFilter { state: None, email: Some("a@example.com".into()), limit: 10 };
    assert_eq!(store.list_jobs(&only_a).await.unwrap(), vec![a.clone()]);
    let events = store.events_for_email("a@example.com").await.unwrap();
    assert_eq!((events.len(), events[0].job_id.as_deref()), (1, Some(a.id.as_str())));
    assert_eq!(store.events_for_job(&a.id).await.unwrap().len(), 1);

    // Released (graceful shutdown): pending again, the claim uncounted; the lease fences it.
    let claimed = store.claim(now_ms(), LEASE, 10).await.unwrap();
    let ja = claimed.iter().find(|j| j.id == a.id).unwrap().clone();
    assert!(store.release(&ja, now_ms()).await.unwrap());
    assert!(!store.release(&ja, now_ms()).await.unwrap(), "a released lease cannot be released twice");
    assert_eq!(store.job(&a.id).await.unwrap().unwrap().attempts, 0);

    // A failed job can be retried once nothing else is active for the person.
    let ja = store.claim(now_ms(), LEASE, 10).await.unwrap().into_iter().find(|j| j.id == a.id).unwrap();
    assert!(store.complete(&ja, attempt("failed", 403), NextStep::Finish(JobState::Failed)).await.unwrap());
    assert!(store.retry_job(&a.id, now_ms()).await.unwrap());
    assert!(!store.retry_job(&a.id, now_ms()).await.unwrap(), "only failed or dead jobs are retried");
    let ja = store.claim(now_ms(), LEASE, 10).await.unwrap().into_iter().find(|j| j.id == a.id).unwrap();
    assert!(store.complete(&ja, attempt("revoked", 204), NextStep::Finish(JobState::Revoked)).await.unwrap());

    store
        .record_rejected(RejectedRequest {
            source: "hr".into(),
            received_at_ms: t0,
            reason: "bad".into(),
            body: vec![0, 159, 255],
        })
        .await
        .unwrap();
    assert_eq!(store.list_rejected(10).await.unwrap()[0].body, vec![0, 159, 255]);

    // Retention removes the finished job with its events and attempts; b's active job stays.
    let pruned = store.prune(now_ms() + 1).await.unwrap();
    assert_eq!((pruned.jobs, pruned.events, pruned.attempts, pruned.rejected), (1, 1, 2, 1));
    assert!(store.job(&a.id).await.unwrap().is_none());
    assert_eq!(store.jobs_for_email("b@example.com").await.unwrap().len(), 1);
}

// ---- PostgreSQL only: what exists because there are several replicas ----

/// A job made pending through one replica wakes the worker of another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_wakes_other_replicas() {
    backends::run(Backend::Postgres, "postgres_notify_wakes_other_replicas", |url| async move {
        let listener = store::connect(&url).await.unwrap();
        let writer = store::connect(&url).await.unwrap();
        let wake = Arc::new(tokio::sync::Notify::new());
        let shutdown = tokio_util::sync::CancellationToken::new();
        listener.listen(wake.clone(), shutdown.clone()).await.unwrap();
        writer.ingest(batch(vec![queue("e1", "a@example.com")])).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), wake.notified()).await.expect("woken by NOTIFY");
        shutdown.cancel();
    })
    .await;
}

/// Two replicas' limiters share one schedule: together they never go faster than the ceiling,
/// and a 429 seen by one pauses the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rate_ceiling_is_shared_by_replicas() {
    backends::run(Backend::Postgres, "postgres_rate_ceiling_is_shared_by_replicas", |url| async move {
        use zoom_sso_revoker::zoom::Limiter;
        let a = store::connect(&url).await.unwrap();
        let b = store::connect(&url).await.unwrap();
        let rate = 20;
        let limiters = [
            Arc::new(Limiter::shared(rate, a.call_schedule().unwrap())),
            Arc::new(Limiter::shared(rate, b.call_schedule().unwrap())),
        ];
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..21 {
            let l = limiters[i % 2].clone();
            tasks.push(tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            }));
        }
        let mut at = Vec::new();
        for t in tasks {
            at.push(t.await.unwrap());
        }
        at.sort();
        // 21 calls at 20/s span at least 20 intervals of 50 ms, whichever replica made them
        // (a few ms of slack for the database round trip after each slot).
        let span = at[20] - at[0];
        assert!(span >= Duration::from_millis(950), "21 calls over two replicas took only {span:?}");
        assert!(start.elapsed() < Duration::from_secs(10));

        // A 429 at replica A: replica B's next call waits for the pause.
        limiters[0].pause_until(std::time::SystemTime::now() + Duration::from_secs(1), Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(200)).await; // the push-out is written in the background
        let t = Instant::now();
        limiters[1].acquire().await;
        assert!(t.elapsed() >= Duration::from_millis(600), "B ignored A's 429 pause: waited {:?}", t.elapsed());
    })
    .await;

    // The SQLite store is one process: no shared schedule, the limiter stays in memory.
    let db = backends::TestDb::create(Backend::Sqlite, "sqlite").await.unwrap();
    assert!(store::connect(&db.url).await.unwrap().call_schedule().is_none());
}

#[test]
fn test_database_urls_keep_server_and_options() {
    use backends::with_database;
    assert_eq!(with_database("postgres://u:p@h:5432/test", "x"), "postgres://u:p@h:5432/x");
    assert_eq!(with_database("postgres://h/test?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
