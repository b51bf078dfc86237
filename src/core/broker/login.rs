//! The login page and the start of an upstream login (`/broker/{alias}/login`).

use crate::core::vocab::PromptValue;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::core::app::Keyedge;
use crate::core::config::{Client, IdentityProvider, Landing, ProviderKind};
use crate::core::csrf::{Checked, SessionCookie};
use crate::core::error::{ErrorCode, Failure, OAuthError, Outcome, PageError};
use crate::core::op::authorize::{AuthorizationRequest, AuthorizeError};
use crate::core::pages::{self, ProviderChoice};
use crate::core::ports::Ports;
use crate::core::upstream::oidc::config::OidcProvider;
#[cfg(keyedge_oauth2)]
use crate::core::upstream::plain_oauth2;
use crate::core::upstream::{oidc, FlowSecrets, Outgoing};
use crate::core::web::{self, Params, Request};
use crate::core::wire::needed;

/// Prefix of the cookie that carries an upstream login in progress, sealed, in the browser
/// that started it; the rest of its name comes from the login's `state`, so logins in several
/// tabs do not overwrite each other.
pub const FLOW_COOKIE: &str = "keyedge_flow";

/// The flow cookie's name for `state`.
pub fn flow_cookie(state: &str) -> String {
    format!("{FLOW_COOKIE}_{}", state.get(..12).unwrap_or(state))
}
pub use crate::core::op::code::FLOW_TTL;

/// Where to go once the upstream login succeeded. Read through [`ContinuationWire`]
/// ([`crate::core::wire`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "ContinuationWire")]
pub enum Continuation {
    /// Finish an OpenID Connect authorization request: issue a code to the client.
    Authorize { request: Box<AuthorizationRequest> },
    /// A keyedge page (e.g. `/account`).
    ReturnTo { path: String },
    /// A login the IdP started (SAML IdP-initiated): no client asked for it, so it lands
    /// where the IdP's `idp_initiated_login` says, and never replaces another user's session.
    Unsolicited { landing: Landing },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ContinuationKind {
    Authorize,
    ReturnTo,
    Unsolicited,
}

/// Every field of every [`Continuation`].
#[derive(Deserialize)]
struct ContinuationWire {
    kind: ContinuationKind,
    request: Option<Box<AuthorizationRequest>>,
    path: Option<String>,
    landing: Option<Landing>,
}

impl TryFrom<ContinuationWire> for Continuation {
    type Error = String;

