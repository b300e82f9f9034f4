//! Zoom trouble (SPEC §4, §10): outages (503, timeouts, connection refused), 429 floods, tokens
//! invalidated mid-run, a Zoom slower than the client timeout. Every revocation completes once
//! Zoom is back, and the calls made meanwhile follow the retry schedule: each gap at least the
//! policy's bound for that attempt (jitter off), so their number is what the schedule allows and
//! not a storm.

mod common;

use common::{TestApp, hr_event, okta_batch, okta_event, spawn_app_with};
use std::time::{Duration, Instant};
use zoom_sso_revoker::retry::RetryPolicy;
use zoom_sso_revoker::sim::SimZoom;
use zoom_sso_revoker::store::AttemptRecord;

/// Fast, deterministic schedule: 100 ms, 200 ms, 400 ms, ... (no jitter); a 1 s client timeout.
async fn outage_app() -> TestApp {
    spawn_app_with(|v| {
        common::set(v, "RETRY_BASE_MS", "100");
        common::set(v, "RETRY_FACTOR", "2");
        common::set(v, "RETRY_JITTER", "none");
        common::set(v, "ZOOM_TIMEOUT_SECS", "1");
        common::set(v, "JOB_LEASE_SECS", "3");
    })
    .await
}

async fn send(app: &TestApp, people: &[String]) {
    for (i, p) in people.iter().enumerate() {
        let r = if i % 2 == 0 {
            app.post_signed("okta", &okta_batch(vec![okta_event("user.lifecycle.deactivate", "SUCCESS", p)])).await
        } else {
            app.post_signed("hr", &hr_event(&format!("evt-{p}"), p)).await
        };
        assert_eq!(r.status(), 200, "{p}");
    }
}

fn people(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}@corp.example")).collect()
}

/// A first revocation so a token is cached and the outage hits the revoke calls themselves.
async fn warm_up(app: &TestApp) {
    send(app, &["warmup@corp.example".to_string()]).await;
    assert_eq!(app.wait_terminal("warmup@corp.example").await.state, "revoked");
}

