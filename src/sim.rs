//! A simulated Zoom on loopback: the OAuth token endpoint and `DELETE /v2/users/{id}/token`, with
//! scripted failures, a token-bucket rate limit answering 429 + `Retry-After`, unknown users and
//! token invalidation. Used by `demo`, the tests and the benchmark; it behaves as the research in
//! `reference/zoom-api.md` says Zoom does.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

pub const SIM_ACCOUNT_ID: &str = "sim-account";
pub const SIM_CLIENT_ID: &str = "sim-client";
pub const SIM_CLIENT_SECRET: &str = "sim-secret";

/// One scripted answer to a revoke call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Answer this status with a Zoom error body (204 for success; 404 means code 1001).
    Status(u16),
    /// Answer this status with this Zoom error code.
    Error { status: u16, code: i64 },
    /// 429 with this `Retry-After` value (and optionally `X-RateLimit-Type`).
    RateLimited { retry_after: Option<String>, limit_type: Option<String> },
    /// 401 code 124, as for an invalidated token.
    InvalidToken,
    /// Sleep this long, then answer normally (beyond the client timeout: a timeout).
    Slow(Duration),
}

/// A revoke call the sim received.
#[derive(Debug, Clone)]
pub struct Call {
    /// When the request arrived.
    pub at: Instant,
    /// The request path exactly as received (still percent-encoded).
    pub raw_path: String,
    /// The decoded user segment, when the path had the expected shape.
    pub user: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct Bucket {
    tokens: f64,
    last: Option<Instant>,
}

struct Sim {
    tokens: Mutex<Vec<String>>,
    issued: Mutex<Vec<String>>,
    invalidate_previous: std::sync::atomic::AtomicBool,
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    unknown: Mutex<HashSet<String>>,
    rate: Mutex<Option<(f64, Bucket)>>,
    latency_ms: AtomicU64,
    calls: Mutex<Vec<Call>>,
    in_flight: Mutex<HashMap<String, u32>>,
    overlaps: AtomicU64,
    token_requests: AtomicU64,
    rejected_429: AtomicU64,
    /// While set, every request (token and revoke) is answered with this status: Zoom is down.
    outage: Mutex<Option<u16>>,
}

/// Handle to a running simulated Zoom.
#[derive(Clone)]
pub struct SimZoom {
    sim: Arc<Sim>,
    pub addr: SocketAddr,
    stop: CancellationToken,
}

impl SimZoom {
    /// Starts on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = Arc::new(Sim {
            tokens: Mutex::default(),
            issued: Mutex::default(),
            invalidate_previous: false.into(),
            scripts: Mutex::default(),
            unknown: Mutex::default(),
            rate: Mutex::default(),
            latency_ms: 0.into(),
            calls: Mutex::default(),
            in_flight: Mutex::default(),
            overlaps: 0.into(),
            token_requests: 0.into(),
            rejected_429: 0.into(),
            outage: Mutex::default(),
        });
        let app = Router::new().route("/oauth/token", post(token)).fallback(revoke).with_state(sim.clone());
        let stop = CancellationToken::new();
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).with_graceful_shutdown(s.cancelled_owned()).await;
        });
        Ok(Self { sim, addr, stop })
    }

    pub fn api_base_url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.addr)
    }

    /// The `ZOOM_*` settings that point the service at this simulator with valid credentials.
    pub fn service_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ZOOM_ACCOUNT_ID", SIM_ACCOUNT_ID.to_string()),
            ("ZOOM_CLIENT_ID", SIM_CLIENT_ID.to_string()),
            ("ZOOM_CLIENT_SECRET", SIM_CLIENT_SECRET.to_string()),
            ("ZOOM_API_BASE_URL", self.api_base_url()),
            ("ZOOM_OAUTH_TOKEN_URL", self.token_url()),
        ]
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Queues answers for one email's next calls (after these, 204).
    pub fn script(&self, email: &str, replies: impl IntoIterator<Item = Reply>) {
        self.sim.scripts.lock().unwrap().entry(email.to_lowercase()).or_default().extend(replies);
    }

    /// This person has no Zoom user: 404 with code 1001.
    pub fn unknown_user(&self, email: &str) {
        self.sim.unknown.lock().unwrap().insert(email.to_lowercase());
    }

    /// Enforces `per_second` like Zoom: a token bucket of that size, 429 + `Retry-After: 1` when
    /// empty.
    pub fn rate_limit(&self, per_second: u32) {
        *self.sim.rate.lock().unwrap() = Some((per_second as f64, Bucket { tokens: per_second as f64, last: None }));
    }

    pub fn set_latency(&self, latency: Duration) {
        self.sim.latency_ms.store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    /// Every issued token stops working (as when another app fetched a new one).
    pub fn invalidate_tokens(&self) {
        self.sim.tokens.lock().unwrap().clear();
    }

    /// Issuing a token invalidates the earlier ones (Zoom's documented S2S behaviour).
    pub fn set_invalidate_previous(&self, on: bool) {
        self.sim.invalidate_previous.store(on, Ordering::Relaxed);
    }

    /// Every call so far, in order of arrival.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls = self.sim.calls.lock().unwrap().clone();
        calls.sort_by_key(|c| c.at);
        calls
    }

    /// Calls for one (decoded) email.
    pub fn calls_for(&self, email: &str) -> Vec<Call> {
        let e = email.to_lowercase();
        self.calls().into_iter().filter(|c| c.user.as_deref().map(str::to_lowercase).as_deref() == Some(&e)).collect()
    }

    /// Emails that got a 204.
    pub fn revoked(&self) -> Vec<String> {
        self.calls().into_iter().filter(|c| c.status == 204).filter_map(|c| c.user).collect()
    }

    pub fn token_requests(&self) -> u64 {
        self.sim.token_requests.load(Ordering::Relaxed)
    }

    /// Times two calls for the same person overlapped.
    pub fn overlaps(&self) -> u64 {
        self.sim.overlaps.load(Ordering::Relaxed)
    }

    /// Calls for one email being answered right now.
    pub fn in_flight(&self, email: &str) -> u32 {
        self.sim.in_flight.lock().unwrap().get(&email.to_lowercase()).copied().unwrap_or(0)
    }

    /// Revoke calls being answered right now (a `Reply::Slow` in progress, for instance).
    pub fn in_flight_calls(&self) -> u32 {
        self.sim.in_flight.lock().unwrap().values().sum()
    }

    /// Every access token issued so far (tests check none of them is ever logged).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.sim.issued.lock().unwrap().clone()
    }

    pub fn rejected_429(&self) -> u64 {
        self.sim.rejected_429.load(Ordering::Relaxed)
    }

    /// `Some(status)`: Zoom is down and answers every request (token and revoke) with it, e.g.
    /// 503; `None`: back up.
    pub fn set_outage(&self, status: Option<u16>) {
        *self.sim.outage.lock().unwrap() = status;
    }
}

