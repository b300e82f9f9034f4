//! The admin API over real sockets: routed only with ADMIN_TOKEN, bearer-protected, and doing
//! what the CLI does.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use zoom_sso_revoker::sim::Reply;

const TOKEN: &str = "admin-token-for-tests-0123456789";

async fn with_admin() -> TestApp {
    spawn_app_with(|v| {
        set(v, "ADMIN_TOKEN", TOKEN);
        set(v, "RETRY_MAX_ATTEMPTS", "1");
    })
    .await
}

#[tokio::test]
async fn admin_routes_do_not_exist_without_admin_token() {
    let app = spawn_app().await;
    for path in ["/admin/jobs", "/admin/audit/a@example.com"] {
        let r = app.http.get(format!("{}{path}", app.base_url)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = app
        .http
        .post(format!("{}/admin/revoke", app.base_url))
        .json(&json!({"emails": ["a@example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(app.zoom.calls().is_empty());
}

#[tokio::test]
async fn admin_needs_the_bearer_token() {
    let app = with_admin().await;
    let url = format!("{}/admin/jobs", app.base_url);
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "unauthorized"}));
    for wrong in ["", "admin-token-for-tests-012345678", "admin-token-for-tests-01234567890", "x"] {
        let r = app.http.get(&url).bearer_auth(wrong).send().await.unwrap();
        assert_eq!(r.status(), 401, "{wrong:?}");
    }
    let r = app.http.get(&url).header("authorization", TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 401, "the Bearer scheme is required");
    // A mutating route refuses too, and does nothing.
    let r = app
        .http
        .post(format!("{}/admin/revoke", app.base_url))
        .json(&json!({"emails": ["x@example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(app.store.jobs_for_email("x@example.com").await.unwrap().is_empty());

    let r = app.http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test]
async fn admin_operations_match_the_cli() {
    let app = with_admin().await;
    let base = &app.base_url;
    let email = "admin.revoked@example.com";
    app.zoom.script(email, [Reply::Status(500)]);
    let r: Value = app
        .http
        .post(format!("{base}/admin/revoke"))
        .bearer_auth(TOKEN)
        .json(&json!({"emails": [email, "not-an-email"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r[0]["outcome"], "queued");
    assert_eq!(r[1]["outcome"], "ignored");
    let job_id = r[0]["job_id"].as_str().unwrap().to_string();

    // One attempt allowed: the 500 makes it dead; retry through the API, then it succeeds.
    assert_eq!(app.wait_terminal(email).await.state, "dead");
    let dead: Value = app
        .http
        .get(format!("{base}/admin/jobs?state=dead"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dead[0]["id"], job_id.as_str());
    let r: Value = app
        .http
        .post(format!("{base}/admin/jobs/{job_id}/retry"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["retried"], true);
    app.wait_job(email, |j| j.state == "revoked", Duration::from_secs(20)).await;

    let show: Value = app
        .http
        .get(format!("{base}/admin/jobs/{job_id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(show["job"]["state"], "revoked");
    assert_eq!(show["attempts"].as_array().unwrap().len(), 2);

    let audit: Value = app
        .http
        .get(format!("{base}/admin/audit/{email}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["outcome"], "revoked");
    assert_eq!(audit["events"][0]["source"], "manual");

    let r = app.http.get(format!("{base}/admin/jobs/nope")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = app.http.get(format!("{base}/admin/jobs?state=weird")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let retry_dead: Value = app
        .http
        .post(format!("{base}/admin/jobs/retry-dead"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(retry_dead, json!([]));
}

#[tokio::test]
async fn a_short_admin_token_is_a_configuration_error() {
    let zoom = zoom_sso_revoker::sim::SimZoom::start().await.unwrap();
    let mut vars = base_vars(&zoom, "sqlite://unused.db");
    set(&mut vars, "ADMIN_TOKEN", "short");
    let (source_vars, args): (Vec<_>, Vec<_>) =
        vars.into_iter().partition(|(k, _)| k.starts_with("WEBHOOK_") && k != "WEBHOOK_SOURCES");
    let args = zoom_sso_revoker::config::ConfigArgs::from_vars(&args).unwrap();
    let err = zoom_sso_revoker::config::Config::from_args(&args, &source_vars.into_iter().collect()).unwrap_err();
    assert!(err.to_string().contains("ADMIN_TOKEN"), "{err}");
}
