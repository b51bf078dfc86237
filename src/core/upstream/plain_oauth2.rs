//! Plain OAuth 2.0 upstreams (GitHub-like): the authorization code flow with PKCE, then the
//! user's attributes from the userinfo endpoint, found with configured JSON paths.

use oauth2::basic::BasicTokenResponse;
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse};
use serde_json::Value;
use url::Url;

use super::oidc::{fetch_userinfo, token_error};
use super::{BrokeredIdentity, ClientSettings, CodeClient, FlowSecrets, UpstreamError};
use crate::core::config::{IdentityProvider, OAuth2Provider};
use crate::core::ports::Ports;
use crate::core::web::Params;

fn client(cfg: &OAuth2Provider, redirect_uri: &str) -> Result<CodeClient<BasicTokenResponse>, UpstreamError> {
    ClientSettings {
        client_id: &cfg.client_id,
        client_secret: cfg.client_secret.expose(),
        secret_in_body: cfg.secret_in_body,
        authorization: &cfg.authorization_url,
        token: &cfg.token_url,
        redirect_uri,
    }
    .client()
}

/// The redirect to the provider, with `state` and a PKCE S256 challenge (RFC 7636; providers
/// that do not know PKCE ignore it).
pub fn begin(
    cfg: &OAuth2Provider,
    redirect_uri: &str,
    state: &str,
    ports: &Ports<'_>,
) -> Result<(Url, FlowSecrets), UpstreamError> {
    let secrets = FlowSecrets { nonce: String::new(), pkce_verifier: ports.random_token(32) };
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(secrets.pkce_verifier.clone()));
    let state = state.to_owned();
    let (url, _) = client(cfg, redirect_uri)?
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(cfg.default_scopes.split(' ').filter(|s| !s.is_empty()).map(|s| Scope::new(s.to_owned())))
        .set_pkce_challenge(challenge)
        .url();
    Ok((url, secrets))
}

/// A value at a path like `emails[0].address` in `doc`.
pub fn at_path<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = doc;
    for segment in path.split('.') {
        let (name, indexes) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            node = node.get(name)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            node = node.get(index.strip_suffix(']')?.parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

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
    let code = params.get("code").ok_or(UpstreamError::MissingCode)?;
    let send = |req: oauth2::HttpRequest| ports.http.send(req);
    let response = client(cfg, redirect_uri)?
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(secrets.pkce_verifier.clone()))
        .request_async(&send)
        .await
        .map_err(token_error)?;
    let info = fetch_userinfo(&cfg.userinfo_url, response.access_token().secret(), ports).await?;
    let sub = text(&info, &cfg.user_id_claim).ok_or_else(|| {
        UpstreamError::Unavailable(format!("userinfo has no `{}` (user_id_claim)", cfg.user_id_claim))
    })?;
    let email = text(&info, &cfg.email_claim);
    let email_verified = email.is_some()
        && cfg.email_verified_claim.as_deref().and_then(|p| at_path(&info, p)).is_some_and(|v| v == &Value::Bool(true));
    Ok(BrokeredIdentity {
        alias: idp.alias.clone(),
        username: text(&info, &cfg.username_claim).or_else(|| email.clone()).unwrap_or_else(|| sub.clone()),
        sub,
        email,
        email_verified,
        given_name: None,
        family_name: None,
        name: text(&info, &cfg.name_claim),
        picture: text(&info, &cfg.picture_claim),
        locale: None,
        phone_number: None,
        phone_number_verified: false,
        address: None,
    })
}
