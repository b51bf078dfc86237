//! Logout: OpenID Connect RP-Initiated Logout 1.0 at `/logout`, and Back-Channel Logout 1.0
//! notifications to the clients that took part in the session.

use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::session::{self, Session};
use super::upstream_session;
use crate::core::app::Keyedge;
use crate::core::config::Client;
use crate::core::csrf::{Checked, SessionCookie};
use crate::core::error::{Outcome, PageError};
use crate::core::pages::{self, LogoutForm};
use crate::core::ports::{Job, Ports};
use crate::core::web::{self, Params, Request};

/// The claims of an ID token keyedge looks at in an `id_token_hint`.
#[derive(Clone, Deserialize)]
struct Hint {
    iss: String,
    sub: String,
    aud: String,
    /// The session the token was issued in.
    #[serde(default)]
    sid: Option<String>,
}

#[derive(Serialize)]
struct LogoutTokenClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    sid: &'a str,
    jti: String,
    events: serde_json::Value,
}

/// Lifetime of a logout token: it is delivered at once or, after retries, not at all.
const LOGOUT_TOKEN_LIFETIME: u64 = 120;

fn bad(message: &str) -> PageError {
    PageError::bad_request("Sign-out request refused", message)
}

/// The "you are signed out" page, where a logout without a client's redirect ends.
pub const DONE_PATH: &str = "/logout/done";

pub fn done(app: &Keyedge, req: &Request) -> web::Response {
    web::html(StatusCode::OK, pages::logout_done(app.ui(req)))
}

/// `GET|POST /logout`.
///
/// - With a valid `id_token_hint` issued in the current session, the session ends at once
///   (OpenID Connect RP-Initiated Logout 1.0 §2: keyedge must ask otherwise).
/// - Otherwise keyedge asks first; only the confirmation form, posted with its CSRF token
///   (`form`, checked by the router), ends the session. A GET, or a post from elsewhere,
///   signs no one out.
/// - `post_logout_redirect_uri` is followed only when it exactly matches one registered for
///   the client named by the hint or by `client_id`; else an error page, never a redirect.
pub async fn logout(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
    form: Option<Checked<'_, SessionCookie>>,
) -> Outcome {
    let post = req.method() == Method::POST;
    let params = if post { Params::from_form(req) } else { Params::from_query(req) };
    let hint = match params.get("id_token_hint") {
        Some(token) => match app.keys.verify_id_token_hint_with::<Hint>(ports.crypto, token).await {
            Ok(h) if h.iss == app.config.issuer => Some(h),
            _ => return Err(bad("The id_token_hint was not issued by keyedge.").into()),
        },
        None => None,
    };
    let client: Option<&Client> = match (params.get("client_id"), &hint) {
        (Some(id), Some(h)) if id != h.aud => return Err(bad("client_id does not match the id_token_hint.").into()),
        (Some(id), _) => Some(app.config.client(id).ok_or_else(|| bad("Unknown client_id."))?),
        (None, Some(h)) => app.config.client(&h.aud),
        (None, None) => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match client {
            Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => Some(uri.to_owned()),
            Some(_) => return Err(bad("The post_logout_redirect_uri is not registered for this application.").into()),
            None => return Err(bad("A post_logout_redirect_uri needs an id_token_hint or a client_id.").into()),
        },
    };
    let cookie = app.cookies().get(req, session::COOKIE);
    let session = match cookie {
        Some(cookie) => session::by_cookie(ports, cookie).await?,
        None => None,
    };
    let hinted = |h: &Hint, s: &Session| h.sub == s.user_id && h.sid.as_deref() == Some(s.sid.as_str());
    let confirmed = form.is_some() || hint.as_ref().zip(session.as_ref()).is_some_and(|(h, s)| hinted(h, s));
    if let (Some(cookie), Some(_), false) = (cookie, &session, confirmed) {
        // The question carries the session's CSRF token: never shown to a script. (A logout
        // with an ID token of the current session acts at once, whoever sends it.)
        crate::core::app::navigation(req)?;
        let form = LogoutForm {
            client_id: client.map(|c| c.client_id.clone()),
            post_logout_redirect_uri: redirect,
            state: params.get("state").map(str::to_owned),
        };
        let csrf = app.csrf.token::<SessionCookie>(cookie);
        // Isolated like the account page: it carries the session's token, so a gated page that
        // opened it must not read it.
        return Ok(web::isolated(web::html(StatusCode::OK, pages::logout_confirm(app.ui(req), &form, &csrf))));
    }
    let target = redirect.map(|uri| {
        let state: Vec<(&str, &str)> = params.get("state").map(|s| ("state", s)).into_iter().collect();
        web::with_query(&uri, &state)
    });
    let mut upstream = None;
    if let Some(s) = &session {
        end_session(app, ports, s, EndedBy::Keyedge).await?;
        upstream =
            upstream_session::upstream_logout(app, ports, s, target.as_deref().unwrap_or(&app.config.path(DONE_PATH)))
                .await;
    }
    let res = match (upstream, target) {
        (Some(out), _) => super::login::send(app, &out),
        (None, Some(target)) => web::redirect(&target),
        (None, None) => done(app, req),
    };
    let res = web::with_cookie(res, app.cookies().clear(session::PASS_COOKIE));
    Ok(web::with_cookie(res, app.cookies().clear(session::COOKIE)))
}

/// Who ended a session: keyedge (the user's logout, the account page, the admin API, a new
/// sign-in in its browser) or the upstream IdP (its logout token), which is not called back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndedBy {
    Keyedge,
    TheIdp,
}

/// Ends the session and queues a logout token for every client of it that registered a
/// `backchannel_logout_uri`, and, ended at keyedge through an IdP with `backchannel_logout`,
/// the IdP's end-session call. Delivery happens after the response, with retries.
///
/// The logout tokens are signed before the session's marks are written, and queued whether or
/// not every mark was: a session whose end failed part-way (or whose answer was lost after its
/// mark landed) may no longer be found by a second try, and its clients must not miss the
/// only logout they would be told of. A client told of a logout that did not happen signs the
/// user in again through the session that goes on.
pub async fn end_session(
    app: &Keyedge,
    ports: &Ports<'_>,
    session: &Session,
    by: EndedBy,
) -> Result<(), crate::core::error::Failure> {
    let mut jobs = Vec::new();
    if by == EndedBy::Keyedge {
        jobs.extend(upstream_session::backchannel_logout_at_idp(app, ports, session).await);
    }
    let now = ports.clock.now();
    for client in session.clients.iter().filter_map(|id| app.config.client(id)) {
        let Some(uri) = &client.backchannel_logout_uri else { continue };
        let claims = LogoutTokenClaims {
            iss: &app.config.issuer,
            aud: &client.client_id,
            sub: &session.user_id,
            sid: &session.sid,
            jti: ports.random_token(16),
            events: json!({ "http://schemas.openid.net/event/backchannel-logout": {} }),
        };
        let logout_token = app
            .keys
            .sign(
                ports.crypto,
                client.id_token_signed_response_alg,
                Some("logout+jwt"),
                &claims,
                now,
                LOGOUT_TOKEN_LIFETIME,
            )
            .await?;
        jobs.push(Job::BackchannelLogout { client_id: client.client_id.clone(), uri: uri.clone(), logout_token });
    }
    let ended = session::end(ports, session, app.config.session_lifetime).await;
    for job in jobs {
        ports.jobs.push(job);
    }
    Ok(ended?)
}
