//! OpenID Connect 1.0 upstream: discovery, the authorization redirect (state, nonce, PKCE
//! S256), the code exchange through the `oauth2` crate, and the checks of OIDC Core
//! §3.1.3.7 on the ID token.

pub mod config;
pub mod form_post;

use oauth2::basic::BasicTokenType;
use oauth2::{CsrfToken, ExtraTokenFields, Scope, StandardTokenResponse, TokenResponse};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use url::Url;

use self::config::{OidcProvider, SignatureCheck};
use super::api::fetch_userinfo;
use super::{BrokeredIdentity, ClientSettings, FlowSecrets, UpstreamError, UpstreamTokens};
use crate::core::claims::StandardClaims;
use crate::core::config::IdentityProvider;
use crate::core::jose::{self, Jwks, Keyring, TokenError};
use crate::core::ports::Ports;
use crate::core::vocab::Prompt;
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
    /// Absent when signatures are checked with a pinned key or not at all.
    pub jwks: Option<Url>,
    pub userinfo: Option<Url>,
    /// RP-Initiated Logout: `logout_url`, else discovery's `end_session_endpoint`.
    pub end_session: Option<Url>,
}

#[derive(Deserialize)]
struct DiscoveryDoc {
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    #[serde(default)]
    userinfo_endpoint: Option<Url>,
    #[serde(default)]
    end_session_endpoint: Option<Url>,
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
        // Discovery is skipped when the configuration names every endpoint that is used.
        let jwks_needed = matches!(cfg.signature, SignatureCheck::Jwks);
        let complete = (!jwks_needed || cfg.jwks_url.is_some()) && (!cfg.upstream_logout || cfg.logout_url.is_some());
        let endpoints = match (&cfg.authorization_url, &cfg.token_url) {
            (Some(a), Some(t)) if complete => Endpoints {
                authorization: a.clone(),
                token: t.clone(),
                jwks: cfg.jwks_url.clone(),
                userinfo: cfg.userinfo_url.clone(),
                end_session: cfg.logout_url.clone(),
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
                    jwks: cfg.jwks_url.clone().or(Some(doc.jwks_uri)),
                    userinfo: cfg.userinfo_url.clone().or(doc.userinfo_endpoint),
                    end_session: cfg.logout_url.clone().or(doc.end_session_endpoint),
                }
            }
        };
        self.endpoints.borrow_mut().insert(idp.alias.clone(), (endpoints.clone(), now));
        Ok(endpoints)
    }

    /// Forgets `alias`'s discovered endpoints after a request to them failed, so the next
    /// sign-in reads the discovery document again (the IdP may have moved an endpoint).
    pub fn forget_endpoints(&self, alias: &str) {
        self.endpoints.borrow_mut().remove(alias);
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

pub(crate) fn settings<'a>(
    cfg: &'a OidcProvider,
    endpoints: &'a Endpoints,
    redirect_uri: &'a str,
) -> ClientSettings<'a> {
    ClientSettings {
        client_id: &cfg.client_id,
        auth: &cfg.client_auth,
        authorization: &endpoints.authorization,
        token: &endpoints.token,
        redirect_uri,
    }
}

/// Builds the redirect to the upstream authorization endpoint for a flow whose `state` is
/// `state`, generating the nonce and PKCE verifier it must be completed with. `forward` are
/// the client's hints passed on (`login_hint`, `ui_locales`, `prompt`, `max_age`, the
/// `forward_parameters`).
pub fn begin(
    idp: &IdentityProvider,
    cfg: &OidcProvider,
    endpoints: &Endpoints,
    redirect_uri: &str,
    state: &str,
    forward: &[(Cow<'static, str>, String)],
    ports: &Ports<'_>,
) -> Result<(Url, FlowSecrets), UpstreamError> {
    let secrets = FlowSecrets::generate(ports, !cfg.nonce_unsupported, idp.pkce_enabled);
    let client = settings(cfg, endpoints, redirect_uri).client::<OidcTokenResponse>()?;
    let state = state.to_owned();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(crate::core::vocab::Scopes::parse(&cfg.default_scopes).iter().map(|s| Scope::new(s.to_owned())));
    if !cfg.nonce_unsupported {
        request = request.add_extra_param("nonce", secrets.nonce.clone());
    }
    if let Some(challenge) = secrets.pkce_challenge() {
        request = request.set_pkce_challenge(challenge);
    }
    // The client's prompt (what of it the provider knows) replaces the configured one; a
    // preset's required value joins either.
    let mut prompt = cfg.prompt.map(|v| Prompt::default().with(v));
    // A preset's own parameters (Google's `hd`) are not overridden by a client's.
    let fixed = |name: &str| cfg.authorization_params.iter().any(|(n, _)| *n == name);
    for (name, value) in forward.iter().filter(|(name, _)| !fixed(name)) {
        match Prompt::parse(value) {
            Ok(forwarded) if name == "prompt" => {
                let known = forwarded.filter(|v| cfg.knows_prompt(v));
                if !known.is_empty() {
                    prompt = Some(known);
                }
            }
            _ => request = request.add_extra_param(name.clone(), value.clone()),
        }
    }
    if let Some(required) = cfg.required_prompt {
        prompt = Some(prompt.unwrap_or_default().with(required));
    }
    if let Some(prompt) = prompt.filter(|p| !p.is_empty()) {
        request = request.add_extra_param("prompt", prompt.to_string());
    }
    for (name, value) in &cfg.authorization_params {
        request = request.add_extra_param(*name, value.clone());
    }
    if cfg.form_post {
        request = request.add_extra_param("response_mode", "form_post");
    }
    let (url, _) = request.url();
    Ok((url, secrets))
}

/// `aud` may be one string or an array (OIDC Core §2).
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
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
    #[serde(default)]
    pub sid: Option<String>,
    /// OIDC Core §2: when the user authenticated (required when `max_age` was sent).
    #[serde(default, deserialize_with = "lenient_time")]
    pub auth_time: Option<i64>,
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional; anything else counts as absent.
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        _ => None,
    })
}

