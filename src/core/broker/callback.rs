//! `GET /broker/{alias}/endpoint`: the upstream IdP's redirect back to keyedge.

use http::StatusCode;

use super::login::{Continuation, UpstreamFlow, FLOW_COOKIE};
use super::{session, users};
use crate::core::app::Keyedge;
use crate::core::config::ProviderKind;
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::keys;
use crate::core::op::code;
use crate::core::ports::{Ports, Taken};
use crate::core::upstream::oidc;
use crate::core::web::{self, Params, Request};

fn expired() -> Failure {
    PageError::bad_request("Sign-in expired", "This sign-in has expired or was already completed. Please start again.")
        .with_retry("/login?return_to=%2Faccount")
        .into()
}

pub async fn endpoint(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let idp = app.config.provider(alias).ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "Unknown identity provider",
            format!("No identity provider `{alias}` is enabled."),
        )
    })?;
    let params = Params::from_query(req);
    let state = params.get("state").ok_or_else(|| {
        PageError::bad_request("Invalid sign-in response", "The identity provider's response has no state parameter.")
    })?;
    // Redeem the state first and exactly once: a replayed callback finds nothing.
    let flow: UpstreamFlow = match ports.once.take(&keys::flow(state)).await? {
        Taken::Fresh(json) => serde_json::from_str(&json).map_err(|_| expired())?,
        Taken::Replayed(_) | Taken::Missing => return Err(expired()),
    };
    let retry = flow.continuation.restart_url();
    if flow.alias != alias {
        return Err(PageError::bad_request(
            "Invalid sign-in response",
            "The response arrived for a different identity provider.",
        )
        .with_retry(retry)
        .into());
    }
    let bound = app.cookies().get(req, FLOW_COOKIE).map(keys::browser_binding);
    if bound.as_deref() != Some(flow.browser.as_str()) {
        return Err(PageError::bad_request(
            "Sign-in started elsewhere",
            "This sign-in was started in another browser or its cookie was lost. Please start again here.",
        )
        .with_retry(retry)
        .into());
    }
    let identity = match &idp.kind {
        ProviderKind::Oidc(cfg) => {
            oidc::complete(idp, cfg, &app.metadata, &params, &flow.secrets, &app.broker_endpoint(alias), ports).await
        }
    }
    .map_err(|e| PageError::new(StatusCode::BAD_GATEWAY, "Sign-in failed", e.to_string()).with_retry(retry))?;

    let user = users::find_or_create(ports, &identity).await?;
    let client = match &flow.continuation {
        Continuation::Authorize { request } => Some(request.client_id.as_str()),
        Continuation::ReturnTo { .. } => None,
    };
    let (session, cookie_value) = session::create(ports, &user.id, alias, app.config.session_lifetime, client).await?;
    let res = match flow.continuation {
        Continuation::Authorize { request } => code::issue(app, ports, &request, &session).await?,
        Continuation::ReturnTo { path } => web::redirect(&path),
    };
    Ok(web::with_cookie(res, app.cookies().set(session::COOKIE, &cookie_value, app.config.session_lifetime)))
}