    fn try_from(w: ContinuationWire) -> Result<Self, String> {
        Ok(match w.kind {
            ContinuationKind::Authorize => Continuation::Authorize { request: needed(w.request, "request")? },
            ContinuationKind::ReturnTo => Continuation::ReturnTo { path: needed(w.path, "path")? },
            ContinuationKind::Unsolicited => Continuation::Unsolicited { landing: needed(w.landing, "landing")? },
        })
    }
}

impl Continuation {
    /// Where "Try again" leads when this login fails.
    pub fn restart_url(&self) -> String {
        match self {
            Continuation::Authorize { request } => {
                let q = request.to_query();
                let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_ref(), v.as_str())).collect();
                web::path_with_query("/authorize", &pairs)
            }
            Continuation::ReturnTo { path } => web::path_with_query("/login", &[("return_to", path)]),
            // Only the IdP can start it again.
            Continuation::Unsolicited { .. } => "/login".to_owned(),
        }
    }

    /// The client's request when it asked for `prompt=none` (a silent login).
    pub fn silent_request(&self) -> Option<&AuthorizationRequest> {
        match self {
            Continuation::Authorize { request } if request.has_prompt(PromptValue::None) => Some(request),
            _ => None,
        }
    }

    pub fn query(&self) -> Vec<(Cow<'static, str>, String)> {
        match self {
            Continuation::Authorize { request } => request.to_query(),
            Continuation::ReturnTo { path } => vec![("return_to".into(), path.clone())],
            Continuation::Unsolicited { .. } => Vec::new(),
        }
    }

    /// What of the client's request is passed on to the upstream IdP, as its `forwarding`
    /// allows: `login_hint`; `ui_locales` — the client's, else `browser_locale`, the language
    /// keyedge's pages speak to this browser; a `prompt` of `login` or `select_account` (a
    /// re-authentication the client asked for must not be answered by the IdP's own session)
    /// — or `none` when the IdP `accepts_prompt_none_forward`; `max_age`, `0` for
    /// `prompt=login` (OIDC Core §3.1.2.1: they mean the same), so that the IdP must state
    /// `auth_time`, the evidence [`step_up`](super::step_up) checks (without it, step-up still
    /// holds: an IdP's older `auth_time` is refused, it just happens more often); and the
    /// `forward_parameters` the client sent.
    fn forwarded_hints(&self, cfg: &OidcProvider, browser_locale: Option<&str>) -> Vec<(Cow<'static, str>, String)> {
        let Continuation::Authorize { request } = self else {
            return Vec::new();
        };
        let forwarding = &cfg.forwarding;
        let passes = |v: PromptValue| match v {
            PromptValue::Login | PromptValue::SelectAccount => true,
            PromptValue::None => cfg.accepts_prompt_none_forward,
            PromptValue::Consent => false,
        };
        let prompt = request.prompt.map(|p| p.filter(passes).to_string());
        let max_age = request.max_age.or(request.has_prompt(PromptValue::Login).then_some(0)).map(|m| m.to_string());
        let ui_locales = request.ui_locales.clone().or_else(|| browser_locale.map(str::to_owned));
        let hints = [
            ("login_hint", request.login_hint.clone().filter(|_| forwarding.login_hint)),
            ("ui_locales", ui_locales.filter(|_| forwarding.current_locale)),
            ("prompt", prompt),
            ("max_age", max_age.filter(|_| forwarding.max_age)),
        ];
        let parameters = request
            .forwarded
            .iter()
            .filter(|(k, _)| forwarding.parameters.contains(k))
            .map(|(k, v)| (Cow::Owned(k.clone()), Some(v.clone())));
        hints
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k), v))
            .chain(parameters)
            .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
            .collect()
    }

    /// `/broker/{alias}/login?…`: the link that starts a login at that IdP (under the
    /// issuer's path).
    pub fn start_url(&self, app: &Keyedge, alias: &str) -> String {
        let q = self.query();
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_ref(), v.as_str())).collect();
        web::path_with_query(&app.config.path(&format!("/broker/{alias}/login")), &pairs)
    }
}

/// An upstream login in progress. It travels sealed (XChaCha20-Poly1305, bound to its
/// `state`) in a cookie of the browser that started it: no storage is written until the
/// login completes, and only that browser can complete it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "FlowWire", into = "FlowWire")]
pub struct UpstreamFlow {
    pub alias: String,
    pub secrets: FlowSecrets,
    pub continuation: Continuation,
    pub expires_at: i64,
    /// The grant the login will produce: routes its single-use marker and its code to one
    /// Durable Object.
    pub grant_id: String,
    /// What the login is for.
    pub purpose: Purpose,
}

/// An [`UpstreamFlow`] as its cookie holds it. Flows live across a deploy (up to
/// [`FLOW_TTL`]): the purpose is also written, and read, in the shape earlier versions used
/// (`link_user`, `link_return`, `reauth`), so a link or a re-authentication started before a
/// deploy or a rollback never completes as a plain sign-in.
#[derive(Serialize, Deserialize)]
struct FlowWire {
    alias: String,
    secrets: FlowSecrets,
    continuation: Continuation,
    expires_at: i64,
    grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purpose: Option<Purpose>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reauth: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_return: Option<String>,
}

