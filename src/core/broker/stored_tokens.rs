//! Stored upstream tokens (`store_tokens`) and `GET /broker/{alias}/token`, Keycloak's
//! "Retrieving external IdP tokens" — which here also refreshes an expired access token
//! upstream instead of returning a dead one.

use http::StatusCode;
use serde_json::json;

use super::users;
use crate::core::app::Keyedge;
use crate::core::config::{IdentityProvider, ProviderKind};
use crate::core::error::{ErrorCode, Failure, OAuthError, Outcome};
use crate::core::keys;
use crate::core::op::userinfo::authenticate_bearer;
use crate::core::ports::{PortError, Ports};
#[cfg(keyedge_oauth2)]
use crate::core::upstream::plain_oauth2;
use crate::core::upstream::{oidc, UpstreamTokens};
use crate::core::web::{self, Request};

/// An access token this close to expiry is refreshed before it is handed out, so the app
/// gets at least this many seconds of use.
const REFRESH_MARGIN: i64 = 10;

/// Seals and stores the tokens of the identity `(alias, sub)`.
pub async fn store(
    app: &Keyedge,
    ports: &Ports<'_>,
    alias: &str,
    sub: &str,
    tokens: &UpstreamTokens,
) -> Result<(), PortError> {
    let key = keys::stored_tokens(alias, sub);
    let json = serde_json::to_string(tokens).map_err(|e| PortError(e.to_string()))?;
    let sealed = app.sealer.seal(ports.rng, key.as_bytes(), json.as_bytes());
    ports.store.put(&key, &sealed, None).await
}

/// The stored tokens of `(alias, sub)`, if any, and whether they were sealed with a retired
/// key (the caller seals them again with the current one, in the one write it makes: KV
/// takes one write per second to a key). A record that does not open at all (a key no longer
/// configured, tampering) counts as absent.
pub async fn load(
    app: &Keyedge,
    ports: &Ports<'_>,
    alias: &str,
    sub: &str,
) -> Result<Option<(UpstreamTokens, bool)>, PortError> {
    let key = keys::stored_tokens(alias, sub);
    let Some(sealed) = ports.store.get(&key).await? else {
        return Ok(None);
    };
    let Some((json, old_key)) = app.sealer.open_noting_key(key.as_bytes(), &sealed) else {
        return Ok(None);
    };
    let Ok(tokens) = serde_json::from_slice::<UpstreamTokens>(&json) else {
        return Ok(None);
    };
    Ok(Some((tokens, old_key)))
}

fn error(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Failure {
    Failure::Json(status, OAuthError::new(code, description))
}

/// `GET /broker/{alias}/token` with `Authorization: Bearer {keyedge access token}`.
///
/// Answers with the stored tokens when the token's client has `read_broker_tokens` and its
/// user the `broker.read-token` role. An access token that has expired (or is about to) is
/// refreshed upstream first and the new tokens are stored; when that is impossible the answer
/// is `409 Conflict` with a JSON error, never a dead token.
pub async fn token_endpoint(app: &Keyedge, ports: &Ports<'_>, req: &Request, alias: &str) -> Outcome {
    let claims = authenticate_bearer(app, ports, req).await?;
    let idp = app.config.provider(alias).ok_or_else(|| {
        error(StatusCode::NOT_FOUND, ErrorCode::InvalidRequest, format!("no identity provider `{alias}`"))
    })?;
    if !idp.store_tokens {
        return Err(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("identity provider `{alias}` does not store tokens"),
        ));
    }
    let client_may = app.config.client(&claims.client_id).is_some_and(|c| c.read_broker_tokens);
    let user = users::load(ports, &claims.sub).await?;
    let Some(user) = user.filter(|u| client_may && u.has_role(users::READ_TOKEN_ROLE)) else {
        return Err(error(
            StatusCode::FORBIDDEN,
            ErrorCode::InsufficientScope,
            "reading stored tokens needs the broker.read-token role and a client allowed to read them",
        ));
    };
    let Some(link) = user.links.iter().find(|l| l.alias == alias) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("the user has no `{alias}` identity"),
        ));
    };
    let Some((mut tokens, reseal)) = load(app, ports, alias, &link.sub).await? else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "no tokens are stored for this identity",
        ));
    };
    let now = ports.clock.now();
    if tokens.expires_at.is_some_and(|exp| exp - REFRESH_MARGIN <= now) {
        tokens = refresh(app, ports, idp, &link.sub, &tokens).await.map_err(|e| {
            let public = format!("the stored tokens could not be refreshed: {}", e.public_message());
            let shown = error(StatusCode::CONFLICT, ErrorCode::TokenRefreshFailed, public);
            Failure::logged(shown, format!("refreshing the stored `{alias}` tokens failed: {e}"))
        })?;
        store(app, ports, alias, &link.sub, &tokens).await?;
    } else if reseal {
        store(app, ports, alias, &link.sub, &tokens).await?;
    }
    let mut body = json!({
        "access_token": tokens.access_token,
        "token_type": tokens.token_type,
    });
    let extra = [
        ("refresh_token", tokens.refresh_token.map(serde_json::Value::from)),
        ("id_token", tokens.id_token.map(serde_json::Value::from)),
        ("scope", tokens.scope.map(serde_json::Value::from)),
        ("expires_in", tokens.expires_at.map(|exp| serde_json::Value::from((exp - now).max(0)))),
        ("expires_at", tokens.expires_at.map(serde_json::Value::from)),
    ];
    for (k, v) in extra {
        if let Some(v) = v {
            body[k] = v;
        }
    }
    let mut res = web::json_no_store(StatusCode::OK, body.to_string());
    web::allow_any_origin(&mut res);
    Ok(res)
}

async fn refresh(
    app: &Keyedge,
    ports: &Ports<'_>,
    idp: &IdentityProvider,
    sub: &str,
    tokens: &UpstreamTokens,
) -> Result<UpstreamTokens, crate::core::upstream::UpstreamError> {
    let http = idp.http(ports.http);
    let ports = &ports.with_http(&http);
    let redirect_uri = app.broker_endpoint(&idp.alias);
    match &idp.kind {
        ProviderKind::Oidc(cfg) => {
            oidc::refresh(idp, cfg, &app.metadata, &app.keys, &redirect_uri, sub, tokens, ports).await
        }
        #[cfg(keyedge_oauth2)]
        ProviderKind::OAuth2(cfg) => plain_oauth2::refresh(cfg, &app.keys, &redirect_uri, tokens, ports).await,
        // Refused by the configuration (`store_tokens` with `kind = "saml"`): nothing to refresh.
        #[cfg(keyedge_saml)]
        ProviderKind::Saml(_) => Err(crate::core::upstream::UpstreamError::NoRefreshToken),
    }
}
