//! The operator CLI, black-box: the real binary against the SQLite file of a running service
//! (started in-process on loopback with the simulated Zoom).

mod common;

use common::bin::{self, run, run_json};
use common::*;
use serde_json::Value;
use zoom_sso_revoker::sim::{self, Reply};

/// The variables an operator's shell would have for commands against `app`'s store.
fn store_vars(app: &TestApp) -> Vec<(String, String)> {
    vec![("DATABASE_URL".into(), app.db_url.clone())]
}

#[tokio::test]
async fn revoke_reaches_zoom_and_wait_reports_the_outcome() {
    let app = spawn_app().await;
    let (out, v) = run_json(
        app.dir.path(),
        &["revoke", "Manual.Person@Example.com", "--wait", "--wait-secs", "30"],
        &store_vars(&app),
    )
    .await;
    assert!(out.status.success(), "stderr: {}", bin::stderr(&out));
    assert_eq!(v[0]["email"], "manual.person@example.com");
    assert_eq!(v[0]["outcome"], "queued");
    assert_eq!(v[0]["state"], "revoked");
    assert_eq!(app.zoom.revoked(), vec!["manual.person@example.com".to_string()]);

    // The manual event is in the audit trail like any webhook, from source `manual`.
    let (_, audit) = run_json(app.dir.path(), &["audit", "manual.person@example.com"], &store_vars(&app)).await;
    assert_eq!(audit["events"][0]["source"], "manual");
    assert_eq!(audit["events"][0]["event_type"], "manual.revoke");
}

#[tokio::test]
async fn revoke_of_an_invalid_email_is_refused_and_audited() {
    let app = spawn_app().await;
    let out = run(app.dir.path(), &["revoke", "not an email"], &store_vars(&app)).await;
    assert!(!out.status.success());
    let table = bin::stdout(&out);
    assert!(table.contains("ignored") && table.contains("invalid email"), "{table}");
    assert!(app.zoom.calls().is_empty());
}

#[tokio::test]
async fn audit_shows_received_attempts_and_revoked() {
    let app = spawn_app().await;
    let email = "leaver@example.com";
    app.zoom.script(email, [Reply::Status(503)]);
    let event = okta_event("user.lifecycle.deactivate", "SUCCESS", email);
    let event_id = event["uuid"].as_str().unwrap().to_string();
    let resp = app.post_signed("okta", &okta_batch(vec![event])).await;
    assert_eq!(resp.status(), 200);
    let job = app.wait_terminal(email).await;
    assert_eq!(job.state, "revoked");

    let (out, a) = run_json(app.dir.path(), &["audit", "Leaver@Example.com"], &store_vars(&app)).await;
    assert!(out.status.success());
    assert_eq!(a["email"], email);
    assert_eq!(a["outcome"], "revoked");
    let events = a["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["source"], "okta");
    assert_eq!(events[0]["event_id"], event_id.as_str());
    assert_eq!(events[0]["event_type"], "user.lifecycle.deactivate");
    assert_eq!(events[0]["job_id"], job.id.as_str());
    assert!(events[0]["received_at"].as_i64().unwrap() > 0);
    let attempts = a["jobs"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["http_status"], 503);
    assert_eq!(attempts[0]["zoom_code"], 503);
    assert!(attempts[0]["outcome"].as_str().unwrap().starts_with("retry"));
    assert!(attempts[0]["duration_ms"].as_i64().is_some());
    assert_eq!(attempts[1]["http_status"], 204);
    assert_eq!(attempts[1]["outcome"], "revoked");
    assert!(a["jobs"][0]["job"]["finished_at"].as_i64().is_some());

    // The table says the same to a human.
    let out = run(app.dir.path(), &["audit", email], &store_vars(&app)).await;
    let t = bin::stdout(&out);
    for needle in ["outcome: revoked", "okta", "user.lifecycle.deactivate", "503", "204", "revoked"] {
        assert!(t.contains(needle), "{needle:?} missing in\n{t}");
    }
}

#[tokio::test]
async fn jobs_list_show_and_filters() {
    let app = spawn_app().await;
    for (i, e) in ["a@example.com", "b@example.com"].iter().enumerate() {
        assert_eq!(app.post_signed("hr", &hr_event(&format!("evt-{i}"), e)).await.status(), 200);
        app.wait_terminal(e).await;
    }
    let (_, all) = run_json(app.dir.path(), &["jobs", "list"], &store_vars(&app)).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, one) = run_json(app.dir.path(), &["jobs", "list", "--email", "B@example.com"], &store_vars(&app)).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["email"], "b@example.com");
    let (_, revoked) = run_json(app.dir.path(), &["jobs", "list", "--state", "revoked"], &store_vars(&app)).await;
    assert_eq!(revoked.as_array().unwrap().len(), 2);
    let (_, dead) = run_json(app.dir.path(), &["jobs", "list", "--state", "dead"], &store_vars(&app)).await;
    assert_eq!(dead, Value::Array(vec![]));

    let id = one[0]["id"].as_str().unwrap();
    let (out, show) = run_json(app.dir.path(), &["jobs", "show", id], &store_vars(&app)).await;
    assert!(out.status.success());
    assert_eq!(show["job"]["state"], "revoked");
    assert_eq!(show["events"][0]["event_id"], "evt-1");
    assert_eq!(show["attempts"][0]["http_status"], 204);

    let out = run(app.dir.path(), &["jobs", "list", "--state", "bogus"], &store_vars(&app)).await;
    assert!(!out.status.success());
    assert!(bin::stderr(&out).contains("unknown state"), "{}", bin::stderr(&out));
    let out = run(app.dir.path(), &["jobs", "show", "no-such-id"], &store_vars(&app)).await;
    assert!(!out.status.success());
    assert!(bin::stderr(&out).contains("no job with id"));
}