impl From<FlowWire> for UpstreamFlow {
    fn from(w: FlowWire) -> Self {
        let purpose = w.purpose.unwrap_or(match (w.link_user, w.reauth) {
            (Some(user_id), _) => Purpose::Link { user_id, back_to: w.link_return },
            (None, Some(pending)) => Purpose::Reauthenticate { pending },
            (None, None) => Purpose::SignIn,
        });
        UpstreamFlow {
            alias: w.alias,
            secrets: w.secrets,
            continuation: w.continuation,
            expires_at: w.expires_at,
            grant_id: w.grant_id,
            purpose,
        }
    }
}

impl From<UpstreamFlow> for FlowWire {
    fn from(f: UpstreamFlow) -> Self {
        let (link_user, link_return, reauth) = match &f.purpose {
            Purpose::SignIn => (None, None, None),
            Purpose::Link { user_id, back_to } => (Some(user_id.clone()), back_to.clone(), None),
            Purpose::Reauthenticate { pending } => (None, None, Some(pending.clone())),
        };
        FlowWire {
            alias: f.alias,
            secrets: f.secrets,
            continuation: f.continuation,
            expires_at: f.expires_at,
            grant_id: f.grant_id,
            purpose: Some(f.purpose),
            link_user,
            reauth,
            link_return,
        }
    }
}

/// A local path to return to: absolute path on this origin, never `//host` or `/\host`
/// (which browsers treat as another origin), so it cannot become an open redirect. Without
/// one (or with a bad one): the account page.
pub fn safe_return_to(app: &Keyedge, path: Option<&str>) -> String {
    match path {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control()) =>
        {
            p.to_owned()
        }
        _ => app.config.path("/account"),
    }
}

/// The identity providers shown on the login page for `client` (all clients when `None`),
/// in `gui_order`.
pub fn visible_providers<'a>(
    app: &'a Keyedge,
    client: Option<&'a Client>,
) -> impl Iterator<Item = &'a IdentityProvider> {
    app.config.identity_providers.iter().filter(move |p| {
        p.enabled && !p.hide_on_login_page && !p.link_only && client.is_none_or(|c| c.allows_idp(&p.alias))
    })
}

pub fn login_page(app: &Keyedge, req: &Request, client: Option<&Client>, continuation: &Continuation) -> Outcome {
    render_login(app, req, client, continuation, None)
}

fn render_login(
    app: &Keyedge,
    req: &Request,
    client: Option<&Client>,
    continuation: &Continuation,
    notice: Option<&str>,
) -> Outcome {
    let providers: Vec<ProviderChoice> =
        visible_providers(app, client).map(|p| ProviderChoice::new(p, continuation.start_url(app, &p.alias))).collect();
    let ui_locales = match continuation {
        Continuation::Authorize { request } => request.ui_locales.as_deref(),
        Continuation::ReturnTo { .. } | Continuation::Unsolicited { .. } => None,
    };
    // The email field appears only when some IdP this client may use has email domains.
    let discovery = app
        .config
        .identity_providers
        .iter()
        .any(|p| p.enabled && !p.email_domains.is_empty() && client.is_none_or(|c| c.allows_idp(&p.alias)));
    let hidden = if discovery { continuation.query() } else { Vec::new() };
    let page = pages::Login {
        ui: app.ui_for(req, ui_locales),
        client_name: client.map(|c| c.name.as_str()),
        providers: &providers,
        discovery,
        hidden: &hidden,
        notice,
    };
    let status = if notice.is_some() { http::StatusCode::BAD_REQUEST } else { http::StatusCode::OK };
    Ok(web::html(status, pages::login(&page)))
}

/// The continuation a `/broker/…` or `/login/discover` request carries: a client's
/// authorization request (validated again) or a local path. `Err` is the response to send.
fn continuation_of<'a>(app: &'a Keyedge, params: &Params) -> Result<(Continuation, Option<&'a Client>), Box<Outcome>> {
    if params.get("client_id").is_none() {
        return Ok((Continuation::ReturnTo { path: safe_return_to(app, params.get("return_to")) }, None));
    }
    match AuthorizationRequest::validate(&app.config, params) {
        Ok((request, client)) => Ok((Continuation::Authorize { request: Box::new(request) }, Some(client))),
        Err(AuthorizeError::Page(p)) => Err(Box::new(Err(p.into()))),
        Err(AuthorizeError::Redirect { target, error }) => {
            Err(Box::new(Ok(target.error(&app.config.issuer, app.css(), &error))))
        }
    }
}

