//! How much of a request body keyedge reads, per route. The Worker reads a body into its
//! memory (128 MB per isolate, shared by every request it serves) only up to the limit of
//! the route it is for, and stops reading the stream past it; keyedge refuses a longer body
//! it is handed as well. `docs/openid-provider.md` and `docs/admin.md` state the limits.

use http::{HeaderMap, Method};

/// Forms, token, revocation and introspection requests, and every other body keyedge reads:
/// tens of parameters, a `logout_token` or a client assertion fit many times over.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;

/// `POST /admin/import`: JSON lines of users (about 500 bytes a user with two identities, so
/// some 16 000 users); a longer export is imported in parts (`docs/admin.md`).
pub const ADMIN_IMPORT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// `POST /broker/{alias}/endpoint`: a SAML IdP's `SAMLResponse` (base64 of up to 256 KiB of
/// XML, form-encoded: an assertion listing many groups runs to tens of kilobytes).
pub const SAML_POST_BODY_LIMIT: usize = 512 * 1024;

/// What a route does with a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLimit {
    /// keyedge reads it, at most `max` bytes; a longer one is answered `413` as `answer`.
    Read { max: usize, answer: TooLarge },
    /// A page of the gated site: the body goes on to the site as the stream it is, never read
    /// into keyedge's memory (the site decides what it accepts).
    Stream,
}

/// How a `413` is told to the sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLarge {
    /// An OAuth JSON error (RFC 6749 §5.2 `invalid_request`): an application is calling.
    Json,
    /// A readable page: a browser posted a form.
    Page,
}

/// The limit of `method path`; `gated` says whether a `[gate]` serves the paths that are not
/// keyedge's own.
pub fn body_limit(method: &Method, path: &str, gated: bool) -> BodyLimit {
    if gated && !super::gate::is_keyedge_path(path) {
        return BodyLimit::Stream;
    }
    let broker_endpoint =
        path.strip_prefix("/broker/").and_then(|rest| rest.split_once('/')).is_some_and(|(_, e)| e == "endpoint");
    let max = match () {
        _ if *method == Method::POST && path == "/admin/import" => ADMIN_IMPORT_BODY_LIMIT,
        _ if *method == Method::POST && broker_endpoint => SAML_POST_BODY_LIMIT,
        _ => FORM_BODY_LIMIT,
    };
    BodyLimit::Read { max, answer: if called_by_applications(path) { TooLarge::Json } else { TooLarge::Page } }
}

/// Endpoints applications call (they answer errors as JSON, outages included); browsers
/// post to the others.
pub fn called_by_applications(path: &str) -> bool {
    const EXACT: &[&str] = &["/token", "/revoke", "/introspect", "/userinfo", "/jwks", "/backchannel-logout"];
    const PREFIXES: &[&str] = &["/admin/", "/.well-known/"];
    let broker_api = path
        .strip_prefix("/broker/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, endpoint)| matches!(endpoint, "token" | "backchannel_logout"));
    EXACT.contains(&path) || PREFIXES.iter().any(|p| path.starts_with(p)) || broker_api
}

/// Whether the request's `Content-Length` announces more than `max` bytes: such a body is
/// refused before a byte of it is read. An unreadable length is left to the bounded reader.
pub fn declared_over(headers: &HeaderMap, max: usize) -> bool {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|len| len > max as u64)
}

/// A limit in words, for the error: `64 KiB`, `8 MiB`.
pub fn describe(max: usize) -> String {
    match max {
        m if m >= 1024 * 1024 && m % (1024 * 1024) == 0 => format!("{} MiB", m / (1024 * 1024)),
        m if m >= 1024 && m % 1024 == 0 => format!("{} KiB", m / 1024),
        m => format!("{m} bytes"),
    }
}
