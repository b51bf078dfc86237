//! Social login presets: `kind = "github"` (and the others) with a `client_id` and a
//! `client_secret_env` (Apple: a key) is a working provider. A preset is data on top of the generic kinds —
//! the provider's endpoints, scopes, where its claims are, its name and icon, which email
//! counts as verified, extra authorization parameters — plus, where a provider needs what the
//! generic kinds lack, a named switch of theirs (GitHub's email list, Google's hosted domain,
//! Facebook's `appsecret_proof`, Stack Exchange's token answer and query-parameter token, Apple's form post,
//! signed client secret and name in the `user` field).
//! Each preset module reads its own few options and builds an `OidcProvider` or an
//! `OAuth2Provider`; the flows are those of `oidc` and `plain_oauth2`.
// A Worker whose configuration uses no preset is built without them (build.rs,
// `keyedge_presets`): their configuration readers below are then unused and left out.
#![cfg_attr(not(keyedge_presets), allow(dead_code))]

pub mod apple;
pub mod bitbucket;
pub mod discord;
pub mod facebook;
pub mod github;
pub mod gitlab;
pub mod google;
pub mod linkedin;
pub mod microsoft;
pub mod stackoverflow;
pub mod x;

use serde::Deserialize;
use url::Url;

use super::client_config::UpstreamClientAuth;
use super::oidc::config::OidcProvider;
use super::plain_oauth2::config::OAuth2Provider;
use crate::core::config::{err, parse_url, required, ConfigError, KindOptions, Secrets};
use crate::core::vocab::{scope, Scopes};

/// A provider keyedge knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    GitHub,
    Google,
    GitLab,
    Microsoft,
    LinkedIn,
    Discord,
    Bitbucket,
    Facebook,
    X,
    StackOverflow,
    Apple,
}

impl Preset {
    pub const ALL: [Preset; 11] = [
        Preset::GitHub,
        Preset::Google,
        Preset::GitLab,
        Preset::Microsoft,
        Preset::LinkedIn,
        Preset::Discord,
        Preset::Bitbucket,
        Preset::Facebook,
        Preset::X,
        Preset::StackOverflow,
        Preset::Apple,
    ];

    /// Its `kind` in the configuration.
    pub fn kind(self) -> &'static str {
        match self {
            Preset::GitHub => "github",
            Preset::Google => "google",
            Preset::GitLab => "gitlab",
            Preset::Microsoft => "microsoft",
            Preset::LinkedIn => "linkedin",
            Preset::Discord => "discord",
            Preset::Bitbucket => "bitbucket",
            Preset::Facebook => "facebook",
            Preset::X => "x",
            Preset::StackOverflow => "stackoverflow",
            Preset::Apple => "apple",
        }
    }

    /// The button's label unless the operator sets `display_name`.
    pub fn display_name(self) -> &'static str {
        match self {
            Preset::GitHub => "GitHub",
            Preset::Google => "Google",
            Preset::GitLab => "GitLab",
            Preset::Microsoft => "Microsoft",
            Preset::LinkedIn => "LinkedIn",
            Preset::Discord => "Discord",
            Preset::Bitbucket => "Bitbucket",
            Preset::Facebook => "Facebook",
            Preset::X => "X",
            Preset::StackOverflow => "Stack Overflow",
            Preset::Apple => "Apple",
        }
    }

    /// Whether the provider takes PKCE from a web application: LinkedIn answers a
    /// `code_verifier` with `invalid_client` (PKCE is for its native apps only), so
    /// `pkce_enabled` does not apply to it.
    pub fn takes_pkce(self) -> bool {
        self != Preset::LinkedIn
    }

    /// Whether the provider refuses a login without PKCE: X's OAuth 2.0 requires S256
    /// (https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code),
    /// so `pkce_enabled = false` is refused for it.
    pub fn requires_pkce(self) -> bool {
        self == Preset::X
    }

    /// Why `trust_email = true` is refused for this preset (after `kind = "…" `), if it is: it
    /// would count as verified an address the provider did not verify. Facebook says nothing
    /// about its addresses, so there the operator decides (docs/social/facebook.md).
    pub fn trust_email_refusal(self) -> Option<String> {
        let counted = match self {
            Preset::Facebook => return None,
            Preset::X | Preset::StackOverflow => {
                return Some(format!(
                    "gets no email address from {}; trust_email has nothing to trust",
                    self.display_name()
                ))
            }
            // Any tenant's admin can put any address on an account (docs/social/microsoft.md).
            Preset::Microsoft => "counts no Microsoft address as verified".to_owned(),
            _ => format!("counts only the addresses {} says it verified", self.display_name()),
        };
        Some(format!("{counted}; trust_email would count any"))
    }

    /// The generic kind it is built on.
    pub fn base_kind(self) -> &'static str {
        match self {
            Preset::GitHub
            | Preset::Discord
            | Preset::Bitbucket
            | Preset::Facebook
            | Preset::X
            | Preset::StackOverflow => "oauth2",
            Preset::Google | Preset::GitLab | Preset::Microsoft | Preset::LinkedIn | Preset::Apple => "oidc",
        }
    }
}

/// The client options every preset takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPresetClient {
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    default_scopes: Option<String>,
}

/// keyedge as a preset's client.
pub(crate) struct PresetClient {
    client_id: String,
    /// The secret in the token request's body, the way most providers document it (a preset
    /// may move it to HTTP Basic: Bitbucket).
    client_auth: UpstreamClientAuth,
    default_scopes: String,
}

/// Takes the client options out of a preset's table; `default_scopes` unless configured.
fn client(options: &mut KindOptions, secrets: &Secrets, default_scopes: &str) -> Result<PresetClient, ConfigError> {
    let raw: RawPresetClient = options.take()?;
    let path = options.path;
    let client_auth = match raw.client_secret_env.as_deref() {
        Some(name) if !name.is_empty() => {
            UpstreamClientAuth::SecretPost(secrets.need(format!("{path}.client_secret_env"), name)?)
        }
        _ => return Err(err(format!("{path}.client_secret_env"), "is required")),
    };
    Ok(PresetClient {
        client_id: required(raw.client_id, path, "client_id")?,
        client_auth,
        default_scopes: raw.default_scopes.unwrap_or_else(|| default_scopes.to_owned()),
    })
}

/// An OpenID Connect provider found by `issuer`'s discovery, with keyedge's defaults; each
/// preset changes what its provider needs.
fn oidc(preset: Preset, issuer: String, client: PresetClient, path: &str) -> Result<OidcProvider, ConfigError> {
    if !Scopes::parse(&client.default_scopes).contains(scope::OPENID) {
        return Err(err(
            format!("{path}.default_scopes"),
            format!("{} signs in with OpenID Connect: needs the `openid` scope", preset.display_name()),
        ));
    }
    Ok(OidcProvider::new(issuer, client.client_id, client.client_auth, client.default_scopes))
}

/// A plain OAuth 2.0 provider at these endpoints (authorization, token, user) with `client`'s
/// settings; each preset then says where its provider keeps the user's claims.
fn oauth2_provider(client: PresetClient, endpoints: [Url; 3]) -> OAuth2Provider {
    OAuth2Provider::new(client.client_id, client.client_auth, client.default_scopes, endpoints)
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