/// `GET /login/discover?email=…`: home-realm discovery. The email's domain picks the IdP
/// configured for it (among those the client may use); the email goes on as `login_hint`.
pub fn discover(app: &Keyedge, req: &Request) -> Outcome {
    let params = Params::from_query(req);
    let (mut continuation, client) = match continuation_of(app, &params) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let email = params.get("email").unwrap_or("").trim();
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    let idp = app.config.identity_providers.iter().find(|p| {
        p.enabled && !p.link_only && p.email_domains.contains(&domain) && client.is_none_or(|c| c.allows_idp(&p.alias))
    });
    match idp {
        Some(idp) => {
            if let Continuation::Authorize { request } = &mut continuation {
                request.login_hint = Some(email.to_owned());
            }
            Ok(web::redirect(&continuation.start_url(app, &idp.alias)))
        }
        None => {
            let notice = if domain.is_empty() {
                "Enter your email address, or choose how to sign in below.".to_owned()
            } else {
                format!("There is no single sign-on for {domain}. Choose how to sign in below.")
            };
            render_login(app, req, client, &continuation, Some(&notice))
        }
    }
}

fn unknown_idp(alias: &str) -> Failure {
    PageError::new(
        http::StatusCode::NOT_FOUND,
        "Unknown identity provider",
        format!("No identity provider `{alias}` is enabled."),
    )
    .into()
}

/// `GET /broker/{alias}/login`: validates the request again, seals the flow into a cookie
/// and sends the browser to the IdP.
pub async fn begin(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let idp = app.config.provider(alias).ok_or_else(|| unknown_idp(alias))?;
    let params = Params::from_query(req);
    let (continuation, client) = match continuation_of(app, &params) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    if let (Some(client), Continuation::Authorize { request }) = (client, &continuation) {
        if !client.allows_idp(alias) || idp.link_only {
            let e = OAuthError::new(
                ErrorCode::AccessDenied,
                format!("this application does not accept sign-in with `{alias}`"),
            );
            return Ok(request.target().error(&app.config.issuer, app.css(), &e));
        }
    }
    if idp.link_only {
        let e = crate::core::upstream::UpstreamError::LinkOnly;
        return Err(PageError::bad_request("Sign-in not possible", e.to_string()).into());
    }
    redirect_upstream(app, ports, req, idp, continuation, Purpose::SignIn).await
}

/// `POST /broker/{alias}/link` from the account page: links another IdP account to the
/// signed-in user, the one of the session whose form token the post carried (CSRF), so
/// nobody can be made to link an account unknowingly.
pub async fn begin_link(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    form: Checked<'_, SessionCookie>,
    alias: &str,
) -> Outcome {
    let idp = app.config.provider(alias).ok_or_else(|| unknown_idp(alias))?;
    let Some(session) = super::session::by_cookie(ports, form.cookie()).await? else {
        return Ok(web::redirect(&app.config.sign_in_to_account()));
    };
    let continuation = Continuation::ReturnTo { path: app.config.path("/account") };
    let purpose = Purpose::Link { user_id: session.user_id, back_to: None };
    redirect_upstream(app, ports, req, idp, continuation, purpose).await
}

/// Keycloak's client-initiated account linking, `/broker/{alias}/link?client_id&redirect_uri&nonce&hash`:
/// the application proves it acts for the signed-in session with
/// `hash = base64url(sha256(nonce + sid + client_id + alias))` (`sid` from its ID token). Every
/// application of the session knows that `sid`, so only a client with
/// `client_initiated_account_linking = true` may ask, and the user confirms on keyedge's page
/// ([`begin_client_link`]) before the IdP is even contacted ([`confirm_client_link`]).
/// Back at `redirect_uri` (registered for the client, else an error page and no redirect) with
/// `link_error` when it failed.
struct ClientLink<'a> {
    client: &'a Client,
    idp: &'a IdentityProvider,
    redirect_uri: String,
    user_id: String,
}

