//! `kind = "gitlab"`: GitLab.com or a self-managed GitLab as an OpenID Connect provider
//! (https://docs.gitlab.com/integration/openid_connect_provider/): discovery at
//! `{base_url}/.well-known/openid-configuration`, the username in `preferred_username` and
//! `email_verified` in the ID token and at userinfo.

use serde::Deserialize;

use super::{base_url, secret_post};
use crate::core::config::{err, required, ConfigError, KindOptions, Secrets};
use crate::core::upstream::oidc::config::{OidcProvider, SignatureCheck};
use crate::core::vocab::{scope, Scopes};

pub const ISSUER: &str = "https://gitlab.com";
pub const DEFAULT_SCOPES: &str = "openid profile email";

/// The options of `kind = "gitlab"` (besides the shared ones).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGitLab {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    default_scopes: Option<String>,
    /// A self-managed GitLab, e.g. `https://gitlab.example.com` (its issuer).
    #[serde(default)]
    base_url: Option<String>,
}

pub(crate) fn provider(options: KindOptions, secrets: &Secrets) -> Result<OidcProvider, ConfigError> {
    let path = options.path;
    let raw: RawGitLab = options.finish()?;
    let issuer = match &raw.base_url {
        Some(b) => base_url(b, path)?,
        None => ISSUER.to_owned(),
    };
    let default_scopes = raw.default_scopes.unwrap_or_else(|| DEFAULT_SCOPES.to_owned());
    if !Scopes::parse(&default_scopes).contains(scope::OPENID) {
        return Err(err(
            format!("{path}.default_scopes"),
            "GitLab signs in with OpenID Connect: needs the `openid` scope",
        ));
    }
    Ok(OidcProvider {
        issuer,
        client_id: required(raw.client_id, path, "client_id")?,
        client_auth: secret_post(raw.client_secret_env.as_deref(), path, secrets)?,
        default_scopes,
        authorization_url: None,
        token_url: None,
        jwks_url: None,
        userinfo_url: None,
        allowed_clock_skew: 30,
        disable_userinfo: false,
        prompt: None,
        accepts_prompt_none_forward: false,
        signature: SignatureCheck::Jwks,
        backchannel_logout: false,
        upstream_logout: false,
        logout_url: None,
        authorization_params: Vec::new(),
        required_prompt: None,
        issuer_aliases: Vec::new(),
        hosted_domain: None,
        // GitLab has one `name` field.
        split_name: true,
    })
}
