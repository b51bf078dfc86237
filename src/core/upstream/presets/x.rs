//! `kind = "x"` (or `"twitter"`): X (Twitter) as a plain OAuth 2.0 provider, keyedge a
//! confidential client.
//!
//! - Authorization Code with PKCE (required), authorize `https://x.com/i/oauth2/authorize`,
//!   token `https://api.x.com/2/oauth2/token` with the client's id and secret in HTTP Basic,
//!   scopes, `offline.access` for a refresh token:
//!   https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code
//! - The user, `GET /2/users/me?user.fields=…` (scopes `users.read tweet.read`), answered as
//!   `{"data": {"id", "name", "username", "profile_image_url"}}`; no address:
//!   https://docs.x.com/x-api/users/user-lookup-me

use serde::Deserialize;

use super::{base_url, client, endpoint, oauth2_provider, PresetClient};
use crate::core::config::{err, ConfigError, KindOptions, Secrets};
use crate::core::upstream::client_config::UpstreamClientAuth;
use crate::core::upstream::plain_oauth2::config::OAuth2Provider;
use crate::core::vocab::Scopes;

const WEB: &str = "https://x.com";
const API: &str = "https://api.x.com";
/// Who the user is (`GET /2/users/me` needs both), nothing else.
pub const DEFAULT_SCOPES: &str = "users.read tweet.read";
/// A refresh token, for `store_tokens` (X's access tokens last two hours).
const OFFLINE: &str = "offline.access";

/// The options of `kind = "x"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawX {
    /// Another host speaking X's protocol (a test stand-in): authorization at `base_url`,
    /// the API at `{base_url}/api`. X's by default.
    #[serde(default)]
    base_url: Option<String>,
}

/// `store_tokens` of the provider: stored tokens are refreshable only with `offline.access`.
pub(crate) fn provider(
    mut options: KindOptions,
    secrets: &Secrets,
    store_tokens: bool,
) -> Result<OAuth2Provider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawX = options.finish()?;
    let (web, api) = match &raw.base_url {
        Some(b) => {
            let b = base_url(b, path)?;
            (b.clone(), format!("{b}/api"))
        }
        None => (WEB.to_owned(), API.to_owned()),
    };
    let scopes = Scopes::parse(&client.default_scopes);
    if !scopes.contains("users.read") || !scopes.contains("tweet.read") {
        return Err(err(
            format!("{path}.default_scopes"),
            "needs `users.read` and `tweet.read`: without them X does not say who signed in",
        ));
    }
    let wants_offline = store_tokens && !scopes.contains(OFFLINE);
    let mut default_scopes = client.default_scopes;
    if wants_offline {
        default_scopes = format!("{default_scopes} {OFFLINE}");
    }
    // X documents a confidential client's id and secret in HTTP Basic.
    let client_auth = match client.client_auth {
        UpstreamClientAuth::SecretPost(secret) => UpstreamClientAuth::SecretBasic(secret),
        other => other,
    };
    Ok(OAuth2Provider {
        // The numeric `id` never changes; the `username` (handle) can.
        user_id_claim: "data.id".into(),
        username_claim: "data.username".into(),
        // A display name, not a person's name: not split.
        name_claim: "data.name".into(),
        picture_claim: "data.profile_image_url".into(),
        // X's answer is all in `data` and has no address: `email` is never there, and no
        // address from X ever counts as verified (trust_email is refused).
        ..oauth2_provider(
            PresetClient { client_auth, default_scopes, ..client },
            [
                endpoint(&web, "/i/oauth2/authorize", path, "base_url")?,
                endpoint(&api, "/2/oauth2/token", path, "base_url")?,
                endpoint(&api, "/2/users/me?user.fields=profile_image_url,name,username", path, "base_url")?,
            ],
        )
    })
}
