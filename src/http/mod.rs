//! The HTTP surface (SPEC §8): webhooks, handshakes, health. Handlers are thin: the pipeline
//! itself lives in [`crate::ingest`].

pub mod admin;
mod error;
pub mod openapi;

pub use error::{ApiError, ErrorBody};

use crate::ingest::{self, IngestError};
use crate::providers::RawWebhook;
use crate::store::DynStore;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<crate::config::Config>,
    pub store: DynStore,
    pub wake: Arc<Notify>,
}

/// The router of the service.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    let x_request_id = header::HeaderName::from_static("x-request-id");
    let mut app = Router::new()
        .route("/webhooks/{source}", get(handshake).post(receive))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(openapi_json));
    if state.config.ops.metrics_addr.is_none() {
        app = app.route("/metrics", get(metrics));
    }
    if let Some(admin) = admin::routes(&state) {
        app = app.merge(admin);
    }
    app.with_state(state)
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal.into_response()))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        // Every credential header any preset uses is redacted from traces.
        .layer(SetSensitiveRequestHeadersLayer::new(sensitive_headers()))
}

/// The router of the separate metrics listener (`METRICS_ADDR`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

fn sensitive_headers() -> Vec<header::HeaderName> {
    let mut v: Vec<header::HeaderName> = [header::AUTHORIZATION, header::COOKIE, header::PROXY_AUTHORIZATION].into();
    v.push(header::HeaderName::from_static("x-goog-channel-token"));
    v
}

/// Receive a signed webhook. Verified on the raw bytes with the source's provider scheme; answered
/// 200 only after its events are durably stored.
#[utoipa::path(post, path = "/webhooks/{source}", tag = "webhooks",
    params(("source" = String, Path, description = "A name from WEBHOOK_SOURCES")),
    request_body(content = Object, content_type = "application/json", description = "The provider's payload, exactly as it signed it"),
    responses(
        (status = 200, body = crate::store::IngestCounts, description = "Stored: accepted, duplicate and ignored events"),
        (status = 400, body = ErrorBody, description = "Authenticated but unparseable; kept for replay"),
        (status = 401, body = ErrorBody, description = "Authentication failed"),
        (status = 404, body = ErrorBody, description = "Unknown source"),
        (status = 413, description = "Body larger than MAX_BODY_BYTES"),
        (status = 503, body = ErrorBody, description = "Store unavailable; retry"),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = RawWebhook { source, headers, body, received_at: SystemTime::now() };
    match ingest::handle(&state.config, &state.store, raw).await {
        Ok(counts) => {
            if counts.accepted > 0 {
                state.wake.notify_one();
            }
            (StatusCode::OK, Json(counts)).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Provider handshakes (Okta's one-time verification challenge).
#[utoipa::path(get, path = "/webhooks/{source}", tag = "webhooks",
    params(("source" = String, Path, description = "A name from WEBHOOK_SOURCES")),
    responses((status = 200, body = Object, description = "The handshake answer"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn handshake(State(state): State<AppState>, Path(source): Path<String>, headers: HeaderMap) -> Response {
    let Some(src) = state.config.source(&source) else {
        return ApiError::UnknownSource.into_response();
    };
    match src.handshake(&headers) {
        Some(body) => (StatusCode::OK, Json(body)).into_response(),
        None => ApiError::BadRequest("this source has no GET handshake for this request".into()).into_response(),
    }
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Object)))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The store answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, body = Object), (status = 503, body = Object)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "store unavailable"}))).into_response()
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::UnknownSource => ApiError::UnknownSource,
            IngestError::Unauthorized(_) => ApiError::Unauthorized,
            IngestError::Unparseable(reason) => ApiError::BadRequest(reason),
            IngestError::Store(_) => ApiError::Unavailable,
        }
    }
}

/// Prometheus metrics (text exposition). On `METRICS_ADDR` instead when that is set.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = crate::telemetry::metrics::render(&state.store).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

/// This service's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "health", responses((status = 200, body = Object)))]
pub async fn openapi_json() -> Response {
    Json(openapi::document()).into_response()
}
