//! `kind = "stackoverflow"`: Stack Overflow (or another Stack Exchange site) as a plain
//! OAuth 2.0 provider.
//!
//! - Authorization `https://stackoverflow.com/oauth`, the code exchange at
//!   `https://stackoverflow.com/oauth/access_token/json` (client id and secret in the body;
//!   the answer `{"access_token", "expires"}`), scopes (none needed to read `/me`):
//!   https://api.stackexchange.com/docs/authentication
//! - The user, `GET https://api.stackexchange.com/2.3/me?site=…&key=…&access_token=…` (the
//!   token in the query, with the app's request `key`), answered as
//!   `{"items": [{"user_id", "display_name", "profile_image", "link", …}], …}`; errors as
//!   `{"error_id", "error_name", "error_message"}`; no address:
//!   https://api.stackexchange.com/docs/me and https://api.stackexchange.com/docs/error-handling

use serde::Deserialize;

use super::{base_url, client, endpoint, oauth2_provider};
use crate::core::config::{err, required, ConfigError, KindOptions, Secrets};
use crate::core::upstream::plain_oauth2::config::{ApiToken, OAuth2Provider, TokenFormat};

const WEB: &str = "https://stackoverflow.com";
const API: &str = "https://api.stackexchange.com";
/// Reading `/me` needs no scope.
pub const DEFAULT_SCOPES: &str = "";
pub const SITE: &str = "stackoverflow";

/// The options of `kind = "stackoverflow"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStackOverflow {
    /// The app's request key from Stack Apps (not a secret: it raises the request quota).
    #[serde(default)]
    key: Option<String>,
    /// The Stack Exchange site whose user profile is read (`/me?site=`).
    #[serde(default)]
    site: Option<String>,
    /// Another host speaking Stack Exchange's protocol (a test stand-in): authorization at
    /// `base_url`, the API at `{base_url}/api`. Stack Exchange's by default.
    #[serde(default)]
    base_url: Option<String>,
}

pub(crate) fn provider(mut options: KindOptions, secrets: &Secrets) -> Result<OAuth2Provider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawStackOverflow = options.finish()?;
    let key = required(raw.key, path, "key")?;
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(err(format!("{path}.key"), "is the app's Key from Stack Apps, without spaces"));
    }
    let site = raw.site.unwrap_or_else(|| SITE.to_owned());
    let site_ok =
        !site.is_empty() && site.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-".contains(&b));
    if !site_ok {
        return Err(err(
            format!("{path}.site"),
            format!("`{site}`: a site's API name such as `stackoverflow` or `superuser`"),
        ));
    }
    let (web, api) = match &raw.base_url {
        Some(b) => {
            let b = base_url(b, path)?;
            (b.clone(), format!("{b}/api"))
        }
        None => (WEB.to_owned(), API.to_owned()),
    };
    let mut me = endpoint(&api, "/2.3/me", path, "base_url")?;
    me.query_pairs_mut().append_pair("site", &site).append_pair("key", &key);
    Ok(OAuth2Provider {
        // The site's numeric `user_id` never changes; the display name is not unique.
        user_id_claim: "items[0].user_id".into(),
        username_claim: "items[0].display_name".into(),
        name_claim: "items[0].display_name".into(),
        picture_claim: "items[0].profile_image".into(),
        // Stack Exchange gives no address: `email` is never there (trust_email is refused).
        api_token: ApiToken::Query,
        token_format: TokenFormat::StackExchange,
        ..oauth2_provider(
            client,
            [
                endpoint(&web, "/oauth", path, "base_url")?,
                endpoint(&web, "/oauth/access_token/json", path, "base_url")?,
                me,
            ],
        )
    })
}
