//! `POST /token` (RFC 6749 §3.2, §4.1.3; OIDC Core §3.1.3): client authentication, the
//! authorization_code grant with PKCE, ID and access tokens.

use base64::Engine;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::code::CodeGrant;
use crate::core::app::Keyedge;
use crate::core::broker::users::{self, User};
use crate::core::config::{Client, ClientAuth};
use crate::core::error::{Failure, OAuthError, Outcome};
use crate::core::jose;
use crate::core::keys;
use crate::core::ports::{Ports, Taken};
use crate::core::web::{self, Params, Request};

fn bad(e: OAuthError) -> Failure {
    Failure::Json(StatusCode::BAD_REQUEST, e)
}

fn unauthorized(d: &str) -> Failure {
    Failure::Json(StatusCode::UNAUTHORIZED, OAuthError::invalid_client(d))
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded).
fn basic_credentials(req: &Request) -> Result<Option<(String, String)>, Failure> {
    let Some(value) = req.headers().get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("malformed Authorization header"))?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(unauthorized(
            "only Basic client authentication is accepted in the Authorization header",
        ));
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| unauthorized("malformed Basic credentials"))?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    match (unescape(id), unescape(secret)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        _ => Err(unauthorized("malformed Basic credentials")),
    }
}

/// Authenticates the client by exactly one method (RFC 6749 §2.3).
pub fn authenticate_client<'a>(
    app: &'a Keyedge,
    req: &Request,
    params: &Params,
) -> Result<&'a Client, Failure> {
    let basic = basic_credentials(req)?;
    let (client_id, secret) = match basic {
        Some((id, secret)) => {
            if params.get("client_secret").is_some() {
                return Err(bad(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                )));
            }
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(bad(OAuthError::invalid_request(
                    "client_id differs from the authenticated client",
                )));
            }
            (id, Some(secret))
        }
        None => {
            let id = params
                .get("client_id")
                .ok_or_else(|| unauthorized("client authentication is required"))?;
            (
                id.to_owned(),
                params.get("client_secret").map(str::to_owned),
            )
        }
    };
    let client = app
        .config
        .client(&client_id)
        .ok_or_else(|| unauthorized("unknown client or wrong credentials"))?;
    match (&client.auth, secret) {
        (ClientAuth::Secret(expected), Some(given)) if expected.matches(&given) => Ok(client),
        (ClientAuth::Public, None) => Ok(client),
        _ => Err(unauthorized("unknown client or wrong credentials")),
    }
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// RFC 7636 §4.6 for S256, plus RFC 9700 §2.1.1: a verifier without a challenge is refused.
pub fn check_pkce(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent but no code_challenge was used",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (Some(c), Some(v)) => {
            let computed = crate::core::b64url(&Sha256::digest(v.as_bytes()));
            if valid_verifier(v) && computed == c {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
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
    #[serde(flatten)]
    profile: ProfileClaims,
}

/// Profile claims by scope (OIDC Core §5.4).
#[derive(Debug, Default, Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct ProfileClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl ProfileClaims {
    pub fn for_scope(user: &User, scope: &str) -> Self {
        let has = |s: &str| scope.split(' ').any(|x| x == s);
        let mut claims = ProfileClaims::default();
        if has("profile") {
            claims.preferred_username = Some(user.username.clone());
            claims.name = Some(user.display_name());
            claims.given_name = user.given_name.clone();
            claims.family_name = user.family_name.clone();
        }
        if has("email") && user.email.is_some() {
            claims.email = user.email.clone();
            claims.email_verified = Some(user.email_verified);
        }
        claims
    }
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
}

pub async fn token(app: &Keyedge, ports: &Ports<'_>, req: &Request) -> Outcome {
    let params = Params::from_form(req);
    if let Some(name) = params.first_repeated(&[
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "client_id",
        "client_secret",
    ]) {
        return Err(bad(OAuthError::invalid_request(format!(
            "parameter `{name}` is repeated"
        ))));
    }
    let client = authenticate_client(app, req, &params)?;
    match params.get("grant_type") {
        None => Err(bad(OAuthError::invalid_request("grant_type is required"))),
        Some("authorization_code") => authorization_code(app, ports, client, &params).await,
        Some(_) => Err(bad(OAuthError::new(
            "unsupported_grant_type",
            "only authorization_code is supported",
        ))),
    }
}

async fn authorization_code(
    app: &Keyedge,
    ports: &Ports<'_>,
    client: &Client,
    params: &Params,
) -> Outcome {
    let code = params
        .get("code")
        .ok_or_else(|| bad(OAuthError::invalid_request("code is required")))?;
    let grant: CodeGrant = match ports.once.take(&keys::code(code)).await? {
        Taken::Fresh(json) => serde_json::from_str(&json)
            .map_err(|_| bad(OAuthError::invalid_grant("invalid code")))?,
        Taken::Replayed(json) => {
            // RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it.
            if let Ok(grant) = serde_json::from_str::<CodeGrant>(&json) {
                ports
                    .store
                    .put(
                        &keys::revoked_grant(&grant.grant_id),
                        "1",
                        Some(app.config.access_token_lifetime),
                    )
                    .await?;
            }
            return Err(bad(OAuthError::invalid_grant(
                "the code was already used; tokens issued from it are revoked",
            )));
        }
        Taken::Missing => {
            return Err(bad(OAuthError::invalid_grant(
                "the code is invalid or expired",
            )))
        }
    };
    let request = &grant.request;
    if request.client_id != client.client_id {
        return Err(bad(OAuthError::invalid_grant(
            "the code was issued to another client",
        )));
    }
    if params.get("redirect_uri") != Some(request.redirect_uri.as_str()) {
        return Err(bad(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        )));
    }
    check_pkce(
        request.code_challenge.as_deref(),
        params.get("code_verifier"),
    )
    .map_err(bad)?;
    let user = users::load(ports, &grant.user_id)
        .await?
        .ok_or_else(|| bad(OAuthError::invalid_grant("the user no longer exists")))?;

    let now = ports.clock.now();
    let config = &app.config;
    let access = AccessTokenClaims {
        iss: config.issuer.clone(),
        sub: user.id.clone(),
        aud: config.issuer.clone(),
        client_id: client.client_id.clone(),
        scope: request.scope.clone(),
        jti: ports.random_token(16),
        auth_time: grant.auth_time,
        sid: grant.sid.clone(),
        gid: grant.grant_id.clone(),
    };
    let access_token = app
        .key
        .sign(Some("at+jwt"), &access, now, config.access_token_lifetime);
    let id_claims = IdTokenClaims {
        iss: &config.issuer,
        sub: &user.id,
        aud: &client.client_id,
        azp: &client.client_id,
        auth_time: grant.auth_time,
        sid: &grant.sid,
        at_hash: jose::half_hash(&access_token),
        nonce: request.nonce.as_deref(),
        profile: ProfileClaims::for_scope(&user, &request.scope),
    };
    let id_token = app
        .key
        .sign(None, &id_claims, now, config.id_token_lifetime);
    let body = serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": config.access_token_lifetime,
        "id_token": id_token,
        "scope": request.scope,
    });
    Ok(web::json_no_store(StatusCode::OK, body.to_string()))
}
