//! OpenID Connect 1.0 upstream: discovery, the authorization redirect (state, nonce, PKCE
//! S256), the code exchange through the `oauth2` crate, and the checks of OIDC Core
//! §3.1.3.7 on the ID token.

use oauth2::basic::{BasicErrorResponse, BasicTokenType};
use oauth2::{
    AuthorizationCode, CsrfToken, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError, Scope,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use url::Url;

use super::{BrokeredIdentity, ClientSettings, CodeClient, FlowSecrets, UpstreamError};
use crate::core::config::{IdentityProvider, OidcProvider};
use crate::core::jose::{self, Jwks, TokenError};
use crate::core::ports::Ports;
use crate::core::web::Params;

/// How long discovery documents and JWKS are kept in the isolate's memory.
const METADATA_TTL: i64 = 3600;
/// An unknown `kid` triggers a JWKS refetch at most this often (keys rotate rarely; a flood
/// of forged tokens must not become a flood of requests to the IdP).
const JWKS_REFETCH_INTERVAL: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenFields {}

type OidcTokenResponse = StandardTokenResponse<IdTokenFields, BasicTokenType>;

/// The upstream endpoints, from config or discovery.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: Url,
    pub token: Url,
    pub jwks: Url,
    pub userinfo: Option<Url>,
}

#[derive(Deserialize)]
struct DiscoveryDoc {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    #[serde(default)]
    userinfo_endpoint: Option<Url>,
}

/// Per-isolate caches of discovery documents and key sets, by alias.
#[derive(Default)]
pub struct MetadataCache {
    endpoints: RefCell<HashMap<String, (Endpoints, i64)>>,
    jwks: RefCell<HashMap<String, (Jwks, i64)>>,
}

async fn get_json(ports: &Ports<'_>, url: &Url, what: &str) -> Result<String, UpstreamError> {
    let req = http::Request::get(url.as_str())
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
    let res = ports.http.send(req).await.map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
    if !res.status().is_success() {
        return Err(UpstreamError::Unavailable(format!("{what} answered HTTP {}", res.status().as_u16())));
    }
    String::from_utf8(res.into_body()).map_err(|_| UpstreamError::Unavailable(format!("{what} is not UTF-8")))
}

impl MetadataCache {
    pub async fn endpoints(
        &self,
        idp: &IdentityProvider,
        cfg: &OidcProvider,
        ports: &Ports<'_>,
    ) -> Result<Endpoints, UpstreamError> {
        let now = ports.clock.now();
        if let Some((e, at)) = self.endpoints.borrow().get(&idp.alias) {
            if now - at < METADATA_TTL {
                return Ok(e.clone());
            }
        }
        let endpoints = match (&cfg.authorization_url, &cfg.token_url, &cfg.jwks_url) {
            (Some(a), Some(t), Some(j)) => Endpoints {
                authorization: a.clone(),
                token: t.clone(),
                jwks: j.clone(),
                userinfo: cfg.userinfo_url.clone(),
            },
            _ => {
                let url = Url::parse(&format!("{}/.well-known/openid-configuration", cfg.issuer.trim_end_matches('/')))
                    .map_err(|e| UpstreamError::Unavailable(format!("discovery URL: {e}")))?;
                let body = get_json(ports, &url, "discovery").await?;
                let doc: DiscoveryDoc = serde_json::from_str(&body)
                    .map_err(|e| UpstreamError::Unavailable(format!("discovery document: {e}")))?;
                // OIDC Discovery §4.3: the issuer in the document must be exactly the one asked for.
                if doc.issuer != cfg.issuer {
                    return Err(UpstreamError::Unavailable(format!(
                        "discovery issuer `{}` differs from the configured `{}`",
                        doc.issuer, cfg.issuer
                    )));
                }
                Endpoints {
                    authorization: cfg.authorization_url.clone().unwrap_or(doc.authorization_endpoint),
                    token: cfg.token_url.clone().unwrap_or(doc.token_endpoint),
                    jwks: cfg.jwks_url.clone().unwrap_or(doc.jwks_uri),
                    userinfo: cfg.userinfo_url.clone().or(doc.userinfo_endpoint),
                }
            }
        };
        self.endpoints.borrow_mut().insert(idp.alias.clone(), (endpoints.clone(), now));
        Ok(endpoints)
    }

    async fn fetch_jwks(&self, alias: &str, url: &Url, ports: &Ports<'_>) -> Result<Jwks, UpstreamError> {
        let body = get_json(ports, url, "JWKS").await?;
        let jwks = Jwks::parse(&body).map_err(UpstreamError::Unavailable)?;
        self.jwks.borrow_mut().insert(alias.to_owned(), (jwks.clone(), ports.clock.now()));
        Ok(jwks)
    }

