//! The core's error type and the one place where errors become HTTP responses.

pub use super::vocab::ErrorCode;
use http::StatusCode;
use std::fmt;

use super::pages;
use super::ports::{PortError, Rng};
use super::web::{self, Response};

/// An OAuth 2.0 error as sent on the wire (RFC 6749 §4.1.2.1, §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }
    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
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
    /// The reference of the log line that holds what went wrong (see [`Failure::Logged`]).
    pub reference: Option<String>,
}

impl PageError {
    pub fn new(status: StatusCode, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, title: title.into(), message: message.into(), retry: None, reference: None }
    }
    pub fn bad_request(title: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, title, message)
    }
    /// A `405` page for a method `req`'s address does not take, with those it takes in `Allow`.
    pub fn method_not_allowed(ui: pages::Ui<'_>, title: &str, message: String, allow: &'static str) -> Response {
        let page = Self::new(StatusCode::METHOD_NOT_ALLOWED, title, message);
        let mut res = Failure::from(page).into_response(ui);
        res.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
        res
    }
    /// "Try again" leads to `url`, one of keyedge's own paths (`/login`, `/authorize?…`),
    /// shown under the issuer's path.
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
    /// A failure whose details are for the operator only (an upstream's error answer, an
    /// internal error's text): the visitor gets `shown`, in general words, with a short
    /// reference; the log gets `detail` with the same reference (see
    /// [`Keyedge::failure_response`](super::app::Keyedge::failure_response)).
    Logged { shown: Box<Failure>, detail: String },
    /// A broken invariant — a bug, not a passing outage: logged under a reference, and the
    /// visitor gets a `500` page with that reference (never "try again later").
    Internal(String),
    /// A rate limit was reached: `429` with `Retry-After`, as JSON for an API (`json`) or as
    /// a page.
    TooMany { json: bool },
}

impl Failure {
    /// A broken invariant: `detail` goes to the log only.
    pub fn internal(detail: impl Into<String>) -> Self {
        Failure::Internal(detail.into())
    }

    /// `shown` to the visitor, `detail` to the log only.
    pub fn logged(shown: impl Into<Failure>, detail: impl Into<String>) -> Self {
        Failure::Logged { shown: Box::new(shown.into()), detail: detail.into() }
    }

    /// The failure as the visitor sees it, marked with `reference` (the log line's).
    /// The same failure as an application's endpoint answers it: JSON with an OAuth error
    /// code, never a page — an outage is `503 temporarily_unavailable`, a bug
    /// `500 server_error`.
    pub fn as_json(self) -> Failure {
        match self {
            Failure::Page(page) => {
                let code = match page.status.as_u16() {
                    503 => ErrorCode::TemporarilyUnavailable,
                    500..=599 => ErrorCode::ServerError,
                    _ => ErrorCode::InvalidRequest,
                };
                Failure::Json(page.status, OAuthError::new(code, page.message))
            }
            Failure::Port(_) => {
                let page = unavailable_page();
                Failure::Json(page.status, OAuthError::new(ErrorCode::TemporarilyUnavailable, page.message))
            }
            Failure::Internal(_) => {
                let page = internal_page();
                Failure::Json(page.status, OAuthError::new(ErrorCode::ServerError, page.message))
            }
            Failure::Logged { shown, detail } => Failure::Logged { shown: Box::new(shown.as_json()), detail },
            Failure::TooMany { .. } => Failure::TooMany { json: true },
            json @ (Failure::Json(..) | Failure::Bearer(..)) => json,
        }
    }

    pub fn with_reference(self, reference: &str) -> Failure {
        match self {
            Failure::Page(page) => Failure::Page(page.with_reference_id(reference)),
            Failure::Json(status, e) => Failure::Json(status, e.with_reference(reference)),
            Failure::Bearer(status, e) => Failure::Bearer(status, e.with_reference(reference)),
            Failure::Port(_) => Failure::Page(unavailable_page().with_reference_id(reference)),
            Failure::Internal(_) => Failure::Page(internal_page().with_reference_id(reference)),
            Failure::Logged { shown, .. } => shown.with_reference(reference),
            too_many @ Failure::TooMany { .. } => too_many,
        }
    }
}

impl OAuthError {
    /// The description with the reference of the log line that tells more.
    pub fn with_reference(self, reference: &str) -> Self {
        let description = format!("{} (reference {reference})", self.description);
        Self { description, ..self }
    }
}

impl PageError {
    pub fn with_reference_id(mut self, reference: &str) -> Self {
        self.reference = Some(reference.to_owned());
        self
    }
}

/// A short reference for a log line that a visitor's page names: 10 hex digits, easy to read
/// out and to search for.
pub fn new_reference(rng: &dyn Rng) -> String {
    let mut bytes = [0u8; 5];
    rng.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The log line of a failure shown to a visitor under `reference`.
pub fn reference_line(reference: &str, detail: &str) -> String {
    format!("reference {reference}: {detail}")
}

/// The answer when keyedge cannot serve at all: it could not start (an invalid configuration
/// or secret) or its host failed. The visitor gets a general page with a reference; `detail`
/// goes to the log with it, never to the page.
pub fn cannot_serve(detail: &str, rng: &dyn Rng, log: &dyn Fn(&str)) -> Response {
    let reference = new_reference(rng);
    log(&reference_line(&reference, detail));
    let page = PageError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Service unavailable",
        "keyedge cannot serve this request. The operator has been told what went wrong; please try again later.",
    )
    .with_reference_id(&reference);
    let css = pages::css_path();
    web::html(page.status, pages::error_page(pages::Ui { css: &css, root: "", t: &super::i18n::EN }, &page))
}

fn internal_page() -> PageError {
    PageError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "keyedge could not complete this request because of an error of its own. The operator can find it by the reference below.",
    )
}

fn unavailable_page() -> PageError {
    PageError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "keyedge could not reach its storage or an identity provider. Nothing was changed; please try again.",
    )
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
    serde_json::json!({ "error": e.code.as_str(), "error_description": e.description }).to_string()
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
                let page = unavailable_page();
                web::html(page.status, pages::error_page(ui, &page))
            }
            Failure::Internal(_) => {
                let page = internal_page();
                web::html(page.status, pages::error_page(ui, &page))
            }
            // Without a log to tell, the detail is dropped: it is never shown.
            Failure::Logged { shown, .. } => shown.into_response(ui),
            Failure::TooMany { json } => {
                let wait = super::ports::rate_limit::LONGEST_PERIOD;
                let mut res = if json {
                    let e = OAuthError::new(
                        ErrorCode::TemporarilyUnavailable,
                        format!("too many requests; try again in {wait} seconds"),
                    );
                    web::json_no_store(StatusCode::TOO_MANY_REQUESTS, oauth_json(&e))
                } else {
                    let page = PageError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many requests",
                        format!("Too many requests came from your network just now. Please wait {wait} seconds and try again."),
                    );
                    web::html(page.status, pages::error_page(ui, &page))
                };
                res.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(wait));
                res
            }
        }
    }
}

pub type Outcome = Result<Response, Failure>;