/// Checks a client-initiated linking request for the session whose cookie value is `cookie`.
/// `Err` is the answer instead: an error page, or back to the application with `link_error`.
async fn client_link<'a>(
    app: &'a Keyedge,
    ports: &Ports<'_>,
    params: &Params,
    alias: &str,
    cookie: Option<&str>,
) -> Result<ClientLink<'a>, Box<Outcome>> {
    use sha2::{Digest, Sha256};
    let bad = |m: &str| -> Box<Outcome> { Box::new(Err(PageError::bad_request("Account linking refused", m).into())) };
    let (Some(client_id), Some(redirect_uri), Some(nonce), Some(hash)) =
        (params.get("client_id"), params.get("redirect_uri"), params.get("nonce"), params.get("hash"))
    else {
        return Err(bad("client_id, redirect_uri, nonce and hash are required."));
    };
    let Some(client) = app.config.client(client_id) else {
        return Err(bad("Unknown client_id."));
    };
    if !client.accepts_redirect_uri(redirect_uri) {
        return Err(bad("The redirect_uri is not registered for this application."));
    }
    let back = |error: &str| -> Box<Outcome> {
        Box::new(Ok(web::redirect(&web::with_query(redirect_uri, &[("link_error", error)]))))
    };
    if !client.client_initiated_account_linking {
        return Err(back("not_allowed"));
    }
    let session = match cookie {
        Some(cookie) => super::session::by_cookie(ports, cookie).await.map_err(|e| Box::new(Err(e.into())))?,
        None => None,
    };
    let Some(session) = session else {
        return Err(back("not_logged_in"));
    };
    let expected = crate::core::b64url(&Sha256::digest(format!("{nonce}{}{client_id}{alias}", session.sid)));
    if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), hash.as_bytes())) {
        return Err(back("invalid_hash"));
    }
    let Some(idp) = app.config.provider(alias).filter(|_| client.allows_idp(alias)) else {
        return Err(back("not_allowed"));
    };
    Ok(ClientLink { client, idp, redirect_uri: redirect_uri.to_owned(), user_id: session.user_id })
}

/// `GET /broker/{alias}/link?client_id&redirect_uri&nonce&hash`: checks the application's
/// request and asks the user, naming the IdP and the account; nothing else happens.
pub async fn begin_client_link(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let params = Params::from_query(req);
    let cookie = app.cookies().get(req, super::session::COOKIE);
    let link = match client_link(app, ports, &params, alias, cookie).await {
        Ok(link) => link,
        Err(answer) => return *answer,
    };
    let (Some(cookie), Some(user)) = (cookie, super::users::load(ports, &link.user_id).await?) else {
        return Ok(web::redirect(&web::with_query(&link.redirect_uri, &[("link_error", "not_logged_in")])));
    };
    let account = match &user.profile.email {
        Some(email) => format!("{} ({email})", user.username),
        None => user.username.clone(),
    };
    let hidden: Vec<(&str, &str)> =
        ["client_id", "redirect_uri", "nonce", "hash"].iter().filter_map(|k| params.get(k).map(|v| (*k, v))).collect();
    let page = pages::LinkConfirm {
        ui: app.ui(req),
        client_name: &link.client.name,
        idp: &link.idp.display_name,
        account: &account,
        action: &app.config.path(&format!("/broker/{alias}/link/confirm")),
        hidden: &hidden,
        cancel: &web::with_query(&link.redirect_uri, &[("link_error", "cancelled")]),
        csrf: &app.csrf.token::<SessionCookie>(cookie),
    };
    Ok(web::isolated(web::html(http::StatusCode::OK, pages::link_confirm(&page))))
}

