//! `kind = "facebook"`: Facebook Login as a plain OAuth 2.0 provider.
//!
//! - The login dialog `https://www.facebook.com/{version}/dialog/oauth`, the code exchange at
//!   `https://graph.facebook.com/{version}/oauth/access_token`, the user's refusal
//!   (`error=access_denied&error_reason=user_denied`):
//!   https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow
//! - The user, `GET /{version}/me?fields=id,name,email,first_name,last_name,picture` (`id` is
//!   app-scoped and never changes; `email` only when the user has one and granted `email`;
//!   `picture.data.url`): https://developers.facebook.com/docs/graph-api/reference/user
//! - `appsecret_proof` with every Graph call:
//!   https://developers.facebook.com/docs/graph-api/securing-requests#appsecret_proof
//! - Graph API versions: https://developers.facebook.com/docs/graph-api/changelog

use serde::Deserialize;

use super::{base_url, client, endpoint, oauth2_provider};
use crate::core::config::{err, ConfigError, KindOptions, Secrets};
use crate::core::upstream::client_config::UpstreamClientAuth;
use crate::core::upstream::plain_oauth2::config::{ApiToken, OAuth2Provider};
use crate::core::vocab::Scopes;

const WEB: &str = "https://www.facebook.com";
const GRAPH: &str = "https://graph.facebook.com";
/// A current Graph API version (each is supported for at least two years).
pub const GRAPH_API_VERSION: &str = "v19.0";
/// The user's address and public profile, nothing else.
pub const DEFAULT_SCOPES: &str = "email public_profile";

/// The options of `kind = "facebook"` (besides the shared ones and the client's).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFacebook {
    /// `vNN.N`, in every URL.
    #[serde(default)]
    graph_api_version: Option<String>,
    /// Another host speaking Facebook's protocol (a test stand-in): the dialog at `base_url`,
    /// the Graph API at `{base_url}/graph`. Facebook's by default.
    #[serde(default)]
    base_url: Option<String>,
}

pub(crate) fn provider(mut options: KindOptions, secrets: &Secrets) -> Result<OAuth2Provider, ConfigError> {
    let client = client(&mut options, secrets, DEFAULT_SCOPES)?;
    let path = options.path;
    let raw: RawFacebook = options.finish()?;
    let version = raw.graph_api_version.unwrap_or_else(|| GRAPH_API_VERSION.to_owned());
    if !is_graph_api_version(&version) {
        return Err(err(
            format!("{path}.graph_api_version"),
            format!("`{version}`: a Graph API version such as `{GRAPH_API_VERSION}`"),
        ));
    }
    let (web, graph) = match &raw.base_url {
        Some(b) => {
            let b = base_url(b, path)?;
            (b.clone(), format!("{b}/graph"))
        }
        None => (WEB.to_owned(), GRAPH.to_owned()),
    };
    if !Scopes::parse(&client.default_scopes).contains("public_profile") {
        return Err(err(
            format!("{path}.default_scopes"),
            "needs `public_profile`: without it Facebook does not say who signed in",
        ));
    }
    // The proof is keyed with the app secret, the client secret.
    let app_secret = match &client.client_auth {
        UpstreamClientAuth::SecretPost(s) | UpstreamClientAuth::SecretBasic(s) => s.clone(),
        _ => return Err(err(format!("{path}.client_secret_env"), "is required")),
    };
    let me = format!("/{version}/me?fields=id,name,email,first_name,last_name,picture");
    Ok(OAuth2Provider {
        // The app-scoped `id` never changes. Facebook has no username for apps: the address,
        // else the id, is proposed.
        user_id_claim: "id".into(),
        username_claim: "email".into(),
        picture_claim: "picture.data.url".into(),
        given_name_claim: Some("first_name".into()),
        family_name_claim: Some("last_name".into()),
        api_token: ApiToken::AppSecretProof(app_secret),
        ..oauth2_provider(
            client,
            [
                endpoint(&web, &format!("/{version}/dialog/oauth"), path, "base_url")?,
                endpoint(&graph, &format!("/{version}/oauth/access_token"), path, "base_url")?,
                endpoint(&graph, &me, path, "base_url")?,
            ],
        )
    })
}

/// `vNN.N`: `v` and two numbers.
fn is_graph_api_version(v: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| number(major) && number(minor))
}

#[cfg(test)]
mod tests {
    use super::is_graph_api_version;

    #[test]
    fn a_graph_api_version_is_v_and_two_numbers() {
        for good in ["v19.0", "v2.12", "v100.0"] {
            assert!(is_graph_api_version(good), "{good}");
        }
        for bad in ["19.0", "v19", "v19.", "v.0", "V19.0", "v19.0/", "v19.0.1", "v1a.0", ""] {
            assert!(!is_graph_api_version(bad), "{bad}");
        }
    }
}
