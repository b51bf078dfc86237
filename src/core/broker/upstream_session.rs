//! Sessions as the upstream IdP sees them: its Back-Channel Logout tokens end the keyedge
//! sessions opened through it (`accept_logout_tokens`), and keyedge logout can end the IdP's
//! session too (`upstream_logout`, RP-Initiated Logout towards the IdP).

use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::logout;
use super::session::{self, Session};
use crate::core::app::Keyedge;
use crate::core::config::{IdentityProvider, OidcProvider, ProviderKind};
use crate::core::error::{Failure, OAuthError, Outcome, PageError};
use crate::core::keys;
use crate::core::ports::{get_json, Job, PortError, Ports};
use crate::core::upstream::oidc;
use crate::core::upstream::Outgoing;
use crate::core::web::{self, Params, Request};

/// One keyedge session opened through an upstream account.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UpstreamSessionRef {
    /// The upstream `sid` of the login, when its ID token had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    upstream_sid: Option<String>,
    /// The KV key of the keyedge session.
    session_key: String,
    expires_at: i64,
}

/// How often a change of an upstream-session list is tried against concurrent ones.
const LIST_ATTEMPTS: usize = 8;

/// The entries of a list as the Durable Object holds it (none when there is none, or it cannot
/// be read).
fn refs_of(record: Option<&str>) -> Vec<UpstreamSessionRef> {
    record.and_then(|j| serde_json::from_str(j).ok()).unwrap_or_default()
}

/// Changes the list of keyedge sessions opened through `(alias, sub)` in the Durable Object
/// (compare-and-swap, retried), expired entries dropped; `change` may be called again on a
/// newer list. The list as it was before the change that was written.
async fn change_list(
    ports: &Ports<'_>,
    alias: &str,
    sub: &str,
    mut change: impl FnMut(&mut Vec<UpstreamSessionRef>),
) -> Result<Vec<UpstreamSessionRef>, PortError> {
    let key = keys::upstream_sessions_record(alias, sub);
    let now = ports.clock.now();
    for _ in 0..LIST_ATTEMPTS {
        let held = ports.once.record_get(&key).await?;
        let before = refs_of(held.as_deref());
        let mut refs: Vec<UpstreamSessionRef> = before.iter().filter(|r| r.expires_at > now).cloned().collect();
        change(&mut refs);
        let json = serde_json::to_string(&refs).map_err(|e| PortError(e.to_string()))?;
        if held.as_deref() == Some(json.as_str()) || ports.once.record_swap(&key, held.as_deref(), &json).await? {
            return Ok(before);
        }
    }
    Err(PortError(format!("upstream sessions of `{alias}` changed by too many requests at once")))
}

/// Remembers that `session` was opened through `(alias, sub)` with upstream session
/// `upstream_sid`, for the IdP's back-channel logout: in the Durable Object, so that a logout
/// arriving at any location finds it and two logins at once are both kept.
pub async fn remember(
    ports: &Ports<'_>,
    alias: &str,
    sub: &str,
    upstream_sid: Option<&str>,
    session: &Session,
) -> Result<(), PortError> {
    let entry = UpstreamSessionRef {
        upstream_sid: upstream_sid.map(str::to_owned),
        session_key: session.key.clone(),
        expires_at: session.expires_at,
    };
    change_list(ports, alias, sub, |refs| refs.push(entry.clone())).await.map(|_| ())
}

