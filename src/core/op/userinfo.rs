//! `GET|POST /userinfo` (OIDC Core §5.3) with bearer tokens per RFC 6750 §2.1 and §2.2.

use http::StatusCode;

use super::token::AccessTokenClaims;
use crate::core::account::users;
use crate::core::app::Keyedge;
use crate::core::error::{ErrorCode, Failure, OAuthError, Outcome};

use crate::core::ports::Ports;
use crate::core::web::{self, Params, Request};

fn invalid_token(d: &str) -> Failure {
    Failure::Bearer(StatusCode::UNAUTHORIZED, OAuthError::new(ErrorCode::InvalidToken, d))
}

fn bearer(req: &Request) -> Result<Option<String>, Failure> {
    let header = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let form = if req.method() == http::Method::POST {
        Params::from_form(req).get("access_token").map(str::to_owned)
    } else {
        None
    };
    match (header, form) {
        (Some(_), Some(_)) => {
            Err(Failure::Bearer(StatusCode::BAD_REQUEST, OAuthError::invalid_request("send the token once")))
        }
        (Some(h), None) => match h.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim().to_owned())),
            _ => Err(invalid_token("the Authorization header is not a Bearer token")),
        },
        (None, form) => Ok(form),
    }
}

/// The claims of the request's keyedge access token, signature, times and audience checked;
/// whether its grant was revoked is [`not_revoked`]'s question.
async fn verified_bearer(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Result<AccessTokenClaims, Failure> {
    let token = bearer(req)?.ok_or_else(|| invalid_token("an access token is required"))?;
    let claims: AccessTokenClaims = app
        .keys
        .verify_own_with(ports.crypto, &token, "at+jwt", ports.clock.now())
        .await
        .map_err(|e| invalid_token(&e.to_string()))?;
    if claims.iss != app.config.issuer || claims.aud != app.config.issuer {
        return Err(invalid_token("the token was not issued for this server"));
    }
    Ok(claims)
}

/// Whether the token's grant was revoked, as the Durable Object says (at once, everywhere).
async fn not_revoked(ports: &Ports<'_>, claims: &AccessTokenClaims) -> Result<(), Failure> {
    match super::token::grant_revoked(ports, &claims.gid).await? {
        true => Err(invalid_token("the token was revoked")),
        false => Ok(()),
    }
}

/// The claims of the request's valid, unrevoked keyedge access token (RFC 6750).
pub async fn authenticate_bearer(
    app: &Keyedge,
    ports: &Ports<'_>,
    req: &Request,
) -> Result<AccessTokenClaims, Failure> {
    let claims = verified_bearer(app, ports, req).await?;
    not_revoked(ports, &claims).await?;
    Ok(claims)
}

pub async fn userinfo(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let claims = verified_bearer(app, ports, req).await?;
    // The revocation marker and the user are read in one round trip.
    let user = async { users::load(ports, &claims.sub).await.map_err(Failure::from) };
    let ((), user) = futures_util::future::try_join(not_revoked(ports, &claims), user).await?;
    let user = user.ok_or_else(|| invalid_token("the user no longer exists"))?;
    // A token whose client left the configuration gets `sub` only.
    let mut body = serde_json::Map::new();
    if let Some(client) = app.config.client(&claims.client_id) {
        body = user.claims_for(client, &claims.scope, &claims.userinfo_claims);
        body.extend(user.broker_claims(client));
    }
    body.insert("sub".into(), serde_json::Value::String(user.id.clone()));
    let body = serde_json::Value::Object(body);
    Ok(web::json_no_store(StatusCode::OK, body.to_string()))
}
