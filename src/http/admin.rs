//! The admin API (SPEC §8): the CLI's operations as JSON under `/admin/`, routed only when
//! `ADMIN_TOKEN` is set, behind a constant-time bearer check.

use super::{ApiError, AppState, ErrorBody};
use crate::ops::{self, Audit, JobDetail, Listing, ManualResult, RetryReport};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The admin routes, or `None` when `ADMIN_TOKEN` is unset (they then do not exist: 404).
pub fn routes(state: &AppState) -> Option<Router<AppState>> {
    let token = state.config.ops.admin_token.clone()?;
    Some(
        Router::new()
            .route("/admin/jobs", get(list_jobs))
            .route("/admin/jobs/retry-dead", post(retry_dead))
            .route("/admin/jobs/{id}", get(show_job))
            .route("/admin/jobs/{id}/retry", post(retry_job))
            .route("/admin/revoke", post(revoke))
            .route("/admin/audit/{email}", get(audit))
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                let token = token.clone();
                async move { authorize(&token, req, next).await }
            })),
    )
}

async fn authorize(token: &SecretString, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .unwrap_or("");
    // Hashing first makes the comparison constant-time in the length too.
    let ok: bool =
        Sha256::digest(given.trim().as_bytes()).ct_eq(&Sha256::digest(token.expose_secret().as_bytes())).into();
    if !ok {
        tracing::warn!(method = %req.method(), "admin request without a valid bearer token");
        let mut r = ApiError::Unauthorized.into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        return r;
    }
    next.run(req).await
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
// Query-string parameters, all optional (without this utoipa documents required path parameters).
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A job state (pending, in_flight, revoked, not_found, dry_run, failed, dead) or `rejected`
    /// for authenticated requests that could not be parsed.
    #[param(pattern = "^(|pending|in_flight|revoked|not_found|dry_run|failed|dead|rejected)$")]
    pub state: Option<String>,
    /// Only jobs of this email.
    pub email: Option<String>,
    /// Most rows returned (default 100; any value from 0 is accepted and clamped to 1–10000).
    #[param(format = Int64, minimum = 0, maximum = 4294967295.0)]
    pub limit: Option<u32>,
}

/// List jobs (newest first) or rejected requests.
#[utoipa::path(get, path = "/admin/jobs", tag = "admin", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Listing), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list_jobs(
    State(s): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Listing>, ApiError> {
    // Malformed input gets the documented JSON error body, not axum's plain-text rejection.
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(Json(ops::list(&s.store, q.state.as_deref(), q.email.as_deref(), q.limit).await?))
}

/// One job with its events and attempts.
#[utoipa::path(get, path = "/admin/jobs/{id}", tag = "admin", params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = JobDetail), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn show_job(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<JobDetail>, ApiError> {
    Ok(Json(ops::show(&s.store, &id).await?))
}

/// Put a failed or dead job back in the queue.
#[utoipa::path(post, path = "/admin/jobs/{id}/retry", tag = "admin", params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses((status = 200, body = RetryReport), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn retry_job(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<RetryReport>, ApiError> {
    let r = ops::retry(&s.store, &id).await?;
    s.wake.notify_one();
    Ok(Json(r))
}

/// Retry every dead job.
#[utoipa::path(post, path = "/admin/jobs/retry-dead", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<RetryReport>), (status = 401, body = ErrorBody)))]
pub async fn retry_dead(State(s): State<AppState>) -> Result<Json<Vec<RetryReport>>, ApiError> {
    let r = ops::retry_all_dead(&s.store).await?;
    s.wake.notify_one();
    Ok(Json(r))
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct RevokeRequest {
    /// People to revoke now (through the same queue as webhooks, source `manual`).
    #[schema(min_items = 1)]
    pub emails: Vec<String>,
}

/// Enqueue manual revocations.
#[utoipa::path(post, path = "/admin/revoke", tag = "admin", request_body = RevokeRequest, security(("bearer" = [])),
    responses((status = 200, body = Vec<ManualResult>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn revoke(
    State(s): State<AppState>,
    req: Result<Json<RevokeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    // A missing content type, bad JSON or the wrong shape: all 400 with the JSON error body.
    let Json(req) = req.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let r = ops::revoke(&s.store, &s.config.policy, &req.emails).await?;
    s.wake.notify_one();
    Ok((StatusCode::OK, Json(r)).into_response())
}

/// A person's whole history: events, jobs, attempts, outcome.
#[utoipa::path(get, path = "/admin/audit/{email}", tag = "admin", params(("email" = String, Path, description = "The person's email")),
    security(("bearer" = [])),
    responses((status = 200, body = Audit), (status = 401, body = ErrorBody)))]
pub async fn audit(State(s): State<AppState>, Path(email): Path<String>) -> Result<Json<Audit>, ApiError> {
    Ok(Json(ops::audit(&s.store, &email).await?))
}
