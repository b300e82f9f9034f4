//! `sign` as an operator runs it (the real binary, configured through the environment only):
//! for every preset, the headers it prints are accepted by a running service and the person is
//! revoked (issue 3 acceptance 5).

mod common;

use base64::Engine as _;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};

/// (source, provider, secret, extra settings, body for an email)
type Case = (&'static str, &'static str, &'static str, &'static [(&'static str, &'static str)], fn(&str) -> Value);

const CASES: &[Case] = &[
    ("okta", "okta", common::OKTA_SECRET, &[], |e| {
        common::okta_batch(vec![common::okta_event("user.lifecycle.suspend", "SUCCESS", e)])
    }),
    ("hr", "hmac", common::HR_SECRET, &[], |e| common::hr_event(&uuid::Uuid::now_v7().to_string(), e)),
    (
        "workos",
        "workos",
        "workos-sign-secret",
        &[],
        |e| json!({"id": "event_sign", "event": "dsync.user.updated", "data": {"email": e, "state": "inactive"}}),
    ),
    (
        "sw",
        "standard-webhooks",
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        &[],
        |e| json!({"type": "user.deactivated", "data": {"email": e}}),
    ),
    ("zitadel", "zitadel", "zitadel-sign-key", &[("EMAIL_POINTER", "/event_payload/email")], |e| {
        let p = base64::engine::general_purpose::STANDARD.encode(json!({"email": e}).to_string());
        json!({"aggregateID": "42", "sequence": 9, "event_type": "user.removed", "event_payload": p})
    }),
    (
        "keycloak",
        "keycloak",
        "keycloak-sign-secret",
        &[],
        |e| json!({"id": "kc-sign", "type": "admin.USER-DELETE", "representation": json!({"email": e}).to_string()}),
    ),
    ("google", "google", "google-sign-token", &[], |e| json!({"kind": "admin#directory#user", "primaryEmail": e})),
];

fn source_vars() -> Vec<(String, String)> {
    let mut vars = vec![("WEBHOOK_SOURCES".to_string(), CASES.iter().map(|c| c.0).collect::<Vec<_>>().join(","))];
    for (name, provider, secret, extra, _) in CASES {
        let up = name.to_ascii_uppercase();
        vars.push((format!("WEBHOOK_{up}_PROVIDER"), provider.to_string()));
        vars.push((format!("WEBHOOK_{up}_SECRET"), secret.to_string()));
        for (k, v) in *extra {
            vars.push((format!("WEBHOOK_{up}_{k}"), v.to_string()));
        }
    }
    vars
}

/// Runs `sign` and returns (URL, headers) parsed from its output.
fn sign(listen: &str, name: &str, body: &[u8], via_file: bool) -> (String, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zoom-sso-revoker"));
    // Only what an operator's environment would hold; no .env from the developer's checkout.
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(dir.path());
    cmd.envs(source_vars()).env("LISTEN_ADDR", listen).args(["sign", "--source", name]);
    let out = if via_file {
        let path = dir.path().join("body.json");
        std::fs::write(&path, body).unwrap();
        cmd.arg("--file").arg(&path).output().unwrap()
    } else {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(body).unwrap();
        child.wait_with_output().unwrap()
    };
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "sign --source {name}: {}", String::from_utf8_lossy(&out.stderr));
    let mut lines = text.lines();
    let first = lines.next().unwrap();
    let url = first.strip_prefix("# POST ").unwrap().split_whitespace().next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .by_ref()
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let curl = lines.next().unwrap();
    assert!(curl.starts_with("curl ") && curl.contains(&url), "{curl}");
    for (k, v) in &headers {
        assert!(curl.contains(&format!("-H '{k}: {v}'")), "curl line lacks {k}: {curl}");
    }
    (url, headers)
}

#[tokio::test]
async fn sign_output_is_accepted_by_serve_for_every_preset() {
    let app = common::spawn_app_with(|vars| {
        for (k, v) in source_vars() {
            common::set(vars, &k, &v);
        }
    })
    .await;
    let listen = app.base_url.trim_start_matches("http://").to_string();
    for (i, (name, ..)) in CASES.iter().enumerate() {
        let email = format!("signed.{name}@example.com");
        let body = serde_json::to_vec(&(CASES[i].4)(&email)).unwrap();
        let (url, headers) = sign(&listen, name, &body, i % 2 == 0);
        assert_eq!(url, format!("{}/webhooks/{name}", app.base_url));
        let mut req = app.http.post(&url).header("content-type", "application/json");
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = req.body(body).send().await.unwrap();
        let status = resp.status().as_u16();
        let counts: Value = resp.json().await.unwrap();
        assert_eq!((status, counts["accepted"].as_u64()), (200, Some(1)), "{name}: {counts}");
        assert_eq!(app.wait_terminal(&email).await.state, "revoked", "{name}");
    }
}

#[test]
fn sign_refuses_an_unlisted_source_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_zoom-sso-revoker"))
        .env_clear()
        .env("WEBHOOK_SOURCES", "okta")
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .args(["sign", "--source", "nope"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WEBHOOK_SOURCES"));
}
