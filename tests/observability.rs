//! /metrics and /openapi.json over real sockets.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use zoom_sso_revoker::sim::Reply;

/// One sample of the Prometheus text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict reader of the text exposition format (0.0.4): `# HELP`/`# TYPE` lines and samples
/// `name{label="value",...} number`. Panics on anything else, so the test fails on bad output.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "bad comment line {line:?}");
            assert!(is_name(parts.next().unwrap_or("")), "bad metric name in {line:?}");
            if kind == "TYPE" {
                let t = parts.next().unwrap_or("");
                assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&t), "bad type in {line:?}");
            }
            continue;
        }
        let (head, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                let mut labels = BTreeMap::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    assert!(is_name(&key), "bad label name {key:?} in {line:?}");
                    assert_eq!(chars.next(), Some('"'), "label value must be quoted in {line:?}");
                    let mut val = String::new();
                    loop {
                        match chars.next() {
                            Some('\\') => val.push(chars.next().expect("escape")),
                            Some('"') => break,
                            Some(c) => val.push(c),
                            None => panic!("unterminated label value in {line:?}"),
                        }
                    }
                    labels.insert(key, val);
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                }
                (name.to_string(), labels)
            }
        };
        assert!(is_name(&name), "bad metric name in {line:?}");
        out.push(Sample { name, labels, value });
    }
    out
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
        .sum()
}

async fn scrape(url: &str) -> Vec<Sample> {
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    parse_prometheus(&r.text().await.unwrap())
}

#[tokio::test]
async fn metrics_parse_count_a_revocation_and_never_carry_an_email() {
    let app = spawn_app().await;
    let url = format!("{}/metrics", app.base_url);
    // The recorder is process-wide (tests in this binary share it): compare before and after.
    let before = scrape(&url).await;
    let email = "metrics.person@example.com";
    app.zoom.script(email, [Reply::RateLimited { retry_after: Some("0".into()), limit_type: None }]);
    assert_eq!(
        app.post_signed("okta", &okta_batch(vec![okta_event("user.lifecycle.suspend", "SUCCESS", email)]))
            .await
            .status(),
        200
    );
    assert_eq!(app.wait_terminal(email).await.state, "revoked");
    let bad = app.post_raw("okta", b"{}".to_vec(), &[("authorization".into(), "wrong".into())]).await;
    assert_eq!(bad.status(), 401);
    let after = scrape(&url).await;

    let delta = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    assert_eq!(delta("zoom_sso_revoker_revocations_total", &[("outcome", "revoked")]), 1.0);
    assert_eq!(delta("zoom_sso_revoker_revocations_total", &[("outcome", "retry")]), 1.0);
    assert_eq!(delta("zoom_sso_revoker_webhooks_total", &[("source", "okta"), ("outcome", "accepted")]), 1.0);
    assert_eq!(
        delta(
            "zoom_sso_revoker_webhooks_total",
            &[("source", "okta"), ("outcome", "rejected"), ("reason", "bad_signature")]
        ),
        1.0,
        "{:?}",
        after.iter().filter(|s| s.name == "zoom_sso_revoker_webhooks_total").collect::<Vec<_>>()
    );
    assert_eq!(delta("zoom_sso_revoker_zoom_rate_limited_total", &[]), 1.0);
    assert!(delta("zoom_sso_revoker_zoom_request_duration_seconds_count", &[]) >= 2.0);
    assert_eq!(delta("zoom_sso_revoker_webhook_to_revoked_seconds_count", &[]), 1.0);
    assert!(value(&after, "zoom_sso_revoker_zoom_token_refreshes_total", &[]) >= 1.0);
    for gauge in
        ["zoom_sso_revoker_jobs_pending", "zoom_sso_revoker_jobs_dead", "zoom_sso_revoker_oldest_pending_age_seconds"]
    {
        assert!(after.iter().any(|s| s.name == gauge), "{gauge} missing");
    }
    // Gauges are set from the scraped service's store; other tests in this binary scrape their
    // own stores through the same process-wide recorder, so only their presence is checked here.
    assert!(after.iter().any(|s| s.name == "zoom_sso_revoker_jobs" && s.labels.contains_key("state")));
    assert!(after.iter().any(|s| s.name == "zoom_sso_revoker_zoom_request_duration_seconds_bucket"
        && s.labels.get("le").map(String::as_str) == Some("+Inf")));

    for s in &after {
        for (k, v) in &s.labels {
            assert!(!v.contains('@'), "email-like label {k}={v:?} on {}", s.name);
        }
    }
}

#[tokio::test]
async fn unknown_sources_do_not_become_label_values() {
    let app = spawn_app().await;
    let r = app.post_raw("attacker-chosen-name", b"{}".to_vec(), &[]).await;
    assert_eq!(r.status(), 404);
    let samples = scrape(&format!("{}/metrics", app.base_url)).await;
    assert!(samples.iter().all(|s| s.labels.values().all(|v| v != "attacker-chosen-name")));
    assert!(
        value(&samples, "zoom_sso_revoker_webhooks_total", &[("source", "unknown"), ("reason", "unknown_source")])
            >= 1.0
    );
}

#[tokio::test]
async fn metrics_move_to_metrics_addr() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let app = spawn_app_with(|v| set(v, "METRICS_ADDR", &format!("127.0.0.1:{port}"))).await;
    let r = app.http.get(format!("{}/metrics", app.base_url)).send().await.unwrap();
    assert_eq!(r.status(), 404, "not on the main listener");
    // The separate listener starts with the service; give it a moment to bind.
    let url = format!("http://127.0.0.1:{port}/metrics");
    let mut ok = false;
    for _ in 0..100 {
        if let Ok(r) = reqwest::get(&url).await {
            ok = r.status() == 200 && !parse_prometheus(&r.text().await.unwrap()).is_empty();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ok, "metrics not served on METRICS_ADDR");
}

#[tokio::test]
async fn openapi_documents_webhook_health_and_admin_routes() {
    let app = spawn_app().await;
    let doc: Value = reqwest::get(format!("{}/openapi.json", app.base_url)).await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/webhooks/{source}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/admin/jobs",
        "/admin/jobs/{id}",
        "/admin/jobs/{id}/retry",
        "/admin/jobs/retry-dead",
        "/admin/revoke",
        "/admin/audit/{email}",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /openapi.json");
    }
    assert!(paths["/webhooks/{source}"]["post"]["responses"]["401"].is_object());
    assert!(paths["/webhooks/{source}"]["get"].is_object());
    assert_eq!(paths["/admin/jobs"]["get"]["security"][0]["bearer"], serde_json::json!([]));
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for schema in ["IngestCounts", "JobRow", "EventRow", "AttemptRecord", "Audit", "ErrorBody"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "schema {schema} missing");
    }
}
