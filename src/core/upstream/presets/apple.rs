//! `kind = "apple"`: Sign in with Apple, an OpenID Connect provider with three habits of its
//! own, each a named switch of the `oidc` kind:
//!
//! - The answer comes as a form post (`response_mode=form_post`, required when the `name` or
//!   `email` scope is asked for): `form_post`, taken at `/broker/{alias}/endpoint` by
//!   `broker::form_post`.
//! - The client secret is a JWT the operator's key signs (ES256, `kid` the Key ID, `iss` the
//!   Team ID, `sub` the Services ID, `aud` `https://appleid.apple.com`):
//!   `UpstreamClientAuth::SignedSecret`.
//!   https://developer.apple.com/documentation/accountorganizationaldatasharing/creating-a-client-secret
//! - The name comes once, in the `user` field of the first authorization, never in the ID
//!   token: `name_in_user_field`.
//!   https://developer.apple.com/documentation/sign_in_with_apple/request_an_authorization_to_the_sign_in_with_apple_server
//!
//! The endpoints (`/auth/authorize`, `/auth/token`, `/auth/keys`) are those of Apple's
//! discovery document, https://appleid.apple.com/.well-known/openid-configuration, fixed here:
//! Apple has no userinfo endpoint, so nothing else would be read from it. The ID token's
//! claims (`email`, `email_verified` and `is_private_email`, as booleans or the strings
//! `"true"`/`"false"`; `nonce`):
//! https://developer.apple.com/documentation/sign_in_with_apple/authenticating-users-with-sign-in-with-apple
//! PKCE is not in Apple's reference, but Apple takes an S256 challenge and then refuses the
//! code without its verifier (https://github.com/a-tokyo/apple-signin-auth/issues/180), so
//! keyedge's default, PKCE on, stays.

use serde::Deserialize;
use std::sync::Arc;

use super::{endpoint, oidc, Preset, PresetClient};
use crate::core::config::{err, parse_url, required, ConfigError, KindOptions, Secrets};
use crate::core::jose::{Alg, SigningKey};
use crate::core::upstream::client_config::{SignedClientSecret, UpstreamClientAuth};
use crate::core::upstream::oidc::config::OidcProvider;

pub const ISSUER: &str = "https://appleid.apple.com";
pub const DEFAULT_SCOPES: &str = "openid name email";

/// The options of `kind = "apple"` (besides the shared ones).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawApple {
    /// The Services ID (`com.example.signin`).
    #[serde(default)]
    client_id: Option<String>,
    /// The Team ID of the Apple developer account.
    #[serde(default)]
    team_id: Option<String>,
    /// The Key ID of the key enabled for Sign in with Apple.
    #[serde(default)]
    key_id: Option<String>,
    /// The secret holding that key: the `.p8` file, a PKCS#8 PEM P-256 private key.
    #[serde(default)]
    private_key_env: Option<String>,
    #[serde(default)]
    default_scopes: Option<String>,
    /// Another issuer speaking Apple's protocol (a test stand-in); Apple's by default.
    #[serde(default)]
    issuer: Option<String>,
}

pub(crate) fn provider(options: KindOptions, secrets: &Secrets) -> Result<OidcProvider, ConfigError> {
    let path = options.path;
    let raw: RawApple = options.finish()?;
    let client_id = required(raw.client_id, path, "client_id")?;
    let team_id = apple_id(raw.team_id, path, "team_id")?;
    let key_id = apple_id(raw.key_id, path, "key_id")?;
    let key = private_key(raw.private_key_env.as_deref(), path, secrets)?;
    let issuer = raw.issuer.unwrap_or_else(|| ISSUER.to_owned());
    let url = parse_url(&issuer).map_err(|m| err(format!("{path}.issuer"), m))?;
    if url.query().is_some() || url.fragment().is_some() || issuer.ends_with('/') {
        return Err(err(format!("{path}.issuer"), "must have no query, fragment or trailing slash"));
    }
    let secret = SignedClientSecret { key: Arc::new(key), key_id, issuer: team_id, audience: issuer.clone() };
    let client = PresetClient {
        client_id,
        client_auth: UpstreamClientAuth::SignedSecret(secret),
        default_scopes: raw.default_scopes.unwrap_or_else(|| DEFAULT_SCOPES.to_owned()),
    };
    let at = |suffix: &str| endpoint(&issuer, suffix, path, "issuer");
    Ok(OidcProvider {
        authorization_url: Some(at("/auth/authorize")?),
        token_url: Some(at("/auth/token")?),
        jwks_url: Some(at("/auth/keys")?),
        // Apple has no userinfo endpoint: the ID token says all it says.
        disable_userinfo: true,
        // Apple documents no `prompt`; a client's `prompt=login` goes as `max_age=0` alone.
        prompt_values: Some(&[]),
        form_post: true,
        name_in_user_field: true,
        ..oidc(Preset::Apple, issuer, client, path)?
    })
}

/// A Team ID or Key ID: ten letters or digits, as Apple shows them.
fn apple_id(value: Option<String>, path: &str, field: &str) -> Result<String, ConfigError> {
    let value = required(value, path, field)?.trim().to_owned();
    if value.len() != 10 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(err(
            format!("{path}.{field}"),
            format!("`{value}`: Apple's IDs are ten letters or digits (developer account, Membership details / Keys)"),
        ));
    }
    Ok(value)
}

/// The key `.p8` file from the secret `private_key_env`: a PKCS#8 PEM P-256 private key (its
/// base64 body alone, as Keycloak's Apple provider keeps it, is taken too).
fn private_key(name: Option<&str>, path: &str, secrets: &Secrets) -> Result<SigningKey, ConfigError> {
    let field = format!("{path}.private_key_env");
    let name =
        name.filter(|n| !n.is_empty()).ok_or_else(|| err(&field, "is required (the secret holding the .p8 key)"))?;
    let secret = secrets.need(&field, name)?;
    let text = secret.expose().trim();
    let pem = if text.contains("-----BEGIN") {
        text.to_owned()
    } else {
        // PEM wants its base64 in lines of 64 characters (RFC 7468 §2).
        let base64: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        let lines: Vec<String> = base64.chunks(64).map(|line| line.iter().collect()).collect();
        format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"))
    };
    let unreadable =
        |why: String| err(&field, format!("secret `{name}`: {why}; use the .p8 file Apple gave for the key"));
    let key = SigningKey::from_pem(&pem).map_err(|e| unreadable(e.to_string()))?;
    if key.alg() != Alg::ES256 {
        return Err(unreadable(format!("a {} key, not P-256 (ES256)", key.alg().name())));
    }
    Ok(key)
}
