//! Browser sessions: a random id in a cookie, the session record in KV under its hash.

use serde::{Deserialize, Serialize};

use crate::core::keys;
use crate::core::ports::{PortError, Ports};
use crate::core::web::{CookieJar, Request};

pub const COOKIE: &str = "keyedge_session";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Public session id for `sid` claims (not the cookie value).
    pub sid: String,
    pub user_id: String,
    /// Alias of the identity provider used for this login (Keycloak's `identity_provider`
    /// session note).
    pub idp: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// Creates a session and returns it with the cookie value to set.
pub async fn create(
    ports: &Ports<'_>,
    user_id: &str,
    idp: &str,
    lifetime: u64,
) -> Result<(Session, String), PortError> {
    let now = ports.clock.now();
    let cookie_value = ports.random_token(32);
    let session = Session {
        sid: ports.random_token(16),
        user_id: user_id.to_owned(),
        idp: idp.to_owned(),
        auth_time: now,
        expires_at: now + lifetime as i64,
    };
    let json = serde_json::to_string(&session).map_err(|e| PortError(e.to_string()))?;
    ports.store.put(&keys::session(&cookie_value), &json, Some(lifetime)).await?;
    Ok((session, cookie_value))
}

/// The live session named by the request's cookie, if any.
pub async fn current(ports: &Ports<'_>, jar: CookieJar, req: &Request) -> Result<Option<Session>, PortError> {
    let Some(cookie_value) = jar.get(req, COOKIE) else {
        return Ok(None);
    };
    let Some(json) = ports.store.get(&keys::session(cookie_value)).await? else {
        return Ok(None);
    };
    let session: Session = match serde_json::from_str(&json) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    // KV expiry is lazy and coarse; the record's own expiry is authoritative.
    Ok((session.expires_at > ports.clock.now()).then_some(session))
}

/// Ends the session named by the request's cookie, and marks its `sid` as ended so the
/// online refresh tokens issued in it stop working.
pub async fn end(
    ports: &Ports<'_>,
    jar: CookieJar,
    req: &Request,
    lifetime: u64,
) -> Result<Option<Session>, PortError> {
    let Some(cookie_value) = jar.get(req, COOKIE) else {
        return Ok(None);
    };
    let session = current(ports, jar, req).await?;
    if let Some(s) = &session {
        ports.store.put(&keys::ended_session(&s.sid), "1", Some(lifetime)).await?;
    }
    ports.store.delete(&keys::session(cookie_value)).await?;
    Ok(session)
}
