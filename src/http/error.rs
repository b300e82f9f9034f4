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