/// `POST /broker/{alias}/link/confirm`: the user confirmed (the form's CSRF token proved the
/// session); the request is checked again for that session, then the upstream login starts.
pub async fn confirm_client_link(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    form: Checked<'_, SessionCookie>,
    alias: &str,
) -> Outcome {
    let params = Params::from_form(req);
    let link = match client_link(app, ports, &params, alias, Some(form.cookie())).await {
        Ok(link) => link,
        Err(answer) => return *answer,
    };
    let continuation = Continuation::ReturnTo { path: app.config.path("/account") };
    let purpose = Purpose::Link { user_id: link.user_id, back_to: Some(link.redirect_uri) };
    redirect_upstream(app, ports, req, link.idp, continuation, purpose).await
}

/// What an upstream login is for. Read through [`PurposeWire`] ([`crate::core::wire`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "purpose", rename_all = "snake_case", try_from = "PurposeWire")]
pub enum Purpose {
    /// Signing in (or a first login).
    #[default]
    SignIn,
    /// Linking the identity to the signed-in user `user_id`; then back to the application's
    /// `back_to` (application-initiated linking) or the account page.
    Link { user_id: String, back_to: Option<String> },
    /// Proving ownership of an existing account for the pending first login named by the
    /// cookie value `pending`.
    Reauthenticate { pending: String },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PurposeName {
    SignIn,
    Link,
    Reauthenticate,
}

/// Every field of every [`Purpose`].
#[derive(Deserialize)]
struct PurposeWire {
    purpose: PurposeName,
    user_id: Option<String>,
    back_to: Option<String>,
    pending: Option<String>,
}

impl TryFrom<PurposeWire> for Purpose {
    type Error = String;