#[tokio::test]
async fn jobs_retry_reruns_a_dead_job_to_success() {
    let app = spawn_app_with(|v| set(v, "RETRY_MAX_ATTEMPTS", "1")).await;
    let email = "dead.then.alive@example.com";
    app.zoom.script(email, [Reply::Status(503)]);
    assert_eq!(app.post_signed("hr", &hr_event("evt-dead", email)).await.status(), 200);
    let job = app.wait_terminal(email).await;
    assert_eq!(job.state, "dead");

    // A job that is not failed/dead cannot be retried, and says why.
    let other = "fine@example.com";
    app.post_signed("hr", &hr_event("evt-fine", other)).await;
    let fine = app.wait_terminal(other).await;
    let (out, r) = run_json(app.dir.path(), &["jobs", "retry", &fine.id], &store_vars(&app)).await;
    assert!(!out.status.success());
    assert_eq!(r[0]["retried"], false);
    assert!(r[0]["reason"].as_str().unwrap().contains("revoked"));

    let (out, r) = run_json(app.dir.path(), &["jobs", "retry", &job.id], &store_vars(&app)).await;
    assert!(out.status.success(), "{}", bin::stderr(&out));
    assert_eq!(r[0]["retried"], true);
    // The running service picks it up (its poll interval is 200 ms in tests).
    let done = app.wait_job(email, |j| j.state == "revoked", std::time::Duration::from_secs(20)).await;
    assert_eq!(done.id, job.id);
    assert_eq!(app.zoom.calls_for(email).iter().map(|c| c.status).collect::<Vec<_>>(), vec![503, 204]);
}

#[tokio::test]
async fn jobs_retry_all_dead() {
    let app = spawn_app_with(|v| set(v, "RETRY_MAX_ATTEMPTS", "1")).await;
    let people = ["d1@example.com", "d2@example.com"];
    for (i, p) in people.iter().enumerate() {
        app.zoom.script(p, [Reply::Status(500)]);
        app.post_signed("hr", &hr_event(&format!("evt-{i}"), p)).await;
        assert_eq!(app.wait_terminal(p).await.state, "dead");
    }
    let (out, r) = run_json(app.dir.path(), &["jobs", "retry", "--all-dead"], &store_vars(&app)).await;
    assert!(out.status.success());
    assert_eq!(r.as_array().unwrap().len(), 2);
    for p in people {
        app.wait_job(p, |j| j.state == "revoked", std::time::Duration::from_secs(20)).await;
    }
}

#[tokio::test]
async fn rejected_requests_are_listed_with_reason_and_body() {
    let app = spawn_app().await;
    let body = b"this is not json".to_vec();
    let headers = app.sign("okta", &body);
    assert_eq!(app.post_raw("okta", body, &headers).await.status(), 400);
    let (out, v) = run_json(app.dir.path(), &["jobs", "list", "--state", "rejected"], &store_vars(&app)).await;
    assert!(out.status.success());
    assert_eq!(v[0]["source"], "okta");
    assert_eq!(v[0]["body"], "this is not json");
    assert!(v[0]["reason"].as_str().unwrap().contains("JSON"), "{v}");
    let t = bin::stdout(&run(app.dir.path(), &["jobs", "list", "--state", "rejected"], &store_vars(&app)).await);
    assert!(t.contains("okta") && t.contains("JSON"), "{t}");
}

/// `check` against the simulated Zoom: all good, then a wrong client secret, then a bad setting.
#[tokio::test]
async fn check_names_the_reason_of_a_failure() {
    let zoom = sim::SimZoom::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("check.db").display());
    let mut vars = base_vars(&zoom, &db);

    let out = run(dir.path(), &["check"], &vars).await;
    assert!(out.status.success(), "stdout: {}\nstderr: {}", bin::stdout(&out), bin::stderr(&out));
    assert!(bin::stdout(&out).contains("zoom token"));

    set(&mut vars, "ZOOM_CLIENT_SECRET", "a-wrong-secret");
    let out = run(dir.path(), &["check"], &vars).await;
    assert!(!out.status.success());
    let text = bin::stdout(&out);
    assert!(text.contains("FAIL") && text.contains("zoom token") && text.contains("401"), "{text}");
    assert!(text.contains("ZOOM_CLIENT_SECRET"), "{text}");
    assert!(text.contains("Invalid client_id or client_secret"), "{text}");
    assert!(!text.contains("a-wrong-secret"), "the secret itself must not be printed: {text}");

    set(&mut vars, "RETRY_JITTER", "sometimes");
    let (out, v) = run_json(dir.path(), &["check"], &vars).await;
    assert!(!out.status.success());
    assert_eq!(v[0]["name"], "config");
    assert_eq!(v[0]["ok"], false);
    assert!(v[0]["detail"].as_str().unwrap().contains("RETRY_JITTER"));
}
