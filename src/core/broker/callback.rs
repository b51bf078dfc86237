//! `GET /broker/{alias}/endpoint`: the upstream IdP's redirect back to keyedge (a form post
//! comes here through [`form_post`](super::form_post)).

use http::StatusCode;

use super::login::{flow_cookie, Continuation, Purpose, UpstreamFlow};
use super::session::NewSession;
use super::users::User;
use super::{first_login, logout, mappers, session, step_up, stored_tokens, upstream_session, users};
use crate::core::app::Keyedge;
#[cfg(keyedge_oauth2)]
use crate::core::config::OAuth2Provider;
use crate::core::config::{IdentityProvider, OidcProvider, ProviderKind};
use crate::core::error::{ErrorCode, Failure, OAuthError, Outcome, PageError};
use crate::core::keys;
use crate::core::op::code::{self, Issued, Marker, MARKER_TTL};
use crate::core::ports::{Marker as OnceMarker, OnceKey, Ports};
#[cfg(keyedge_oauth2)]
use crate::core::upstream::plain_oauth2;
use crate::core::upstream::{oidc, BrokeredIdentity, UpstreamError};
use crate::core::web::{self, Params, Request};

fn expired() -> Failure {
    PageError::bad_request("Sign-in expired", "This sign-in has expired or was already completed. Please start again.")
        .with_retry("/login")
        .into()
}

/// An IdP's answer as the callback reads it, with the configuration of the IdP's kind: the
/// pair is made once, by [`form_post::callback_answer`](super::form_post::callback_answer), so an
/// answer is only ever completed by its own kind.
pub(super) enum Answer<'a> {
    /// A redirect's query, or a form post's fields.
    Oidc(&'a OidcProvider, Params),
    /// A redirect's query.
    #[cfg(keyedge_oauth2)]
    OAuth2(&'a OAuth2Provider, Params),
    /// The assertion checked when it was posted, with its RelayState.
    #[cfg(keyedge_saml)]
    Saml(&'a crate::core::upstream::saml::config::SamlProvider, super::saml::Checked),
}

impl Answer<'_> {
    /// An assertion no request of keyedge's asked for (a SAML IdP-initiated login).
    fn is_unsolicited(&self) -> bool {
        match self {
            Answer::Oidc(..) => false,
            #[cfg(keyedge_oauth2)]
            Answer::OAuth2(..) => false,
            #[cfg(keyedge_saml)]
            Answer::Saml(_, checked) => checked.assertion.in_response_to.is_none(),
        }
    }

    /// The login's `state`: OAuth's parameter, SAML's RelayState.
    fn state(&self) -> Option<&str> {
        match self {
            Answer::Oidc(_, params) => params.get("state"),
            #[cfg(keyedge_oauth2)]
            Answer::OAuth2(_, params) => params.get("state"),
            #[cfg(keyedge_saml)]
            Answer::Saml(_, checked) => Some(&checked.relay_state),
        }
    }
}

/// The upstream half of the callback: the kind's code exchange and checks, giving the
/// identity the IdP vouches for.
async fn complete_upstream(
    app: &Keyedge,
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    answer: &Answer<'_>,
    flow: &UpstreamFlow,
) -> Result<BrokeredIdentity, UpstreamError> {
    let http = idp.http(ports.http);
    let ports = &ports.with_http(&http);
    let redirect_uri = app.broker_endpoint(&idp.alias);
    let mut identity = match answer {
        Answer::Oidc(cfg, params) => {
            oidc::complete(idp, cfg, &app.metadata, &app.keys, params, &flow.secrets, &redirect_uri, ports).await
        }
        #[cfg(keyedge_oauth2)]
        Answer::OAuth2(cfg, params) => {
            plain_oauth2::complete(idp, cfg, &app.keys, params, &flow.secrets, &redirect_uri, ports).await
        }
        #[cfg(keyedge_saml)]
        Answer::Saml(cfg, checked) => crate::core::upstream::saml::flow::identity(
            idp,
            cfg,
            checked.assertion.clone(),
            &flow.secrets,
            ports.clock.now(),
        ),
    }?;
    // Keycloak's "Case-sensitive username", off by default: `Alice` and `alice` at the IdP
    // are one username here, as keyedge's uniqueness already treats them.
    if !idp.case_sensitive_usernames {
        identity.username = identity.username.to_lowercase();
    }
    Ok(identity)
}

/// The upstream flow this callback completes: sealed in a cookie of the browser that started
/// it and bound to `state`, so another browser, a forged state or a tampered cookie all end
/// here. Returns it with its cookie's name.
fn open_flow(app: &Keyedge, req: &Request, state: &str) -> Result<(UpstreamFlow, String), Failure> {
    let cookie_name = flow_cookie(state);
    let flow: UpstreamFlow = app
        .cookies()
        .get(req, &cookie_name)
        .and_then(|sealed| app.sealer.open(state.as_bytes(), sealed))
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| {
            PageError::bad_request(
                "Sign-in started elsewhere",
                "This sign-in was started in another browser, or its cookie was lost or has expired (a browser that blocks cookies for this site loses it: allow them here). Please start again here.",
            )
            .with_retry("/login")
        })?;
    Ok((flow, cookie_name))
}

