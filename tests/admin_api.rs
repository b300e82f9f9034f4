//! The admin API over real sockets: routed only with ADMIN_TOKEN, bearer-protected, and doing
//! what the CLI does.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;
use zoom_sso_revoker::sim::Reply;

const TOKEN: &str = "admin-token-for-tests-0123456789";

/// `GET {path}` with the admin token, as JSON.
async fn admin_get(app: &TestApp, path: &str) -> Value {
    app.http.get(format!("{}{path}", app.base_url)).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap()
}

/// `POST {path}` with the admin token (and a JSON body, if any), as JSON.
async fn admin_post(app: &TestApp, path: &str, body: Option<Value>) -> Value {
    let mut req = app.http.post(format!("{}{path}", app.base_url)).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().json().await.unwrap()
}

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
    let r = admin_post(&app, "/admin/revoke", Some(json!({"emails": [email, "not-an-email"]}))).await;
    assert_eq!(r[0]["outcome"], "queued");
    assert_eq!(r[1]["outcome"], "ignored");
    let job_id = r[0]["job_id"].as_str().unwrap().to_string();

    // One attempt allowed: the 500 makes it dead; retry through the API, then it succeeds.
    assert_eq!(app.wait_terminal(email).await.state, "dead");
    let dead = admin_get(&app, "/admin/jobs?state=dead").await;
    assert_eq!(dead[0]["id"], job_id.as_str());
    let r = admin_post(&app, &format!("/admin/jobs/{job_id}/retry"), None).await;
    assert_eq!(r["retried"], true);
    app.wait_job(email, |j| j.state == "revoked", Duration::from_secs(20)).await;

    let show = admin_get(&app, &format!("/admin/jobs/{job_id}")).await;
    assert_eq!(show["job"]["state"], "revoked");
    assert_eq!(show["attempts"].as_array().unwrap().len(), 2);

    let audit = admin_get(&app, &format!("/admin/audit/{email}")).await;
    assert_eq!(audit["outcome"], "revoked");
    assert_eq!(audit["events"][0]["source"], "manual");

    let r = app.http.get(format!("{base}/admin/jobs/nope")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = app.http.get(format!("{base}/admin/jobs?state=weird")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let retry_dead = admin_post(&app, "/admin/jobs/retry-dead", None).await;
    assert_eq!(retry_dead, json!([]));
}

#[tokio::test]
async fn a_short_admin_token_is_a_configuration_error() {
    let zoom = zoom_sso_revoker::sim::SimZoom::start().await.unwrap();
    let mut vars = base_vars(&zoom, "sqlite://unused.db");
    set(&mut vars, "ADMIN_TOKEN", "short");
    let err = try_config_from(&vars).unwrap_err();
    assert!(err.to_string().contains("ADMIN_TOKEN"), "{err}");
}
