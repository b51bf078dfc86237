//! `kind = "google"`: Google as an OpenID Connect provider.
//!
//! - https://developers.google.com/identity/openid-connect/openid-connect (the `hd` parameter
//!   and claim, the ID token's checks, `prompt`)
//! - https://developers.google.com/identity/openid-connect/reference (discovery; `iss` is
//!   `https://accounts.google.com`, or `accounts.google.com` for legacy implementations)
//! - https://developers.google.com/identity/protocols/oauth2/web-server#offline
//!   (`access_type=offline`: a refresh token, issued on the user's consent)

use serde::Deserialize;

use super::{client, oidc, Preset};
use crate::core::config::{err, parse_url, ConfigError, KindOptions, Secrets};
use crate::core::upstream::oidc::config::EmailEvidence;
use crate::core::upstream::oidc::config::OidcProvider;
use crate::core::vocab::PromptValue;

pub const ISSUER: &str = "https://accounts.google.com";
pub const DEFAULT_SCOPES: &str = "openid email profile";

/// The options of `kind = "google"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGoogle {
    /// A Google Workspace domain (or `*` for any): sent as `hd`, and required of the ID token.
    #[serde(default)]
    hd: Option<String>,
    /// Another issuer speaking Google's protocol (a test stand-in); Google's by default.
    #[serde(default)]
    issuer: Option<String>,
}

/// `store_tokens` of the provider: stored tokens are refreshable only with offline access.
pub(crate) fn provider(
    mut options: KindOptions,
    secrets: &Secrets,
    store_tokens: bool,
) -> Result<OidcProvider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawGoogle = options.finish()?;
    let issuer = raw.issuer.unwrap_or_else(|| ISSUER.to_owned());
    let url = parse_url(&issuer).map_err(|m| err(format!("{path}.issuer"), m))?;
    if url.query().is_some() || url.fragment().is_some() || issuer.ends_with('/') {
        return Err(err(format!("{path}.issuer"), "must have no query, fragment or trailing slash"));
    }
    let hosted_domain = match raw.hd {
        Some(hd) => Some(hosted_domain(&hd).ok_or_else(|| {
            err(
                format!("{path}.hd"),
                format!("`{hd}`: use a domain such as `example.com`, or `*` for any Workspace domain"),
            )
        })?),
        None => None,
    };
    let mut authorization_params = Vec::new();
    if let Some(hd) = &hosted_domain {
        authorization_params.push(("hd", hd.clone()));
    }
    if store_tokens {
        authorization_params.push(("access_type", "offline".to_owned()));
    }
    Ok(OidcProvider {
        // Let someone signed in to several Google accounts choose one.
        prompt: Some(PromptValue::SelectAccount),
        authorization_params,
        // Google issues a refresh token when the user consents; a later login without
        // `prompt=consent` gets none, and the stored tokens could no longer be refreshed.
        required_prompt: store_tokens.then_some(PromptValue::Consent),
        // Google has no `prompt=login` (it refuses the request); `max_age` still goes.
        prompt_values: Some(&[PromptValue::None, PromptValue::Consent, PromptValue::SelectAccount]),
        issuer_aliases: issuer.strip_prefix("https://").map(str::to_owned).into_iter().collect(),
        hosted_domain,
        email_evidence: EmailEvidence::GmailOrHostedDomain,
        ..oidc(Preset::Google, issuer, client, path)?
    })
}

/// `example.com` (lower-cased) or `*`.
fn hosted_domain(hd: &str) -> Option<String> {
    let hd = hd.trim().to_ascii_lowercase();
    let domain = hd.contains('.')
        && !hd.starts_with('.')
        && !hd.ends_with('.')
        && hd.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (hd == "*" || domain).then_some(hd)
}

#[cfg(test)]
mod tests {
    use super::hosted_domain;

    #[test]
    fn a_hosted_domain_is_a_domain_or_a_star() {
        assert_eq!(hosted_domain(" Example.COM ").as_deref(), Some("example.com"));
        assert_eq!(hosted_domain("*").as_deref(), Some("*"));
        for bad in ["example", "a@example.com", "*.example.com", ".example.com", "exa mple.com", ""] {
            assert_eq!(hosted_domain(bad), None, "{bad}");
        }
    }
}
