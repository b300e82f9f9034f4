//! Hostile input (SPEC §2, §5, §10): forged, malformed, oversized, replayed and steering requests.
//!
//! Every case asserts its exact status code, that no job was created and no Zoom call made, that
//! nothing panicked, and that `/healthz` still answers 200 afterwards. Emails that are odd but
//! legitimate (Unicode, plus-addressed, path characters in the local part) must be revoked, at
//! exactly that decoded user and in one path segment.

mod common;

use common::{HR_SECRET, OKTA_SECRET, TestApp, hr_event, okta_batch, okta_event, spawn_app_with};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TS_SECRET: &str = "ts-test-secret";
/// Large enough for the huge-batch cases, small enough to exceed quickly.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Panics anywhere in this test process (handlers, worker tasks) are counted: a caught panic is
/// still a bug.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            prev(info);
        }));
    });
}

async fn hostile_app() -> TestApp {
    spawn_app_with(|v| {
        common::set(v, "WEBHOOK_SOURCES", "okta,hr,ts");
        common::set(v, "MAX_BODY_BYTES", &MAX_BODY.to_string());
        common::set(v, "PROTECTED_EMAILS", "breakglass@corp.example");
        // A timestamped HMAC source: `{timestamp}.{body}`, 300 s tolerance both ways.
        common::set(v, "WEBHOOK_TS_PROVIDER", "hmac");
        common::set(v, "WEBHOOK_TS_SECRET", TS_SECRET);
        common::set(v, "WEBHOOK_TS_SIGNATURE_HEADER", "X-Signature");
        common::set(v, "WEBHOOK_TS_TIMESTAMP_HEADER", "X-Timestamp");
        common::set(v, "WEBHOOK_TS_SIGNED_CONTENT", "{timestamp}.{body}");
        common::set(v, "WEBHOOK_TS_TOLERANCE_SECS", "300");
        common::set(v, "WEBHOOK_TS_EVENT_ID_POINTER", "/id");
    })
    .await
}

fn hmac_hex(secret: &str, content: &[u8]) -> String {
    let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(content);
    hex::encode(m.finalize().into_bytes())
}

fn hub_sig(secret: &str, body: &[u8]) -> Vec<(String, String)> {
    vec![("x-hub-signature-256".into(), format!("sha256={}", hmac_hex(secret, body)))]
}

