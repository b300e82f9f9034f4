//! Secrets never appear in any output: every kind of secret is configured, the real binary runs
//! the whole pipeline with the most verbose logging, and all of its output is searched.

mod common;

use base64::Engine as _;
use common::bin::{self, spawn_serve};
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};
use zoom_sso_revoker::sim::{self, Reply, SimZoom};

const OKTA: &str = "okta-SECRET-value-7f3a9c1e5b";
const HR: &str = "hr-SECRET-value-2d8e6f4a0c";
const HR_OLD: &str = "hr-OLD-rotated-secret-9b1d";
const ADMIN: &str = "admin-SECRET-token-4c7e1a9f3d";
const DB_PASSWORD: &str = "db-PASSWORD-8e2b5d7f1a";
const WORKOS: &str = "workos-SECRET-value-6b2f8d";
/// A Standard Webhooks secret: `whsec_` + base64 of "clerk-SECRET-key-bytes-3e9a".
const CLERK: &str = "whsec_Y2xlcmstU0VDUkVULWtleS1ieXRlcy0zZTlh";
const ZITADEL: &str = "zitadel-SECRET-signing-key-1f7c";
const KEYCLOAK: &str = "keycloak-SECRET-value-8a4d";
const GOOGLE: &str = "google-SECRET-channel-token-5e0b";

/// Every preset as a source, each with its own secret.
fn every_preset(vars: &mut Vec<(String, String)>) {
    set(vars, "WEBHOOK_SOURCES", "okta,hr,workos,clerk,zitadel,keycloak,google");
    for (k, v) in [
        ("WEBHOOK_OKTA_SECRET", OKTA.to_string()),
        ("WEBHOOK_HR_SECRET", format!("{HR},{HR_OLD}")),
        ("WEBHOOK_WORKOS_PROVIDER", "workos".into()),
        ("WEBHOOK_WORKOS_SECRET", WORKOS.into()),
        ("WEBHOOK_CLERK_PROVIDER", "standard-webhooks".into()),
        ("WEBHOOK_CLERK_SECRET", CLERK.into()),
        ("WEBHOOK_ZITADEL_PROVIDER", "zitadel".into()),
        ("WEBHOOK_ZITADEL_SECRET", ZITADEL.into()),
        ("WEBHOOK_ZITADEL_EMAIL_POINTER", "/event_payload/email".into()),
        ("WEBHOOK_KEYCLOAK_PROVIDER", "keycloak".into()),
        ("WEBHOOK_KEYCLOAK_SECRET", KEYCLOAK.into()),
        ("WEBHOOK_GOOGLE_PROVIDER", "google".into()),
        ("WEBHOOK_GOOGLE_SECRET", GOOGLE.into()),
    ] {
        set(vars, k, &v);
    }
}

const ALL_WEBHOOK_SECRETS: &[&str] = &[OKTA, HR, HR_OLD, WORKOS, CLERK, ZITADEL, KEYCLOAK, GOOGLE];

