//! `demo`: the whole pipeline in one process — a temporary SQLite file, the simulated Zoom on
//! loopback, the real service on loopback, and one signed sample event per preset sent over
//! HTTP. Prints what happened to each person and exits.

use crate::config::{Config, ConfigArgs};
use crate::providers::Provider;
use crate::sim::{Reply, SimZoom};
use crate::store::{self, JobState};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// One sample delivery: which source, what body, which person we expect to be revoked.
pub struct Sample {
    pub source: &'static str,
    pub provider: Provider,
    pub body: Value,
    pub person: &'static str,
    pub note: &'static str,
}

/// A sample payload per preset (shapes from `reference/idp-webhooks.md`).
pub fn samples() -> Vec<Sample> {
    vec![
        Sample {
            source: "okta",
            provider: Provider::Okta,
            body: json!({
                "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
                "eventId": "85b60edb-4263-4e13-993b-818e26201052", "contentType": "application/json",
                "data": {"events": [{
                    "uuid": "ab62c0bc-2837-11eb-9823-9fb8f750c5a9",
                    "published": "2026-12-03T16:00:00.000Z",
                    "eventType": "user.lifecycle.deactivate",
                    "outcome": {"result": "SUCCESS", "reason": null},
                    "actor": {"id": "00u2di94bAMSEPvAY1d6", "type": "User", "alternateId": "okta.admin@example.com", "displayName": "Okta Admin"},
                    "target": [{"id": "00u3m90rxKjGQ0G6L1d6", "type": "User", "alternateId": "john.doe@example.com", "displayName": "John Doe"}]
                }]}
            }),
            person: "john.doe@example.com",
            note: "Okta user deactivated",
        },
        Sample {
            source: "hr",
            provider: Provider::Hmac,
            body: json!({"type": "employee.terminated", "id": "evt_1001", "email": "Jane.Roe@Example.com"}),
            person: "jane.roe@example.com",
            note: "HR system (generic HMAC), Zoom answers 503 once",
        },
        Sample {
            source: "workos",
            provider: Provider::Workos,
            body: json!({
                "event": "dsync.user.deleted", "id": "event_09FKJ843CVE8F7BXQSPFH0M53V",
                "data": {"id": "directory_user_01E1X1B89NH8Z3SDFJR4H7RGX7", "email": "lela.block@example.com", "state": "inactive"},
                "created_at": "2026-12-03T16:00:00.000Z"
            }),
            person: "lela.block@example.com",
            note: "WorkOS directory user deleted",
        },
        Sample {
            source: "clerk",
            provider: Provider::StandardWebhooks,
            body: json!({"type": "user.deleted", "timestamp": "2026-12-03T16:00:00Z", "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC", "email": "ana.silva@example.com"}}),
            person: "ana.silva@example.com",
            note: "Standard Webhooks (Svix/Clerk) user deleted",
        },
        Sample {
            source: "zitadel",
            provider: Provider::Zitadel,
            // ZITADEL's own user events carry ids only; this one carries the email in a base64
            // event_payload, which EMAIL_POINTER reaches.
            body: json!({
                "aggregateID": "313014806065971608", "aggregateType": "user", "sequence": 7,
                "event_type": "user.deactivated", "userID": "312909075212468632",
                "event_payload": "eyJlbWFpbCI6ICJraW0ubGVlQGV4YW1wbGUuY29tIn0="
            }),
            person: "kim.lee@example.com",
            note: "ZITADEL user deactivated (email via EMAIL_POINTER)",
        },
        Sample {
            source: "keycloak",
            provider: Provider::Keycloak,
            body: json!({
                "id": "c1d5b2f0-8a57-4f3e-9f5a-0b6a8d5e7c21", "time": 1796313600000u64, "type": "admin.USER-UPDATE",
                "resourcePath": "users/47c2b5e0-1c2b-4a1e-9d0f-2b1e4b7f9a10",
                "representation": "{\"username\":\"m.garcia\",\"email\":\"m.garcia@example.com\",\"enabled\":false}",
                "authDetails": {"realmId": "master", "username": "kc.admin@example.com"}
            }),
            person: "m.garcia@example.com",
            note: "Keycloak admin disabled a user",
        },
        Sample {
            source: "google",
            provider: Provider::Google,
            body: json!({"kind": "admin#directory#user", "id": "111220860655841818702", "primaryEmail": "user@mydomain.com"}),
            person: "user@mydomain.com",
            note: "Google Workspace user deleted",
        },
        Sample {
            source: "hr",
            provider: Provider::Hmac,
            body: json!({"type": "employee.terminated", "id": "evt_1002", "email": "no.zoom@example.com"}),
            person: "no.zoom@example.com",
            note: "person without a Zoom user",
        },
    ]
}

