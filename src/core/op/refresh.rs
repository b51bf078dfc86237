//! Refresh tokens (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! A refresh token is `{grant id}.{secret}`. The grant id names a family in the Durable
//! Object that knows the hash of the one current secret. Presenting the current secret
//! rotates it; presenting an earlier one means the token was stolen or replayed, and the whole
//! family and its access tokens are revoked.
//!
//! Concurrent refreshes of one client (tabs, replicas) present the same token at once. The
//! successor of a secret is derived from it ([`SuccessorKey`]), so each of them can be given
//! the same new token: presenting the secret rotated out last again, while its successor is
//! still current, is a repeat within `refresh_token_grace_seconds` of the rotation, and
//! `refresh_token_max_reuse` times after (Keycloak's knob); anything else is reuse as above.
//! With `revoke_refresh_token = false` nothing rotates: the same token stays valid.

use crate::core::account::session;
use crate::core::vocab::scope;
use serde::{Deserialize, Serialize};

use super::authorize::RequestedClaims;
use super::code::CodeGrant;
use super::token::{bad, mark_grant_revoked, respond_with_tokens, revoke_grant, Issue};
use crate::core::account::users;
use crate::core::app::Keyedge;
use crate::core::config::Client;
use crate::core::error::{ErrorCode, Failure, OAuthError, Outcome};
use crate::core::keys;
use crate::core::ports::{Ports, Rotation, RotationGrace};
use crate::core::secret::DerivedKey;
use crate::core::web::Params;
use hmac::Mac;

/// The key that derives a refresh token's successor from it, derived from `ENCRYPTION_KEY`
/// for that alone: the same token always has the same successor, which only keyedge can
/// compute.
#[derive(Debug)]
pub struct SuccessorKey(DerivedKey);

impl SuccessorKey {
    pub fn derive(encryption_key: &[u8; 32]) -> Self {
        Self(DerivedKey::derive(encryption_key, "keyedge refresh token successor key v1"))
    }

