//! The one error type of the HTTP boundary, with a stable JSON body. Reasons for 401 and 5xx
//! stay in logs and metrics; the caller learns only the class.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unknown source")]
    UnknownSource,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("store unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, detail) = match &self {
            ApiError::UnknownSource => (StatusCode::NOT_FOUND, "unknown_source", None),
            ApiError::NotFound(r) => (StatusCode::NOT_FOUND, "not_found", Some(r.clone())),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            // Only an authenticated sender gets here, so the reason helps it and leaks nothing.
            ApiError::BadRequest(r) => (StatusCode::BAD_REQUEST, "bad_request", Some(r.clone())),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
        };
        let mut body = json!({ "error": code });
        if let Some(d) = detail {
            body["detail"] = d.into();
        }
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        resp
    }
}

/// The JSON body of every error answer (documentation of [`ApiError`]'s body).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: unknown_source, unauthorized, bad_request, not_found, unavailable, internal.
    pub error: String,
    /// Only where it helps an authenticated caller (bad request, not found).
    pub detail: Option<String>,
}

impl From<crate::ops::OpsError> for ApiError {
    fn from(e: crate::ops::OpsError) -> Self {
        match e {
            crate::ops::OpsError::NotFound(m) => ApiError::NotFound(m),
            crate::ops::OpsError::BadInput(m) => ApiError::BadRequest(m),
            crate::ops::OpsError::Store(e) => {
                tracing::warn!(error = %e, "admin request: store unavailable");
                ApiError::Unavailable
            }
        }
    }
}