/// What an ID token or a userinfo answer says about the user: the standard claims and the
/// upstream username.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileClaims {
    #[serde(flatten)]
    pub standard: StandardClaims,
    #[serde(default)]
    pub preferred_username: Option<String>,
}

impl ProfileClaims {
    /// Fills what `self` lacks from `other` (userinfo completes the ID token).
    fn merge(&mut self, other: ProfileClaims) {
        self.standard.complete_from(other.standard);
        if self.preferred_username.is_none() {
            self.preferred_username = other.preferred_username;
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
    check_id_token_claims(cfg, jose::verify_signed(token, jwks, now, cfg.allowed_clock_skew as i64)?, Some(nonce))
}

/// [`verify_id_token`] with RS256 checked by `crypto` (WebCrypto in the Worker) when given.
pub async fn verify_id_token_with(
    crypto: Option<&dyn crate::core::ports::PlatformCrypto>,
    cfg: &OidcProvider,
    jwks: &Jwks,
    token: &str,
    nonce: &str,
    now: i64,
) -> Result<UpstreamIdTokenClaims, TokenError> {
    let claims = jose::verify_signed_with(crypto, token, jwks, now, cfg.allowed_clock_skew as i64).await?;
    check_id_token_claims(cfg, claims, Some(nonce))
}

/// The ID token checks after the signature. `nonce` is `None` for ID tokens from a refresh
/// grant, which carry none (OIDC Core §12.2).
fn check_id_token_claims(
    cfg: &OidcProvider,
    claims: UpstreamIdTokenClaims,
    nonce: Option<&str>,
) -> Result<UpstreamIdTokenClaims, TokenError> {
    check_audience(cfg, &claims.iss, &claims.aud)?;
    let azp_required = claims.aud.len() > 1;
    match &claims.azp {
        Some(azp) if azp != &cfg.client_id => return Err(TokenError::WrongAuthorizedParty),
        None if azp_required => return Err(TokenError::WrongAuthorizedParty),
        _ => {}
    }
    if let Some(nonce) = nonce {
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(TokenError::WrongNonce);
        }
    }
    Ok(claims)
}

fn check_audience(cfg: &OidcProvider, iss: &str, aud: &[String]) -> Result<(), TokenError> {
    if !cfg.accepts_issuer(iss) {
        return Err(TokenError::WrongIssuer);
    }
    if !aud.iter().any(|a| a == &cfg.client_id) {
        return Err(TokenError::WrongAudience);
    }
    Ok(())
}

impl MetadataCache {
    /// Checks the signature and times of a JWT from the IdP as configured: against its JWKS
    /// (refetched on an unknown `kid`), a pinned key, or — with `validate_signature = false` —
    /// only its times, because it came straight from the token endpoint.
    pub async fn verify_upstream_jwt<T: serde::de::DeserializeOwned + Clone>(
        &self,
        idp: &IdentityProvider,
        cfg: &OidcProvider,
        endpoints: &Endpoints,
        token: &str,
        ports: &Ports<'_>,
    ) -> Result<T, UpstreamError> {
        let now = ports.clock.now();
        let skew = cfg.allowed_clock_skew as i64;
        let verified = match &cfg.signature {
            SignatureCheck::Jwks => {
                let url = endpoints
                    .jwks
                    .as_ref()
                    .ok_or_else(|| UpstreamError::Unavailable("the provider publishes no jwks_uri".into()))?;
                let jwks = self.jwks_for(&idp.alias, url, token, ports).await?;
                jose::verify_signed_with(ports.crypto, token, &jwks, now, skew).await
            }
            SignatureCheck::Pinned(jwks) => jose::verify_signed_with(ports.crypto, token, jwks, now, skew).await,
            SignatureCheck::Off => jose::unverified_claims(token, now, skew),
        };
        verified.map_err(UpstreamError::IdToken)
    }
}

/// Completes the upstream login at `/broker/{alias}/endpoint`. `params` are the callback's
/// query parameters, whose `state` was already redeemed by the caller.
#[allow(clippy::too_many_arguments)]
pub async fn complete(
    idp: &IdentityProvider,
    cfg: &OidcProvider,
    cache: &MetadataCache,
    keys: &Keyring,
    params: &Params,
    secrets: &FlowSecrets,
    redirect_uri: &str,
    ports: &Ports<'_>,
) -> Result<BrokeredIdentity, UpstreamError> {
    super::refused(params)?;
    // RFC 9207 §2.4: when the IdP sends `iss`, it must be the one this flow went to.
    if params.get("iss").is_some_and(|iss| !cfg.accepts_issuer(iss)) {
        return Err(UpstreamError::IssuerMismatch);
    }
    let code = params.get("code").ok_or(UpstreamError::MissingCode)?;
    let endpoints = cache.endpoints(idp, cfg, ports).await?;
    let response: OidcTokenResponse = settings(cfg, &endpoints, redirect_uri)
        .exchange_code(keys, ports, code, secrets.pkce_verifier.as_deref())
        .await?;
    let id_token = response.extra_fields().id_token.as_deref().ok_or(UpstreamError::MissingIdToken)?;
    let mut raw: Value = cache.verify_upstream_jwt(idp, cfg, &endpoints, id_token, ports).await?;
    // Before the issuer check, which refuses what it refuses too, to log why.
    check_tenant(cfg, &raw)?;
    let claims = serde_json::from_value(raw.clone()).map_err(|_| UpstreamError::IdToken(TokenError::Malformed))?;
    let nonce = (!cfg.nonce_unsupported).then_some(secrets.nonce.as_str());
    let mut claims = check_id_token_claims(cfg, claims, nonce).map_err(UpstreamError::IdToken)?;
    check_hosted_domain(cfg, &raw)?;
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
        if let (Value::Object(all), Value::Object(more)) = (&mut raw, &info) {
            for (k, v) in more {
                all.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        if let Ok(profile) = serde_json::from_value::<ProfileClaims>(info) {
            claims.profile.merge(profile);
        }
    }
    let tokens = UpstreamTokens::from_response(&response, Some(id_token.to_owned()), ports.clock.now());
    let ProfileClaims { standard: mut profile, preferred_username } = claims.profile;
    profile.email_verified = profile
        .email
        .as_deref()
        .is_some_and(|email| (idp.trust_email || profile.email_verified) && cfg.email_evidence.covers(email, &raw));
    profile.phone_number_verified &= profile.phone_number.is_some();
    profile.address = profile.address.filter(Value::is_object);
    form_post::take_user_field(cfg, params, &mut profile);
    if cfg.split_name {
        profile.split_full_name();
    }
    Ok(BrokeredIdentity {
        alias: idp.alias.clone(),
        username: preferred_username.or_else(|| profile.email.clone()).unwrap_or_else(|| claims.sub.clone()),
        sub: claims.sub,
        profile,
        upstream_sid: claims.sid,
        auth_time: claims.auth_time,
        tokens: Some(tokens),
        claims: raw,
        saml_session: None,
    })
}

/// With `hosted_domain` set, the ID token's `hd` claim must name that domain (or any, for
/// `*`): Google's rule for admitting the accounts of one Google Workspace only — the `hd`
/// authorization parameter only preselects accounts, the signed claim is the proof
/// (https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken).
pub(crate) fn check_hosted_domain(cfg: &OidcProvider, id_token_claims: &Value) -> Result<(), UpstreamError> {
    let Some(wanted) = &cfg.hosted_domain else { return Ok(()) };
    let found = id_token_claims.get("hd").and_then(Value::as_str);
    match found {
        Some(hd) if wanted == "*" || hd.eq_ignore_ascii_case(wanted) => Ok(()),
        _ => Err(UpstreamError::HostedDomain { expected: wanted.clone(), found: found.map(str::to_owned) }),
    }
}

/// With per-tenant issuers (Microsoft's `common`, `organizations`, `consumers`), `iss` must
/// be the issuer of the token's own tenant, `{base}/{tid}/v2.0`, and that tenant one the
/// configuration admits: a token of tenant A claiming tenant B's issuer is refused
/// (https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-issuer).
pub(crate) fn check_tenant(cfg: &OidcProvider, id_token_claims: &Value) -> Result<(), UpstreamError> {
    let Some(t) = &cfg.tenant_issuer else { return Ok(()) };
    let tid = id_token_claims.get("tid").and_then(Value::as_str);
    let iss = id_token_claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let Some(tid) = tid.filter(|tid| config::is_tenant_id(tid)) else {
        return Err(UpstreamError::Tenant("the ID token has no tid claim".into()));
    };
    if iss != format!("{}/{tid}/v2.0", t.base) {
        return Err(UpstreamError::Tenant(format!("iss `{iss}` is not the issuer of its tid `{tid}`")));
    }
    if !t.tenant.admits(tid) {
        return Err(UpstreamError::Tenant(format!(
            "tenant `{tid}` is not admitted by tenant = `{}`",
            t.tenant.segment()
        )));
    }
    Ok(())
}

/// Refreshes stored upstream tokens (RFC 6749 §6). A new ID token, if the IdP sends one,
/// is checked like the first and must be about the same user (OIDC Core §12.2); a missing
/// new refresh token keeps the old one.
#[allow(clippy::too_many_arguments)]
pub async fn refresh(
    idp: &IdentityProvider,
    cfg: &OidcProvider,
    cache: &MetadataCache,
    keys: &Keyring,
    redirect_uri: &str,
    sub: &str,
    old: &UpstreamTokens,
    ports: &Ports<'_>,
) -> Result<UpstreamTokens, UpstreamError> {
    let refresh_token = old.refresh_token.as_deref().ok_or(UpstreamError::NoRefreshToken)?;
    let endpoints = cache.endpoints(idp, cfg, ports).await?;
    let response: OidcTokenResponse =
        settings(cfg, &endpoints, redirect_uri).refresh(keys, ports, refresh_token).await?;
    let id_token = match response.extra_fields().id_token.as_deref() {
        Some(token) => {
            let raw: Value = cache.verify_upstream_jwt(idp, cfg, &endpoints, token, ports).await?;
            check_hosted_domain(cfg, &raw)?;
            check_tenant(cfg, &raw)?;
            let claims = serde_json::from_value(raw).map_err(|_| UpstreamError::IdToken(TokenError::Malformed))?;
            let claims = check_id_token_claims(cfg, claims, None).map_err(UpstreamError::IdToken)?;
            if claims.sub != sub {
                return Err(UpstreamError::UserinfoSubjectMismatch);
            }
            Some(token.to_owned())
        }
        None => old.id_token.clone(),
    };
    Ok(UpstreamTokens::refreshed(&response, id_token, old, ports.clock.now()))
}

/// The claims of an OpenID Connect Back-Channel Logout 1.0 logout token.
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub sid: Option<String>,
    pub jti: String,
    pub events: serde_json::Map<String, Value>,
    #[serde(default)]
    pub nonce: Option<String>,
}

const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Back-Channel Logout 1.0 §2.6: signature, `iss`, `aud`, times (`iat` required), the logout
/// event, `sub` or `sid`, and no `nonce`.
pub async fn verify_logout_token(
    idp: &IdentityProvider,
    cfg: &OidcProvider,
    cache: &MetadataCache,
    token: &str,
    ports: &Ports<'_>,
) -> Result<LogoutTokenClaims, String> {
    let endpoints = cache.endpoints(idp, cfg, ports).await.map_err(|e| e.to_string())?;
    let claims: LogoutTokenClaims =
        cache.verify_upstream_jwt(idp, cfg, &endpoints, token, ports).await.map_err(|e| e.to_string())?;
    // §2.4: `iat` is required (its value was checked with the other times).
    crate::core::jose::issued_at(token).ok_or("the token has no iat")?;
    check_audience(cfg, &claims.iss, &claims.aud).map_err(|e| e.to_string())?;
    if !claims.events.get(BACKCHANNEL_EVENT).is_some_and(Value::is_object) {
        return Err("the token has no back-channel logout event".into());
    }
    if claims.sub.is_none() && claims.sid.is_none() {
        return Err("the token names neither sub nor sid".into());
    }
    if claims.nonce.is_some() {
        return Err("a logout token must not contain a nonce".into());
    }
    Ok(claims)
}