    /// The key set to verify `token` with: cached, or refetched when stale or when the
    /// token names a `kid` the cached set lacks (key rotation at the IdP).
    async fn jwks_for(&self, alias: &str, url: &Url, token: &str, ports: &Ports<'_>) -> Result<Jwks, UpstreamError> {
        let now = ports.clock.now();
        let cached = self.jwks.borrow().get(alias).cloned();
        match cached {
            Some((jwks, at)) if now - at < METADATA_TTL => {
                let unknown_kid = jose::token_kid(token).is_some_and(|kid| !jwks.has_kid(&kid));
                if unknown_kid && now - at >= JWKS_REFETCH_INTERVAL {
                    self.fetch_jwks(alias, url, ports).await
                } else {
                    Ok(jwks)
                }
            }
            _ => self.fetch_jwks(alias, url, ports).await,
        }
    }
}

fn oauth_client(
    cfg: &OidcProvider,
    endpoints: &Endpoints,
    redirect_uri: &str,
) -> Result<CodeClient<OidcTokenResponse>, UpstreamError> {
    ClientSettings {
        client_id: &cfg.client_id,
        client_secret: cfg.client_secret.expose(),
        secret_in_body: false,
        authorization: &endpoints.authorization,
        token: &endpoints.token,
        redirect_uri,
    }
    .client()
}

/// Builds the redirect to the upstream authorization endpoint for a flow whose `state` is
/// `state`, generating the nonce and PKCE verifier it must be completed with.
pub fn begin(
    cfg: &OidcProvider,
    endpoints: &Endpoints,
    redirect_uri: &str,
    state: &str,
    forward: &[(&'static str, String)],
    ports: &Ports<'_>,
) -> Result<(Url, FlowSecrets), UpstreamError> {
    let secrets = FlowSecrets { nonce: ports.random_token(32), pkce_verifier: ports.random_token(32) };
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(secrets.pkce_verifier.clone()));
    let client = oauth_client(cfg, endpoints, redirect_uri)?;
    let state = state.to_owned();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(cfg.default_scopes.split(' ').filter(|s| !s.is_empty()).map(|s| Scope::new(s.to_owned())))
        .add_extra_param("nonce", secrets.nonce.clone())
        .set_pkce_challenge(challenge);
    for (name, value) in forward {
        request = request.add_extra_param(*name, value.clone());
    }
    let (url, _) = request.url();
    Ok((url, secrets))
}

/// `aud` may be one string or an array (OIDC Core §2).
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// `email_verified` is a boolean, but some IdPs send the string "true".
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => Some(s == "true"),
        _ => None,
    })
}

#[derive(Debug, Clone, Deserialize)]
pub struct UpstreamIdTokenClaims {
    pub iss: String,
    pub sub: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub at_hash: Option<String>,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileClaims {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub family_name: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub phone_number_verified: Option<bool>,
    #[serde(default)]
    pub address: Option<Value>,
}

impl ProfileClaims {
    /// Fills what `self` lacks from `other` (userinfo completes the ID token).
    fn merge(&mut self, other: ProfileClaims) {
        fn take(a: &mut Option<String>, b: Option<String>) {
            if a.is_none() {
                *a = b;
            }
        }
        take(&mut self.email, other.email);
        take(&mut self.preferred_username, other.preferred_username);
        take(&mut self.name, other.name);
        take(&mut self.given_name, other.given_name);
        take(&mut self.family_name, other.family_name);
        take(&mut self.picture, other.picture);
        take(&mut self.locale, other.locale);
        take(&mut self.phone_number, other.phone_number);
        if self.email_verified.is_none() {
            self.email_verified = other.email_verified;
        }
        if self.phone_number_verified.is_none() {
            self.phone_number_verified = other.phone_number_verified;
        }
        if self.address.is_none() {
            self.address = other.address;
        }
    }
}

/// Checks an upstream ID token per OIDC Core §3.1.3.7: signature (RS256/ES256 from the
/// IdP's JWKS), `iss`, `aud`, `azp`, `exp`/`iat`/`nbf` within the allowed skew, `nonce`.
pub fn verify_id_token(
    cfg: &OidcProvider,
    jwks: &Jwks,
    token: &str,
    nonce: &str,
    now: i64,
) -> Result<UpstreamIdTokenClaims, TokenError> {
    check_id_token_claims(cfg, jose::verify_signed(token, jwks, now, cfg.allowed_clock_skew as i64)?, nonce)
}

/// [`verify_id_token`] with RS256 checked by `rsa` (WebCrypto in the Worker) when given.
pub async fn verify_id_token_with(
    rsa: Option<&dyn jose::RsaCrypto>,
    cfg: &OidcProvider,
    jwks: &Jwks,
    token: &str,
    nonce: &str,
    now: i64,
) -> Result<UpstreamIdTokenClaims, TokenError> {
    let claims = jose::verify_signed_with(rsa, token, jwks, now, cfg.allowed_clock_skew as i64).await?;
    check_id_token_claims(cfg, claims, nonce)
}

fn check_id_token_claims(
    cfg: &OidcProvider,
    claims: UpstreamIdTokenClaims,
    nonce: &str,
) -> Result<UpstreamIdTokenClaims, TokenError> {
    if claims.iss != cfg.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !claims.aud.iter().any(|a| a == &cfg.client_id) {
        return Err(TokenError::WrongAudience);
    }
    let azp_required = claims.aud.len() > 1;
    match &claims.azp {
        Some(azp) if azp != &cfg.client_id => return Err(TokenError::WrongAuthorizedParty),
        None if azp_required => return Err(TokenError::WrongAuthorizedParty),
        _ => {}
    }
    if claims.nonce.as_deref() != Some(nonce) {
        return Err(TokenError::WrongNonce);
    }
    Ok(claims)
}

pub(super) fn token_error(e: RequestTokenError<crate::core::ports::PortError, BasicErrorResponse>) -> UpstreamError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            UpstreamError::TokenRejected { error: r.error().to_string(), description: r.error_description().cloned() }
        }
        RequestTokenError::Request(e) => UpstreamError::Unavailable(format!("token endpoint: {e}")),
        RequestTokenError::Parse(e, _) => UpstreamError::Unavailable(format!("token response: {e}")),
        RequestTokenError::Other(m) => UpstreamError::Unavailable(format!("token endpoint: {m}")),
    }
}

