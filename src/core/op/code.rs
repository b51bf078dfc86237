//! Authorization codes: issued after a login, redeemed once at `/token`.

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizationRequest;
use super::refresh::RefreshGrant;
use crate::core::account::session::{self, Session};
use crate::core::app::Keyedge;
use crate::core::config::{Client, GrantType};
use crate::core::error::{Failure, OAuthError};
use crate::core::keys;
use crate::core::ports::{Marker as OnceMarker, NewFamily, NewItem, OnceKey, Ports};
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

/// What a code is bound to (RFC 6749 §4.1.3, RFC 7636 §4.6): the client it was issued to, the
/// `redirect_uri` of its request and its PKCE challenge. The binding is part of the code's
/// storage key ([`keys::code`]), so the Durable Object finds — and burns — a code only for a
/// presenter that matches all three; anyone else finds nothing, so a leaked code can neither
/// be spent by another client nor, replayed, revoke the grant it produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBinding {
    client_id: String,
    redirect_uri: String,
    code_challenge: Option<String>,
}

impl CodeBinding {
    /// The binding of a code issued for `request`.
    pub fn of_request(request: &AuthorizationRequest) -> Self {
        Self {
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
        }
    }

    /// The binding a `/token` request claims: the client it authenticated as, its
    /// `redirect_uri`, and the S256 challenge of its `code_verifier` (none without one).
    pub fn presented(
        client: &Client,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<Self, OAuthError> {
        let redirect_uri = redirect_uri.ok_or_else(|| OAuthError::invalid_grant("redirect_uri is required"))?;
        let code_challenge = code_verifier.map(super::token::pkce_challenge).transpose()?;
        Ok(Self { client_id: client.client_id.clone(), redirect_uri: redirect_uri.to_owned(), code_challenge })
    }

    /// The storage key of `code` under this binding.
    pub fn key(&self, code: &str) -> OnceKey {
        let binding = serde_json::json!([self.client_id, self.redirect_uri, self.code_challenge]);
        keys::code(code, &binding.to_string())
    }
}

/// The single-use marker of the upstream login that led here, if any: the code is only
/// stored if that login was not completed before.
pub struct Marker<'a> {
    pub grant_id: &'a str,
    pub key: &'a OnceKey,
}

/// How long a used upstream `state` is remembered (longer than a flow can live).
pub const MARKER_TTL: u64 = 2 * FLOW_TTL;

/// How long an upstream login may take, from keyedge's redirect to the IdP's callback (the
/// flow cookie's and the upstream `state`'s lifetime).
pub const FLOW_TTL: u64 = 600;

/// Stores a new code (and its grant's refresh family) in the Durable Object in one call and
/// sends it to the client with `state` and `iss` (RFC 9207). With a `marker`, nothing is
/// stored if the upstream login was already used, and `Ok(None)` says so.
pub async fn issue(
    app: &Keyedge,
    ports: &Ports<'_>,
    request: &AuthorizationRequest,
    session: &Session,
    marker: Option<Marker<'_>>,
) -> Result<Issued, Failure> {
    let grant_id = marker.as_ref().map_or_else(|| ports.random_token(16), |m| m.grant_id.to_owned());
    let code = format!("{grant_id}.{}", ports.random_token(32));
    let client = app
        .config
        .client(&request.client_id)
        .ok_or_else(|| Failure::internal("the client of an authorization request is not configured"))?;
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
        let refresh = RefreshGrant::from_code(&grant, client, session.expires_at, ports.clock.now());
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
    let code_key = CodeBinding::of_request(request).key(&code);
    let grant_json = to_json(&grant)?;
    let item = NewItem { key: &code_key, value: &grant_json, ttl_seconds: app.config.code_lifetime };
    let marker = marker.as_ref().map(|m| OnceMarker { key: m.key, ttl_seconds: MARKER_TTL });
    let stored = ports.once.once_then_store(marker, Some(item), new_family).await?;
    if !stored {
        return Ok(Issued::AlreadyCompleted);
    }
    session::add_client(ports, session, &request.client_id).await?;
    Ok(Issued::Sent(request.target().respond(&app.config.issuer, app.css(), &[("code", &code)])))
}

/// What [`issue`] did.
#[derive(Debug)]
pub enum Issued {
    /// The code was stored; the response sends it to the client.
    Sent(web::Response),
    /// The upstream login this code would finish was already finished by another request (its
    /// `state` marker was taken): nothing was stored.
    AlreadyCompleted,
}

fn to_json<T: Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| Failure::internal(format!("a grant does not serialise: {e}")))
}
