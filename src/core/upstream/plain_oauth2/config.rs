//! The configuration of a plain OAuth 2.0 provider (`kind = "oauth2"`): its raw options, their
//! validation, and the typed settings the flow uses.

use serde::Deserialize;
use url::Url;

use crate::core::config::{err, parse_url, required, ConfigError, KindOptions, Secrets};
use crate::core::jose::Alg;
use crate::core::secret::Secret;
use crate::core::upstream::client_config::{client_auth, RawOAuthClient, UpstreamClientAuth};

pub use crate::core::upstream::api::{ApiToken, TokenFormat};

/// The options only a plain OAuth 2.0 provider takes: where the user's attributes are in the
/// userinfo JSON (JSON paths such as `a.b[0].c`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth2 {
    #[serde(default)]
    user_id_claim: Option<String>,
    #[serde(default)]
    username_claim: Option<String>,
    #[serde(default)]
    email_claim: Option<String>,
    #[serde(default)]
    email_verified_claim: Option<String>,
    #[serde(default)]
    name_claim: Option<String>,
    #[serde(default)]
    picture_claim: Option<String>,
}

/// A plain OAuth 2.0 provider (GitHub-like): no ID token; who the user is comes from its
/// userinfo endpoint, read with the configured JSON paths (`a.b[0].c`).
#[derive(Debug, Clone)]
pub struct OAuth2Provider {
    pub client_id: String,
    pub client_auth: UpstreamClientAuth,
    pub default_scopes: String,
    pub authorization_url: Url,
    pub token_url: Url,
    pub userinfo_url: Url,
    pub user_id_claim: String,
    pub username_claim: String,
    pub email_claim: String,
    /// Without it, emails from this provider never count as verified.
    pub email_verified_claim: Option<String>,
    pub name_claim: String,
    pub picture_claim: String,
    /// An endpoint listing the user's email addresses, each with `primary` and `verified`
    /// flags (GitHub's `/user/emails`), set by a preset: the primary verified address is the
    /// user's verified email, and no other address ever counts as verified.
    pub email_list_url: Option<Url>,
    /// How that list is written (GitHub's or Bitbucket's).
    pub email_list_format: EmailListFormat,
    /// Split a full `name` into `given_name` and `family_name`, for providers that have only
    /// the one (GitHub), set by a preset.
    pub split_name: bool,
    /// Where the given and family names are, for providers that send them apart (Facebook's
    /// `first_name`, `last_name`), set by a preset.
    pub given_name_claim: Option<String>,
    pub family_name_claim: Option<String>,
    /// How the access token goes with each API call (userinfo, email list): a Bearer header
    /// unless a preset's provider wants otherwise (Facebook's `appsecret_proof`, Stack
    /// Exchange's query parameter).
    pub api_token: ApiToken,
    /// How the token endpoint answers: RFC 6749 §5.1, or Stack Exchange's own JSON.
    pub token_format: TokenFormat,
}

impl OAuth2Provider {
    /// A provider at these endpoints that reads the user as OpenID Connect names the claims
    /// (`sub`, `preferred_username`, `email`, `name`, `picture`), with a Bearer token; a
    /// preset or the configuration changes what its provider does otherwise.
    pub fn new(
        client_id: String,
        client_auth: UpstreamClientAuth,
        default_scopes: String,
        [authorization_url, token_url, userinfo_url]: [Url; 3],
    ) -> Self {
        OAuth2Provider {
            client_id,
            client_auth,
            default_scopes,
            authorization_url,
            token_url,
            userinfo_url,
            user_id_claim: "sub".into(),
            username_claim: "preferred_username".into(),
            email_claim: "email".into(),
            email_verified_claim: None,
            name_claim: "name".into(),
            picture_claim: "picture".into(),
            email_list_url: None,
            email_list_format: EmailListFormat::GitHub,
            split_name: false,
            given_name_claim: None,
            family_name_claim: None,
            api_token: ApiToken::Bearer,
            token_format: TokenFormat::Standard,
        }
    }
}

/// An `[[identity_providers]]` table of `kind = "oauth2"`, from the options the shared pass left.
pub(crate) fn provider(
    mut options: KindOptions,
    signing_keys: &[(String, Alg, Secret)],
    secrets: &Secrets,
) -> Result<OAuth2Provider, ConfigError> {
    let c: RawOAuthClient = options.take()?;
    let path = options.path;
    let p: RawOAuth2 = options.finish()?;
    let client_auth = client_auth(&c, path, signing_keys, secrets)?;
    let required = |v: Option<String>, f: &str| required(v, path, f);
    let url = |v: Option<String>, f: &str| -> Result<Url, ConfigError> {
        parse_url(&required(v, f)?).map_err(|m| err(format!("{path}.{f}"), m))
    };
    let endpoints = [
        url(c.authorization_url.clone(), "authorization_url")?,
        url(c.token_url.clone(), "token_url")?,
        url(c.userinfo_url.clone(), "userinfo_url")?,
    ];
    let client_id = required(c.client_id.clone(), "client_id")?;
    let mut provider = OAuth2Provider::new(client_id, client_auth, c.default_scopes.unwrap_or_default(), endpoints);
    let claims = [
        (p.user_id_claim, &mut provider.user_id_claim),
        (p.username_claim, &mut provider.username_claim),
        (p.email_claim, &mut provider.email_claim),
        (p.name_claim, &mut provider.name_claim),
        (p.picture_claim, &mut provider.picture_claim),
    ];
    for (configured, claim) in claims {
        if let Some(path) = configured {
            *claim = path;
        }
    }
    provider.email_verified_claim = p.email_verified_claim;
    Ok(provider)
}

/// How a provider lists the user's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailListFormat {
    /// A JSON array of `{"email", "primary", "verified"}` (GitHub's `GET /user/emails`).
    GitHub,
    /// A page `{"values": [{"email", "is_primary", "is_confirmed"}], …}` (Bitbucket's
    /// `GET /2.0/user/emails`).
    Bitbucket,
}

impl EmailListFormat {
    /// The entries of `list`, if it has this shape.
    pub fn entries(self, list: &serde_json::Value) -> Option<&Vec<serde_json::Value>> {
        match self {
            EmailListFormat::GitHub => list.as_array(),
            EmailListFormat::Bitbucket => list.get("values")?.as_array(),
        }
    }

    /// The names of an entry's flags: primary, verified.
    pub fn flags(self) -> (&'static str, &'static str) {
        match self {
            EmailListFormat::GitHub => ("primary", "verified"),
            EmailListFormat::Bitbucket => ("is_primary", "is_confirmed"),
        }
    }
}
