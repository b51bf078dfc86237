//! Authorization codes: issued after a login, redeemed once at `/token`.

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizationRequest;
use crate::core::app::Keyedge;
use crate::core::broker::session::{self, Session};
use crate::core::error::{Failure, Outcome};
use crate::core::keys;
use crate::core::ports::{PortError, Ports};

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
}

/// Stores a new code in the Durable Object and redirects to the client with it, its
/// `state` and `iss` (RFC 9207).
pub async fn issue(app: &Keyedge, ports: &Ports<'_>, request: &AuthorizationRequest, session: &Session) -> Outcome {
    let code = ports.random_token(32);
    let grant = CodeGrant {
        request: request.clone(),
        user_id: session.user_id.clone(),
        sid: session.sid.clone(),
        idp: session.idp.clone(),
        auth_time: session.auth_time,
        grant_id: ports.random_token(16),
    };
    let json = serde_json::to_string(&grant).map_err(|e| Failure::Port(PortError(e.to_string())))?;
    ports.once.put(&keys::code(&code), &json, app.config.code_lifetime).await?;
    session::add_client(ports, session, &request.client_id).await?;
    Ok(request.target().respond(&app.config.issuer, app.css(), &[("code", &code)]))
}
