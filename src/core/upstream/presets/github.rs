//! `kind = "github"`: GitHub (or GitHub Enterprise Server) as a plain OAuth 2.0 provider.
//!
//! - Authorization and token endpoints:
//!   https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps
//! - The user: `GET /user`, https://docs.github.com/en/rest/users/users#get-the-authenticated-user
//! - Their addresses, private ones included (scope `user:email`): `GET /user/emails`,
//!   https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user
//!   (paginated: `per_page` 30 by default, at most 100, the next page in the `Link` header,
//!   https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api)
//! - GitHub Enterprise Server: the same paths at `https://{host}`, the API at
//!   `https://{host}/api/v3`, https://docs.github.com/en/enterprise-server@latest/rest

use serde::Deserialize;

use super::{base_url, client, endpoint, oauth2_provider};
use crate::core::config::{err, ConfigError, KindOptions, Secrets};
use crate::core::upstream::plain_oauth2::config::OAuth2Provider;
use crate::core::vocab::Scopes;

const WEB: &str = "https://github.com";
const API: &str = "https://api.github.com";
/// Read the profile and the email addresses (private ones too), nothing else.
pub const DEFAULT_SCOPES: &str = "read:user user:email";

/// The options of `kind = "github"` (besides the shared ones).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGitHub {
    /// GitHub Enterprise Server, e.g. `https://github.example.com`.
    #[serde(default)]
    base_url: Option<String>,
}

pub(crate) fn provider(mut options: KindOptions, secrets: &Secrets) -> Result<OAuth2Provider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawGitHub = options.finish()?;
    let (web, api) = match &raw.base_url {
        Some(b) => {
            let b = base_url(b, path)?;
            (b.clone(), format!("{b}/api/v3"))
        }
        None => (WEB.to_owned(), API.to_owned()),
    };
    let scopes = Scopes::parse(&client.default_scopes);
    // `user` includes `user:email` (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps).
    if !scopes.contains("user:email") && !scopes.contains("user") {
        return Err(err(
            format!("{path}.default_scopes"),
            "needs `user:email` (or `user`): without it GitHub does not list the user's addresses, so none could count as verified",
        ));
    }
    Ok(OAuth2Provider {
        // The numeric `id` never changes; `login` can be renamed.
        user_id_claim: "id".into(),
        username_claim: "login".into(),
        picture_claim: "avatar_url".into(),
        // 100 addresses a page, the most GitHub gives; the next pages are followed.
        email_list_url: Some(endpoint(&api, "/user/emails?per_page=100", path, "base_url")?),
        split_name: true,
        ..oauth2_provider(
            client,
            [
                endpoint(&web, "/login/oauth/authorize", path, "base_url")?,
                endpoint(&web, "/login/oauth/access_token", path, "base_url")?,
                endpoint(&api, "/user", path, "base_url")?,
            ],
        )
    })
}
