//! `POST /token` (RFC 6749 §3.2, §4.1.3; OIDC Core §3.1.3): client authentication, the
//! authorization_code grant with PKCE, ID and access tokens.

use crate::core::ports::rate_limit::Limiter;
use crate::core::throttle;
use crate::core::vocab::{scope, Scopes};
use base64::Engine;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::authorize::RequestedClaims;
use super::code::{CodeBinding, CodeGrant};
use super::{keycloak_claims, refresh};
use crate::core::account::users::{self, User};
use crate::core::app::Keyedge;
use crate::core::config::{Client, ClientAuth, GrantType};
use crate::core::error::{ErrorCode, Failure, OAuthError, Outcome};
use crate::core::jose::{self, Alg};
use crate::core::keys;
use crate::core::ports::{Ports, Taken};
use crate::core::web::{self, Params, Request};

pub fn bad(e: OAuthError) -> Failure {
    Failure::Json(StatusCode::BAD_REQUEST, e)
}

fn unauthorized(d: &str) -> Failure {
    Failure::Json(StatusCode::UNAUTHORIZED, OAuthError::invalid_client(d))
}

/// Credentials from `Authorization: Basic`: each part as RFC 6749 §2.3.1 has it
/// form-urlencoded, and as sent (some libraries, oidc-client-ts among them, do not encode).
struct Basic {
    id: [String; 2],
    secret: [String; 2],
}

fn basic_credentials(req: &Request) -> Result<Option<Basic>, Failure> {
    let Some(value) = req.headers().get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| unauthorized("malformed Authorization header"))?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return Err(unauthorized("only Basic client authentication is accepted in the Authorization header"));
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let (id, secret) = decoded.split_once(':').ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let unescape =
        |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    match (unescape(id), unescape(secret)) {
        (Some(decoded_id), Some(decoded_secret)) => {
            Ok(Some(Basic { id: [decoded_id, id.to_owned()], secret: [decoded_secret, secret.to_owned()] }))
        }
        _ => Err(unauthorized("malformed Basic credentials")),
    }
}

/// Authenticates the client by exactly one method (RFC 6749 §2.3).
pub fn authenticate_client<'a>(app: &'a Keyedge, req: &Request, params: &Params) -> Result<&'a Client, Failure> {
    let (client, secrets) = match basic_credentials(req)? {
        Some(Basic { id, secret }) => {
            if params.get("client_secret").is_some() {
                return Err(bad(OAuthError::invalid_request("use one client authentication method, not two")));
            }
            // The id as decoded, else as sent.
            let client = id.iter().find_map(|id| app.config.client(id));
            if params.get("client_id").is_some_and(|body_id| client.is_some_and(|c| c.client_id != body_id)) {
                return Err(bad(OAuthError::invalid_request("client_id differs from the authenticated client")));
            }
            (client, Some(secret))
        }
        None => {
            let id = params.get("client_id").ok_or_else(|| unauthorized("client authentication is required"))?;
            let secret = params.get("client_secret").map(|s| [s.to_owned(), s.to_owned()]);
            (app.config.client(id), secret)
        }
    };
    let client = client.ok_or_else(|| unauthorized("unknown client or wrong credentials"))?;
    match (&client.auth, secrets) {
        // Either spelling of the secret: a secret with `+` or `%` works encoded or not.
        (ClientAuth::Secret(expected), Some(given)) if given.iter().any(|g| expected.matches(g)) => Ok(client),
        (ClientAuth::Public, None) => Ok(client),
        _ => Err(unauthorized("unknown client or wrong credentials")),
    }
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The S256 challenge of a well-formed verifier (RFC 7636 §4.1, §4.6).
pub fn pkce_challenge(verifier: &str) -> Result<String, OAuthError> {
    if !valid_verifier(verifier) {
        return Err(OAuthError::invalid_grant("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]"));
    }
    Ok(crate::core::b64url(&Sha256::digest(verifier.as_bytes())))
}

