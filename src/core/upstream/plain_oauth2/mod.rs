//! Plain OAuth 2.0 upstreams (GitHub-like): the authorization code flow with PKCE, then the
//! user's attributes from the userinfo endpoint, found with configured JSON paths.

pub mod config;

use oauth2::basic::BasicTokenResponse;
use oauth2::{CsrfToken, Scope, TokenResponse};
use serde_json::Value;
use url::Url;

use self::config::OAuth2Provider;
use super::oidc::fetch_userinfo;
use super::{BrokeredIdentity, ClientSettings, FlowSecrets, UpstreamError, UpstreamTokens};
use crate::core::claims::StandardClaims;
use crate::core::config::IdentityProvider;
use crate::core::jose::Keyring;
use crate::core::ports::Ports;
use crate::core::web::Params;

pub(crate) fn settings<'a>(cfg: &'a OAuth2Provider, redirect_uri: &'a str) -> ClientSettings<'a> {
    ClientSettings {
        client_id: &cfg.client_id,
        auth: &cfg.client_auth,
        authorization: &cfg.authorization_url,
        token: &cfg.token_url,
        redirect_uri,
    }
}

/// The redirect to the provider, with `state` and a PKCE S256 challenge (RFC 7636; providers
/// that do not know PKCE ignore it).
pub fn begin(
    idp: &IdentityProvider,
    cfg: &OAuth2Provider,
    redirect_uri: &str,
    state: &str,
    ports: &Ports<'_>,
) -> Result<(Url, FlowSecrets), UpstreamError> {
    let secrets = FlowSecrets::generate(ports, false, idp.pkce_enabled);
    let state = state.to_owned();
    let client = settings(cfg, redirect_uri).client::<BasicTokenResponse>()?;
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(crate::core::vocab::Scopes::parse(&cfg.default_scopes).iter().map(|s| Scope::new(s.to_owned())));
    if let Some(challenge) = secrets.pkce_challenge() {
        request = request.set_pkce_challenge(challenge);
    }
    let (url, _) = request.url();
    Ok((url, secrets))
}

/// Refreshes stored tokens (RFC 6749 §6); a missing new refresh token keeps the old one.
pub async fn refresh(
    cfg: &OAuth2Provider,
    keys: &Keyring,
    redirect_uri: &str,
    old: &UpstreamTokens,
    ports: &Ports<'_>,
) -> Result<UpstreamTokens, UpstreamError> {
    let refresh_token = old.refresh_token.as_deref().ok_or(UpstreamError::NoRefreshToken)?;
    let response: BasicTokenResponse = settings(cfg, redirect_uri).refresh(keys, ports, refresh_token).await?;
    Ok(UpstreamTokens::refreshed(&response, None, old, ports.clock.now()))
}

pub use crate::core::claims::at_path;

/// A string from a JSON string or number (GitHub's `id` is a number).
fn text(doc: &Value, path: &str) -> Option<String> {
    match at_path(doc, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub async fn complete(
    idp: &IdentityProvider,
    cfg: &OAuth2Provider,
    keys: &Keyring,
    params: &Params,
    secrets: &FlowSecrets,
    redirect_uri: &str,
    ports: &Ports<'_>,
) -> Result<BrokeredIdentity, UpstreamError> {
    super::refused(params)?;
    let code = params.get("code").ok_or(UpstreamError::MissingCode)?;
    let response: BasicTokenResponse =
        settings(cfg, redirect_uri).exchange_code(keys, ports, code, secrets.pkce_verifier.as_deref()).await?;
    let info = fetch_userinfo(&cfg.userinfo_url, response.access_token().secret(), ports).await?;
    let sub = text(&info, &cfg.user_id_claim).ok_or_else(|| {
        UpstreamError::Unavailable(format!("userinfo has no `{}` (user_id_claim)", cfg.user_id_claim))
    })?;
    let email = text(&info, &cfg.email_claim);
    let asserted =
        cfg.email_verified_claim.as_deref().and_then(|p| at_path(&info, p)).is_some_and(|v| v == &Value::Bool(true));
    let email_verified = email.is_some() && (idp.trust_email || asserted);
    Ok(BrokeredIdentity {
        alias: idp.alias.clone(),
        username: text(&info, &cfg.username_claim).or_else(|| email.clone()).unwrap_or_else(|| sub.clone()),
        sub,
        profile: StandardClaims {
            email,
            email_verified,
            name: text(&info, &cfg.name_claim),
            picture: text(&info, &cfg.picture_claim),
            ..StandardClaims::default()
        },
        upstream_sid: None,
        // An OAuth 2.0 API says nothing verifiable about when the user authenticated.
        auth_time: None,
        tokens: UpstreamTokens::from_response(&response, None, ports.clock.now()),
        claims: info,
    })
}
