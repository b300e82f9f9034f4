//! Black-box acceptance tests of the core path (issue 2): the real service over a socket, the
//! simulated Zoom over another, a fresh SQLite file per test.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use zoom_sso_revoker::sim::Reply;

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Gives the worker time to make any call it was going to make (for "no call" assertions).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

#[tokio::test]
async fn okta_batch_revokes_exactly_the_disabled_targets() {
    let app = spawn_app().await;
    let batch = okta_batch(vec![
        okta_event("user.lifecycle.deactivate", "SUCCESS", "Alice@Example.com"),
        okta_event("user.session.start", "SUCCESS", "carol@example.com"),
        okta_event("user.lifecycle.suspend", "SUCCESS", "bob@example.com"),
        okta_event("user.lifecycle.deactivate", "FAILURE", "dave@example.com"),
    ]);
    let (status, body) = json_of(app.post_signed("okta", &batch).await).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"accepted": 2, "duplicates": 0, "ignored": 2}));
    assert_eq!(app.wait_terminal("alice@example.com").await.state, "revoked");
    assert_eq!(app.wait_terminal("bob@example.com").await.state, "revoked");
    settle().await;
    let mut revoked = app.zoom.revoked();
    revoked.sort();
    assert_eq!(revoked, vec!["alice@example.com", "bob@example.com"]);
    assert_eq!(app.zoom.calls().len(), 2, "exactly two DELETEs");
    assert!(app.zoom.calls_for("okta.admin@example.com").is_empty(), "the actor is never revoked");
}

#[tokio::test]
async fn okta_verification_challenge_is_answered() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/webhooks/okta", app.base_url))
        .header("x-okta-verification-challenge", "abc123")
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(resp).await;
    assert_eq!((status, body), (200, json!({"verification": "abc123"})));
}

#[tokio::test]
async fn bad_credentials_and_unknown_sources_make_no_call() {
    let app = spawn_app().await;
    let batch = okta_batch(vec![okta_event("user.lifecycle.deactivate", "SUCCESS", "eve@example.com")]);
    let bytes = serde_json::to_vec(&batch).unwrap();

    // Wrong secret.
    let wrong = vec![("authorization".to_string(), "not-the-secret".to_string())];
    let (status, body) = json_of(app.post_raw("okta", bytes.clone(), &wrong).await).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"error": "unauthorized"}), "the reason is not disclosed");
    // Missing secret.
    assert_eq!(app.post_raw("okta", bytes.clone(), &[]).await.status().as_u16(), 401);
    // Tampered body: a correct HMAC for other bytes.
    let hr = serde_json::to_vec(&hr_event("e1", "eve@example.com")).unwrap();
    let headers = app.sign("hr", &hr);
    let tampered = serde_json::to_vec(&hr_event("e1", "mallory@example.com")).unwrap();
    assert_eq!(app.post_raw("hr", tampered, &headers).await.status().as_u16(), 401);
    // Unknown source, even when correctly signed for another.
    let headers = app.sign("okta", &bytes);
    assert_eq!(app.post_raw("nope", bytes, &headers).await.status().as_u16(), 404);

    settle().await;
    assert!(app.zoom.calls().is_empty(), "no Zoom call for any rejected request");
    assert!(app.store.jobs_for_email("eve@example.com").await.unwrap().is_empty());
}

#[tokio::test]
async fn redelivery_is_a_duplicate_and_revokes_once() {
    let app = spawn_app().await;
    let ev = hr_event("evt-dup", "frank@example.com");
    let (_, first) = json_of(app.post_signed("hr", &ev).await).await;
    assert_eq!(first, json!({"accepted": 1, "duplicates": 0, "ignored": 0}));
    app.wait_terminal("frank@example.com").await;
    let (_, second) = json_of(app.post_signed("hr", &ev).await).await;
    assert_eq!(second, json!({"accepted": 0, "duplicates": 1, "ignored": 0}));
    settle().await;
    assert_eq!(app.zoom.calls_for("frank@example.com").len(), 1);
    assert_eq!(app.store.jobs_for_email("frank@example.com").await.unwrap().len(), 1);
}

