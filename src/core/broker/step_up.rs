//! Step-up with evidence (OIDC Core §3.1.2.1 `prompt=login` and `max_age`, §2 `auth_time`).
//! A client that asks for a fresh login is told of one only when the upstream IdP proves it:
//! its signed ID token's `auth_time` must be recent enough, and it becomes the session's
//! `auth_time`. A round trip to an IdP that reuses its own session proves nothing, and
//! neither does one to an IdP that states no `auth_time` (plain OAuth 2.0): what keyedge then
//! does is the IdP's `unproven_step_up`.

use super::login::{Continuation, UpstreamFlow};
use super::session::Session;
use crate::core::config::{IdentityProvider, ProviderKind, UnprovenStepUp};
use crate::core::op::authorize::AuthorizationRequest;
use crate::core::upstream::BrokeredIdentity;
use crate::core::vocab::PromptValue;

/// The client's request, if it asks for a fresh login (`prompt=login` or `max_age`).
fn step_up_request(continuation: &Continuation) -> Option<&AuthorizationRequest> {
    match continuation {
        Continuation::Authorize { request } if request.has_prompt(PromptValue::Login) || request.max_age.is_some() => {
            Some(request)
        }
        _ => None,
    }
}

/// The earliest authentication time that answers `request` for a login sent upstream at
/// `started`: `prompt=login` wants one after that; `max_age` one at most `max_age` seconds
/// before `now` — or after `started`, which is as fresh as a login can be.
fn earliest_auth_time(request: &AuthorizationRequest, started: i64, now: i64) -> Option<i64> {
    let login = request.has_prompt(PromptValue::Login).then_some(started);
    let max_age = request.max_age.map(|m| now.saturating_sub(m as i64).min(started));
    login.max(max_age)
}

/// Checks the upstream login of `flow` against the step-up its client asked for. `Err` holds
/// the request to answer `login_required`: the IdP's `auth_time` is too old, or it stated none
/// and the IdP is configured `unproven_step_up = "login_required"`.
pub fn check<'a>(
    idp: &IdentityProvider,
    flow: &'a UpstreamFlow,
    identity: &BrokeredIdentity,
    now: i64,
) -> Result<(), &'a AuthorizationRequest> {
    let Some(request) = step_up_request(&flow.continuation) else {
        return Ok(());
    };
    let skew = match &idp.kind {
        ProviderKind::Oidc(cfg) => cfg.allowed_clock_skew as i64,
        #[cfg(keyedge_oauth2)]
        ProviderKind::OAuth2(_) => 0,
        #[cfg(keyedge_saml)]
        ProviderKind::Saml(cfg) => cfg.allowed_clock_skew as i64,
    };
    match (identity.auth_time, earliest_auth_time(request, flow.started_at(), now)) {
        (Some(at), Some(earliest)) if at < earliest - skew => Err(request),
        (None, _) if idp.unproven_step_up == UnprovenStepUp::LoginRequired => Err(request),
        _ => Ok(()),
    }
}

/// The `auth_time` of the session a login opens: the IdP's, when it stated one (never in the
/// future). An IdP that states none (plain OAuth 2.0) proves no authentication at any login —
/// its answer is the same silent round trip whether or not someone just typed a password — so
/// the earlier time is kept: that of `previous` (the browser's earlier session of the same
/// user, for a step-up) or `last_unproven` (the time the user's last login through this IdP
/// was given); only the first login through it is given the time of the login.
pub fn session_auth_time(
    identity: &BrokeredIdentity,
    previous: Option<&Session>,
    last_unproven: Option<i64>,
    now: i64,
) -> i64 {
    match identity.auth_time {
        Some(at) => at.min(now),
        None => previous.map(|s| s.auth_time).or(last_unproven).map_or(now, |at| at.min(now)),
    }
}

/// Whether [`session_auth_time`] needs the browser's earlier session.
pub fn needs_previous_session(identity: &BrokeredIdentity, continuation: &Continuation) -> bool {
    identity.auth_time.is_none() && step_up_request(continuation).is_some()
}