    /// The secret that follows `secret` in the family `gid`.
    pub fn successor(&self, gid: &str, secret: &str) -> String {
        let mut m = self.0.mac();
        m.update(gid.as_bytes());
        m.update(b".");
        m.update(secret.as_bytes());
        crate::core::b64url(&m.finalize().into_bytes())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub sid: String,
    pub auth_time: i64,
    /// `offline_access` was granted: the token outlives the browser session.
    pub offline: bool,
    /// An online grant's ends with its session at the latest (the session's expiry; a
    /// logout ends it sooner through `ended_session`).
    pub expires_at: i64,
    #[serde(default)]
    pub claims: RequestedClaims,
    #[serde(default)]
    pub idp: String,
}

impl RefreshGrant {
    /// The grant of a code issued in a session that expires at `session_expires_at`.
    pub fn from_code(grant: &CodeGrant, client: &Client, session_expires_at: i64, now: i64) -> Self {
        let offline = grant.request.has_scope(scope::OFFLINE_ACCESS);
        let expires_at = if offline {
            now + client.offline_token_lifetime as i64
        } else {
            (now + client.refresh_token_lifetime as i64).min(session_expires_at)
        };
        RefreshGrant {
            client_id: client.client_id.clone(),
            user_id: grant.user_id.clone(),
            scope: grant.request.scope.clone(),
            sid: grant.sid.clone(),
            auth_time: grant.auth_time,
            offline,
            expires_at,
            claims: grant.request.claims.clone(),
            idp: grant.idp.clone(),
        }
    }
}

/// Splits `{grant id}.{secret}`; JWTs (two dots) and garbage give `None`.
pub fn split(token: &str) -> Option<(&str, &str)> {
    let (family, secret) = token.split_once('.')?;
    (!family.is_empty() && !secret.is_empty() && !secret.contains('.')).then_some((family, secret))
}

/// `revoke_refresh_token = false`: the token is checked against its family, which is left as
/// it is (the current secret stays current). Reuse cannot be told from use then, as in
/// Keycloak; revocation, expiry and the session's end still stop it.
async fn unrotated(ports: &Ports<'_>, gid: &str, secret: &str) -> Result<Rotation, Failure> {
    Ok(match ports.once.family_get(&keys::refresh_family(gid)).await? {
        None => Rotation::Missing,
        Some(f) if f.revoked || f.current != keys::refresh_secret(secret) => Rotation::Refused,
        Some(f) => Rotation::Rotated(f.value),
    })
}

/// RFC 6749 §6: a narrower scope may be asked for, never a wider one.
fn narrowed_scope(granted: &str, asked: &str) -> Result<String, Failure> {
    let granted: Vec<&str> = granted.split(' ').collect();
    if asked.split(' ').any(|s| !granted.contains(&s)) {
        return Err(bad(OAuthError::new(ErrorCode::InvalidScope, "the requested scope exceeds the granted scope")));
    }
    Ok(asked.to_owned())
}

pub async fn refresh_token(app: &Keyedge, ports: &Ports<'_>, client: &Client, params: &Params) -> Outcome {
    let presented =
        params.get("refresh_token").ok_or_else(|| bad(OAuthError::invalid_request("refresh_token is required")))?;
    let invalid = || bad(OAuthError::invalid_grant("the refresh token is invalid, expired or revoked"));
    let (gid, secret) = split(presented).ok_or_else(invalid)?;
    // A scope error must not burn the token, so a narrowed scope is checked before rotating.
    if let Some(asked) = params.get("scope") {
        let family = ports.once.family_get(&keys::refresh_family(gid)).await?;
        let granted = family.and_then(|f| serde_json::from_str::<RefreshGrant>(&f.value).ok()).map(|g| g.scope);
        if let Some(granted) = granted {
            narrowed_scope(&granted, asked)?;
        }
    }
    let config = &app.config;
    let (next, rotation) = if config.revoke_refresh_token {
        let next = app.successors.successor(gid, secret);
        let grace =
            RotationGrace { seconds: config.refresh_token_grace_seconds, max_reuse: config.refresh_token_max_reuse };
        let (family, presented) = (keys::refresh_family(gid), keys::refresh_secret(secret));
        (next.clone(), ports.once.family_rotate_within(&family, &presented, &keys::refresh_secret(&next), grace).await?)
    } else {
        (secret.to_owned(), unrotated(ports, gid, secret).await?)
    };
    let grant: RefreshGrant = match rotation {
        Rotation::Rotated(json) | Rotation::Repeated(json) => serde_json::from_str(&json).map_err(|_| invalid())?,
        Rotation::Reused(_) => {
            revoke_grant(app, ports, gid).await?;
            return Err(bad(OAuthError::invalid_grant(
                "the refresh token was already used; the whole grant is revoked",
            )));
        }
        Rotation::Refused => {
            // A revoked family: its grant's access tokens must be dead too. Should the revocation
            // that revoked it have failed part-way (reuse detected, the grant's mark not made),
            // presenting a token of it again finishes the job. A family that is not revoked (a
            // guessed secret) is left alone.
            if ports.once.family_get(&keys::refresh_family(gid)).await?.is_some_and(|f| f.revoked) {
                mark_grant_revoked(app, ports, gid).await?;
            }
            return Err(invalid());
        }
        Rotation::Missing => return Err(invalid()),
    };
    if grant.client_id != client.client_id {
        // Someone else's token: it is burnt now, so revoke rather than leave it half-rotated.
        revoke_grant(app, ports, gid).await?;
        return Err(invalid());
    }
    if grant.expires_at <= ports.clock.now() {
        return Err(invalid());
    }
    let scope = match params.get("scope") {
        None => grant.scope.clone(),
        Some(asked) => narrowed_scope(&grant.scope, asked)?,
    };
    // An online token dies with its session; that check and the user's record are read together.
    let ended = async {
        if grant.offline {
            return Ok(false);
        }
        session::ended(ports, &grant.sid).await
    };
    let (ended, user) = futures_util::future::try_join(ended, users::load(ports, &grant.user_id)).await?;
    if ended {
        return Err(bad(OAuthError::invalid_grant("the session this token belongs to has ended")));
    }
    let user = user.ok_or_else(invalid)?;
    respond_with_tokens(
        app,
        ports,
        Issue {
            client,
            user: &user,
            scope: &scope,
            sid: &grant.sid,
            auth_time: grant.auth_time,
            gid,
            nonce: None,
            refresh_token: Some(format!("{gid}.{next}")),
            requested: &grant.claims,
            idp: &grant.idp,
        },
    )
    .await
}