#[tokio::test]
async fn no_secret_in_any_output() {
    let zoom = SimZoom::start().await.unwrap();
    zoom.script("retry.me@example.com", [Reply::InvalidToken, Reply::Status(503)]);
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("secrets.db").display());
    let mut vars = base_vars(&zoom, &db);
    set(&mut vars, "LOG_FORMAT", "json");
    set(&mut vars, "RUST_LOG", "trace");
    every_preset(&mut vars);
    set(&mut vars, "ADMIN_TOKEN", ADMIN);
    let mut output = String::new();

    // 1. The service: valid, wrong, unparseable and handshake requests, admin calls with and
    //    without the token, revocations including a token refresh and a retry.
    let mut served = spawn_serve(dir.path(), &vars).await;
    let base = served.addr.clone();
    let http = reqwest::Client::new();
    let config = config_from(&vars.iter().filter(|(k, _)| k != "RUST_LOG").cloned().collect::<Vec<_>>());
    let signed = |source: &str, body: &serde_json::Value| {
        let bytes = serde_json::to_vec(body).unwrap();
        let mut req = http.post(format!("{base}/webhooks/{source}"));
        for (k, v) in config.source(source).unwrap().auth.sign(&bytes, std::time::SystemTime::now(), "d-1") {
            req = req.header(k, v);
        }
        req.body(bytes)
    };
    // Every preset: a correctly signed request (whatever the body makes of it) and a forged one.
    for source in ["workos", "clerk", "zitadel", "keycloak", "google"] {
        let status = signed(source, &json!({"id": "x", "type": "user.deleted"})).send().await.unwrap().status();
        assert_ne!(status, 401, "{source}: a correctly signed request was refused");
        let forged = http.post(format!("{base}/webhooks/{source}")).body("{}").send().await.unwrap().status();
        assert_eq!(forged, 401, "{source}");
    }
    let okta = okta_batch(vec![okta_event("user.lifecycle.deactivate", "SUCCESS", "okta.person@example.com")]);
    assert_eq!(signed("okta", &okta).send().await.unwrap().status(), 200);
    assert_eq!(signed("hr", &hr_event("e-1", "retry.me@example.com")).send().await.unwrap().status(), 200);
    let r = http
        .post(format!("{base}/webhooks/okta"))
        .header("authorization", format!("{OKTA}x"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r =
        http.post(format!("{base}/webhooks/okta")).header("authorization", OKTA).body("not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r =
        http.get(format!("{base}/webhooks/okta")).header("x-okta-verification-challenge", "abc").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.get(format!("{base}/admin/jobs")).bearer_auth(format!("{ADMIN}x")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/admin/revoke"))
        .bearer_auth(ADMIN)
        .json(&json!({"emails": ["admin.made@example.com"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    for email in ["okta.person@example.com", "retry.me@example.com", "admin.made@example.com"] {
        loop {
            let a: serde_json::Value = http
                .get(format!("{base}/admin/audit/{email}"))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if a["outcome"] == "revoked" {
                break;
            }
            assert!(Instant::now() < deadline, "{email} not revoked: {a}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), 200);
    served.signal("TERM");
    assert!(served.wait_exit(Duration::from_secs(15)).await.expect("exit").success());
    output.push_str(&served.all_output());
    assert!(output.contains("zoom attempt") && output.contains("webhook"), "logs were not captured:\n{output}");
    assert!(zoom.issued_tokens().len() >= 2, "the 401 should have forced a token refresh");

    // 2. Commands that see a database URL with a password, in both log formats.
    let pg = format!("postgres://revoker:{DB_PASSWORD}@127.0.0.1:1/revoker");
    let mut pg_vars = vars.clone();
    set(&mut pg_vars, "DATABASE_URL", &pg);
    for fmt in ["json", "text"] {
        set(&mut pg_vars, "LOG_FORMAT", fmt);
        for args in [
            &["check"][..],
            &["--json", "check"],
            &["migrate"],
            &["serve"],
            &["jobs", "list"],
            &["audit", "a@example.com"],
            &["serve", "--help"],
            &["check", "--help"],
            &["revoke", "--help"],
        ] {
            let o = bin::run(dir.path(), args, &pg_vars).await;
            output.push_str(&bin::stdout(&o));
            output.push_str(&bin::stderr(&o));
        }
    }
    // 3. `check` with a wrong Zoom secret prints the token endpoint's refusal, not the secret.
    let mut bad = vars.clone();
    set(&mut bad, "ZOOM_CLIENT_SECRET", "wrong-zoom-SECRET-5a1c");
    let o = bin::run(dir.path(), &["check"], &bad).await;
    output.push_str(&bin::stdout(&o));
    output.push_str(&bin::stderr(&o));
    assert!(output.contains("127.0.0.1:1"), "the postgres runs produced no output naming the host:\n{output}");

    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", sim::SIM_CLIENT_ID, sim::SIM_CLIENT_SECRET));
    let mut secrets: Vec<String> =
        [OKTA, HR, HR_OLD, ADMIN, DB_PASSWORD, sim::SIM_CLIENT_SECRET, "wrong-zoom-SECRET-5a1c"]
            .map(String::from)
            .into();
    secrets.push(basic);
    secrets.extend(zoom.issued_tokens());
    for s in &secrets {
        assert!(!output.contains(s.as_str()), "secret {s:?} found in output:\n{}", context(&output, s));
    }
}

fn context(text: &str, needle: &str) -> String {
    text.lines().filter(|l| l.contains(needle)).take(5).collect::<Vec<_>>().join("\n")
}

/// `Debug` of the whole configuration (what a `{:?}` in a log line would print) holds no secret.
#[tokio::test]
async fn config_debug_holds_no_secret() {
    let zoom = SimZoom::start().await.unwrap();
    let mut vars = base_vars(&zoom, &format!("postgres://revoker:{DB_PASSWORD}@db.internal/revoker"));
    every_preset(&mut vars);
    set(&mut vars, "ADMIN_TOKEN", ADMIN);
    let config = config_from(&vars);
    let args: Vec<_> = vars.into_iter().filter(|(k, _)| !k.starts_with("WEBHOOK_") || k == "WEBHOOK_SOURCES").collect();
    let args = zoom_sso_revoker::config::ConfigArgs::from_vars(&args).unwrap();
    let printed = format!("{config:?}\n{config:#?}\n{args:?}");
    assert!(printed.contains("db.internal") && printed.contains("redacted"), "{printed}");
    for s in
        ALL_WEBHOOK_SECRETS.iter().chain(&[ADMIN, DB_PASSWORD, sim::SIM_CLIENT_SECRET, "clerk-SECRET-key-bytes-3e9a"])
    {
        assert!(!printed.contains(s), "{s:?} in Debug output:\n{}", context(&printed, s));
    }
}
