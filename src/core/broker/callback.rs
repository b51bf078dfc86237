//! `GET /broker/{alias}/endpoint`: the upstream IdP's redirect back to keyedge.

use http::StatusCode;

use super::login::{flow_cookie, Continuation, UpstreamFlow};
use super::{session, users};
use crate::core::app::Keyedge;
use crate::core::config::ProviderKind;
use crate::core::error::{Failure, Outcome, PageError};
use crate::core::keys;
use crate::core::op::code::{self, Marker, MARKER_TTL};
use crate::core::ports::Ports;
use crate::core::upstream::{oidc, plain_oauth2};
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
    // The flow is sealed in a cookie of the browser that started it and bound to `state`:
    // another browser, a forged state or a tampered cookie all end here.
    let cookie_name = flow_cookie(state);
    let flow: UpstreamFlow = app
        .cookies()
        .get(req, &cookie_name)
        .and_then(|sealed| app.sealer.open(state.as_bytes(), sealed))
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or_else(|| {
            PageError::bad_request(
                "Sign-in started elsewhere",
                "This sign-in was started in another browser, or its cookie was lost or has expired. Please start again here.",
            )
            .with_retry("/login?return_to=%2Faccount")
        })?;
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
    let identity = match &idp.kind {
        ProviderKind::Oidc(cfg) => {
            oidc::complete(idp, cfg, &app.metadata, &params, &flow.secrets, &app.broker_endpoint(alias), ports).await
        }
        ProviderKind::OAuth2(cfg) => {
            plain_oauth2::complete(idp, cfg, &params, &flow.secrets, &app.broker_endpoint(alias), ports).await
        }
    }
    .map_err(|e| PageError::new(StatusCode::BAD_GATEWAY, "Sign-in failed", e.to_string()).with_retry(retry))?;

    let user = users::find_or_create(ports, &identity).await?;
    let client = match &flow.continuation {
        Continuation::Authorize { request } => Some(request.client_id.as_str()),
        Continuation::ReturnTo { .. } => None,
    };
    // The state is single use: its marker is recorded in the same Durable Object call that
    // stores the code, and a second completion stores nothing.
    let marker_key = keys::flow_marker(&flow.grant_id, state);
    let marker = Marker { grant_id: &flow.grant_id, key: &marker_key };
    let (session, cookie_value) = session::create(ports, &user.id, alias, app.config.session_lifetime, client).await?;
    let res = match &flow.continuation {
        Continuation::Authorize { request } => code::issue(app, ports, request, &session, Some(marker)).await?,
        Continuation::ReturnTo { path } => {
            let first = ports.once.once_then_store(Some((&marker_key, MARKER_TTL)), None, None).await?;
            first.then(|| web::redirect(path))
        }
    };
    let Some(res) = res else {
        session::end(ports, &session, app.config.session_lifetime).await?;
        return Err(expired());
    };
    let res = web::with_cookie(res, app.cookies().clear(&cookie_name));
    Ok(web::with_cookie(res, app.cookies().set(session::COOKIE, &cookie_value, app.config.session_lifetime)))
}
