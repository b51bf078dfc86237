//! Social login presets: `kind = "github"` (and the others) with a `client_id` and a
//! `client_secret_env` is a working provider. A preset is data on top of the generic kinds —
//! the provider's endpoints, scopes, where its claims are, its name and icon, which email
//! counts as verified, extra authorization parameters — plus, where a provider needs what the
//! generic kinds lack, a named switch of theirs (GitHub's email list, Google's hosted domain).
//! Each preset module reads its own few options and builds an `OidcProvider` or an
//! `OAuth2Provider`; the flows are those of `oidc` and `plain_oauth2`.

pub mod github;
pub mod gitlab;
pub mod google;

use url::Url;

use super::client_config::UpstreamClientAuth;
use crate::core::config::{err, parse_url, ConfigError, Secrets};

/// A provider keyedge knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    GitHub,
    Google,
    GitLab,
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::GitHub, Preset::Google, Preset::GitLab];

    /// Its `kind` in the configuration.
    pub fn kind(self) -> &'static str {
        match self {
            Preset::GitHub => "github",
            Preset::Google => "google",
            Preset::GitLab => "gitlab",
        }
    }

    /// The button's label unless the operator sets `display_name`.
    pub fn display_name(self) -> &'static str {
        match self {
            Preset::GitHub => "GitHub",
            Preset::Google => "Google",
            Preset::GitLab => "GitLab",
        }
    }

    /// The generic kind it is built on.
    pub fn base_kind(self) -> &'static str {
        match self {
            Preset::GitHub => "oauth2",
            Preset::Google | Preset::GitLab => "oidc",
        }
    }
}

/// keyedge authenticates to every preset's token endpoint with the secret in the form body,
/// the way each provider documents its token request.
fn secret_post(
    client_secret_env: Option<&str>,
    path: &str,
    secrets: &Secrets,
) -> Result<UpstreamClientAuth, ConfigError> {
    match client_secret_env {
        Some(name) if !name.is_empty() => {
            Ok(UpstreamClientAuth::SecretPost(secrets.need(format!("{path}.client_secret_env"), name)?))
        }
        _ => Err(err(format!("{path}.client_secret_env"), "is required")),
    }
}

/// A `base_url` (a self-hosted instance): https, no query or fragment; without a trailing slash.
fn base_url(value: &str, path: &str) -> Result<String, ConfigError> {
    let field = format!("{path}.base_url");
    let url = parse_url(value).map_err(|m| err(&field, m))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(field, "must have no query or fragment"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// An endpoint a preset derives from its base (`{base}/login/oauth/authorize`).
fn endpoint(base: &str, suffix: &str, path: &str, field: &str) -> Result<Url, ConfigError> {
    parse_url(&format!("{base}{suffix}")).map_err(|m| err(format!("{path}.{field}"), m))
}