/// Ends the keyedge sessions listed under `(alias, subject)` whose upstream session `ends`
/// picks, as the IdP asked (its logout token, or its SAML `LogoutRequest`); the `sid`s of
/// those that ended.
pub async fn end_listed(
    app: &Keyedge,
    ports: &Ports<'_>,
    alias: &str,
    subject: &str,
    ends: impl Fn(Option<&str>) -> bool,
) -> Result<Vec<String>, Failure> {
    let ends = |r: &UpstreamSessionRef| ends(r.upstream_sid.as_deref());
    // The sessions are ended first and their entries removed after: should ending one fail,
    // the list still names it, and the IdP's next logout finds it.
    let listed = refs_of(ports.once.record_get(&keys::upstream_sessions_record(alias, subject)).await?.as_deref());
    // Sessions a Worker of the previous version listed in KV (during a rollout) end too.
    let kv = keys::upstream_sessions(alias, subject);
    let previous: Vec<UpstreamSessionRef> = get_json(ports.store, &kv).await?.unwrap_or_default();
    let mut ended = Vec::new();
    for r in listed.iter().chain(&previous).filter(|r| ends(r)) {
        if let Some(s) = session::by_key(ports, r.session_key.clone()).await? {
            logout::end_session(app, ports, &s, logout::EndedBy::TheIdp).await?;
            ended.push(s.sid);
        }
    }
    // Entries added meanwhile (a login at this moment) are kept: only those ended are gone.
    let gone: Vec<&str> = listed.iter().filter(|r| ends(r)).map(|r| r.session_key.as_str()).collect();
    change_list(ports, alias, subject, |refs| refs.retain(|r| !gone.contains(&r.session_key.as_str()))).await?;
    Ok(ended)
}

