//! `kind = "linkedin"`: "Sign In with LinkedIn using OpenID Connect".
//!
//! - https://learn.microsoft.com/en-us/linkedin/consumer/integrations/self-serve/sign-in-with-linkedin-v2
//!   (scopes `openid profile email`; the ID token's and userinfo's claims; "does not verify
//!   user identities")
//! - Discovery: https://www.linkedin.com/oauth/.well-known/openid-configuration (issuer
//!   `https://www.linkedin.com/oauth`, keys at `/oauth/openid/jwks` without `use`)
//! - The authorization code flow, the secret in the body:
//!   https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow
//!
//! LinkedIn's quirks, each handled here: its ID token carries no `nonce` (it ignores the
//! parameter); it answers a web application's `code_verifier` with `invalid_client` (PKCE is
//! for native apps, https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow-native);
//! userinfo's `locale` is an object (`{"country": "US", "language": "en"}`) — the ID token has
//! every claim, so userinfo is not called; it knows no `prompt`.

use serde::Deserialize;

use super::{client, oidc, Preset};
use crate::core::config::{err, parse_url, ConfigError, KindOptions, Secrets};
use crate::core::upstream::oidc::config::OidcProvider;

pub const ISSUER: &str = "https://www.linkedin.com/oauth";
pub const DEFAULT_SCOPES: &str = "openid profile email";

/// The options of `kind = "linkedin"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLinkedIn {
    /// Another issuer speaking LinkedIn's protocol (a test stand-in); LinkedIn's by default.
    #[serde(default)]
    issuer: Option<String>,
}

pub(crate) fn provider(mut options: KindOptions, secrets: &Secrets) -> Result<OidcProvider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawLinkedIn = options.finish()?;
    let issuer = raw.issuer.unwrap_or_else(|| ISSUER.to_owned());
    let url = parse_url(&issuer).map_err(|m| err(format!("{path}.issuer"), m))?;
    if url.query().is_some() || url.fragment().is_some() || issuer.ends_with('/') {
        return Err(err(format!("{path}.issuer"), "must have no query, fragment or trailing slash"));
    }
    Ok(OidcProvider {
        nonce_unsupported: true,
        disable_userinfo: true,
        prompt_values: Some(&[]),
        ..oidc(Preset::LinkedIn, issuer, client, path)?
    })
}
