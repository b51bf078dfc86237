//! Server-rendered pages from the templates in `www/templates` (checked at compile time).

use askama::Template;

use super::broker::users::User;
use super::config::IdentityProvider;
use super::csrf::CsrfToken;
use super::error::PageError;
use super::i18n::Messages;
use super::upstream::presets::Preset;

/// What every page needs: the stylesheet's path and the words in the reader's language.
#[derive(Clone, Copy)]
pub struct Ui<'a> {
    /// The stylesheet's URL path.
    pub css: &'a str,
    /// Prepended to keyedge's own paths in links and forms: `""`, or the issuer's path
    /// (`/realms/acme`, see `mount`).
    pub root: &'a str,
    pub t: &'static Messages,
}

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
    ui: Ui<'a>,
    signed_in: bool,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct Login<'a> {
    pub ui: Ui<'a>,
    pub client_name: Option<&'a str>,
    pub providers: &'a [ProviderChoice],
    /// Show the email field of home-realm discovery.
    pub discovery: bool,
    /// The request to carry through the email form.
    pub hidden: &'a [(std::borrow::Cow<'static, str>, String)],
    pub notice: Option<&'a str>,
}

/// One button on the login page.
pub struct ProviderChoice {
    pub display_name: String,
    pub href: String,
    /// The operator's `icon` (an image).
    pub icon_url: Option<String>,
    /// Else the preset's brand icon, inline SVG markup from `www/icons` (no request; hidden
    /// from screen readers: the button's name is its label).
    pub icon_svg: Option<&'static str>,
}

impl ProviderChoice {
    /// The button for `idp`, going to `href`.
    pub fn new(idp: &IdentityProvider, href: String) -> Self {
        ProviderChoice {
            display_name: idp.display_name.clone(),
            href,
            icon_url: idp.icon.clone(),
            icon_svg: idp.preset.filter(|_| idp.icon.is_none()).map(brand_icon),
        }
    }
}

/// A preset's brand icon: inline SVG, replaceable like every file in `www/`.
pub fn brand_icon(preset: Preset) -> &'static str {
    match preset {
        Preset::GitHub => include_str!("../../www/icons/github.svg"),
        Preset::Google => include_str!("../../www/icons/google.svg"),
        Preset::GitLab => include_str!("../../www/icons/gitlab.svg"),
        Preset::Microsoft => include_str!("../../www/icons/microsoft.svg"),
        Preset::LinkedIn => include_str!("../../www/icons/linkedin.svg"),
        Preset::Discord => include_str!("../../www/icons/discord.svg"),
        Preset::Bitbucket => include_str!("../../www/icons/bitbucket.svg"),
        Preset::Facebook => include_str!("../../www/icons/facebook.svg"),
        Preset::X => include_str!("../../www/icons/x.svg"),
        Preset::StackOverflow => include_str!("../../www/icons/stackoverflow.svg"),
        Preset::Apple => include_str!("../../www/icons/apple.svg"),
    }
}

#[derive(Template)]
#[template(path = "account.html")]
struct Account<'a> {
    ui: Ui<'a>,
    user: &'a User,
    session_idp: &'a str,
    links: &'a [LinkRow],
    linkable: &'a [ProviderChoice],
    sessions: &'a [SessionRow],
    csrf: &'a CsrfToken,
}

pub struct LinkRow {
    pub provider: String,
    pub username: String,
    pub linked_at: String,
    /// `/account/unlink/{alias}`, unless this is the last identity that can sign in.
    pub unlink: Option<String>,
}

/// One of the user's sessions on the account page.
pub struct SessionRow {
    pub provider: String,
    pub device: String,
    pub signed_in_at: String,
    /// The last single sign-on to an application with it.
    pub last_seen: String,
    pub current: bool,
    /// `/account/sessions/{sid}/end`.
    pub end: String,
}

/// The profile form of the first login.
pub struct ProfileForm {
    pub username: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
}

/// A form field's error, shown next to it.
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError { field, message: message.into() }
    }
}

#[derive(Template)]
#[template(path = "first_login_review.html")]
struct Review<'a> {
    ui: Ui<'a>,
    idp: &'a str,
    form: &'a ProfileForm,
    errors: &'a [FieldError],
    csrf: &'a CsrfToken,
}

/// One input of the profile form.
struct Field<'a> {
    name: &'static str,
    label: &'a str,
    value: &'a str,
    kind: &'static str,
    autocomplete: &'static str,
    error: Option<&'a str>,
}

impl<'a> Review<'a> {
    fn fields(&self) -> Vec<Field<'a>> {
        let t = self.ui.t;
        let error = |field: &str| self.errors.iter().find(|e| e.field == field).map(|e| e.message.as_str());
        [
            ("username", t.username, self.form.username.as_str(), "text", "username"),
            ("email", t.email, self.form.email.as_str(), "email", "email"),
            ("given_name", t.first_name, self.form.given_name.as_str(), "text", "given-name"),
            ("family_name", t.last_name, self.form.family_name.as_str(), "text", "family-name"),
        ]
        .into_iter()
        .map(|(name, label, value, kind, autocomplete)| Field {
            name,
            label,
            value,
            kind,
            autocomplete,
            error: error(name),
        })
        .collect()
    }
}