fn ts_headers(ts: &str, body: &[u8]) -> Vec<(String, String)> {
    let mut content = format!("{ts}.").into_bytes();
    content.extend_from_slice(body);
    vec![("x-signature".into(), format!("sha256={}", hmac_hex(TS_SECRET, &content))), ("x-timestamp".into(), ts.into())]
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One hostile request and what it must get.
struct Case {
    name: &'static str,
    source: &'static str,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    status: u16,
    /// For 200 answers: the expected `ignored` count (accepted must be 0).
    ignored: Option<u32>,
}

fn case(name: &'static str, source: &'static str, body: Vec<u8>, headers: Vec<(String, String)>, status: u16) -> Case {
    Case { name, source, body, headers, status, ignored: None }
}

/// A correctly signed `hr` request whose content is hostile; it must be stored as ignored.
fn hr_ignored(name: &'static str, body: Value, ignored: u32) -> Case {
    let b = bytes(&body);
    let headers = hub_sig(HR_SECRET, &b);
    Case { name, source: "hr", body: b, headers, status: 200, ignored: Some(ignored) }
}

fn okta_ignored(name: &'static str, body: Value, ignored: u32) -> Case {
    Case {
        name,
        source: "okta",
        body: bytes(&body),
        headers: h(&[("authorization", OKTA_SECRET)]),
        status: 200,
        ignored: Some(ignored),
    }
}

fn signed_hr(name: &'static str, body: Vec<u8>, status: u16) -> Case {
    let headers = hub_sig(HR_SECRET, &body);
    case(name, "hr", body, headers, status)
}

fn cases() -> Vec<Case> {
    let ev = bytes(&hr_event("evt-hostile", "victim@corp.example"));
    let good_sig = hmac_hex(HR_SECRET, &ev);
    let okta_body = bytes(&okta_batch(vec![okta_event("user.lifecycle.deactivate", "SUCCESS", "victim@corp.example")]));
    let now = unix_now();
    let ts_body = ev.clone();
    vec![
        // --- Okta shared-secret header ---
        case("okta: no Authorization", "okta", okta_body.clone(), vec![], 401),
        case("okta: empty Authorization", "okta", okta_body.clone(), h(&[("authorization", "")]), 401),
        case("okta: wrong secret", "okta", okta_body.clone(), h(&[("authorization", "not-the-secret")]), 401),
        case("okta: secret prefix only", "okta", okta_body.clone(), h(&[("authorization", &OKTA_SECRET[..5])]), 401),
        case(
            "okta: secret plus a byte",
            "okta",
            okta_body.clone(),
            h(&[("authorization", &format!("{OKTA_SECRET}x"))]),
            401,
        ),
        case(
            "okta: Bearer-prefixed secret",
            "okta",
            okta_body.clone(),
            h(&[("authorization", &format!("Bearer {OKTA_SECRET}"))]),
            401,
        ),
        case(
            "okta: secret in another case",
            "okta",
            okta_body.clone(),
            h(&[("authorization", &OKTA_SECRET.to_uppercase())]),
            401,
        ),
        case("okta: secret in the wrong header", "okta", okta_body.clone(), h(&[("x-okta-secret", OKTA_SECRET)]), 401),
        // --- generic HMAC (hex, X-Hub-Signature-256) ---
        case("hmac: no signature header", "hr", ev.clone(), vec![], 401),
        case("hmac: empty signature", "hr", ev.clone(), h(&[("x-hub-signature-256", "sha256=")]), 401),
        case("hmac: prefix missing", "hr", ev.clone(), h(&[("x-hub-signature-256", &good_sig)]), 401),
        case("hmac: wrong prefix", "hr", ev.clone(), h(&[("x-hub-signature-256", &format!("sha1={good_sig}"))]), 401),
        case("hmac: short signature", "hr", ev.clone(), h(&[("x-hub-signature-256", "sha256=abcd")]), 401),
        case(
            "hmac: truncated by one byte",
            "hr",
            ev.clone(),
            h(&[("x-hub-signature-256", &format!("sha256={}", &good_sig[..62]))]),
            401,
        ),
        case(
            "hmac: odd-length hex",
            "hr",
            ev.clone(),
            h(&[("x-hub-signature-256", &format!("sha256={}", &good_sig[..63]))]),
            401,
        ),
        case(
            "hmac: non-hex characters",
            "hr",
            ev.clone(),
            h(&[("x-hub-signature-256", &format!("sha256={}", "zz".repeat(32)))]),
            401,
        ),
        case(
            "hmac: right MAC, base64 instead of hex",
            "hr",
            ev.clone(),
            h(&[(
                "x-hub-signature-256",
                &format!(
                    "sha256={}",
                    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, hex::decode(&good_sig).unwrap())
                ),
            )]),
            401,
        ),
        case("hmac: wrong secret", "hr", ev.clone(), hub_sig("not-the-secret", &ev), 401),
        case("hmac: signature of another body", "hr", ev.clone(), hub_sig(HR_SECRET, b"{}"), 401),
        case(
            "hmac: body changed after signing (trailing space)",
            "hr",
            [ev.as_slice(), b" "].concat(),
            hub_sig(HR_SECRET, &ev),
            401,
        ),
        case(
            "hmac: signed re-serialized JSON, sent reordered",
            "hr",
            br#"{"type":"user.disabled","id":"evt-hostile","email":"victim@corp.example"}"#.to_vec(),
            hub_sig(HR_SECRET, br#"{"email":"victim@corp.example","id":"evt-hostile","type":"user.disabled"}"#),
            401,
        ),
        case(
            "hmac: many bogus signatures",
            "hr",
            ev.clone(),
            h(&[("x-hub-signature-256", &vec![format!("sha256={}", "00".repeat(32)); 200].join(","))]),
            401,
        ),
        case(
            "hmac: 8 KiB signature header",
            "hr",
            ev.clone(),
            h(&[("x-hub-signature-256", &format!("sha256={}", "ab".repeat(4096)))]),
            401,
        ),
        // --- timestamps ---
        case("ts: a day in the past", "ts", ts_body.clone(), ts_headers(&(now - 86_400).to_string(), &ts_body), 401),
        case("ts: a day in the future", "ts", ts_body.clone(), ts_headers(&(now + 86_400).to_string(), &ts_body), 401),
        case("ts: just past the tolerance", "ts", ts_body.clone(), ts_headers(&(now - 400).to_string(), &ts_body), 401),
        case("ts: the Unix epoch", "ts", ts_body.clone(), ts_headers("0", &ts_body), 401),
        case("ts: negative", "ts", ts_body.clone(), ts_headers("-1700000000", &ts_body), 401),
        case("ts: overflowing integer", "ts", ts_body.clone(), ts_headers(&"9".repeat(60), &ts_body), 401),
        case("ts: not a number", "ts", ts_body.clone(), ts_headers("yesterday", &ts_body), 401),
        case(
            "ts: milliseconds where seconds are expected",
            "ts",
            ts_body.clone(),
            ts_headers(&(now * 1000).to_string(), &ts_body),
            401,
        ),
        case(
            "ts: timestamp header missing",
            "ts",
            ts_body.clone(),
            vec![ts_headers(&now.to_string(), &ts_body)[0].clone()],
            401,
        ),
        {
            // Signed for one time, sent with another: the timestamp is part of the MAC.
            let mut hs = ts_headers(&(now - 86_400).to_string(), &ts_body);
            hs[1].1 = now.to_string();
            case("ts: timestamp swapped after signing", "ts", ts_body.clone(), hs, 401)
        },
        // --- routing ---
        case("unknown source", "nope", ev.clone(), hub_sig(HR_SECRET, &ev), 404),
        case("source name differing in case", "HR", ev.clone(), hub_sig(HR_SECRET, &ev), 404),
        // --- sizes and encodings ---
        signed_hr("oversized body, correctly signed", vec![b' '; MAX_BODY + 1], 413),
        case("oversized body, unsigned", "hr", vec![b'{'; MAX_BODY + 1024], vec![], 413),
        signed_hr("empty body, signed", vec![], 400),
        case("empty body, Okta secret", "okta", vec![], h(&[("authorization", OKTA_SECRET)]), 400),
        signed_hr("invalid JSON", b"{\"email\": \"victim@corp.example\"".to_vec(), 400),
        signed_hr(
            "invalid UTF-8",
            b"{\"type\":\"user.disabled\",\"id\":\"x\",\"email\":\"\xff\xfe@corp.example\"}".to_vec(),
            400,
        ),
        signed_hr("top-level array", b"[1,2,3]".to_vec(), 400),
        signed_hr("JSON nested 100k deep", [vec![b'['; 100_000], vec![b']'; 100_000]].concat(), 400),
        signed_hr(
            "event type of the wrong JSON type",
            bytes(&json!({"id":"e1","type":{"x":1},"email":"victim@corp.example"})),
            400,
        ),
        case(
            "Okta: data.events is not an array",
            "okta",
            bytes(&json!({"data":{"events":{"uuid":"x"}}})),
            h(&[("authorization", OKTA_SECRET)]),
            400,
        ),
        case(
            "Okta: event without uuid",
            "okta",
            bytes(&json!({"data":{"events":[{"eventType":"user.lifecycle.deactivate"}]}})),
            h(&[("authorization", OKTA_SECRET)]),
            400,
        ),
        // --- authenticated, but nothing to revoke ---
        hr_ignored("email is a number", json!({"id":"n1","type":"user.disabled","email":42}), 1),
        hr_ignored(
            "email is an object",
            json!({"id":"n2","type":"user.disabled","email":{"address":"victim@corp.example"}}),
            1,
        ),
        hr_ignored("email is an array", json!({"id":"n3","type":"user.disabled","email":["victim@corp.example"]}), 1),
        hr_ignored("email is null", json!({"id":"n4","type":"user.disabled","email":null}), 1),
        hr_ignored("email is missing", json!({"id":"n5","type":"user.disabled"}), 1),
        hr_ignored("email is empty", json!({"id":"n6","type":"user.disabled","email":""}), 1),
        hr_ignored(
            "path steering in the domain",
            json!({"id":"p1","type":"user.disabled","email":"victim@corp.example/../../accounts/me"}),
            1,
        ),
        hr_ignored(
            "query in the domain",
            json!({"id":"p2","type":"user.disabled","email":"victim@corp.example?page=2"}),
            1,
        ),
        hr_ignored(
            "fragment in the domain",
            json!({"id":"p3","type":"user.disabled","email":"victim@corp.example#x"}),
            1,
        ),
        hr_ignored(
            "percent-encoded slash in the domain",
            json!({"id":"p4","type":"user.disabled","email":"victim@corp.example%2F..%2Fx"}),
            1,
        ),
        hr_ignored(
            "CRLF header injection",
            json!({"id":"i1","type":"user.disabled","email":"victim@corp.example\r\nX-Evil: 1"}),
            1,
        ),
        hr_ignored("NUL byte", json!({"id":"i2","type":"user.disabled","email":"victim\u{0}@corp.example"}), 1),
        hr_ignored(
            "two at-signs",
            json!({"id":"i3","type":"user.disabled","email":"victim@corp.example@evil.example"}),
            1,
        ),
        hr_ignored(
            "longer than 254 bytes",
            json!({"id":"i4","type":"user.disabled","email":format!("{}@corp.example", "v".repeat(250))}),
            1,
        ),
        hr_ignored(
            "protected break-glass admin",
            json!({"id":"i5","type":"user.disabled","email":"BreakGlass@Corp.Example"}),
            1,
        ),
        hr_ignored("unknown event type", json!({"id":"u1","type":"user.created","email":"victim@corp.example"}), 1),
        okta_ignored(
            "Okta: unknown event type",
            okta_batch(vec![okta_event("user.lifecycle.create", "SUCCESS", "victim@corp.example")]),
            1,
        ),
        okta_ignored(
            "Okta: deactivation that FAILED",
            okta_batch(vec![okta_event("user.lifecycle.deactivate", "FAILURE", "victim@corp.example")]),
            1,
        ),
        okta_ignored(
            "Okta: no User target (the admin actor must never be revoked)",
            okta_batch(vec![{
                let mut e = okta_event("user.lifecycle.deactivate", "SUCCESS", "victim@corp.example");
                e["target"] = json!([{ "id": "0oaAPP", "type": "AppInstance", "alternateId": "app@corp.example" }]);
                e
            }]),
            1,
        ),
        okta_ignored(
            "Okta: alternateId is a number",
            okta_batch(vec![{
                let mut e = okta_event("user.lifecycle.deactivate", "SUCCESS", "victim@corp.example");
                e["target"][1]["alternateId"] = json!(12345);
                e
            }]),
            1,
        ),
        okta_ignored(
            "Okta: huge batch of unknown event types",
            okta_batch(
                (0..3_000).map(|_| okta_event("user.session.start", "SUCCESS", "victim@corp.example")).collect(),
            ),
            3_000,
        ),
        okta_ignored(
            "Okta: huge batch of invalid emails",
            okta_batch(
                (0..1_000).map(|i| okta_event("user.lifecycle.deactivate", "SUCCESS", &format!("bad {i}@x"))).collect(),
            ),
            1_000,
        ),
    ]
}

async fn jobs_total(app: &TestApp) -> i64 {
    app.store.count_by_state().await.unwrap().iter().map(|(_, n)| n).sum()
}

async fn assert_healthy(app: &TestApp, after: &str) {
    let r = app.http.get(format!("{}/healthz", app.base_url)).send().await.expect("healthz");
    assert_eq!(r.status(), 200, "/healthz after {after}");
}

#[tokio::test]
async fn hostile_requests_are_refused_without_a_zoom_call() {
    count_panics();
    let app = hostile_app().await;
    let cases = cases();
    assert!(cases.len() >= 40, "at least 40 cases, got {}", cases.len());
    eprintln!("{} hostile requests", cases.len());
    for c in &cases {
        let r = app.post_raw(c.source, c.body.clone(), &c.headers).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        assert_eq!(status, c.status, "{}: body {text}", c.name);
        if let Some(ignored) = c.ignored {
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}: JSON body, got {text}", c.name));
            assert_eq!(v["accepted"], 0, "{}: {v}", c.name);
            assert_eq!(v["ignored"], ignored, "{}: {v}", c.name);
        }
        if status == 401 {
            // The reason stays in the logs; the caller learns only the class.
            assert_eq!(text, r#"{"error":"unauthorized"}"#, "{}", c.name);
        }
        // A Zoom call can only come from a job, and jobs are committed before the answer.
        assert_eq!(jobs_total(&app).await, 0, "{}: a job was created", c.name);
        assert!(app.zoom.calls().is_empty(), "{}: Zoom was called", c.name);
        assert_healthy(&app, c.name).await;
    }

    // Raw-socket cases the HTTP client would not send.
    let chunked = raw_request(
        &app,
        format!(
            "POST /webhooks/hr HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            MAX_BODY + 10,
            "x".repeat(MAX_BODY + 10)
        )
        .into_bytes(),
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 413"), "chunked oversized body: {}", first_line(&chunked));
    let bad_header = raw_request(
        &app,
        b"POST /webhooks/okta HTTP/1.1\r\nhost: x\r\nauthorization: \xff\xfe\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
    )
    .await;
    assert!(bad_header.starts_with("HTTP/1.1 401"), "non-UTF-8 Authorization: {}", first_line(&bad_header));
    let put = app.http.put(format!("{}/webhooks/hr", app.base_url)).body(ev_body()).send().await.unwrap();
    assert_eq!(put.status(), 405, "PUT");
    let get = app.http.get(format!("{}/webhooks/hr", app.base_url)).send().await.unwrap();
    assert_eq!(get.status(), 400, "GET without a handshake");
    assert_healthy(&app, "raw-socket cases").await;

    // A canary proves the worker is alive and would have called Zoom for anything queued above.
    let r = app.post_signed("hr", &hr_event("evt-canary", "canary@corp.example")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.wait_terminal("canary@corp.example").await.state, "revoked");
    let users: Vec<_> = app.zoom.calls().into_iter().map(|c| c.user).collect();
    assert_eq!(users, vec![Some("canary@corp.example".to_string())], "only the canary reached Zoom");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
}

fn ev_body() -> Vec<u8> {
    bytes(&hr_event("evt-put", "victim@corp.example"))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

async fn raw_request(app: &TestApp, req: Vec<u8>) -> String {
    let addr = app.base_url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer (413) and close before the whole body is written.
    let _ = s.write_all(&req).await;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await.expect("an answer").unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Odd but legitimate addresses are revoked at exactly that (normalized) user, in one segment.
#[tokio::test]
async fn unicode_plus_and_path_characters_are_revoked_exactly() {
    count_panics();
    let app = hostile_app().await;
    let cases = [
        ("First.Last+Zoom@Corp.Example", "first.last+zoom@corp.example"),
        ("  Jürgen.Müller@Bücher.Example ", "jürgen.müller@bücher.example"),
        ("ユーザー@例え.jp", "ユーザー@例え.jp"),
        ("../../admin@corp.example", "../../admin@corp.example"),
        ("a%2Fb@corp.example", "a%2fb@corp.example"),
        ("a?b#c@corp.example", "a?b#c@corp.example"),
        ("o'brien&co=1;x@corp.example", "o'brien&co=1;x@corp.example"),
    ];
    for (i, (raw, _)) in cases.iter().enumerate() {
        let body = if i % 2 == 0 {
            okta_batch(vec![okta_event("user.lifecycle.deactivate", "SUCCESS", raw)])
        } else {
            hr_event(&format!("evt-odd-{i}"), raw)
        };
        let source = if i % 2 == 0 { "okta" } else { "hr" };
        let r = app.post_signed(source, &body).await;
        assert_eq!(r.status(), 200, "{raw}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["accepted"], 1, "{raw}: {v}");
    }
    for (raw, normalized) in cases {
        let job = app.wait_terminal(normalized).await;
        assert_eq!(job.state, "revoked", "{raw}");
        let calls = app.zoom.calls_for(normalized);
        assert_eq!(calls.len(), 1, "{raw}: {calls:?}");
        let call = &calls[0];
        assert_eq!(call.user.as_deref(), Some(normalized), "{raw}");
        let segment = call.raw_path.strip_prefix("/v2/users/").and_then(|p| p.strip_suffix("/token")).unwrap();
        assert!(!segment.is_empty() && !segment.contains('/'), "{raw}: path {}", call.raw_path);
    }
    // Nobody else was called: not "admin@corp.example", not a decoded variant.
    assert_eq!(app.zoom.calls().len(), cases.len());
    assert!(app.zoom.calls_for("admin@corp.example").is_empty());
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

/// A replayed delivery is a duplicate: answered 200 (so the sender stops) and never called again.
#[tokio::test]
async fn replayed_deliveries_do_not_call_zoom_again() {
    count_panics();
    let app = hostile_app().await;
    let hr = bytes(&hr_event("evt-replay", "replayed@corp.example"));
    let hr_headers = hub_sig(HR_SECRET, &hr);
    let okta = bytes(&okta_batch(vec![okta_event("user.lifecycle.suspend", "SUCCESS", "replayed-okta@corp.example")]));
    let okta_headers = h(&[("authorization", OKTA_SECRET)]);
    let ts = bytes(&hr_event("evt-replay-ts", "replayed-ts@corp.example"));
    let ts_h = ts_headers(&unix_now().to_string(), &ts);
    for (source, body, headers) in [("hr", &hr, &hr_headers), ("okta", &okta, &okta_headers), ("ts", &ts, &ts_h)] {
        let first: Value = app.post_raw(source, body.clone(), headers).await.json().await.unwrap();
        assert_eq!(first["accepted"], 1, "{source}: {first}");
    }
    for email in ["replayed@corp.example", "replayed-okta@corp.example", "replayed-ts@corp.example"] {
        assert_eq!(app.wait_terminal(email).await.state, "revoked");
    }
    for _ in 0..3 {
        for (source, body, headers) in [("hr", &hr, &hr_headers), ("okta", &okta, &okta_headers), ("ts", &ts, &ts_h)] {
            let r = app.post_raw(source, body.clone(), headers).await;
            assert_eq!(r.status(), 200, "{source}");
            let v: Value = r.json().await.unwrap();
            assert_eq!((v["accepted"].as_u64(), v["duplicates"].as_u64()), (Some(0), Some(1)), "{source}: {v}");
        }
    }
    // One more committed-and-processed request proves the worker had its chance to misbehave.
    app.post_signed("hr", &hr_event("evt-after-replay", "after@corp.example")).await;
    app.wait_terminal("after@corp.example").await;
    for email in ["replayed@corp.example", "replayed-okta@corp.example", "replayed-ts@corp.example"] {
        assert_eq!(app.zoom.calls_for(email).len(), 1, "{email}");
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

/// A huge batch for one person coalesces into one job and one call.
#[tokio::test]
async fn huge_batch_for_one_person_is_one_call() {
    count_panics();
    let app = hostile_app().await;
    let events: Vec<Value> =
        (0..2_000).map(|_| okta_event("user.lifecycle.deactivate", "SUCCESS", "Leaver@Corp.Example")).collect();
    let r = app.post_signed("okta", &okta_batch(events)).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 2_000, "{v}");
    assert_eq!(app.wait_terminal("leaver@corp.example").await.state, "revoked");
    assert_eq!(app.store.jobs_for_email("leaver@corp.example").await.unwrap().len(), 1);
    assert_eq!(app.zoom.calls().len(), 1);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

/// Malformed admin input gets the documented JSON error, and `/openapi.json` says what the server
/// does (each point below was a Schemathesis finding; see FUZZING.md).
#[tokio::test]
async fn admin_input_errors_are_json_and_match_the_openapi_document() {
    let token = "hostile-admin-token-0123456789abcdef";
    let app = spawn_app_with(|v| common::set(v, "ADMIN_TOKEN", token)).await;
    let admin = |method: reqwest::Method, path: &str| {
        app.http.request(method, format!("{}/admin/{path}", app.base_url)).bearer_auth(token)
    };
    for (name, req) in [
        ("limit not a number", admin(reqwest::Method::GET, "jobs?limit=abc")),
        ("limit negative", admin(reqwest::Method::GET, "jobs?limit=-1")),
        ("unknown state", admin(reqwest::Method::GET, "jobs?state=bogus")),
        ("revoke without a content type", admin(reqwest::Method::POST, "revoke").body(r#"{"emails":["a@b.c"]}"#)),
        (
            "revoke with broken JSON",
            admin(reqwest::Method::POST, "revoke").header("content-type", "application/json").body("\0"),
        ),
        ("revoke with the wrong shape", admin(reqwest::Method::POST, "revoke").json(&json!({"emails": "a@b.c"}))),
        ("revoke nobody", admin(reqwest::Method::POST, "revoke").json(&json!({"emails": []}))),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 400, "{name}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], "bad_request", "{name}: {v}");
    }
    assert_eq!(jobs_total(&app).await, 0);

    let doc: Value = app.http.get(format!("{}/openapi.json", app.base_url)).send().await.unwrap().json().await.unwrap();
    for p in doc["paths"]["/admin/jobs"]["get"]["parameters"].as_array().unwrap() {
        assert_eq!((p["in"].as_str(), p["required"].as_bool()), (Some("query"), Some(false)), "{p}");
    }
    // An empty list is both "no jobs" and "no rejected requests": anyOf, not oneOf.
    assert!(doc["components"]["schemas"]["Listing"]["anyOf"].is_array());
    assert_eq!(doc["components"]["schemas"]["RevokeRequest"]["properties"]["emails"]["minItems"], 1);
}