async fn wait_all_revoked(app: &TestApp, people: &[String]) {
    for p in people {
        let job = app
            .wait_job(
                p,
                |j| zoom_sso_revoker::store::JobState::parse(&j.state).is_some_and(|s| s.is_terminal()),
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(job.state, "revoked", "{p}: {job:?}");
    }
}

async fn attempts_of(app: &TestApp, email: &str) -> Vec<AttemptRecord> {
    let job = app.store.jobs_for_email(email).await.unwrap().remove(0);
    app.store.attempts(&job.id).await.unwrap()
}

/// Most failed attempts the schedule allows within `window` (the first one at its start).
fn schedule_max(policy: &RetryPolicy, window: Duration) -> usize {
    let mut elapsed = Duration::ZERO;
    let mut n = 1;
    loop {
        elapsed += policy.bound(n as u32);
        if elapsed > window {
            return n;
        }
        n += 1;
    }
}

/// Every retry waited at least the policy's bound after the failed attempt ended, and the failed
/// attempts made during the outage are no more than the schedule allows in it.
fn assert_follows_schedule(policy: &RetryPolicy, email: &str, attempts: &[AttemptRecord], outage: Duration) {
    let failed = attempts.iter().filter(|a| a.outcome.starts_with("retry")).count();
    assert!(failed >= 2, "{email}: retried during the outage: {attempts:?}");
    for (i, w) in attempts.windows(2).enumerate() {
        let gap = w[1].started_at_ms - (w[0].started_at_ms + w[0].duration_ms);
        let bound = policy.bound(i as u32 + 1).as_millis() as i64;
        // 2 ms: both ends are rounded to whole milliseconds.
        assert!(gap >= bound - 2, "{email}: attempt {} came {gap} ms after attempt {}, bound {bound} ms", i + 2, i + 1);
    }
    let max = schedule_max(policy, outage);
    assert!(failed <= max, "{email}: {failed} failed attempts in {outage:?}; the schedule allows {max}");
}

#[tokio::test]
async fn zoom_503_outage_is_ridden_out_on_the_backoff_schedule() {
    let app = outage_app().await;
    warm_up(&app).await;
    let people = people("outage503-", 6);
    app.zoom.set_outage(Some(503));
    let started = Instant::now();
    send(&app, &people).await;
    // Down long enough for several retries each: 100+200+400+800 ms.
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    app.zoom.set_outage(None);
    let outage = started.elapsed();
    wait_all_revoked(&app, &people).await;

    let during: usize = app.zoom.calls().iter().filter(|c| c.status == 503).count();
    let allowed = people.len() * schedule_max(&app.config.retry, outage);
    assert!(during <= allowed, "{during} calls during a {outage:?} outage; the schedule allows {allowed}");
    for p in &people {
        let attempts = attempts_of(&app, p).await;
        assert!(attempts.iter().any(|a| a.http_status == Some(503)), "{p}: {attempts:?}");
        assert_follows_schedule(&app.config.retry, p, &attempts, outage);
        assert_eq!(app.zoom.calls_for(p).iter().filter(|c| c.status == 204).count(), 1, "{p}: one success");
    }
    eprintln!("503 outage of {outage:?}: {during} calls for {} people, schedule allows {allowed}", people.len());
}

#[tokio::test]
async fn connection_refused_then_zoom_back_on_the_same_port() {
    let app = outage_app().await;
    warm_up(&app).await;
    let addr = app.zoom.addr.to_string();
    app.zoom.stop();
    // Wait until the port really refuses connections.
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(Instant::now() < deadline, "the sim did not stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let people = people("refused-", 4);
    let started = Instant::now();
    send(&app, &people).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // A new Zoom on the same address: it knows none of the old tokens, so the service must also
    // get a new one (401 → refresh → retry).
    let back = loop {
        match SimZoom::start_on(&addr).await {
            Ok(z) => break z,
            Err(e) => {
                assert!(Instant::now() < deadline, "rebinding {addr}: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let outage = started.elapsed();
    wait_all_revoked(&app, &people).await;
    for p in &people {
        let attempts = attempts_of(&app, p).await;
        assert!(
            attempts.iter().any(|a| a.error.as_deref().is_some_and(|e| e.contains("connection"))),
            "{p}: {attempts:?}"
        );
        assert_follows_schedule(&app.config.retry, p, &attempts, outage);
        assert_eq!(back.calls_for(p).iter().filter(|c| c.status == 204).count(), 1, "{p}");
    }
    assert!(back.token_requests() >= 1, "a fresh token was fetched from the new Zoom");
    assert!(back.token_requests() <= 2, "no refresh storm: {} token requests", back.token_requests());
}

#[tokio::test]
async fn zoom_slower_than_the_client_timeout_is_retried_until_it_recovers() {
    let app = outage_app().await;
    warm_up(&app).await;
    // 1.5 s per call against a 1 s client timeout: every call times out.
    app.zoom.set_latency(Duration::from_millis(1_500));
    let people = people("slow-", 4);
    let started = Instant::now();
    send(&app, &people).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    app.zoom.set_latency(Duration::ZERO);
    let outage = started.elapsed();
    wait_all_revoked(&app, &people).await;
    for p in &people {
        let attempts = attempts_of(&app, p).await;
        assert!(
            attempts.iter().any(|a| a.error.as_deref().is_some_and(|e| e.contains("timeout"))),
            "{p}: {attempts:?}"
        );
        for a in attempts.iter().filter(|a| a.outcome.starts_with("retry")) {
            // The client gave up at its timeout, not at Zoom's pace.
            assert!(a.duration_ms < 1_450, "{p}: a timed-out attempt took {} ms", a.duration_ms);
        }
        assert_follows_schedule(&app.config.retry, p, &attempts, outage);
    }
}

#[tokio::test]
async fn a_429_flood_slows_the_whole_service_and_every_revocation_completes() {
    let app = outage_app().await;
    // Zoom allows 10/s; the service's own ceiling (200/s) is set far too high on purpose.
    app.zoom.rate_limit(10);
    let people = people("flood-", 40);
    send(&app, &people).await;
    wait_all_revoked(&app, &people).await;
    let calls = app.zoom.calls();
    let rejected = app.zoom.rejected_429() as usize;
    eprintln!("{} people: {} calls, {rejected} answered 429", people.len(), calls.len());
    assert!(rejected >= 1, "the flood was real");
    // Each 429 pauses every worker for Retry-After (1 s), so 429s come in small clusters rather
    // than a storm: fewer than one per person.
    assert!(rejected < people.len(), "{rejected} 429s for {} people", people.len());
    for p in &people {
        let mine = app.zoom.calls_for(p);
        assert_eq!(mine.iter().filter(|c| c.status == 204).count(), 1, "{p}");
        for w in mine.windows(2).filter(|w| w[0].status == 429) {
            let gap = w[1].at.duration_since(w[0].at);
            assert!(gap >= Duration::from_millis(950), "{p}: retried {gap:?} after a 429 with Retry-After: 1");
        }
    }
}

#[tokio::test]
async fn scripted_429_with_retry_after_is_honoured() {
    let app = outage_app().await;
    warm_up(&app).await;
    let p = "retry-after@corp.example";
    app.zoom.script(p, [zoom_sso_revoker::sim::Reply::RateLimited { retry_after: Some("2".into()), limit_type: None }]);
    send(&app, &[p.to_string()]).await;
    wait_all_revoked(&app, &[p.to_string()]).await;
    let calls = app.zoom.calls_for(p);
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), vec![429, 204]);
    let gap = calls[1].at.duration_since(calls[0].at);
    assert!(gap >= Duration::from_millis(1_950), "retried {gap:?} after Retry-After: 2");
}

#[tokio::test]
async fn tokens_invalidated_mid_run_cost_one_refresh_each() {
    let app = outage_app().await;
    warm_up(&app).await;
    assert_eq!(app.zoom.token_requests(), 1);
    let first = people("inval-a-", 20);
    send(&app, &first).await;
    app.zoom.invalidate_tokens();
    let second = people("inval-b-", 20);
    send(&app, &second).await;
    wait_all_revoked(&app, &first).await;
    wait_all_revoked(&app, &second).await;
    // However many workers saw the 401 at once, one of them refreshed (single-flight).
    assert_eq!(app.zoom.token_requests(), 2, "one refresh for one invalidation");
    for p in first.iter().chain(&second) {
        assert_eq!(app.zoom.calls_for(p).iter().filter(|c| c.status == 204).count(), 1, "{p}");
    }
}

#[tokio::test]
async fn another_app_fetching_a_token_invalidates_ours_and_we_recover() {
    let app = outage_app().await;
    // Zoom's documented S2S behaviour: a new token for the account invalidates the earlier ones.
    app.zoom.set_invalidate_previous(true);
    warm_up(&app).await;
    let http = reqwest::Client::new();
    let other_app_fetches = 3;
    let mut all = Vec::new();
    for round in 0..other_app_fetches {
        let r = http
            .post(app.zoom.token_url())
            .basic_auth(zoom_sso_revoker::sim::SIM_CLIENT_ID, Some(zoom_sso_revoker::sim::SIM_CLIENT_SECRET))
            .form(&[("grant_type", "account_credentials"), ("account_id", zoom_sso_revoker::sim::SIM_ACCOUNT_ID)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let batch = people(&format!("stolen{round}-"), 10);
        send(&app, &batch).await;
        wait_all_revoked(&app, &batch).await;
        all.extend(batch);
    }
    for p in &all {
        assert_eq!(app.zoom.calls_for(p).iter().filter(|c| c.status == 204).count(), 1, "{p}");
    }
    // Ours: the first token plus one refresh after each foreign fetch; theirs: one each.
    let ours = app.zoom.token_requests() - other_app_fetches;
    assert_eq!(ours, 1 + other_app_fetches, "one refresh per invalidation, no ping-pong");
}

/// A broken `Retry-After` (an absurd delta, a date in the year 9999) neither panics the worker
/// nor parks the job for years: the wait is capped at a day and the job stays queued.
#[tokio::test]
async fn absurd_retry_after_is_capped_at_a_day() {
    let day_ms = zoom_sso_revoker::zoom::outcome::MAX_RETRY_AFTER.as_millis() as i64;
    for (p, header) in
        [("absurd-delta@corp.example", "11111111111111111111"), ("year-9999@corp.example", "9999-12-31T23:59:59Z")]
    {
        // One service each: the first 429 pauses every worker of its service for a while.
        let app = outage_app().await;
        app.zoom.script(
            p,
            [zoom_sso_revoker::sim::Reply::RateLimited { retry_after: Some(header.into()), limit_type: None }],
        );
        send(&app, &[p.to_string()]).await;
        let job = app.wait_job(p, |j| j.state == "pending" && j.attempts == 1, Duration::from_secs(10)).await;
        let wait = job.next_run_at - job.updated_at;
        assert!((day_ms - 5_000..=day_ms).contains(&wait), "{p}: next run in {wait} ms, expected a day");
        assert_eq!(app.zoom.calls_for(p).len(), 1, "{p}");
    }
}
