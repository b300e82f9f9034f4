//! DRY_RUN, ALLOWED_EMAIL_DOMAINS and PROTECTED_EMAILS (SPEC §4, §5): each outcome is audited
//! with its reason, and none of them ever reaches Zoom.

mod common;

use common::bin::{run, run_json};
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn dry_run_accepts_calls_nothing_and_audits_dry_run() {
    // No Zoom credentials at all: DRY_RUN makes them optional. The sim is still there, so a
    // call that should not happen would be seen.
    let app = spawn_app_with(|v| {
        v.retain(|(k, _)| !k.starts_with("ZOOM_CLIENT") && k != "ZOOM_ACCOUNT_ID");
        set(v, "DRY_RUN", "true");
    })
    .await;
    let email = "dry.run@example.com";
    let r = app.post_signed("okta", &okta_batch(vec![okta_event("user.lifecycle.deactivate", "SUCCESS", email)])).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), json!({"accepted": 1, "duplicates": 0, "ignored": 0}));
    assert_eq!(app.wait_terminal(email).await.state, "dry_run");

    let (out, a) = run_json(app.dir.path(), &["audit", email], &[("DATABASE_URL".into(), app.db_url.clone())]).await;
    assert!(out.status.success());
    assert_eq!(a["outcome"], "dry_run");
    assert_eq!(a["jobs"][0]["attempts"][0]["outcome"], "dry_run");
    assert_eq!(a["jobs"][0]["attempts"][0]["http_status"], serde_json::Value::Null);

    assert!(app.zoom.calls().is_empty(), "dry run called Zoom: {:?}", app.zoom.calls());
    assert_eq!(app.zoom.token_requests(), 0, "dry run asked for a Zoom token");
}

#[tokio::test]
async fn protected_and_foreign_domain_emails_are_never_called_and_audited_as_ignored() {
    let app = spawn_app_with(|v| {
        set(v, "ALLOWED_EMAIL_DOMAINS", "example.com, @corp.example");
        set(v, "PROTECTED_EMAILS", "Break.Glass@Example.com");
    })
    .await;
    let batch = okta_batch(vec![
        okta_event("user.lifecycle.deactivate", "SUCCESS", "staff@example.com"),
        okta_event("user.lifecycle.deactivate", "SUCCESS", "BREAK.GLASS@example.com"),
        okta_event("user.lifecycle.deactivate", "SUCCESS", "contractor@other.org"),
        okta_event("user.lifecycle.deactivate", "SUCCESS", "dev@corp.example"),
    ]);
    let r = app.post_signed("okta", &batch).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), json!({"accepted": 2, "duplicates": 0, "ignored": 2}));
    app.wait_terminal("staff@example.com").await;
    app.wait_terminal("dev@corp.example").await;

    let db = vec![("DATABASE_URL".to_string(), app.db_url.clone())];
    for (email, reason) in [
        ("break.glass@example.com", "protected email (PROTECTED_EMAILS)"),
        ("contractor@other.org", "domain not in ALLOWED_EMAIL_DOMAINS"),
    ] {
        let (_, a) = run_json(app.dir.path(), &["audit", email], &db).await;
        assert_eq!(a["outcome"], format!("ignored: {reason}"));
        assert_eq!(a["events"][0]["ignored_reason"], reason);
        assert_eq!(a["events"][0]["job_id"], serde_json::Value::Null);
        assert_eq!(a["jobs"], json!([]));
        let table = common::bin::stdout(&run(app.dir.path(), &["audit", email], &db).await);
        assert!(table.contains(reason), "{table}");
        assert!(app.zoom.calls_for(email).is_empty());
    }
    // The worker had every chance: the allowed people are done, the others were never called.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut called: Vec<_> = app.zoom.calls().into_iter().filter_map(|c| c.user).collect();
    called.sort();
    assert_eq!(called, vec!["dev@corp.example", "staff@example.com"]);

    // A manual revocation obeys the same lists.
    let mut vars = db.clone();
    vars.push(("PROTECTED_EMAILS".into(), "break.glass@example.com".into()));
    vars.push(("ALLOWED_EMAIL_DOMAINS".into(), "example.com".into()));
    let (out, v) = run_json(app.dir.path(), &["revoke", "break.glass@example.com", "x@other.org"], &vars).await;
    assert!(!out.status.success());
    assert_eq!(v[0]["outcome"], "ignored");
    assert_eq!(v[0]["reason"], "protected email (PROTECTED_EMAILS)");
    assert_eq!(v[1]["reason"], "domain not in ALLOWED_EMAIL_DOMAINS");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.zoom.calls_for("break.glass@example.com").is_empty());
}

#[tokio::test]
async fn manual_is_a_reserved_source_name() {
    let zoom = zoom_sso_revoker::sim::SimZoom::start().await.unwrap();
    let mut vars = base_vars(&zoom, "sqlite://unused.db");
    set(&mut vars, "WEBHOOK_SOURCES", "manual");
    set(&mut vars, "WEBHOOK_MANUAL_PROVIDER", "hmac");
    set(&mut vars, "WEBHOOK_MANUAL_SECRET", "x");
    let (source_vars, args): (Vec<_>, Vec<_>) =
        vars.into_iter().partition(|(k, _)| k.starts_with("WEBHOOK_") && k != "WEBHOOK_SOURCES");
    let args = zoom_sso_revoker::config::ConfigArgs::from_vars(&args).unwrap();
    let err = zoom_sso_revoker::config::Config::from_args(&args, &source_vars.into_iter().collect()).unwrap_err();
    assert!(err.to_string().contains("WEBHOOK_SOURCES") && err.to_string().contains("reserved"), "{err}");
}

/// RETENTION_DAYS: finished history goes, active jobs stay.
#[tokio::test]
async fn retention_prunes_finished_history_only() {
    let app = spawn_app_with(|v| set(v, "RETRY_BASE_MS", "600000")).await;
    let done = "done@example.com";
    let waiting = "waiting@example.com";
    app.zoom.script(waiting, [zoom_sso_revoker::sim::Reply::Status(503)]);
    app.post_signed("hr", &hr_event("e1", done)).await;
    app.post_signed("hr", &hr_event("e2", waiting)).await;
    app.post_signed("hr", &hr_event("e3", "bad email")).await;
    let body = b"not json".to_vec();
    let h = app.sign("okta", &body);
    app.post_raw("okta", body, &h).await;
    app.wait_terminal(done).await;
    app.wait_job(waiting, |j| j.state == "pending" && j.attempts == 1, Duration::from_secs(10)).await;

    // A retention of one day keeps everything that just happened.
    let kept = zoom_sso_revoker::retention::prune_once(&app.store, Duration::from_secs(86_400)).await.unwrap();
    assert_eq!(kept, Default::default());
    // Zero retention (everything finished is "old") prunes all finished history.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let p = zoom_sso_revoker::retention::prune_once(&app.store, Duration::ZERO).await.unwrap();
    assert_eq!((p.jobs, p.attempts, p.rejected), (1, 1, 1));
    assert_eq!(p.events, 2, "the finished job's event and the ignored one");

    let gone = zoom_sso_revoker::ops::audit(&app.store, done).await.unwrap();
    assert!(gone.events.is_empty() && gone.jobs.is_empty());
    let active = zoom_sso_revoker::ops::audit(&app.store, waiting).await.unwrap();
    assert_eq!(active.events.len(), 1);
    assert_eq!(active.jobs[0].attempts.len(), 1);
    assert_eq!(active.jobs[0].job.state, "pending");
}