/// RFC 7636 §4.6 for S256, plus RFC 9700 §2.1.1: a verifier without a challenge is refused.
pub fn check_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant("code_verifier sent but no code_challenge was used")),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(c), Some(v)) => match pkce_challenge(v) {
            Ok(computed) if computed == c => Ok(()),
            _ => Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge")),
        },
    }
}

#[derive(Serialize)]
struct IdTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    auth_time: i64,
    sid: &'a str,
    at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity_provider: Option<&'a str>,
    #[serde(flatten)]
    profile: serde_json::Map<String, serde_json::Value>,
}

/// Access token claims (RFC 9068 §2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub jti: String,
    pub auth_time: i64,
    pub sid: String,
    /// The grant this token came from (revoked together when its code is replayed).
    pub gid: String,
    /// Claims asked for individually for `/userinfo` (the `claims` parameter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userinfo_claims: Vec<String>,
    /// The upstream IdP alias of the login, for clients with `identity_provider_claim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
    /// The user's roles (from mappers and `stored_tokens_readable`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Claims shaped like Keycloak's, for clients with `keycloak_claims` ([`keycloak_claims`]).
    #[serde(flatten, default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub keycloak: serde_json::Map<String, serde_json::Value>,
    /// The user's groups (from mappers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

pub async fn token(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let params = Params::from_form(req);
    let single =
        ["grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret", "refresh_token", "scope"];
    if let Some(name) = params.first_repeated(&single) {
        return Err(bad(OAuthError::invalid_request(format!("parameter `{name}` is repeated"))));
    }
    let client = authenticate_client(app, req, &params)?;
    // A public client is named, not authenticated: anyone could spend its budget.
    if !client.is_public() {
        throttle::by_client(ports, Limiter::Token, &client.client_id).await?;
    }
    let grant = match params.get("grant_type") {
        None => return Err(bad(OAuthError::invalid_request("grant_type is required"))),
        Some(text) => GrantType::parse(text).ok_or_else(|| {
            bad(OAuthError::new(ErrorCode::UnsupportedGrantType, format!("grant_type `{text}` is not supported")))
        })?,
    };
    if !client.allows(grant) {
        return Err(bad(OAuthError::new(ErrorCode::UnauthorizedClient, "this client may not use this grant type")));
    }
    match grant {
        GrantType::AuthorizationCode => authorization_code(app, ports, client, &params).await,
        GrantType::RefreshToken => refresh::refresh_token(app, ports, client, &params).await,
        GrantType::ClientCredentials => client_credentials(app, ports, client, &params).await,
    }
}

/// Everything tokens are issued from, whichever grant produced it.
pub struct Issue<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub scope: &'a str,
    pub sid: &'a str,
    pub auth_time: i64,
    /// Grant id: shared by every token of one code / refresh family, revoked together.
    pub gid: &'a str,
    pub nonce: Option<&'a str>,
    pub refresh_token: Option<String>,
    pub requested: &'a RequestedClaims,
    /// Alias of the upstream IdP of the login.
    pub idp: &'a str,
}

pub async fn access_token(
    app: &Keyedge,
    ports: &Ports<'_>,
    claims: &AccessTokenClaims,
    lifetime: u64,
) -> Result<String, Failure> {
    let alg = app.config.client(&claims.client_id).map_or(Alg::RS256, |c| c.access_token_signed_response_alg);
    Ok(app.keys.sign(ports.crypto, alg, Some("at+jwt"), claims, ports.clock.now(), lifetime).await?)
}