#[tokio::test]
async fn events_for_a_pending_person_coalesce_into_one_revocation() {
    // The first call fails, so the job waits (pending) for its retry while the second event arrives.
    let app = spawn_app_with(|v| set(v, "RETRY_BASE_MS", "1500")).await;
    app.zoom.script("grace@example.com", [Reply::Status(503)]);
    app.post_signed("hr", &hr_event("g-1", "grace@example.com")).await;
    app.wait_job("grace@example.com", |j| j.state == "pending" && j.attempts == 1, Duration::from_secs(5)).await;
    let (_, body) = json_of(app.post_signed("hr", &hr_event("g-2", "Grace@Example.com")).await).await;
    assert_eq!(body["accepted"], 1);
    let job = app.wait_terminal("grace@example.com").await;
    assert_eq!(job.state, "revoked");
    settle().await;
    let statuses: Vec<u16> = app.zoom.calls_for("grace@example.com").iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![503, 204], "one revocation for both events");
    assert_eq!(app.store.jobs_for_email("grace@example.com").await.unwrap().len(), 1, "both events on one job");

    // Two events for one person in the same batch: one job, one call.
    let batch = okta_batch(vec![
        okta_event("user.lifecycle.suspend", "SUCCESS", "heidi@example.com"),
        okta_event("user.lifecycle.deactivate", "SUCCESS", "heidi@example.com"),
    ]);
    let (_, body) = json_of(app.post_signed("okta", &batch).await).await;
    assert_eq!(body["accepted"], 2);
    app.wait_terminal("heidi@example.com").await;
    settle().await;
    assert_eq!(app.zoom.calls_for("heidi@example.com").len(), 1);
}

#[tokio::test]
async fn transient_errors_retry_with_growing_delays() {
    let app = spawn_app_with(|v| set(v, "RETRY_BASE_MS", "300")).await;
    app.zoom.script("ivan@example.com", [Reply::Status(503), Reply::Status(503)]);
    app.post_signed("hr", &hr_event("i-1", "ivan@example.com")).await;
    let job = app.wait_terminal("ivan@example.com").await;
    assert_eq!((job.state.as_str(), job.attempts), ("revoked", 3));
    let calls = app.zoom.calls_for("ivan@example.com");
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), vec![503, 503, 204]);
    let gap1 = calls[1].at - calls[0].at;
    let gap2 = calls[2].at - calls[1].at;
    assert!(gap1 >= Duration::from_millis(300), "first backoff {gap1:?}");
    assert!(gap2 >= Duration::from_millis(600), "second backoff {gap2:?}");
    assert!(gap2 > gap1, "delays grow: {gap1:?} then {gap2:?}");
    let attempts = app.store.attempts(&job.id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.http_status).collect::<Vec<_>>(), vec![Some(503), Some(503), Some(204)]);
}

#[tokio::test]
async fn unknown_zoom_user_is_not_found_after_one_call_and_other_4xx_fail_at_once() {
    let app = spawn_app().await;
    app.zoom.unknown_user("judy@example.com");
    app.zoom.script("ken@example.com", [Reply::Error { status: 403, code: 4711 }]);
    app.post_signed("hr", &hr_event("j-1", "judy@example.com")).await;
    app.post_signed("hr", &hr_event("k-1", "ken@example.com")).await;
    let judy = app.wait_terminal("judy@example.com").await;
    let ken = app.wait_terminal("ken@example.com").await;
    settle().await;
    assert_eq!((judy.state.as_str(), judy.attempts, judy.last_zoom_code), ("not_found", 1, Some(1001)));
    assert_eq!(
        (ken.state.as_str(), ken.attempts, ken.last_status, ken.last_zoom_code),
        ("failed", 1, Some(403), Some(4711))
    );
    assert_eq!(app.zoom.calls_for("judy@example.com").len(), 1);
    assert_eq!(app.zoom.calls_for("ken@example.com").len(), 1);
}

#[tokio::test]
async fn an_invalidated_token_is_refreshed_exactly_once() {
    let app = spawn_app().await;
    app.post_signed("hr", &hr_event("l-1", "leo@example.com")).await;
    app.wait_terminal("leo@example.com").await;
    assert_eq!(app.zoom.token_requests(), 1);
    // Another app fetched a token for the account: ours stops working.
    app.zoom.invalidate_tokens();
    app.post_signed("hr", &hr_event("m-1", "mia@example.com")).await;
    let job = app.wait_terminal("mia@example.com").await;
    assert_eq!((job.state.as_str(), job.attempts), ("revoked", 1), "401 is retried at once, within the attempt");
    assert_eq!(app.zoom.token_requests(), 2, "exactly one refresh");
    let statuses: Vec<u16> = app.zoom.calls_for("mia@example.com").iter().map(|c| c.status).collect();
    assert_eq!(statuses, vec![401, 204]);
}

/// When the retry after a 429 may happen at the earliest.
enum Earliest {
    /// This long after the 429 (delta-seconds).
    After(Duration),
    /// At this wall-clock time (HTTP-date, ISO-8601).
    At(SystemTime),
}

