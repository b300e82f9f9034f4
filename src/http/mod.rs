//! The HTTP surface (SPEC §8): webhooks, handshakes, health. Handlers are thin: the pipeline
//! itself lives in [`crate::ingest`].

mod error;

pub use error::ApiError;

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
    Router::new()
        .route("/webhooks/{source}", get(handshake).post(receive))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
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

fn sensitive_headers() -> Vec<header::HeaderName> {
    let mut v: Vec<header::HeaderName> = [header::AUTHORIZATION, header::COOKIE, header::PROXY_AUTHORIZATION].into();
    v.push(header::HeaderName::from_static("x-goog-channel-token"));
    v
}

async fn receive(
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

async fn handshake(State(state): State<AppState>, Path(source): Path<String>, headers: HeaderMap) -> Response {
    let Some(src) = state.config.source(&source) else {
        return ApiError::UnknownSource.into_response();
    };
    match src.handshake(&headers) {
        Some(body) => (StatusCode::OK, Json(body)).into_response(),
        None => ApiError::BadRequest("this source has no GET handshake for this request".into()).into_response(),
    }
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
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