/// Completes the upstream login at `/broker/{alias}/endpoint`. `params` are the callback's
/// query parameters, whose `state` was already redeemed by the caller.
pub async fn complete(
    idp: &IdentityProvider,
    cfg: &OidcProvider,
    cache: &MetadataCache,
    params: &Params,
    secrets: &FlowSecrets,
    redirect_uri: &str,
    ports: &Ports<'_>,
) -> Result<BrokeredIdentity, UpstreamError> {
    if let Some(error) = params.get("error") {
        return Err(UpstreamError::Denied {
            error: error.to_owned(),
            description: params.get("error_description").map(str::to_owned),
        });
    }
    // RFC 9207 §2.4: when the IdP sends `iss`, it must be the one this flow went to.
    if params.get("iss").is_some_and(|iss| iss != cfg.issuer) {
        return Err(UpstreamError::IssuerMismatch);
    }
    let code = params.get("code").ok_or(UpstreamError::MissingCode)?;
    let endpoints = cache.endpoints(idp, cfg, ports).await?;
    let client = oauth_client(cfg, &endpoints, redirect_uri)?;
    let send = |req: oauth2::HttpRequest| ports.http.send(req);
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.clone()))
        .request_async(&send)
        .await
        .map_err(token_error)?;
    let id_token = response.extra_fields().id_token.as_deref().ok_or(UpstreamError::MissingIdToken)?;
    let jwks = cache.jwks_for(&idp.alias, &endpoints.jwks, id_token, ports).await?;
    let mut claims = verify_id_token_with(ports.rsa, cfg, &jwks, id_token, &secrets.nonce, ports.clock.now())
        .await
        .map_err(UpstreamError::IdToken)?;
    let access_token = response.access_token().secret();
    if let Some(at_hash) = &claims.at_hash {
        if *at_hash != jose::half_hash(access_token) {
            return Err(UpstreamError::AccessTokenHashMismatch);
        }
    }
    if let Some(userinfo_url) = endpoints.userinfo.as_ref().filter(|_| !cfg.disable_userinfo) {
        let info = fetch_userinfo(userinfo_url, access_token, ports).await?;
        // OIDC Core §5.3.2: userinfo `sub` must equal the ID token's.
        if info.get("sub").and_then(Value::as_str) != Some(claims.sub.as_str()) {
            return Err(UpstreamError::UserinfoSubjectMismatch);
        }
        if let Ok(profile) = serde_json::from_value::<ProfileClaims>(info) {
            claims.profile.merge(profile);
        }
    }
    let p = claims.profile;
    Ok(BrokeredIdentity {
        alias: idp.alias.clone(),
        username: p.preferred_username.clone().or_else(|| p.email.clone()).unwrap_or_else(|| claims.sub.clone()),
        sub: claims.sub,
        email_verified: p.email.is_some() && p.email_verified == Some(true),
        email: p.email,
        given_name: p.given_name,
        family_name: p.family_name,
        name: p.name,
        picture: p.picture,
        locale: p.locale,
        phone_number_verified: p.phone_number.is_some() && p.phone_number_verified == Some(true),
        phone_number: p.phone_number,
        address: p.address.filter(Value::is_object),
    })
}

pub(super) async fn fetch_userinfo(url: &Url, access_token: &str, ports: &Ports<'_>) -> Result<Value, UpstreamError> {
    let req = http::Request::get(url.as_str())
        .header("authorization", format!("Bearer {access_token}"))
        .header("accept", "application/json")
        // Some APIs (GitHub's) refuse requests without a User-Agent.
        .header("user-agent", "keyedge")
        .body(Vec::new())
        .map_err(|e| UpstreamError::Unavailable(format!("userinfo: {e}")))?;
    let res = ports.http.send(req).await.map_err(|e| UpstreamError::Unavailable(format!("userinfo: {e}")))?;
    if !res.status().is_success() {
        return Err(UpstreamError::Unavailable(format!("userinfo answered HTTP {}", res.status().as_u16())));
    }
    let is_json = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        // A signed (JWT) userinfo response is not requested by keyedge, so none is accepted.
        return Err(UpstreamError::Unavailable("userinfo is not JSON".into()));
    }
    serde_json::from_slice(res.body()).map_err(|e| UpstreamError::Unavailable(format!("userinfo: {e}")))
}