/// 429 with `Retry-After: value` → the retry waits at least as long as it says.
async fn retry_after_is_honoured(email: &str, value: String, earliest: Earliest) {
    let app = spawn_app().await;
    app.zoom.script(email, [Reply::RateLimited { retry_after: Some(value.clone()), limit_type: None }]);
    let (wall0, mono0) = (SystemTime::now(), std::time::Instant::now());
    app.post_signed("hr", &hr_event(&format!("{email}-1"), email)).await;
    let job = app.wait_terminal(email).await;
    assert_eq!(job.state, "revoked");
    let calls = app.zoom.calls_for(email);
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), vec![429, 204]);
    let not_before = match earliest {
        Earliest::After(d) => calls[0].at + d,
        Earliest::At(t) => mono0 + t.duration_since(wall0).unwrap(),
    };
    // 20 ms for the clocks read apart above.
    assert!(
        calls[1].at + Duration::from_millis(20) >= not_before,
        "Retry-After {value:?}: retried {:?} too early",
        not_before - calls[1].at
    );
}

#[tokio::test]
async fn retry_after_delta_seconds() {
    retry_after_is_honoured("n1@example.com", "2".into(), Earliest::After(Duration::from_secs(2))).await;
}

#[tokio::test]
async fn retry_after_http_date() {
    let value = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    let at = httpdate::parse_http_date(&value).unwrap();
    retry_after_is_honoured("n2@example.com", value, Earliest::At(at)).await;
}

#[tokio::test]
async fn retry_after_iso8601() {
    let at = time::OffsetDateTime::from(SystemTime::now() + Duration::from_secs(3)).replace_nanosecond(0).unwrap();
    let value = at.format(&time::format_description::well_known::Rfc3339).unwrap();
    retry_after_is_honoured("n3@example.com", value, Earliest::At(at.into())).await;
}

#[tokio::test]
async fn a_failed_job_survives_a_restart_and_completes() {
    let mut app = spawn_app_with(|v| set(v, "RETRY_BASE_MS", "1500")).await;
    app.zoom.script("olga@example.com", [Reply::Status(502)]);
    app.post_signed("hr", &hr_event("o-1", "olga@example.com")).await;
    let pending =
        app.wait_job("olga@example.com", |j| j.state == "pending" && j.attempts == 1, Duration::from_secs(5)).await;
    app.stop().await;

    // Same database, same Zoom, a new process-equivalent service.
    let vars = {
        let mut v = base_vars(&app.zoom, &app.db_url);
        set(&mut v, "RETRY_BASE_MS", "1500");
        v
    };
    let app2 = start(app.zoom.clone(), app.dir.clone(), vars).await;
    let job = app2.wait_terminal("olga@example.com").await;
    assert_eq!((job.id.as_str(), job.state.as_str(), job.attempts), (pending.id.as_str(), "revoked", 2));
    let calls = app2.zoom.calls_for("olga@example.com");
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), vec![502, 204]);
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(1500), "the persisted schedule was kept");
}

#[tokio::test]
async fn no_email_can_change_the_request_path() {
    let app = spawn_app().await;
    let emails = [
        "a/b@example.com",
        "a?x=1@example.com",
        "a#frag@example.com",
        "a%2Fb@example.com",
        "..@example.com",
        "../../users/boss@example.com",
        "a+tag@example.com",
    ];
    for (i, e) in emails.iter().enumerate() {
        let (status, body) = json_of(app.post_signed("hr", &hr_event(&format!("p-{i}"), e)).await).await;
        assert_eq!((status, body["accepted"].clone()), (200, json!(1)), "{e}");
    }
    for e in emails {
        // Emails are lower-cased (SPEC §5), `%2F` included.
        assert_eq!(app.wait_terminal(&e.to_lowercase()).await.state, "revoked", "{e}");
    }
    let calls = app.zoom.calls();
    assert_eq!(calls.len(), emails.len());
    for c in calls {
        let user = c.user.clone().unwrap_or_else(|| panic!("path {} is not /v2/users/<one segment>/token", c.raw_path));
        assert!(emails.iter().any(|e| e.to_lowercase() == user), "decoded segment {user:?} is the email itself");
        let segment = c.raw_path.strip_prefix("/v2/users/").unwrap().strip_suffix("/token").unwrap();
        assert!(!segment.contains('/') && !segment.contains('?') && !segment.contains('#'), "{}", c.raw_path);
    }
}

#[tokio::test]
async fn invalid_emails_are_ignored_with_a_reason_and_never_called() {
    let app = spawn_app().await;
    for (i, e) in ["not-an-email", "a@b@c.com", "x y@example.com", "evil@example.com/../x"].iter().enumerate() {
        let (status, body) = json_of(app.post_signed("hr", &hr_event(&format!("q-{i}"), e)).await).await;
        assert_eq!((status, body), (200, json!({"accepted": 0, "duplicates": 0, "ignored": 1})), "{e}");
    }
    // Missing email and a non-string email are ignored too, not errors.
    let (_, body) = json_of(app.post_signed("hr", &json!({"id": "q-9", "type": "user.disabled"})).await).await;
    assert_eq!(body["ignored"], 1);
    let (_, body) =
        json_of(app.post_signed("hr", &json!({"id": "q-10", "type": "user.disabled", "email": 42})).await).await;
    assert_eq!(body["ignored"], 1);
    settle().await;
    assert!(app.zoom.calls().is_empty());
}

