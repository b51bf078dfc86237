//! `kind = "gitlab"`: GitLab.com or a self-managed GitLab as an OpenID Connect provider
//! (https://docs.gitlab.com/integration/openid_connect_provider/): discovery at
//! `{base_url}/.well-known/openid-configuration`, the username in `preferred_username` and
//! `email_verified` in the ID token and at userinfo.

use serde::Deserialize;

use super::{base_url, client, oidc, Preset};
use crate::core::config::{ConfigError, KindOptions, Secrets};
use crate::core::upstream::oidc::config::OidcProvider;

pub const ISSUER: &str = "https://gitlab.com";
pub const DEFAULT_SCOPES: &str = "openid profile email";

/// The options of `kind = "gitlab"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGitLab {
    /// A self-managed GitLab, e.g. `https://gitlab.example.com` (its issuer).
    #[serde(default)]
    base_url: Option<String>,
}

pub(crate) fn provider(mut options: KindOptions, secrets: &Secrets) -> Result<OidcProvider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawGitLab = options.finish()?;
    let issuer = match &raw.base_url {
        Some(b) => base_url(b, path)?,
        None => ISSUER.to_owned(),
    };
    // GitLab has one `name` field.
    Ok(OidcProvider { split_name: true, ..oidc(Preset::GitLab, issuer, client, path)? })
}
