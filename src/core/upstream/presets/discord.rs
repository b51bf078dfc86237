//! `kind = "discord"`: Discord as a plain OAuth 2.0 provider.
//!
//! - Authorization `https://discord.com/oauth2/authorize`, token
//!   `https://discord.com/api/oauth2/token` (the secret in the body or Basic), scopes
//!   `identify email`: https://discord.com/developers/docs/topics/oauth2
//! - The user, `GET /api/users/@me`: `id` (a snowflake, never changes), `username`,
//!   `global_name` (display name, may be null), `email` and `verified` (whether that address
//!   is verified; both need `email`): https://discord.com/developers/docs/resources/user#user-object

use serde::Deserialize;

use super::{base_url, client, endpoint, oauth2_provider};
use crate::core::config::{err, ConfigError, KindOptions, Secrets};
use crate::core::upstream::plain_oauth2::config::OAuth2Provider;
use crate::core::vocab::Scopes;

const BASE: &str = "https://discord.com";
/// The user and their address, nothing else.
pub const DEFAULT_SCOPES: &str = "identify email";

/// The options of `kind = "discord"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscord {
    /// Another host speaking Discord's protocol (a test stand-in); Discord's by default.
    #[serde(default)]
    base_url: Option<String>,
}

pub(crate) fn provider(mut options: KindOptions, secrets: &Secrets) -> Result<OAuth2Provider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawDiscord = options.finish()?;
    let base = match &raw.base_url {
        Some(b) => base_url(b, path)?,
        None => BASE.to_owned(),
    };
    let scopes = Scopes::parse(&client.default_scopes);
    if !scopes.contains("identify") {
        return Err(err(
            format!("{path}.default_scopes"),
            "needs `identify`: without it Discord does not say who signed in",
        ));
    }
    Ok(OAuth2Provider {
        // The snowflake `id` never changes; `username` can be changed.
        user_id_claim: "id".into(),
        username_claim: "username".into(),
        // `verified` is about the account's `email` (https://discord.com/developers/docs/resources/user#user-object).
        email_verified_claim: Some("verified".into()),
        // A display name, not a person's name: not split.
        name_claim: "global_name".into(),
        ..oauth2_provider(
            client,
            [
                endpoint(&base, "/oauth2/authorize", path, "base_url")?,
                endpoint(&base, "/api/oauth2/token", path, "base_url")?,
                endpoint(&base, "/api/users/@me", path, "base_url")?,
            ],
        )
    })
}