#[tokio::test]
async fn unparseable_authenticated_payload_is_kept_and_answered_400() {
    let app = spawn_app().await;
    let body = b"{not json".to_vec();
    let headers = app.sign("hr", &body);
    let (status, json) = json_of(app.post_raw("hr", body, &headers).await).await;
    assert_eq!(status, 400);
    assert_eq!(json["error"], "bad_request");
    // Kept in the store for replay.
    let db = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
    let (n, reason): (i64, String) =
        sqlx::query_as("SELECT COUNT(*), MAX(reason) FROM rejected_requests WHERE source = 'hr'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(n, 1);
    assert!(reason.contains("not valid JSON"), "{reason}");
}

#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app_with(|v| set(v, "MAX_BODY_BYTES", "1000")).await;
    let body = serde_json::to_vec(
        &json!({"id": "big", "type": "user.disabled", "email": "a@example.com", "pad": "x".repeat(2000)}),
    )
    .unwrap();
    let headers = app.sign("hr", &body);
    assert_eq!(app.post_raw("hr", body, &headers).await.status().as_u16(), 413);
}

#[tokio::test]
async fn store_failure_answers_503_never_200() {
    let app = spawn_app().await;
    // Break the store under the running service.
    let db = sqlx::SqlitePool::connect(&app.db_url).await.unwrap();
    sqlx::query("DROP TABLE events").execute(&db).await.unwrap();
    let resp = app.post_signed("hr", &hr_event("r-1", "rita@example.com")).await;
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let ready = app.http.get(format!("{}/healthz", app.base_url)).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200, "the process stays up");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let resp = app.http.get(format!("{}{path}", app.base_url)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn an_event_during_an_in_flight_call_runs_the_job_once_more() {
    // The call may have started before this event happened (e.g. a re-enable and a new sign-in
    // in between), so the event gets a call that starts after it arrived.
    let app = spawn_app().await;
    app.zoom.script("sam@example.com", [Reply::Slow(Duration::from_millis(700))]);
    app.post_signed("hr", &hr_event("s-1", "sam@example.com")).await;
    app.wait_job("sam@example.com", |j| j.state == "in_flight", Duration::from_secs(5)).await;
    let arrived = std::time::Instant::now();
    let (_, body) = json_of(app.post_signed("hr", &hr_event("s-2", "sam@example.com")).await).await;
    assert_eq!(body["accepted"], 1);
    let job =
        app.wait_job("sam@example.com", |j| j.state == "revoked" && j.attempts == 2, Duration::from_secs(10)).await;
    settle().await;
    let calls = app.zoom.calls_for("sam@example.com");
    assert_eq!(calls.len(), 2, "one more call after the in-flight one");
    assert!(calls[1].at > arrived, "the second call started after the second event arrived");
    assert_eq!(app.zoom.overlaps(), 0, "never two calls for one person at once");
    assert_eq!(app.store.jobs_for_email("sam@example.com").await.unwrap().len(), 1);
    assert_eq!(job.state, "revoked");
}

#[tokio::test]
async fn a_job_waiting_for_a_call_slot_keeps_its_lease_and_is_called_once() {
    // One call per second, and more jobs claimed than slots within the lease: without renewal,
    // jobs whose lease ran out while they waited would be claimed again and called twice.
    let app = spawn_app_with(|v| {
        set(v, "ZOOM_RATE_LIMIT_PER_SECOND", "1");
        set(v, "JOB_LEASE_SECS", "3");
        set(v, "ZOOM_TIMEOUT_SECS", "1");
        set(v, "WORKER_CONCURRENCY", "16");
    })
    .await;
    let people: Vec<String> = (0..5).map(|i| format!("slot{i}@example.com")).collect();
    let batch: Vec<Value> = people.iter().map(|p| okta_event("user.lifecycle.deactivate", "SUCCESS", p)).collect();
    let (_, body) = json_of(app.post_signed("okta", &okta_batch(batch)).await).await;
    assert_eq!(body["accepted"], 5);
    for p in &people {
        let job = app.wait_job(p, |j| j.state == "revoked", Duration::from_secs(30)).await;
        assert_eq!(job.attempts, 1, "{p}: claimed once, never taken over");
    }
    settle().await;
    for p in &people {
        assert_eq!(app.zoom.calls_for(p).len(), 1, "{p} called once");
    }
    assert_eq!(app.zoom.overlaps(), 0);
}