/// The enabled identity provider `alias`, or the page saying there is none.
pub(super) fn provider<'a>(app: &'a Keyedge, alias: &str) -> Result<&'a IdentityProvider, Failure> {
    app.config.provider(alias).ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown identity provider",
            format!("No identity provider `{alias}` is enabled."),
        )
        .into()
    })
}

/// `/broker/{alias}/endpoint`: the IdP's answer, checked step by step — known IdP, state
/// present, the flow cookie of this browser sealed for that state, not expired, for this IdP,
/// the upstream checks, the IdP's post-login flow — and then handed to what the flow is for.
/// Long on purpose: every check in the order it must happen, readable in one place.
pub async fn endpoint(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let idp = provider(app, alias)?;
    // A SAML message by the Redirect binding is checked first, then comes back as `?saml=…`.
    #[cfg(keyedge_saml)]
    if let ProviderKind::Saml(cfg) = &idp.kind {
        if let Some(answer) = super::saml::redirected(app, ports, req, idp, cfg).await {
            return answer;
        }
    }
    let answer = super::form_post::callback_answer(app, ports, req, idp)?;
    let state = answer.state().ok_or_else(|| {
        PageError::bad_request("Invalid sign-in response", "The identity provider's response has no state parameter.")
    })?;
    let (flow, cookie_name) = open_flow(app, req, state)?;
    let retry = flow.continuation.restart_url();
    if flow.expires_at <= ports.clock.now() {
        return Err(expired());
    }
    if flow.alias != alias {
        return Err(PageError::bad_request(
            "Invalid sign-in response",
            "The response arrived for a different identity provider.",
        )
        .with_retry(retry)
        .into());
    }
    let upstream_failed = |e: UpstreamError, retry: Option<String>| {
        let mut page = PageError::new(StatusCode::BAD_GATEWAY, "Sign-in failed", e.public_message());
        page.retry = retry;
        Failure::logged(page, format!("sign-in with `{alias}` failed: {e}"))
    };
    let identity = match complete_upstream(app, ports, idp, &answer, &flow).await {
        Ok(identity) => identity,
        // A client's `prompt=none` passed on to the IdP gets the IdP's answer (e.g.
        // `login_required`) as an OAuth error, not a page.
        // The IdP's own description stays out of it: the application's redirect URI is no
        // place for another server's words.
        Err(UpstreamError::Denied { error, .. }) if flow.continuation.silent_request().is_some() => {
            let request = flow.continuation.silent_request().ok_or_else(expired)?;
            let description = "the identity provider could not sign the user in silently";
            let e = OAuthError::new(silent_error_code(&error), description);
            let res = request.target().error(&app.config.issuer, app.css(), &e);
            return Ok(web::with_cookie(res, app.cookies().clear(&cookie_name)));
        }
        Err(e) => {
            if e.may_mean_moved_endpoints() {
                app.metadata.forget_endpoints(alias);
            }
            return Err(upstream_failed(e, Some(retry)));
        }
    };
    // The state is single use: its marker is recorded in the same Durable Object call that
    // stores the code (or the pending first login), and a second completion stores nothing.
    let marker_key = keys::flow_marker(&flow.grant_id, state);
    // The IdP's post-login flow judges every identity it vouches for, whatever the login is
    // for: signing in, linking to an account, or proving one by re-authentication.
    if let Some(post) = &idp.post_login_flow {
        let email = identity.profile.email.as_deref();
        if let Err(reason) = mappers::post_login_allows(post, email, identity.profile.email_verified, &identity.claims)
        {
            let res = Failure::Page(PageError::new(StatusCode::FORBIDDEN, "Access denied", reason));
            return Err(res);
        }
    }
    match &flow.purpose {
        Purpose::SignIn => {}
        Purpose::Link { user_id, back_to } => {
            let back = back_to.as_deref();
            return link(app, ports, req, idp, &flow, user_id, back, &identity, &cookie_name, state).await;
        }
        Purpose::Reauthenticate { pending } => {
            return first_login::reauthenticated(
                app,
                ports,
                req,
                idp,
                &identity,
                pending,
                &flow,
                &marker_key,
                &cookie_name,
            )
            .await;
        }
    }
    // A client that asked for a fresh login gets one only with the IdP's evidence.
    if let Err(request) = step_up::check(idp, &flow, &identity, ports.clock.now()) {
        let e = OAuthError::new(ErrorCode::LoginRequired, "the identity provider did not prove a new sign-in");
        let res = request.target().error(&app.config.issuer, app.css(), &e);
        return Ok(web::with_cookie(res, app.cookies().clear(&cookie_name)));
    }
    if idp.link_only {
        return Err(upstream_failed(UpstreamError::LinkOnly, None));
    }
    let linked = users::find_linked(ports, idp, &identity).await?;
    if answer.is_unsolicited() {
        // An assertion nobody asked for is anyone's to post through this browser (login CSRF):
        // it signs in only an identity already linked, and only where no one else is signed
        // in. A new identity never meets the first-login pages (their "add to your account"
        // proves only who holds this browser): the browser is sent to sign in at the same IdP,
        // keyedge asking, so that the identity is whoever that really is.
        let current = session::current(ports, app.cookies(), req).await?;
        match (&current, &linked) {
            (Some(s), Some(user)) if s.user_id == user.id => {}
            (Some(_), _) => return Err(signed_in_as_another(&idp.alias)),
            (None, Some(_)) => {}
            (None, None) => {
                let continuation = flow.continuation.clone();
                let res = super::login::redirect_upstream(app, ports, req, idp, continuation, Purpose::SignIn).await?;
                return Ok(web::with_cookie(res, app.cookies().clear(&cookie_name)));
            }
        }
    }
    match linked {
        Some(user) => {
            let done = Completion {
                idp,
                identity: &identity,
                user: &user,
                continuation: &flow.continuation,
                grant_id: &flow.grant_id,
                marker: Some(&marker_key),
                clear_cookie: Some(&cookie_name),
            };
            finish(app, ports, req, done).await
        }
        None => first_login::start(app, ports, req, idp, identity, &flow, &marker_key, &cookie_name).await,
    }
}