/// Signs the access and ID tokens and builds the token response (OIDC Core §3.1.3.3).
pub async fn respond_with_tokens(app: &Keyedge, ports: &Ports<'_>, issue: Issue<'_>) -> Outcome {
    let config = &app.config;
    let now = ports.clock.now();
    let client = issue.client;
    let access = AccessTokenClaims {
        iss: config.issuer.clone(),
        sub: issue.user.id.clone(),
        aud: config.issuer.clone(),
        client_id: client.client_id.clone(),
        scope: issue.scope.to_owned(),
        jti: ports.random_token(16),
        auth_time: issue.auth_time,
        sid: issue.sid.to_owned(),
        gid: issue.gid.to_owned(),
        userinfo_claims: issue.requested.userinfo.clone(),
        identity_provider: client.identity_provider_claim.then(|| issue.idp.to_owned()),
        roles: issue.user.roles.clone(),
        keycloak: match client.keycloak_claims {
            true => keycloak_claims::access_token_claims(config, client, issue.user, issue.scope, issue.sid),
            false => serde_json::Map::new(),
        },
        groups: issue.user.groups.clone(),
    };
    let access_token = access_token(app, ports, &access, client.access_token_lifetime).await?;
    let id_claims = IdTokenClaims {
        iss: &config.issuer,
        sub: &issue.user.id,
        aud: &client.client_id,
        azp: &client.client_id,
        auth_time: issue.auth_time,
        sid: issue.sid,
        at_hash: jose::half_hash_for(client.id_token_signed_response_alg, &access_token),
        nonce: issue.nonce,
        identity_provider: client.identity_provider_claim.then_some(issue.idp),
        profile: {
            let mut profile = issue.user.claims_for(client, issue.scope, &issue.requested.id_token);
            profile.extend(issue.user.broker_claims(client));
            if client.keycloak_claims {
                keycloak_claims::shape_id_token(&mut profile, issue.sid);
            }
            profile
        },
    };
    let id_token = app
        .keys
        .sign(ports.crypto, client.id_token_signed_response_alg, None, &id_claims, now, config.id_token_lifetime)
        .await?;
    let mut body = serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": client.access_token_lifetime,
        "id_token": id_token,
        "scope": issue.scope,
    });
    if let Some(rt) = issue.refresh_token {
        body["refresh_token"] = serde_json::Value::String(rt);
    }
    Ok(web::json_no_store(StatusCode::OK, body.to_string()))
}

async fn authorization_code(app: &Keyedge, ports: &Ports<'_>, client: &Client, params: &Params) -> Outcome {
    let code = params.get("code").ok_or_else(|| bad(OAuthError::invalid_request("code is required")))?;
    // The client, redirect_uri and PKCE verifier select the code's key: a request that does
    // not match them finds nothing, so it neither burns the code nor revokes its grant.
    let binding =
        CodeBinding::presented(client, params.get("redirect_uri"), params.get("code_verifier")).map_err(bad)?;
    let grant: CodeGrant = match ports.once.take(&binding.key(code)).await? {
        Taken::Fresh(json) => {
            serde_json::from_str(&json).map_err(|_| bad(OAuthError::invalid_grant("invalid code")))?
        }
        Taken::Replayed(json) => {
            // RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it, the
            // refresh-token family included.
            if let Ok(grant) = serde_json::from_str::<CodeGrant>(&json) {
                revoke_grant(app, ports, &grant.grant_id).await?;
            }
            return Err(bad(OAuthError::invalid_grant("the code was already used; tokens issued from it are revoked")));
        }
        Taken::Missing => {
            return Err(bad(OAuthError::invalid_grant(
                "the code is invalid or expired, or was issued to another client, redirect_uri or code_challenge",
            )))
        }
    };
    // Implied by the key; checked again so that a change there cannot silently drop them.
    let request = &grant.request;
    if request.client_id != client.client_id {
        return Err(bad(OAuthError::invalid_grant("the code was issued to another client")));
    }
    if params.get("redirect_uri") != Some(request.redirect_uri.as_str()) {
        return Err(bad(OAuthError::invalid_grant("redirect_uri does not match the authorization request")));
    }
    check_pkce(request.code_challenge.as_deref(), params.get("code_verifier")).map_err(bad)?;
    let user = users::load(ports, &grant.user_id)
        .await?
        .ok_or_else(|| bad(OAuthError::invalid_grant("the user no longer exists")))?;
    let refresh_token = grant.refresh_secret.as_ref().map(|secret| format!("{}.{secret}", grant.grant_id));
    respond_with_tokens(
        app,
        ports,
        Issue {
            client,
            user: &user,
            scope: &request.scope,
            sid: &grant.sid,
            auth_time: grant.auth_time,
            gid: &grant.grant_id,
            nonce: request.nonce.as_deref(),
            refresh_token,
            requested: &request.claims,
            idp: &grant.idp,
        },
    )
    .await
}

