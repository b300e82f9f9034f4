//! Every provider preset over a real socket (issue 3 acceptance 2): a correctly signed delivery
//! revokes the person at the simulated Zoom; a tampered body, a stale or a future timestamp is
//! 401; a delivery signed with the second (rotated) secret is accepted; a header holding several
//! signatures is accepted when any one matches; Google's `sync` is 200 without a job.

mod common;

use base64::Engine as _;
use common::{TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use zoom_sso_revoker::providers::{Source, SourceOptions};

/// One preset under test: its source settings and how its senders shape a deprovisioning.
struct Preset {
    source: &'static str,
    provider: &'static str,
    secrets: [&'static str; 2],
    /// `WEBHOOK_<NAME>_*` suffixes besides PROVIDER and SECRET.
    extra: &'static [(&'static str, &'static str)],
    body: fn(id: &str, email: &str) -> Value,
    /// The timestamp window, when the scheme has one.
    tolerance: Option<u64>,
    /// Turns a valid signature header into one that also holds a non-matching signature.
    multi: Option<fn(&str) -> String>,
}

const WORKOS: Preset = Preset {
    source: "workos",
    provider: "workos",
    secrets: ["workos-primary-secret", "workos-rotated-secret"],
    extra: &[],
    body: |id, email| json!({"id": id, "event": "dsync.user.deleted", "data": {"email": email, "state": "inactive"}}),
    tolerance: Some(180),
    // `t=<ms>, v1=<hex>` → `t=<ms>, v1=<junk>, v1=<hex>`
    multi: Some(|h| h.replacen(", v1=", &format!(", v1={}, v1=", "ab".repeat(32)), 1)),
};

const STANDARD: Preset = Preset {
    source: "sw",
    provider: "standard-webhooks",
    secrets: ["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    extra: &[],
    body: |_, email| json!({"type": "user.disabled", "timestamp": "2026-12-03T16:00:00Z", "data": {"email": email}}),
    tolerance: Some(300),
    multi: Some(|h| format!("v1a,ignored-asymmetric v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {h}")),
};

const ZITADEL: Preset = Preset {
    source: "zitadel",
    provider: "zitadel",
    secrets: ["zitadel-signing-key-1", "zitadel-signing-key-2"],
    extra: &[("EMAIL_POINTER", "/event_payload/email")],
    body: |id, email| {
        let payload = base64::engine::general_purpose::STANDARD.encode(json!({"email": email}).to_string());
        json!({"aggregateID": id, "aggregateType": "user", "sequence": 3, "event_type": "user.locked",
               "userID": "312909075212468632", "event_payload": payload})
    },
    tolerance: Some(300),
    multi: Some(|h| h.replacen(",v1=", &format!(",v1={},v1=", "cd".repeat(32)), 1)),
};

const KEYCLOAK: Preset = Preset {
    source: "keycloak",
    provider: "keycloak",
    secrets: ["keycloak-secret-a", "keycloak-secret-b"],
    extra: &[],
    body: |id, email| {
        let representation = json!({"email": email, "enabled": false}).to_string();
        json!({"id": id, "type": "admin.USER-UPDATE", "resourcePath": "users/1", "representation": representation,
               "authDetails": {"username": "kc.admin@example.com"}})
    },
    tolerance: None,
    multi: Some(|h| format!("{},{h}", "00".repeat(32))),
};

const GOOGLE: Preset = Preset {
    source: "google",
    provider: "google",
    secrets: ["google-channel-token-1", "google-channel-token-2"],
    extra: &[],
    body: |id, email| json!({"kind": "admin#directory#user", "id": id, "primaryEmail": email}),
    tolerance: None,
    multi: None,
};

async fn spawn(p: &Preset) -> TestApp {
    spawn_app_with(|vars| {
        let upper = p.source.to_ascii_uppercase();
        common::set(vars, "WEBHOOK_SOURCES", &format!("okta,hr,{}", p.source));
        common::set(vars, &format!("WEBHOOK_{upper}_PROVIDER"), p.provider);
        common::set(vars, &format!("WEBHOOK_{upper}_SECRET"), &p.secrets.join(","));
        for (k, v) in p.extra {
            common::set(vars, &format!("WEBHOOK_{upper}_{k}"), v);
        }
    })
    .await
}

/// The source as a sender holding only `secret` sees it.
fn sender(p: &Preset, secret: &str) -> Source {
    let mut pairs = vec![("PROVIDER", p.provider), ("SECRET", secret)];
    pairs.extend_from_slice(p.extra);
    Source::from_options(&SourceOptions::new(p.source, &pairs)).unwrap()
}

fn headers(src: &Source, body: &[u8], at: SystemTime) -> Vec<(String, String)> {
    src.sign(body, at, &uuid::Uuid::now_v7().to_string()).into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

async fn post(app: &TestApp, p: &Preset, body: &[u8], headers: &[(String, String)]) -> (u16, Value) {
    let resp = app.post_raw(p.source, body.to_vec(), headers).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn assert_revoked(app: &TestApp, email: &str) {
    let job = app.wait_terminal(email).await;
    assert_eq!(job.state, "revoked", "{email}");
    assert!(app.zoom.revoked().iter().any(|e| e == email), "{email} not revoked at Zoom");
}

async fn exercise(p: &Preset) {
    let app = spawn(p).await;
    let primary = sender(p, p.secrets[0]);
    let now = SystemTime::now();
    let body_for = |tag: &str| {
        let email = format!("{tag}.{}@example.com", p.source);
        (email.clone(), serde_json::to_vec(&(p.body)(&format!("id-{tag}"), &email)).unwrap())
    };

    // Valid → revoked.
    let (email, body) = body_for("valid");
    let (status, counts) = post(&app, p, &body, &headers(&primary, &body, now)).await;
    assert_eq!((status, counts["accepted"].as_u64()), (200, Some(1)), "{}: {counts}", p.source);
    assert_revoked(&app, &email).await;

    // Tampered → 401, nothing queued. Google signs nothing (its proof is the channel token), so
    // there the token is what gets tampered with.
    let (email, body) = body_for("tampered");
    let mut signed = headers(&primary, &body, now);
    let mut tampered = body.clone();
    if p.provider == "google" {
        let token = signed.iter_mut().find(|(k, _)| k == "x-goog-channel-token").unwrap();
        token.1.push('x');
    } else {
        tampered[2] ^= 0x01;
    }
    assert_eq!(post(&app, p, &tampered, &signed).await.0, 401, "{}: tampered", p.source);
    assert!(app.store.jobs_for_email(&email).await.unwrap().is_empty());

    // Stale and future timestamps → 401.
    if let Some(tol) = p.tolerance {
        for (what, at) in
            [("stale", now - Duration::from_secs(tol + 30)), ("future", now + Duration::from_secs(tol + 30))]
        {
            let (_, body) = body_for(what);
            assert_eq!(post(&app, p, &body, &headers(&primary, &body, at)).await.0, 401, "{}: {what}", p.source);
        }
        // Inside the window (either side) is fine: clocks drift.
        let (email, body) = body_for("skewed");
        let at = now + Duration::from_secs(tol - 30);
        assert_eq!(post(&app, p, &body, &headers(&primary, &body, at)).await.0, 200, "{}: skewed", p.source);
        assert_revoked(&app, &email).await;
    }

    // Signed with the second, rotated secret → accepted.
    let (email, body) = body_for("rotated");
    let (status, _) = post(&app, p, &body, &headers(&sender(p, p.secrets[1]), &body, now)).await;
    assert_eq!(status, 200, "{}: rotated secret", p.source);
    assert_revoked(&app, &email).await;

    // A secret that is neither → 401.
    let (_, body) = body_for("unknown");
    let foreign =
        if p.provider == "standard-webhooks" { "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } else { "not-configured" };
    assert_eq!(post(&app, p, &body, &headers(&sender(p, foreign), &body, now)).await.0, 401, "{}: foreign", p.source);

    // Several signatures in one header → accepted when one matches; none matching → 401.
    if let Some(multi) = p.multi {
        let sig_header = primary.auth.sign(b"", now, "x")[0].0.to_string();
        let (email, body) = body_for("multi");
        let mut hs = headers(&primary, &body, now);
        let sig = hs.iter_mut().find(|(k, _)| *k == sig_header).unwrap();
        sig.1 = multi(&sig.1);
        assert_eq!(post(&app, p, &body, &hs).await.0, 200, "{}: several signatures {:?}", p.source, sig_header);
        assert_revoked(&app, &email).await;
        let (_, body) = body_for("multi-none");
        let mut hs = headers(&sender(p, foreign), &body, now);
        let sig = hs.iter_mut().find(|(k, _)| *k == sig_header).unwrap();
        sig.1 = multi(&sig.1);
        assert_eq!(post(&app, p, &body, &hs).await.0, 401, "{}: several signatures, none ours", p.source);
    }
}

#[tokio::test]
async fn workos() {
    exercise(&WORKOS).await;
}

#[tokio::test]
async fn standard_webhooks() {
    exercise(&STANDARD).await;
}

#[tokio::test]
async fn zitadel() {
    exercise(&ZITADEL).await;
}

#[tokio::test]
async fn keycloak() {
    exercise(&KEYCLOAK).await;
}

#[tokio::test]
async fn google() {
    exercise(&GOOGLE).await;
}

/// Standard Webhooks: the `svix-*` spelling is accepted, and a redelivery with the same
/// `webhook-id` is a duplicate, not a second job.
#[tokio::test]
async fn standard_webhooks_svix_headers_and_dedupe_on_webhook_id() {
    let app = spawn(&STANDARD).await;
    let src = sender(&STANDARD, STANDARD.secrets[0]);
    let body = serde_json::to_vec(&(STANDARD.body)("", "svix.user@example.com")).unwrap();
    let hs: Vec<(String, String)> =
        headers(&src, &body, SystemTime::now()).into_iter().map(|(k, v)| (k.replace("webhook-", "svix-"), v)).collect();
    assert!(hs.iter().all(|(k, _)| k.starts_with("svix-")));
    let (status, first) = post(&app, &STANDARD, &body, &hs).await;
    assert_eq!((status, first["accepted"].as_u64()), (200, Some(1)), "{first}");
    let (status, again) = post(&app, &STANDARD, &body, &hs).await;
    assert_eq!((status, again["duplicates"].as_u64(), again["accepted"].as_u64()), (200, Some(1), Some(0)), "{again}");
    assert_revoked(&app, "svix.user@example.com").await;
    assert_eq!(app.zoom.calls_for("svix.user@example.com").len(), 1);
}

/// Google: the `sync` message that opens a channel is answered 200 and creates no job; with a
/// wrong token it is 401 like any other message.
#[tokio::test]
async fn google_sync_is_acknowledged_without_a_job() {
    let app = spawn(&GOOGLE).await;
    let sync = |token: &str| {
        vec![
            ("X-Goog-Channel-ID".to_string(), "channel-1".to_string()),
            ("X-Goog-Channel-Token".to_string(), token.to_string()),
            ("X-Goog-Resource-ID".to_string(), "B4ibMJiIhTjAQd7Ff2K2bexk8G4".to_string()),
            ("X-Goog-Resource-State".to_string(), "sync".to_string()),
            ("X-Goog-Message-Number".to_string(), "1".to_string()),
        ]
    };
    let (status, counts) = post(&app, &GOOGLE, b"", &sync(GOOGLE.secrets[0])).await;
    assert_eq!(status, 200);
    assert_eq!(counts, json!({"accepted": 0, "duplicates": 0, "ignored": 0}));
    assert_eq!(post(&app, &GOOGLE, b"", &sync("wrong")).await.0, 401);
    let jobs: i64 = app.store.count_by_state().await.unwrap().iter().map(|(_, n)| n).sum();
    assert_eq!(jobs, 0);
    assert!(app.zoom.calls().is_empty());
}

/// The actor of an event is never the one revoked: Keycloak's admin (`authDetails`) and
/// ZITADEL's `userID` are not read.
#[tokio::test]
async fn actors_are_never_revoked() {
    for p in [&KEYCLOAK, &ZITADEL] {
        let app = spawn(p).await;
        let src = sender(p, p.secrets[0]);
        let body = serde_json::to_vec(&(p.body)("actor-check", "target@example.com")).unwrap();
        assert_eq!(post(&app, p, &body, &headers(&src, &body, SystemTime::now())).await.0, 200);
        assert_revoked(&app, "target@example.com").await;
        assert!(app.zoom.calls_for("kc.admin@example.com").is_empty());
        assert_eq!(app.zoom.calls().len(), 1, "{}", p.source);
    }
}