/// The env lines that configure the demo's sources.
pub fn source_env() -> HashMap<String, String> {
    [
        ("WEBHOOK_OKTA_PROVIDER", "okta"),
        ("WEBHOOK_OKTA_SECRET", "demo-okta-authorization-value"),
        ("WEBHOOK_HR_PROVIDER", "hmac"),
        ("WEBHOOK_HR_SECRET", "demo-hr-secret"),
        ("WEBHOOK_HR_EMAIL_POINTER", "/email"),
        ("WEBHOOK_HR_EVENT_TYPE_POINTER", "/type"),
        ("WEBHOOK_HR_EVENT_TYPES", "employee.terminated"),
        ("WEBHOOK_HR_EVENT_ID_POINTER", "/id"),
        ("WEBHOOK_WORKOS_PROVIDER", "workos"),
        ("WEBHOOK_WORKOS_SECRET", "demo-workos-secret"),
        ("WEBHOOK_CLERK_PROVIDER", "standard-webhooks"),
        ("WEBHOOK_CLERK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("WEBHOOK_ZITADEL_PROVIDER", "zitadel"),
        ("WEBHOOK_ZITADEL_SECRET", "demo-zitadel-signing-key"),
        ("WEBHOOK_ZITADEL_EMAIL_POINTER", "/event_payload/email"),
        ("WEBHOOK_KEYCLOAK_PROVIDER", "keycloak"),
        ("WEBHOOK_KEYCLOAK_SECRET", "demo-keycloak-secret"),
        ("WEBHOOK_GOOGLE_PROVIDER", "google"),
        ("WEBHOOK_GOOGLE_SECRET", "demo-google-channel-token"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let db = format!("sqlite://{}", dir.path().join("demo.db").display());
    let zoom = SimZoom::start().await.context("starting the simulated Zoom")?;
    zoom.script("jane.roe@example.com", [Reply::Status(503)]);
    zoom.unknown_user("no.zoom@example.com");

    let mut vars = zoom.service_vars();
    vars.extend([
        ("LISTEN_ADDR", "127.0.0.1:0".to_string()),
        ("DATABASE_URL", db.clone()),
        ("DRY_RUN", "false".to_string()),
        ("WEBHOOK_SOURCES", "okta,hr,workos,clerk,zitadel,keycloak,google".to_string()),
        ("RETRY_BASE_MS", "200".to_string()),
    ]);
    let args = ConfigArgs::from_vars(&vars)?;
    let config = Config::from_args(&args, &source_env())?;
    let store = store::connect(&db).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(crate::run_with_store(config.clone(), store.clone(), listener, shutdown.clone()));

    println!("zoom-sso-revoker demo: service on http://{addr}, simulated Zoom on http://{}", zoom.addr);
    println!();
    let http = reqwest::Client::new();
    for (i, s) in samples().iter().enumerate() {
        let source = config.source(s.source).context("demo source")?;
        let body = serde_json::to_vec(&s.body)?;
        let mut req =
            http.post(format!("http://{addr}/webhooks/{}", s.source)).header("content-type", "application/json");
        for (k, v) in source.sign(&body, SystemTime::now(), &format!("msg_demo_{i}")) {
            req = req.header(k, v);
        }
        let resp = req.body(body).send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        println!(
            "POST /webhooks/{:<8} [{:<17}] {:<50} -> {} {}",
            s.source,
            s.provider.as_str(),
            s.note,
            status.as_u16(),
            text
        );
        if !status.is_success() {
            bail!("the service refused a correctly signed sample ({status})");
        }
    }
    println!();

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut failed = false;
    for s in samples() {
        let job = loop {
            let jobs = store.jobs_for_email(s.person).await?;
            if let Some(j) =
                jobs.into_iter().next().filter(|j| JobState::parse(&j.state).is_some_and(JobState::is_terminal))
            {
                break Some(j);
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        match job {
            Some(j) => {
                let calls =
                    zoom.calls_for(s.person).iter().map(|c| c.status.to_string()).collect::<Vec<_>>().join(", ");
                println!("{:<24} {:<10} attempts={} zoom answered [{}]", s.person, j.state, j.attempts, calls);
            }
            None => {
                failed = true;
                println!("{:<24} did not finish within 30 s", s.person);
            }
        }
    }
    let admin = zoom.calls_for("okta.admin@example.com").len();
    println!();
    let admin = admin + zoom.calls_for("kc.admin@example.com").len();
    println!("The admins who performed the changes were called {admin} times (the actor is never the target).");
    shutdown.cancel();
    service.await??;
    zoom.stop();
    if failed {
        bail!("some revocations did not finish");
    }
    Ok(())
}