/// An IdP's logout message (a logout token, a SAML `LogoutRequest`) acted on once: `None`
/// if its id (`jti`, `ID`) is marked used; else `end` runs, and only then is the id marked
/// (for `ttl` seconds). Were it marked first, the IdP's retry of a message whose end failed
/// part-way (Back-Channel Logout §2.8; a browser reloading a SAML logout) would be refused and
/// its sessions would live on. A message sent again before its mark is made ends what it names
/// again: the sessions it ended already, and — when it names only the user, no upstream
/// session — one opened through that account since, which fails safe.
pub async fn once_per_message<T>(
    ports: &Ports<'_>,
    used: &crate::core::ports::OnceKey,
    ttl: u64,
    end: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<Option<T>, Failure> {
    if ports.once.marked(used).await? {
        return Ok(None);
    }
    let done = end.await?;
    ports.once.mark(used, ttl).await?;
    Ok(Some(done))
}

fn oidc_of<'a>(app: &'a Keyedge, alias: &str) -> Option<(&'a IdentityProvider, &'a OidcProvider)> {
    let idp = app.config.provider(alias)?;
    match &idp.kind {
        ProviderKind::Oidc(cfg) => Some((idp, cfg)),
        // the only kind in a Worker built with OIDC IdPs alone
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// `POST {issuer}/protocol/openid-connect/logout/backchannel-logout`, Keycloak's realm-wide
/// back-channel logout endpoint: an IdP registered against a Keycloak realm posts its logout
/// tokens there without naming its alias, so the token's `iss` and `aud` pick the IdP (one with
/// `accept_logout_tokens`), and the token is then checked as at `/broker/{alias}/backchannel_logout`.
///
/// Compiled into the Worker only for a configuration with an IdP that has
/// `accept_logout_tokens` (build.rs); natively always. Without it, [`no_realm_logout_tokens`].
#[cfg(keyedge_logout_tokens)]
pub async fn realm_backchannel_logout(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let said = issuer_of_logout_token(req)?;
    // Among IdPs of one issuer (two clients at one upstream realm), the one it was issued to.
    let alias = app
        .config
        .identity_providers
        .iter()
        .find(|p| {
            p.enabled
                && matches!(&p.kind, ProviderKind::Oidc(c)
                    if c.accept_logout_tokens && c.issuer == said.iss && said.aud.contains(&c.client_id))
        })
        .map(|p| p.alias.as_str())
        .ok_or_else(|| refused(NO_IDP_FOR_TOKEN))?;
    backchannel_logout(app, ports, req, alias).await
}

/// The realm-wide endpoint in a Worker whose configuration has no IdP accepting logout
/// tokens: what the check answers such a configuration, whatever the token.
#[cfg(not(keyedge_logout_tokens))]
pub async fn realm_backchannel_logout(_: &Keyedge, _: &Ports<'_>, req: &Request) -> Outcome {
    no_realm_logout_tokens(req)
}

/// The realm-wide endpoint's answer when no IdP accepts logout tokens: the same refusals, in
/// the same order, as with the check.
pub fn no_realm_logout_tokens(req: &Request) -> Outcome {
    issuer_of_logout_token(req)?;
    Err(refused(NO_IDP_FOR_TOKEN))
}

/// The posted logout token's `iss` and `aud`, read before it is verified (to pick the IdP).
fn issuer_of_logout_token(req: &Request) -> Result<IssuerOnly, Failure> {
    let params = Params::from_form(req);
    let token = params.get("logout_token").ok_or_else(|| refused("logout_token is required"))?;
    jwt_compact::UntrustedToken::new(token)
        .ok()
        .and_then(|t| t.deserialize_claims_unchecked::<IssuerOnly>().ok())
        .map(|c| c.custom)
        .ok_or_else(|| refused("the logout token was refused"))
}

const NO_IDP_FOR_TOKEN: &str = "no identity provider with back-channel logout has this issuer and audience";

/// `/broker/{alias}/backchannel_logout`'s answer for an IdP that does not accept logout tokens.
pub fn no_logout_tokens(alias: &str) -> Failure {
    Failure::Json(
        StatusCode::NOT_FOUND,
        OAuthError::invalid_request(format!("`{alias}` does not accept back-channel logout")),
    )
}

/// The claims read before a logout token is verified: which IdP, and which of its clients,
/// it says it is for.
/// (Without the check compiled in, only read to refuse a malformed token alike.)
#[derive(serde::Deserialize)]
#[cfg_attr(not(keyedge_logout_tokens), allow(dead_code))]
struct IssuerOnly {
    iss: String,
    #[serde(default, deserialize_with = "oidc::one_or_many")]
    aud: Vec<String>,
}

fn refused(description: impl Into<String>) -> Failure {
    Failure::Json(StatusCode::BAD_REQUEST, OAuthError::invalid_request(description))
}

/// `POST /broker/{alias}/backchannel_logout` (OpenID Connect Back-Channel Logout 1.0 §2.5):
/// the IdP's logout token ends the keyedge sessions of that upstream session (`sid`) or of
/// that upstream user (`sub` alone); their clients are told in turn. 200 on success, 400 with
/// a JSON error when the token is refused; a token is accepted once.
///
/// Compiled into the Worker only for a configuration with an IdP that has
/// `accept_logout_tokens` (build.rs); natively always. Without it, [`no_logout_tokens`].
#[cfg(keyedge_logout_tokens)]
pub async fn backchannel_logout(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let Some((idp, cfg)) = oidc_of(app, alias).filter(|(_, cfg)| cfg.accept_logout_tokens) else {
        return Err(no_logout_tokens(alias));
    };
    let params = Params::from_form(req);
    let token = params.get("logout_token").ok_or_else(|| refused("logout_token is required"))?;
    // Anyone may post here: why a token was refused (or what failed reaching the IdP) is for
    // the log, under the reference the answer names.
    let http = idp.http(ports.http);
    let upstream = ports.with_http(&http);
    let claims = oidc::verify_logout_token(idp, cfg, &app.metadata, token, &upstream).await.map_err(|e| {
        Failure::logged(refused("the logout token was refused"), format!("logout token from `{alias}` refused: {e}"))
    })?;
    let sub = match &claims.sub {
        Some(sub) => sub.clone(),
        // A `sid` alone: the session is found under the user the sid belongs to, so keyedge
        // needs `sub` too; oidc-provider, Keycloak and Azure AD always send both.
        None => return Err(refused("keyedge needs the `sub` claim to find the sessions")),
    };
    let picked = |sid: Option<&str>| claims.sid.is_none() || sid == claims.sid.as_deref();
    let used = keys::logout_jti(alias, &claims.jti);
    let replay_ttl = 2 * (cfg.allowed_clock_skew + 300);
    let ended = end_listed(app, ports, alias, &sub, picked);
    // A token given again after its sessions ended is answered as done (§2.8: a 400 would tell
    // the IdP its logout failed, e.g. when its first try's answer was lost), ending nothing.
    once_per_message(ports, &used, replay_ttl, ended).await?;
    let mut res = web::json_no_store(StatusCode::OK, "{}".into());
    res.headers_mut().insert("cache-control", http::HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `/broker/{alias}/backchannel_logout` in a Worker whose configuration has no IdP accepting
/// logout tokens.
#[cfg(not(keyedge_logout_tokens))]
pub async fn backchannel_logout(_: &Keyedge, _: &Ports<'_>, _: &Request, alias: &str) -> Outcome {
    Err(no_logout_tokens(alias))
}

/// The IdP's end-session call for `session`, ended at keyedge, through an IdP with
/// `backchannel_logout` (Keycloak's `OIDCIdentityProvider.backchannelLogout`: a GET of the
/// logout URL with the session's upstream ID token as `id_token_hint` and `state`). `None`
/// when there is nothing to call: another IdP, no ID token kept, or no end-session endpoint
/// (logged).
pub async fn backchannel_logout_at_idp(app: &Keyedge, ports: &Ports<'_>, session: &Session) -> Option<Job> {
    #[cfg(keyedge_saml)]
    if let Some(Outgoing::Redirect(url)) =
        super::saml::logout_at_idp(app, ports, session, "", super::saml::Channel::Back).await
    {
        let timeout = app.config.provider(&session.idp).map_or(10, |idp| idp.http_timeout);
        return Some(Job::UpstreamLogout { alias: session.idp.clone(), url: url.into(), timeout });
    }
    let (idp, cfg) = oidc_of(app, &session.idp).filter(|(_, cfg)| cfg.backchannel_logout)?;
    let id_token = session.upstream_id_token.as_deref()?;
    let http = idp.http(ports.http);
    let end_session = match app.metadata.endpoints(idp, cfg, &ports.with_http(&http)).await {
        Ok(endpoints) => endpoints.end_session,
        Err(e) => {
            (ports.log)(&format!("back-channel logout at `{}`: no end-session endpoint: {e}", idp.alias));
            None
        }
    }?;
    let url = web::with_query(end_session.as_str(), &[("id_token_hint", id_token), ("state", &session.sid)]);
    Some(Job::UpstreamLogout { alias: idp.alias.clone(), url, timeout: idp.http_timeout })
}

/// Context of the sealed `state` keyedge sends to an IdP's end-session endpoint.
const LOGOUT_STATE_CONTEXT: &[u8] = b"keyedge upstream logout";

/// Where the browser goes to end the upstream session after `session` ended at keyedge: an
/// OIDC IdP with `upstream_logout` (it comes back to `/broker/{alias}/logout_response`), or a
/// SAML IdP with a Single Logout service (its `LogoutResponse` comes back to the endpoint);
/// then on to `then`.
pub async fn upstream_logout(app: &Keyedge, ports: &Ports<'_>, session: &Session, then: &str) -> Option<Outgoing> {
    #[cfg(keyedge_saml)]
    if let Some(out) = super::saml::logout_at_idp(app, ports, session, then, super::saml::Channel::Front).await {
        return Some(out);
    }
    // With `backchannel_logout` keyedge has called the IdP itself (Keycloak: the back channel
    // when the IdP supports it, else the browser).
    let (idp, cfg) = oidc_of(app, &session.idp).filter(|(_, cfg)| cfg.upstream_logout && !cfg.backchannel_logout)?;
    let http = idp.http(ports.http);
    let endpoints = app.metadata.endpoints(idp, cfg, &ports.with_http(&http)).await.ok()?;
    let end_session = endpoints.end_session?;
    let state = app.sealer.seal(ports.rng, LOGOUT_STATE_CONTEXT, then.as_bytes());
    let back = app.config.endpoint(&format!("/broker/{}/logout_response", idp.alias));
    let mut params =
        vec![("client_id", cfg.client_id.as_str()), ("post_logout_redirect_uri", &back), ("state", &state)];
    if let Some(hint) = &session.upstream_id_token {
        params.push(("id_token_hint", hint));
    }
    url::Url::parse(&web::with_query(end_session.as_str(), &params)).ok().map(Outgoing::Redirect)
}

/// `GET /broker/{alias}/logout_response`: back from the IdP's logout, on to where keyedge's
/// logout was going. The target travels sealed in `state`, so it cannot be swapped for
/// another site (no open redirect).
pub fn logout_response(app: &Keyedge, req: &Request) -> Outcome {
    let params = Params::from_query(req);
    let target = params
        .get("state")
        .and_then(|s| app.sealer.open(LOGOUT_STATE_CONTEXT, s))
        .and_then(|t| String::from_utf8(t).ok())
        .ok_or_else(|| PageError::bad_request("Signed out", "You are signed out. The return address was lost."))?;
    Ok(web::redirect(&target))
}