#[derive(Template)]
#[template(path = "first_login_confirm.html")]
struct Confirm<'a> {
    ui: Ui<'a>,
    idp: &'a str,
    what: &'a str,
    value: &'a str,
    can_review: bool,
    csrf: &'a CsrfToken,
}

#[derive(Template)]
#[template(path = "first_login_verify.html")]
struct Verify<'a> {
    ui: Ui<'a>,
    idp: &'a str,
    /// The heading and what became of the mail (absent: re-authentication only).
    mail: Option<(&'static str, String)>,
    /// IdPs to re-authenticate with.
    providers: &'a [ProviderChoice],
}

/// What the verification page says about the mail. Neutral: it never shows an address the
/// user did not give, nor which accounts or IdPs exist beyond the one the flow found.
pub enum MailNotice<'a> {
    /// Sent to this (masked) address, the one the user gave.
    SentTo(&'a str),
    /// Sent to the address of the account found by its username (not shown).
    SentToAccount,
    /// Sent before for this sign-in; nothing new was sent.
    AlreadySent,
    /// Not sent: too many links were asked for this account recently.
    Limited,
}

pub fn review_profile(ui: Ui<'_>, idp: &str, form: &ProfileForm, errors: &[FieldError], csrf: &CsrfToken) -> String {
    render(&Review { ui, idp, form, errors, csrf })
}

pub fn confirm_link(ui: Ui<'_>, idp: &str, what: &str, value: &str, can_review: bool, csrf: &CsrfToken) -> String {
    render(&Confirm { ui, idp, what, value, can_review, csrf })
}

pub fn email_sent(ui: Ui<'_>, idp: &str, notice: MailNotice<'_>, others: &[ProviderChoice]) -> String {
    let t = ui.t;
    let mail = match notice {
        MailNotice::SentTo(to) => (t.email_sent_title, t.fill(t.email_sent_text, to)),
        MailNotice::SentToAccount => (t.email_sent_title, t.email_sent_account.to_owned()),
        MailNotice::AlreadySent => (t.email_sent_title, t.email_already_sent.to_owned()),
        MailNotice::Limited => (t.mail_limited_title, t.mail_limited_text.to_owned()),
    };
    render(&Verify { ui, idp, mail: Some(mail), providers: others })
}

pub fn reauthenticate(ui: Ui<'_>, idp: &str, others: &[ProviderChoice]) -> String {
    render(&Verify { ui, idp, mail: None, providers: others })
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ui: Ui<'a>,
    title: &'a str,
    message: &'a str,
    retry: Option<&'a str>,
    reference: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPost<'a> {
    ui: Ui<'a>,
    action: &'a str,
    fields: &'a [(&'a str, &'a str)],
}

/// The one script keyedge serves: it submits the form_post form on load. Allowed by its hash
/// in the page's CSP; without JavaScript the user presses the button.
const FORM_POST_SCRIPT: &str = "document.forms[0].submit()";

/// OAuth 2.0 Form Post Response Mode §2: an HTML form that POSTs the response to the client.
pub fn form_post(css: &str, action: &str, fields: &[(&str, &str)]) -> super::web::Response {
    use sha2::{Digest, Sha256};
    // The page is shown for an instant before the script submits it.
    // The stylesheet is served under keyedge's root: its URL says where that is.
    let root = css.strip_suffix(css_path().as_str()).unwrap_or("");
    let ui = Ui { css, root, t: &super::i18n::EN };
    let html = render(&FormPost { ui, action, fields });
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
    ui: Ui<'a>,
    form: Option<(&'a LogoutForm, &'a CsrfToken)>,
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

pub fn home(ui: Ui<'_>, signed_in: bool) -> String {
    render(&Home { ui, signed_in })
}

pub fn login(page: &Login<'_>) -> String {
    render(page)
}

pub fn account(
    ui: Ui<'_>,
    user: &User,
    session_idp: &str,
    links: &[LinkRow],
    linkable: &[ProviderChoice],
    sessions: &[SessionRow],
    csrf: &CsrfToken,
) -> String {
    render(&Account { ui, user, session_idp, links, linkable, sessions, csrf })
}

pub fn error_page(ui: Ui<'_>, e: &PageError) -> String {
    render(&ErrorPage {
        ui,
        title: &e.title,
        message: &e.message,
        retry: e.retry.as_deref(),
        reference: e.reference.as_deref(),
    })
}

pub fn logout_confirm(ui: Ui<'_>, form: &LogoutForm, csrf: &CsrfToken) -> String {
    render(&Logout { ui, form: Some((form, csrf)) })
}

pub fn logout_done(ui: Ui<'_>) -> String {
    render(&Logout { ui, form: None })
}

/// The confirmation of a client-initiated account linking: which IdP joins which account, for
/// which application.
#[derive(Template)]
#[template(path = "link_confirm.html")]
pub struct LinkConfirm<'a> {
    pub ui: Ui<'a>,
    pub client_name: &'a str,
    pub idp: &'a str,
    /// The signed-in account: username (and email).
    pub account: &'a str,
    pub action: &'a str,
    /// The application's request, posted back with the confirmation.
    pub hidden: &'a [(&'a str, &'a str)],
    /// Back to the application, nothing linked.
    pub cancel: &'a str,
    pub csrf: &'a CsrfToken,
}

pub fn link_confirm(page: &LinkConfirm<'_>) -> String {
    render(page)
}
