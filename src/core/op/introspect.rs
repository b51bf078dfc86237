//! Token introspection (RFC 7662) and revocation (RFC 7009), both for authenticated clients.

use http::StatusCode;
use serde_json::json;

use super::refresh::{self, RefreshGrant, SuccessorKey};
use super::token::{authenticate_client, bad, revoke_grant, AccessTokenClaims};
use crate::core::account::session;
use crate::core::app::Keyedge;
use crate::core::config::Client;
use crate::core::error::{Failure, OAuthError, Outcome};
use crate::core::keys;
use crate::core::ports::rate_limit::Limiter;
use crate::core::ports::{Family, Ports};
use crate::core::throttle;
use crate::core::web::{self, Params, Request};

fn token_param(params: &Params) -> Result<&str, Failure> {
    if params.first_repeated(&["token", "token_type_hint"]).is_some() {
        return Err(bad(OAuthError::invalid_request("parameter repeated")));
    }
    params.get("token").ok_or_else(|| bad(OAuthError::invalid_request("token is required")))
}

/// Only confidential clients may introspect (RFC 7662 §2.1 requires authorization).
fn confidential<'a>(app: &'a Keyedge, req: &Request, params: &Params) -> Result<&'a Client, Failure> {
    let client = authenticate_client(app, req, params)?;
    if client.is_public() {
        return Err(Failure::Json(
            StatusCode::UNAUTHORIZED,
            OAuthError::invalid_client("public clients cannot introspect"),
        ));
    }
    Ok(client)
}

/// A keyedge access token that is valid and not revoked.
async fn live_access_token(
    app: &Keyedge,
    ports: &Ports<'_>,
    token: &str,
) -> Result<Option<AccessTokenClaims>, Failure> {
    let Some(claims) = own_access_token(app, ports, token).await else {
        return Ok(None);
    };
    if super::token::grant_revoked(ports, &claims.gid).await? {
        return Ok(None);
    }
    Ok(Some(claims))
}

/// The claims of a keyedge access token (signature, type, times and issuer checked), revoked
/// or not.
async fn own_access_token(app: &Keyedge, ports: &Ports<'_>, token: &str) -> Option<AccessTokenClaims> {
    let now = ports.clock.now();
    let claims = app.keys.verify_own_with::<AccessTokenClaims>(ports.crypto, token, "at+jwt", now).await.ok()?;
    (claims.iss == app.config.issuer).then_some(claims)
}

/// Which secrets of its family a refresh token may be.
#[derive(Clone, Copy)]
enum Held<'a> {
    /// The family's current secret only.
    Current,
    /// The current one, or the one it replaced (its successor, by this key, is the current
    /// one): a client whose refresh was made but whose answer was lost holds the token it sent.
    CurrentOrLast(&'a SuccessorKey),
}

/// The family a refresh token names and its grant, if the token is a secret of it that `held`
/// allows, revoked or not.
async fn current_family<'t>(
    ports: &Ports<'_>,
    token: &'t str,
    held: Held<'_>,
) -> Result<Option<(&'t str, Family, RefreshGrant)>, Failure> {
    let Some((gid, secret)) = refresh::split(token) else {
        return Ok(None);
    };
    let Some(family) = ports.once.family_get(&keys::refresh_family(gid)).await? else {
        return Ok(None);
    };
    let last = match held {
        Held::Current => false,
        Held::CurrentOrLast(key) => family.current == keys::refresh_secret(&key.successor(gid, secret)),
    };
    if family.current != keys::refresh_secret(secret) && !last {
        return Ok(None);
    }
    let Ok(grant) = serde_json::from_str::<RefreshGrant>(&family.value) else {
        return Ok(None);
    };
    Ok(Some((gid, family, grant)))
}

/// The refresh grant a token names, if the token is the family's current one.
async fn live_refresh_token(ports: &Ports<'_>, token: &str) -> Result<Option<(String, RefreshGrant)>, Failure> {
    let Some((gid, family, grant)) = current_family(ports, token, Held::Current).await? else {
        return Ok(None);
    };
    if family.revoked || grant.expires_at <= ports.clock.now() {
        return Ok(None);
    }
    // An online token is dead with its session, as the refresh grant would find.
    if !grant.offline && session::ended(ports, &grant.sid).await? {
        return Ok(None);
    }
    Ok(Some((gid.to_owned(), grant)))
}

/// RFC 7662 §4: the server decides whether the caller may learn about a token. A client learns
/// about its own tokens, a resource server (`resource_server = true`) about every client's,
/// since checking them is its job. Anyone else gets `{"active": false}`, as for an unknown
/// token, so introspection does not tell one client who is signed in at another.
fn may_introspect(caller: &Client, token_client_id: &str) -> bool {
    caller.resource_server || caller.client_id == token_client_id
}

pub async fn introspect(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let params = Params::from_form(req);
    let caller = confidential(app, req, &params)?;
    throttle::by_client(ports, Limiter::Introspection, &caller.client_id).await?;
    let token = token_param(&params)?;
    let inactive = json!({ "active": false });
    let body = if let Some(c) = live_access_token(app, ports, token).await? {
        if may_introspect(caller, &c.client_id) {
            let exp = app.keys.expiry_of(token);
            json!({ "active": true, "token_type": "Bearer", "scope": c.scope, "client_id": c.client_id, "sub": c.sub,
                    "iss": c.iss, "aud": c.aud, "jti": c.jti, "exp": exp, "auth_time": c.auth_time })
        } else {
            inactive
        }
    } else if let Some((_, g)) = live_refresh_token(ports, token).await? {
        if may_introspect(caller, &g.client_id) {
            json!({ "active": true, "token_type": "refresh_token", "scope": g.scope, "client_id": g.client_id, "sub": g.user_id,
                    "iss": app.config.issuer, "exp": g.expires_at, "auth_time": g.auth_time })
        } else {
            inactive
        }
    } else {
        inactive
    };
    Ok(web::json_no_store(StatusCode::OK, body.to_string()))
}

/// RFC 7009: revokes a refresh token's whole grant; revoking an access token revokes its
/// grant as well (§2.1 allows it), so nothing issued alongside it stays usable. Unknown or
/// foreign tokens get the same 200, so the endpoint reveals nothing.
pub async fn revoke(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let params = Params::from_form(req);
    let client = authenticate_client(app, req, &params)?;
    if !client.is_public() {
        throttle::by_client(ports, Limiter::Token, &client.client_id).await?;
    }
    let token = token_param(&params)?;
    if let Some(gid) = grant_of_own_token(app, ports, client, token).await? {
        revoke_grant(app, ports, &gid).await?;
    }
    Ok(web::json_no_store(StatusCode::OK, "{}".into()))
}

/// The grant of `token` if it is one of `client`'s: an access token keyedge signed (unexpired),
/// or the current secret of a refresh family, whether or not the grant was revoked already. A
/// revocation that failed part-way is then finished when the client tries again, instead of
/// finding the token dead and leaving the rest of its grant alive. Also the secret the current
/// one replaced: a client whose refresh was made but whose answer was lost holds only that
/// one, and revoking it must end the grant.
async fn grant_of_own_token(
    app: &Keyedge,
    ports: &Ports<'_>,
    client: &Client,
    token: &str,
) -> Result<Option<String>, Failure> {
    if let Some(c) = own_access_token(app, ports, token).await {
        return Ok((c.client_id == client.client_id).then_some(c.gid));
    }
    let family = current_family(ports, token, Held::CurrentOrLast(&app.successors)).await?;
    Ok(family.filter(|(_, _, grant)| grant.client_id == client.client_id).map(|(gid, _, _)| gid.to_owned()))
}