/// Revokes every token of a grant: the refresh family, and the access tokens through the
/// grant's revocation mark that `/userinfo` and `/introspect` consult — both in the Durable
/// Object, so the revocation counts everywhere at once.
pub async fn revoke_grant(app: &Keyedge, ports: &Ports<'_>, gid: &str) -> Result<(), Failure> {
    // One after the other, the refresh family first: a failure leaves the grant whole or its
    // refresh tokens dead, and the caller's error says to try again (`/revoke` finds a token
    // of a half-revoked grant, and finishes the revocation).
    ports.once.family_revoke(&keys::refresh_family(gid)).await?;
    let ttl = mark_grant_revoked(app, ports, gid).await?;
    // KV's list, for a Worker of the previous version during a rollout; the Durable Object's
    // marks are the revocation. Best effort, as a session's KV records at its end: KV refuses a
    // second write to a key within a second (a client revoking twice at once).
    if let Err(e) = ports.store.put(&keys::revoked_grant(gid), "1", Some(ttl)).await {
        (ports.log)(&format!("grant revocation: KV's list not written: {e}"));
    }
    Ok(())
}

/// Marks grant `gid` revoked in the Durable Object, so its access tokens are refused
/// everywhere at once; the mark's lifetime (seconds) is the answer.
pub async fn mark_grant_revoked(app: &Keyedge, ports: &Ports<'_>, gid: &str) -> Result<u64, Failure> {
    // As long as any client's access token lives, at least an hour.
    let longest = app.config.clients.iter().map(|c| c.access_token_lifetime).max().unwrap_or(0);
    let ttl = app.config.access_token_lifetime.max(longest).max(3600);
    ports.once.mark(&keys::grant_revoked(gid), ttl).await?;
    Ok(ttl)
}

/// Whether grant `gid` was revoked: its mark in the Durable Object, or — revoked by a Worker
/// of the previous version, which wrote only KV's list — KV's entry. Read together.
pub async fn grant_revoked(ports: &Ports<'_>, gid: &str) -> Result<bool, crate::core::ports::PortError> {
    crate::core::ports::marked_here_or_in_kv(ports, &keys::grant_revoked(gid), &keys::revoked_grant(gid)).await
}

/// RFC 6749 §4.4: a machine client acting on its own behalf. No refresh or ID token.
async fn client_credentials(app: &Keyedge, ports: &Ports<'_>, client: &Client, params: &Params) -> Outcome {
    let scope = params.get("scope").unwrap_or("");
    let scopes = Scopes::parse(scope);
    if scopes.contains(scope::OPENID) || scopes.contains(scope::OFFLINE_ACCESS) {
        return Err(bad(OAuthError::new(ErrorCode::InvalidScope, "openid and offline_access need a user")));
    }
    if scopes.iter().any(|s| !client.allowed_scopes.iter().any(|a| a == s)) {
        return Err(bad(OAuthError::new(ErrorCode::InvalidScope, "the client may not have this scope")));
    }
    let claims = AccessTokenClaims {
        iss: app.config.issuer.clone(),
        sub: client.client_id.clone(),
        aud: app.config.issuer.clone(),
        client_id: client.client_id.clone(),
        scope: scope.to_owned(),
        jti: ports.random_token(16),
        auth_time: ports.clock.now(),
        sid: String::new(),
        gid: ports.random_token(16),
        userinfo_claims: Vec::new(),
        identity_provider: None,
        roles: Vec::new(),
        keycloak: serde_json::Map::new(),
        groups: Vec::new(),
    };
    let token = access_token(app, ports, &claims, client.access_token_lifetime).await?;
    let body = serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": client.access_token_lifetime,
        "scope": scope,
    });
    Ok(web::json_no_store(StatusCode::OK, body.to_string()))
}