fn outage_reply(sim: &Sim) -> Option<Response> {
    let status = (*sim.outage.lock().unwrap())?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Some(zoom_error(status, status.as_u16() as i64, status.canonical_reason().unwrap_or("unavailable")))
}

fn zoom_error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

async fn token(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    sim.token_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = outage_reply(&sim) {
        return r;
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SIM_CLIENT_ID}:{SIM_CLIENT_SECRET}"))
    );
    let auth_ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str());
    let form: HashMap<String, String> = serde_urlencoded_pairs(&body);
    if !auth_ok {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"})),
        )
            .into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("account_credentials")
        || form.get("account_id").map(String::as_str) != Some(SIM_ACCOUNT_ID)
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"reason": "Invalid request", "error": "invalid_request"})))
            .into_response();
    }
    let value = uuid::Uuid::new_v4().simple().to_string();
    {
        let mut tokens = sim.tokens.lock().unwrap();
        if sim.invalidate_previous.load(Ordering::Relaxed) {
            tokens.clear();
        }
        tokens.push(value.clone());
        sim.issued.lock().unwrap().push(value.clone());
    }
    Json(json!({"access_token": value, "token_type": "bearer", "expires_in": 3600, "scope": "user:delete:token:admin"}))
        .into_response()
}

fn serde_urlencoded_pairs(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let dec =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// The user segment when the path is exactly `/v2/users/<one segment>/token`.
fn user_of(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/users/")?.strip_suffix("/token")?;
    if rest.is_empty() || rest.contains('/') {
        return None;
    }
    // Percent-decoding only; '+' is not a space in a path.
    percent_encoding::percent_decode_str(rest).decode_utf8().ok().map(|s| s.into_owned())
}

/// One call in flight for a person. Leaving on drop matters: when a client dies mid-call (a
/// replica killed by a test) the server drops this handler, and the person must not look busy
/// forever after, or the next caller would be counted as an overlap.
struct InFlight<'a> {
    sim: &'a Sim,
    key: &'a str,
}

