//! `kind = "bitbucket"`: Bitbucket Cloud as a plain OAuth 2.0 provider.
//!
//! - Authorization `https://bitbucket.org/site/oauth2/authorize`, token
//!   `https://bitbucket.org/site/oauth2/access_token` with the consumer's key and secret in
//!   HTTP Basic, scopes `account` and `email`:
//!   https://developer.atlassian.com/cloud/bitbucket/oauth-2/
//! - The user, `GET https://api.bitbucket.org/2.0/user` (`uuid`, `account_id`, `nickname`,
//!   `display_name`, `links.avatar.href`; no address):
//!   https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-get
//! - Their addresses, pages of `{email, is_primary, is_confirmed}` (the next one's URL in
//!   `next`):
//!   `GET /2.0/user/emails`,
//!   https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-emails-get

use serde::Deserialize;

use super::{base_url, client, endpoint, oauth2_provider, PresetClient};
use crate::core::config::{err, ConfigError, KindOptions, Secrets};
use crate::core::upstream::client_config::UpstreamClientAuth;
use crate::core::upstream::plain_oauth2::config::{EmailListFormat, OAuth2Provider};
use crate::core::vocab::Scopes;

const WEB: &str = "https://bitbucket.org";
const API: &str = "https://api.bitbucket.org";
/// Read the account and its addresses, nothing else.
pub const DEFAULT_SCOPES: &str = "account email";

/// The options of `kind = "bitbucket"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBitbucket {
    /// Another host speaking Bitbucket's protocol (a test stand-in): the web at `base_url`,
    /// the API at `{base_url}/api`. Bitbucket Cloud's by default.
    #[serde(default)]
    base_url: Option<String>,
}

pub(crate) fn provider(mut options: KindOptions, secrets: &Secrets) -> Result<OAuth2Provider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawBitbucket = options.finish()?;
    let (web, api) = match &raw.base_url {
        Some(b) => {
            let b = base_url(b, path)?;
            (b.clone(), format!("{b}/api"))
        }
        None => (WEB.to_owned(), API.to_owned()),
    };
    if !Scopes::parse(&client.default_scopes).contains("email") {
        return Err(err(
            format!("{path}.default_scopes"),
            "needs `email`: without it Bitbucket does not list the user's addresses, so none could count as verified",
        ));
    }
    // Bitbucket documents the consumer's key and secret in HTTP Basic.
    let client_auth = match client.client_auth {
        UpstreamClientAuth::SecretPost(secret) => UpstreamClientAuth::SecretBasic(secret),
        other => other,
    };
    Ok(OAuth2Provider {
        // The `uuid` never changes; `nickname` can.
        user_id_claim: "uuid".into(),
        username_claim: "nickname".into(),
        name_claim: "display_name".into(),
        picture_claim: "links.avatar.href".into(),
        // `/user` has no address; the list's primary confirmed one is taken. Pages of up to
        // 100 addresses; the `next` pages are followed (same origin only).
        email_list_url: Some(endpoint(&api, "/2.0/user/emails?pagelen=100", path, "base_url")?),
        email_list_format: EmailListFormat::Bitbucket,
        split_name: true,
        ..oauth2_provider(
            PresetClient { client_auth, ..client },
            [
                endpoint(&web, "/site/oauth2/authorize", path, "base_url")?,
                endpoint(&web, "/site/oauth2/access_token", path, "base_url")?,
                endpoint(&api, "/2.0/user", path, "base_url")?,
            ],
        )
    })
}