fn signed_in_as_another(alias: &str) -> Failure {
    let page = PageError::new(
        StatusCode::CONFLICT,
        "Already signed in",
        "This browser is signed in as someone else. Sign out first, then sign in again from your identity provider.",
    );
    let why = format!(
        "an IdP-initiated login with `{alias}` would have replaced another user's session, or joined another identity to it"
    );
    Failure::logged(page, why)
}

/// A login that found its user: what [`finish`] needs.
pub struct Completion<'a> {
    /// The IdP of the login and the identity it vouched for.
    pub idp: &'a IdentityProvider,
    pub identity: &'a BrokeredIdentity,
    pub user: &'a User,
    pub continuation: &'a Continuation,
    /// The grant the code will belong to (routes its Durable Object).
    pub grant_id: &'a str,
    /// The upstream login's `state` marker, when not consumed yet.
    pub marker: Option<&'a OnceKey>,
    /// The flow cookie to clear.
    pub clear_cookie: Option<&'a str>,
}

/// How long the `auth_time` of a login without one stated by the IdP is remembered.
const UNPROVEN_LOGIN_TTL: u64 = 400 * 24 * 3600;

/// Signing in as another user in a browser that has a session replaces it: the old session
/// ends, for its clients too (back-channel logout), so on a shared computer the previous user
/// is signed out everywhere, not only in this browser. The same user signing in again keeps
/// the old session's applications: another site can make a browser sign in again without the
/// user (an `id_token_hint` the session cannot answer, `kc_idp_hint`, and the IdP's own
/// session), which must not log her out everywhere. The old session ends before anything of
/// the new one is written: a sign-in that could not end it fails, and the browser keeps the
/// old cookie, so signing in again ends it. Were the new session's cookie to replace it
/// first, a failed end would leave the previous user's applications signed in, with nothing
/// left in the browser to end them. Returns the browser's session when it is this user's.
async fn replace_another_users_session(
    app: &Keyedge,
    ports: &Ports<'_>,
    current: Option<session::Session>,
    user: &User,
) -> Result<Option<session::Session>, Failure> {
    match current {
        Some(old) if old.user_id != user.id => {
            logout::end_session(app, ports, &old, logout::EndedBy::Keyedge).await?;
            Ok(None)
        }
        same_user_or_none => Ok(same_user_or_none),
    }
}

