//! Server-rendered pages from the templates in `www/templates` (checked at compile time).

use askama::Template;

use super::broker::users::User;
use super::error::PageError;

/// The stylesheet, served under a content-addressed path so it can be cached for a year.
pub const CSS: &str = include_str!("../../www/static/keyedge.css");

pub fn css_path() -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(CSS.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("/static/keyedge.{hex}.css")
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    css: &'a str,
    signed_in: bool,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login<'a> {
    pub css: &'a str,
    pub client_name: Option<&'a str>,
    pub providers: &'a [ProviderChoice],
    /// Show the email field of home-realm discovery.
    pub discovery: bool,
    /// The request to carry through the email form.
    pub hidden: &'a [(&'static str, String)],
    pub notice: Option<&'a str>,
}

/// One button on the login page.
pub struct ProviderChoice {
    pub display_name: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct Account<'a> {
    css: &'a str,
    user: &'a User,
    session_idp: &'a str,
    links: &'a [LinkRow],
}

pub struct LinkRow {
    pub provider: String,
    pub username: String,
    pub linked_at: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    css: &'a str,
    title: &'a str,
    message: &'a str,
    retry: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPost<'a> {
    css: &'a str,
    action: &'a str,
    fields: &'a [(&'a str, &'a str)],
}

/// The one script keyedge serves: it submits the form_post form on load. Allowed by its hash
/// in the page's CSP; without JavaScript the user presses the button.
const FORM_POST_SCRIPT: &str = "document.forms[0].submit()";

/// OAuth 2.0 Form Post Response Mode §2: an HTML form that POSTs the response to the client.
pub fn form_post(css: &str, action: &str, fields: &[(&str, &str)]) -> super::web::Response {
    use sha2::{Digest, Sha256};
    let html = render(&FormPost { css, action, fields });
    let mut res = super::web::html(http::StatusCode::OK, html);
    let script_hash =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, Sha256::digest(FORM_POST_SCRIPT));
    let origin = url::Url::parse(action).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'sha256-{script_hash}'; form-action {origin}; frame-ancestors 'none'; base-uri 'none'"
    );
    if let Ok(v) = http::HeaderValue::from_str(&csp) {
        res.headers_mut().insert("content-security-policy", v);
    }
    res
}

#[derive(Template)]
#[template(path = "logout.html")]
struct Logout<'a> {
    css: &'a str,
    form: Option<&'a LogoutForm>,
}

/// What the logout confirmation posts back.
pub struct LogoutForm {
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

// Rendering a checked template into a String only fails if a Display impl fails, which ours
// never do; the fallback keeps input paths free of unwrap().
fn render(t: &impl Template) -> String {
    t.render().unwrap_or_else(|_| "<!doctype html><title>keyedge</title><p>Page could not be rendered.</p>".into())
}

pub fn home(css: &str, signed_in: bool) -> String {
    render(&Home { css, signed_in })
}

pub fn login(page: &Login<'_>) -> String {
    render(page)
}

pub fn account(css: &str, user: &User, session_idp: &str, links: &[LinkRow]) -> String {
    render(&Account { css, user, session_idp, links })
}

pub fn error_page(css: &str, e: &PageError) -> String {
    render(&ErrorPage { css, title: &e.title, message: &e.message, retry: e.retry.as_deref() })
}

pub fn logout_confirm(css: &str, form: &LogoutForm) -> String {
    render(&Logout { css, form: Some(form) })
}

pub fn logout_done(css: &str) -> String {
    render(&Logout { css, form: None })
}