impl<'a> InFlight<'a> {
    fn enter(sim: &'a Sim, key: &'a str) -> Self {
        let mut f = sim.in_flight.lock().unwrap();
        let n = f.entry(key.to_string()).or_default();
        if *n > 0 {
            sim.overlaps.fetch_add(1, Ordering::Relaxed);
        }
        *n += 1;
        Self { sim, key }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.sim.in_flight.lock().unwrap().get_mut(self.key) {
            *n -= 1;
        }
    }
}

async fn revoke(State(sim): State<Arc<Sim>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let at = Instant::now();
    let raw_path = uri.path().to_string();
    let user = user_of(&raw_path);
    let resp = answer(&sim, &method, uri.query().is_some(), user.as_deref(), &headers).await;
    sim.calls.lock().unwrap().push(Call { at, raw_path, user, status: resp.status().as_u16() });
    resp
}

async fn answer(sim: &Sim, method: &Method, has_query: bool, user: Option<&str>, headers: &HeaderMap) -> Response {
    let Some(user) = user.filter(|_| *method == Method::DELETE && !has_query) else {
        return zoom_error(StatusCode::NOT_FOUND, 300, "This API endpoint is not recognized.");
    };
    if let Some(r) = outage_reply(sim) {
        return r;
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer.is_some_and(|b| sim.tokens.lock().unwrap().iter().any(|t| t == b));
    if !valid {
        return zoom_error(StatusCode::UNAUTHORIZED, 124, "Invalid access token.");
    }
    if let Some((rate, bucket)) = sim.rate.lock().unwrap().as_mut() {
        let now = Instant::now();
        let elapsed = bucket.last.map(|l| now.duration_since(l).as_secs_f64()).unwrap_or(0.0);
        bucket.tokens = (bucket.tokens + elapsed * *rate).min(*rate);
        bucket.last = Some(now);
        if bucket.tokens < 1.0 {
            sim.rejected_429.fetch_add(1, Ordering::Relaxed);
            let mut r = zoom_error(
                StatusCode::TOO_MANY_REQUESTS,
                429,
                "You have reached the maximum per-second rate limit for this API. Try again later.",
            );
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
            return r;
        }
        bucket.tokens -= 1.0;
    }
    let key = user.to_lowercase();
    let scripted = sim.scripts.lock().unwrap().get_mut(&key).and_then(VecDeque::pop_front);
    let in_flight = InFlight::enter(sim, &key);
    let latency = Duration::from_millis(sim.latency_ms.load(Ordering::Relaxed));
    let extra = match &scripted {
        Some(Reply::Slow(d)) => *d,
        _ => Duration::ZERO,
    };
    if !(latency + extra).is_zero() {
        tokio::time::sleep(latency + extra).await;
    }
    drop(in_flight);
    let mut resp = match scripted {
        Some(Reply::Status(204)) | Some(Reply::Slow(_)) | None => {
            if sim.unknown.lock().unwrap().contains(&key) {
                zoom_error(StatusCode::NOT_FOUND, 1001, &format!("User does not exist: {user}."))
            } else {
                StatusCode::NO_CONTENT.into_response()
            }
        }
        Some(Reply::Status(s)) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let code = match s {
                404 => 1001,
                403 => 4711,
                _ => s as i64,
            };
            zoom_error(status, code, status.canonical_reason().unwrap_or("error"))
        }
        Some(Reply::RateLimited { retry_after, limit_type }) => {
            let mut r = zoom_error(StatusCode::TOO_MANY_REQUESTS, 429, "Too Many Requests.");
            if let Some(v) = retry_after {
                r.headers_mut().insert("retry-after", v.parse().unwrap());
            }
            if let Some(v) = limit_type {
                r.headers_mut().insert("x-ratelimit-type", v.parse().unwrap());
            }
            r
        }
        Some(Reply::Error { status, code }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            zoom_error(status, code, status.canonical_reason().unwrap_or("error"))
        }
        Some(Reply::InvalidToken) => zoom_error(StatusCode::UNAUTHORIZED, 124, "Invalid access token."),
    };
    resp.headers_mut().insert("x-zm-trackingid", "v=2.0;clid=sim;rid=SIM".parse().unwrap());
    resp
}