/// Opens the session and answers the continuation: a code for the client, or the local page.
pub async fn finish(app: &Keyedge, ports: &Ports<'_>, req: &Request, done: Completion<'_>) -> Outcome {
    let Completion { idp, identity, user, continuation, grant_id, marker, clear_cookie } = done;
    let client = match continuation {
        Continuation::Authorize { request } => Some(request.client_id.as_str()),
        Continuation::ReturnTo { .. } | Continuation::Unsolicited { .. } => None,
    };
    let current = session::current(ports, app.cookies(), req).await?;
    if let Continuation::Unsolicited { .. } = continuation {
        // Another site can post an IdP's unsolicited response through this browser (login
        // CSRF is inherent to IdP-initiated SSO): it never replaces someone else's session.
        if current.as_ref().is_some_and(|s| s.user_id != user.id) {
            return Err(signed_in_as_another(&idp.alias));
        }
    }
    let own_session = replace_another_users_session(app, ports, current, user).await?;
    let upstream_id_token = match &idp.kind {
        ProviderKind::Oidc(cfg) if cfg.upstream_logout || cfg.backchannel_logout => {
            identity.tokens.as_ref().and_then(|t| t.id_token.clone())
        }
        _ => None,
    };
    let lifetime = app.config.session_lifetime;
    let user_agent = req.headers().get(http::header::USER_AGENT).and_then(|v| v.to_str().ok());
    let device = session::device_of(user_agent);
    let upstream_saml = identity.saml_session.clone();
    let new =
        NewSession { user_id: &user.id, idp: &idp.alias, lifetime, client, upstream_id_token, upstream_saml, device };
    let (mut session, cookie_value) = session::open(ports, new);
    let unproven_key = keys::unproven_login(&user.id, &idp.alias);
    let previous = own_session.filter(|_| step_up::needs_previous_session(identity, continuation));
    let last_unproven = match (identity.auth_time, &previous) {
        (None, None) => ports.store.get(&unproven_key).await?.and_then(|t| t.parse::<i64>().ok()),
        _ => None,
    };
    let now = ports.clock.now();
    session.auth_time = step_up::session_auth_time(identity, previous.as_ref(), last_unproven, now);
    // Written when it changes (the first such login, or a step-up that kept a session's time):
    // an ordinary login keeps the recorded time, so it writes nothing.
    if identity.auth_time.is_none() && last_unproven != Some(session.auth_time) {
        ports.store.put(&unproven_key, &session.auth_time.to_string(), Some(UNPROVEN_LOGIN_TTL)).await?;
    }
    let answer = async {
        Ok::<_, Failure>(match continuation {
            Continuation::Authorize { request } => {
                let marker = marker.map(|key| Marker { grant_id, key });
                code::issue(app, ports, request, &session, marker).await?
            }
            Continuation::ReturnTo { .. } | Continuation::Unsolicited { .. } => {
                let first = match marker {
                    Some(key) => {
                        let marker = OnceMarker { key, ttl_seconds: MARKER_TTL };
                        ports.once.once_then_store(Some(marker), None, None).await?
                    }
                    None => true,
                };
                if first {
                    Issued::Sent(web::redirect(&landing_url(app, continuation)?))
                } else {
                    Issued::AlreadyCompleted
                }
            }
        })
    };
    // The session's KV writes and the code's Durable Object call do not depend on each other:
    // one round trip instead of three. A completion that lost the race for the upstream
    // `state` ends the session it stored, below.
    let stored = async { session::store(ports, &session).await.map_err(Failure::from) };
    let ((), res) = futures_util::future::try_join(stored, answer).await?;
    let Issued::Sent(mut res) = res else {
        session::end(ports, &session, lifetime).await?;
        return Err(expired());
    };
    after_login(app, ports, idp, identity, Some(&session)).await?;
    if let Some(name) = clear_cookie {
        res = web::with_cookie(res, app.cookies().clear(name));
    }
    Ok(web::with_cookie(res, app.cookies().set(session::COOKIE, &cookie_value, lifetime)))
}