    fn try_from(w: PurposeWire) -> Result<Self, String> {
        Ok(match w.purpose {
            PurposeName::SignIn => Purpose::SignIn,
            PurposeName::Link => Purpose::Link { user_id: needed(w.user_id, "user_id")?, back_to: w.back_to },
            PurposeName::Reauthenticate => Purpose::Reauthenticate { pending: needed(w.pending, "pending")? },
        })
    }
}

/// Sends the browser to `idp` with a new flow, sealed in a cookie, for `purpose`.
pub(crate) async fn redirect_upstream(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    continuation: Continuation,
    purpose: Purpose,
) -> Outcome {
    let retry = continuation.restart_url();
    let upstream_error = |e: crate::core::upstream::UpstreamError| {
        let page = PageError::new(http::StatusCode::BAD_GATEWAY, "Sign-in failed", e.public_message())
            .with_retry(retry.clone());
        Failure::logged(page, format!("sign-in with `{}` could not start: {e}", idp.alias))
    };
    let state = ports.random_token(32);
    let redirect_uri = app.broker_endpoint(&idp.alias);
    let http = idp.http(ports.http);
    let upstream = ports.with_http(&http);
    let (out, secrets) = match &idp.kind {
        ProviderKind::Oidc(cfg) => {
            let endpoints = app.metadata.endpoints(idp, cfg, &upstream).await.map_err(upstream_error)?;
            // The browser's language counts only when it stated one: keyedge's default is no
            // preference of the user's.
            let accept = req.headers().get(http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
            let browser_locale = accept.map(|a| crate::core::i18n::negotiate(None, Some(a)).lang);
            let hints = continuation.forwarded_hints(cfg, browser_locale);
            let (url, secrets) =
                oidc::begin(idp, cfg, &endpoints, &redirect_uri, &state, &hints, ports).map_err(upstream_error)?;
            (Outgoing::Redirect(url), secrets)
        }
        #[cfg(keyedge_oauth2)]
        ProviderKind::OAuth2(cfg) => {
            let (url, secrets) = plain_oauth2::begin(idp, cfg, &redirect_uri, &state, ports).map_err(upstream_error)?;
            (Outgoing::Redirect(url), secrets)
        }
        #[cfg(keyedge_saml)]
        ProviderKind::Saml(cfg) => {
            use crate::core::upstream::saml::flow;
            let descriptor = app.saml_metadata.descriptor(idp, cfg, &upstream).await.map_err(upstream_error)?;
            let sp = crate::core::upstream::saml::protocol::Sp {
                entity_id: flow::sp_entity_id(cfg, &app.config.issuer),
                endpoint: &redirect_uri,
            };
            let force = matches!(&continuation, Continuation::Authorize { request }
                if request.has_prompt(PromptValue::Login) || request.max_age.is_some());
            flow::begin(cfg, &descriptor, &sp, &state, force, ports).map_err(upstream_error)?
        }
    };
    let flow = UpstreamFlow {
        alias: idp.alias.clone(),
        secrets,
        continuation,
        expires_at: ports.clock.now() + FLOW_TTL as i64,
        grant_id: ports.random_token(16),
        purpose,
    };
    Ok(web::with_cookie(send(app, &out), flow_cookie_for(app, ports, &state, &flow)?))
}

/// The cookie that carries `flow`, sealed for `state`, in the browser that is to complete it.
pub(crate) fn flow_cookie_for(
    app: &Keyedge,
    ports: &Ports<'_>,
    state: &str,
    flow: &UpstreamFlow,
) -> Result<String, Failure> {
    let json = serde_json::to_string(flow).map_err(|e| Failure::Port(crate::core::ports::PortError(e.to_string())))?;
    let sealed = app.sealer.seal(ports.rng, state.as_bytes(), json.as_bytes());
    Ok(app.cookies().set(&flow_cookie(state), &sealed, FLOW_TTL))
}

/// The browser on its way to an IdP: redirected, or (SAML's HTTP-POST binding) posting a form.
pub(super) fn send(app: &Keyedge, out: &Outgoing) -> web::Response {
    match out {
        Outgoing::Redirect(url) => web::redirect(url.as_str()),
        Outgoing::Post { url, fields } => {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            web::isolated(pages::form_post(app.css(), url.as_str(), &fields))
        }
    }
}

impl UpstreamFlow {
    /// When keyedge sent the browser to the IdP.
    pub fn started_at(&self) -> i64 {
        self.expires_at - FLOW_TTL as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::wire::check_flat_reader;

    /// A login's continuation and purpose travel sealed in the flow cookie and in a pending
    /// first login: each variant reads back as written, and one lacking a field it needs is
    /// refused rather than read as another variant or with a default.
    #[test]
    fn continuations_and_purposes_are_read_as_they_were_written() {
        let request: AuthorizationRequest = serde_json::from_value(serde_json::json!({
            "client_id": "app", "redirect_uri": "https://app.example/cb", "scope": "openid email",
            "state": "s", "nonce": "n", "code_challenge": "c", "forwarded": [["acr", "1"]]
        }))
        .unwrap();
        let continuations = [
            Continuation::Authorize { request: Box::new(request) },
            Continuation::ReturnTo { path: "/account".into() },
            Continuation::Unsolicited { landing: Landing::Client { client_id: "app".into() } },
            Continuation::Unsolicited { landing: Landing::Page { path: "/".into() } },
        ];
        check_flat_reader("kind", &continuations, |_, _| false);
        let landings = [Landing::Client { client_id: "app".into() }, Landing::Page { path: "/docs".into() }];
        check_flat_reader("to", &landings, |_, _| false);
        let purposes = [
            Purpose::SignIn,
            Purpose::Link { user_id: "u1".into(), back_to: Some("https://app.example/linked".into()) },
            Purpose::Link { user_id: "u1".into(), back_to: None },
            Purpose::Reauthenticate { pending: "p".into() },
        ];
        check_flat_reader("purpose", &purposes, |_, field| field == "back_to");
        // The authorization request inside is read whole: a field of its own missing fails.
        let broken = serde_json::json!({"kind": "authorize", "request": {"client_id": "app", "scope": "openid"}});
        assert!(serde_json::from_value::<Continuation>(broken).is_err());
    }
}
