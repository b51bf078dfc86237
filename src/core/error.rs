//! The core's error type and the one place where errors become HTTP responses.

use http::StatusCode;
use std::fmt;

use super::pages;
use super::ports::PortError;
use super::web::{self, Response};

/// An OAuth 2.0 error as sent on the wire (RFC 6749 §4.1.2.1, §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", d)
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

/// A readable error page: what went wrong, and where to try again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub message: String,
    pub retry: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, title: title.into(), message: message.into(), retry: None }
    }
    pub fn bad_request(title: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, title, message)
    }
    pub fn with_retry(mut self, url: impl Into<String>) -> Self {
        self.retry = Some(url.into());
        self
    }
}

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum Failure {
    /// Shown to the user as a page (never a redirect to an unvalidated URL).
    Page(PageError),
    /// A token-endpoint style JSON error; `401` adds `WWW-Authenticate` (RFC 6749 §5.2).
    Json(StatusCode, OAuthError),
    /// A bearer-token error at a resource (RFC 6750 §3).
    Bearer(StatusCode, OAuthError),
    /// Storage or network infrastructure failed; nothing about it is shown to the user.
    Port(PortError),
}

impl From<PageError> for Failure {
    fn from(e: PageError) -> Self {
        Failure::Page(e)
    }
}

impl From<PortError> for Failure {
    fn from(e: PortError) -> Self {
        Failure::Port(e)
    }
}

fn oauth_json(e: &OAuthError) -> String {
    serde_json::json!({ "error": e.code, "error_description": e.description }).to_string()
}

impl Failure {
    pub fn into_response(self, ui: pages::Ui<'_>) -> Response {
        match self {
            Failure::Page(page) => web::html(page.status, pages::error_page(ui, &page)),
            Failure::Json(status, e) => {
                let mut res = web::json_no_store(status, oauth_json(&e));
                if status == StatusCode::UNAUTHORIZED {
                    res.headers_mut().insert(
                        http::header::WWW_AUTHENTICATE,
                        http::HeaderValue::from_static("Basic realm=\"keyedge\""),
                    );
                }
                res
            }
            Failure::Bearer(status, e) => {
                let mut res = web::json_no_store(status, oauth_json(&e));
                let challenge = format!("Bearer realm=\"keyedge\", error=\"{}\"", e.code);
                if let Ok(v) = http::HeaderValue::from_str(&challenge) {
                    res.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
                }
                res
            }
            Failure::Port(_) => {
                let page = PageError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "keyedge could not reach its storage or an identity provider. Nothing was changed; please try again.",
                );
                web::html(page.status, pages::error_page(ui, &page))
            }
        }
    }
}

pub type Outcome = Result<Response, Failure>;