/// Where a login that issues no code goes: its page, or the landing client's
/// `initiate_login_uri` with keyedge's `iss` (OIDC Core §4), where the client begins its own
/// authorization request and finds the user signed in.
fn landing_url(app: &Keyedge, continuation: &Continuation) -> Result<String, Failure> {
    use crate::core::config::Landing;
    match continuation {
        Continuation::ReturnTo { path } | Continuation::Unsolicited { landing: Landing::Page { path } } => {
            Ok(path.clone())
        }
        Continuation::Unsolicited { landing: Landing::Client { client_id } } => {
            let uri =
                app.config.client(client_id).and_then(|c| c.initiate_login_uri.as_deref()).ok_or_else(|| {
                    Failure::internal(format!("landing client `{client_id}` has no initiate_login_uri"))
                })?;
            let mut url = url::Url::parse(uri).map_err(|e| Failure::internal(e.to_string()))?;
            url.query_pairs_mut().append_pair("iss", &app.config.issuer);
            Ok(url.into())
        }
        Continuation::Authorize { .. } => Err(Failure::internal("an authorization request lands with a code")),
    }
}

/// What a completed upstream login leaves behind besides the session: the IdP's tokens
/// (`store_tokens`) and the session's place in the index an IdP's logout uses (OIDC
/// back-channel logout, SAML Single Logout).
async fn after_login(
    app: &Keyedge,
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    identity: &BrokeredIdentity,
    session: Option<&session::Session>,
) -> Result<(), Failure> {
    if let (true, Some(tokens)) = (idp.store_tokens, &identity.tokens) {
        stored_tokens::store(app, ports, &idp.alias, &identity.sub, tokens).await?;
    }
    let Some(session) = session else { return Ok(()) };
    match (&idp.kind, &identity.saml_session) {
        (ProviderKind::Oidc(cfg), _) if cfg.accept_logout_tokens => {
            let sid = identity.upstream_sid.as_deref();
            upstream_session::remember(ports, &idp.alias, &identity.sub, sid, session).await?;
        }
        // A SAML IdP's LogoutRequest names the NameID and the session index.
        (_, Some(saml)) => {
            let index = saml.session_index.as_deref();
            upstream_session::remember(ports, &idp.alias, &saml.name_id, index, session).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The end of "Link" on the account page: the identity joins the signed-in user's account,
/// unless it already belongs to someone else.
#[allow(clippy::too_many_arguments)]
async fn link(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    idp: &IdentityProvider,
    flow: &UpstreamFlow,
    user_id: &str,
    back: Option<&str>,
    identity: &BrokeredIdentity,
    cookie_name: &str,
    state: &str,
) -> Outcome {
    let current = session::current(ports, app.cookies(), req).await?.filter(|s| s.user_id == user_id);
    let user = match current {
        Some(_) => users::load(ports, user_id).await?,
        None => None,
    };
    let Some(user) = user else {
        return Err(PageError::bad_request(
            "Not linked",
            "You are no longer signed in to the account this link was started from. Please sign in and try again.",
        )
        .with_retry("/account")
        .into());
    };
    let marker_key = keys::flow_marker(&flow.grant_id, state);
    let marker = OnceMarker { key: &marker_key, ttl_seconds: MARKER_TTL };
    if !ports.once.once_then_store(Some(marker), None, None).await? {
        return Err(expired());
    }
    match users::link(ports, idp, user, identity).await {
        Ok(_) => {}
        Err(users::LinkError::LinkedElsewhere) if back.is_some() => {
            let to = web::with_query(back.unwrap_or_default(), &[("link_error", "already_linked")]);
            return Ok(web::with_cookie(web::redirect(&to), app.cookies().clear(cookie_name)));
        }
        Err(users::LinkError::LinkedElsewhere) => {
            return Err(PageError::new(
                StatusCode::CONFLICT,
                "Already linked to another account",
                format!(
                    "This {} account is already linked to another keyedge account, so it was not linked to yours. Sign in with it to use that account, or unlink it there first.",
                    idp.display_name
                ),
            )
            .with_retry("/account")
            .into())
        }
        Err(users::LinkError::Port(e)) => return Err(e.into()),
    }
    after_login(app, ports, idp, identity, None).await?;
    Ok(web::with_cookie(
        web::redirect(&back.map_or_else(|| app.config.path("/account"), str::to_owned)),
        app.cookies().clear(cookie_name),
    ))
}

/// The OAuth error codes of OIDC Core §3.1.2.6 pass through unchanged; any other failure of
/// a silent login is `login_required`.
fn silent_error_code(error: &str) -> ErrorCode {
    match error {
        "consent_required" => ErrorCode::ConsentRequired,
        "interaction_required" => ErrorCode::InteractionRequired,
        "account_selection_required" => ErrorCode::AccountSelectionRequired,
        _ => ErrorCode::LoginRequired,
    }
}
