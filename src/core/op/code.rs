//! Authorization codes: issued after a login, redeemed once at `/token`.

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizationRequest;
use super::refresh::RefreshGrant;
use crate::core::app::Keyedge;
use crate::core::broker::session::{self, Session};
use crate::core::config::GrantType;
use crate::core::error::{Failure, Outcome};
use crate::core::keys;
use crate::core::ports::{NewFamily, PortError, Ports};

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

/// Stores a new code in the Durable Object and redirects to the client with it, its
/// `state` and `iss` (RFC 9207).
pub async fn issue(app: &Keyedge, ports: &Ports<'_>, request: &AuthorizationRequest, session: &Session) -> Outcome {
    let grant_id = ports.random_token(16);
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
    if client.allows(GrantType::RefreshToken) {
        // The refresh family is born with the code, in the same Durable Object and the same
        // call; the token endpoint then needs one call to redeem both.
        let secret = ports.random_token(32);
        let family = RefreshGrant::from_code(&grant, client, ports.clock.now());
        let family_json = to_json(&family)?;
        let current = keys::refresh_secret(&secret);
        grant.refresh_secret = Some(secret);
        let new_family = NewFamily {
            key: &keys::refresh_family(&grant.grant_id),
            value: &family_json,
            current: &current,
            ttl_seconds: (family.expires_at - ports.clock.now()).max(1) as u64,
        };
        ports
            .once
            .put_with_family(&keys::code(&code), &to_json(&grant)?, app.config.code_lifetime, &new_family)
            .await?;
    } else {
        ports.once.put(&keys::code(&code), &to_json(&grant)?, app.config.code_lifetime).await?;
    }
    session::add_client(ports, session, &request.client_id).await?;
    Ok(request.target().respond(&app.config.issuer, app.css(), &[("code", &code)]))
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| Failure::Port(PortError(e.to_string())))
}
