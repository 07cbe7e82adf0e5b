//! What can go wrong answering a request, and how each surface shows it: pages render an HTML
//! error page (or send an anonymous visitor to the login form), the API answers one JSON shape.
//!
//! Every message says what to do. Internal errors are logged with their cause and shown to the
//! client only as "internal error": database messages never leave the server.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use crate::pages::ErrorPage;

/// Why a request failed, independent of how the failure is shown.
#[derive(Debug)]
pub enum AppError {
    /// No valid session or token.
    Unauthenticated,
    /// No such thing, or the caller may not know it exists: the same answer for both.
    NotFound,
    /// The request itself is wrong; the message says how.
    BadRequest(String),
    /// The request is understood but refused (a missing or stale CSRF token…).
    Forbidden(String),
    /// Too many failed logins: retry after this many seconds.
    TooManyRequests(u64),
    /// Something broke on our side; the string is logged, never shown.
    Internal(String),
}

impl From<gantry_store::Error> for AppError {
    fn from(err: gantry_store::Error) -> Self {
        AppError::Internal(format!("store: {err}"))
    }
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated => "unauthenticated",
            AppError::NotFound => "not_found",
            AppError::BadRequest(_) => "bad_request",
            AppError::Forbidden(_) => "forbidden",
            AppError::TooManyRequests(_) => "too_many_requests",
            AppError::Internal(_) => "internal",
        }
    }

    /// The message for the client (never the cause of an internal error).
    pub fn message(&self) -> String {
        match self {
            AppError::Unauthenticated => "authentication required: log in, or send an API token \
                                          as `Authorization: Bearer <token>`"
                .to_string(),
            AppError::NotFound => "not found: check the name and number, and that you have \
                                   access to the repository"
                .to_string(),
            AppError::BadRequest(message) | AppError::Forbidden(message) => message.clone(),
            AppError::TooManyRequests(seconds) => {
                format!("too many failed logins: wait {seconds} seconds and try again")
            }
            AppError::Internal(_) => "internal error: try again; if it persists, the server's \
                                      log has the details"
                .to_string(),
        }
    }

    fn log(&self) {
        if let AppError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
    }

    fn with_retry_after(&self, mut response: Response) -> Response {
        if let AppError::TooManyRequests(seconds) = self
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// An error shown as an HTML page; an anonymous visitor is sent to the login form instead.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(err: E) -> Self {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        if let AppError::Unauthenticated = err {
            return Redirect::to("/login").into_response();
        }
        let page = ErrorPage {
            nav: None,
            status: err.status().as_u16(),
            message: err.message(),
        };
        err.with_retry_after((err.status(), page).into_response())
    }
}

/// An error answered as JSON: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(err: E) -> Self {
        ApiError(err.into())
    }
}

/// The one shape of every API error.
#[derive(Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize)]
pub struct ErrorDetail {
    /// Stable, for programs: `not_found`, `unauthenticated`…
    pub code: &'static str,
    /// For people: what went wrong and what to do.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let body = ErrorBody {
            error: ErrorDetail {
                code: err.code(),
                message: err.message(),
            },
        };
        let mut response = (err.status(), axum::Json(body)).into_response();
        if let AppError::Unauthenticated = err {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        err.with_retry_after(response)
    }
}
