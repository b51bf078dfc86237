//! Authorization codes: issued after a login, redeemed once at `/token`.

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizationRequest;
use super::refresh::RefreshGrant;
use crate::core::app::Keyedge;
use crate::core::broker::session::{self, Session};
use crate::core::config::GrantType;
use crate::core::error::Failure;
use crate::core::keys;
use crate::core::ports::{NewFamily, PortError, Ports};
use crate::core::web;

/// What a code stands for: the request it answers and the login that approved it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub request: AuthorizationRequest,
    pub user_id: String,
    pub sid: String,
    pub idp: String,
    pub auth_time: i64,
    /// Names every token issued from this code, so they can be revoked if it is replayed.
    pub grant_id: String,
    /// The first refresh token's secret; its family was created with the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_secret: Option<String>,
}

/// The single-use marker of the upstream login that led here, if any: the code is only
/// stored if that login was not completed before.
pub struct Marker<'a> {
    pub grant_id: &'a str,
    pub key: &'a str,
}

/// How long a used upstream `state` is remembered (longer than a flow can live).
pub const MARKER_TTL: u64 = 2 * crate::core::broker::login::FLOW_TTL;

/// Stores a new code (and its grant's refresh family) in the Durable Object in one call and
/// sends it to the client with `state` and `iss` (RFC 9207). With a `marker`, nothing is
/// stored if the upstream login was already used, and `Ok(None)` says so.
pub async fn issue(
    app: &Keyedge,
    ports: &Ports<'_>,
    request: &AuthorizationRequest,
    session: &Session,
    marker: Option<Marker<'_>>,
) -> Result<Option<web::Response>, Failure> {
    let grant_id = marker.as_ref().map_or_else(|| ports.random_token(16), |m| m.grant_id.to_owned());
    let code = format!("{grant_id}.{}", ports.random_token(32));
    let client =
        app.config.client(&request.client_id).ok_or_else(|| Failure::Port(PortError("client vanished".into())))?;
    let mut grant = CodeGrant {
        request: request.clone(),
        user_id: session.user_id.clone(),
        sid: session.sid.clone(),
        idp: session.idp.clone(),
        auth_time: session.auth_time,
        grant_id,
        refresh_secret: None,
    };
    // The refresh family is born with the code, in the same Durable Object and the same call;
    // the token endpoint then redeems both with one call.
    let mut family = None;
    if client.allows(GrantType::RefreshToken) {
        let secret = ports.random_token(32);
        let refresh = RefreshGrant::from_code(&grant, client, ports.clock.now());
        family = Some((
            to_json(&refresh)?,
            keys::refresh_secret(&secret),
            (refresh.expires_at - ports.clock.now()).max(1) as u64,
        ));
        grant.refresh_secret = Some(secret);
    }
    let family_key = keys::refresh_family(&grant.grant_id);
    let new_family =
        family.as_ref().map(|(value, current, ttl)| NewFamily { key: &family_key, value, current, ttl_seconds: *ttl });
    let code_key = keys::code(&code);
    let stored = ports
        .once
        .once_then_store(
            marker.as_ref().map(|m| (m.key, MARKER_TTL)),
            Some((&code_key, &to_json(&grant)?, app.config.code_lifetime)),
            new_family.as_ref(),
        )
        .await?;
    if !stored {
        return Ok(None);
    }
    session::add_client(ports, session, &request.client_id).await?;
    Ok(Some(request.target().respond(&app.config.issuer, app.css(), &[("code", &code)])))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| Failure::Port(PortError(e.to_string())))
}
