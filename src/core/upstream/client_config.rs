//! keyedge as an OAuth client of an upstream provider: the options every OAuth-based kind
//! (OpenID Connect, plain OAuth 2.0) takes, and how keyedge authenticates at the token endpoint.

use serde::Deserialize;

use crate::core::config::{err, ConfigError, Secrets};
use crate::core::jose::{Alg, SigningKey};
use crate::core::secret::Secret;

/// The options of an OAuth-based kind that name keyedge as a client and the endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuthClient {
    #[serde(default)]
    pub(crate) client_id: Option<String>,
    #[serde(default)]
    pub(crate) client_secret_env: Option<String>,
    #[serde(default)]
    pub(crate) default_scopes: Option<String>,
    #[serde(default)]
    pub(crate) authorization_url: Option<String>,
    #[serde(default)]
    pub(crate) token_url: Option<String>,
    #[serde(default)]
    pub(crate) userinfo_url: Option<String>,
    #[serde(default)]
    pub(crate) client_auth_method: Option<String>,
    #[serde(default)]
    pub(crate) client_assertion_signing_alg: Option<Alg>,
}

/// How keyedge authenticates to an upstream token endpoint.
#[derive(Debug, Clone)]
pub enum UpstreamClientAuth {
    /// `client_secret_basic`: HTTP Basic with the secret.
    SecretBasic(Secret),
    /// `client_secret_post`: the secret in the form body.
    SecretPost(Secret),
    /// `client_secret_jwt` (RFC 7523): an HS256 assertion keyed with the secret.
    SecretJwt(Secret),
    /// `private_key_jwt` (RFC 7523): an assertion signed with keyedge's own signing key for
    /// `alg`, whose public half the IdP reads from keyedge's `/jwks`.
    PrivateKeyJwt(Alg),
    /// A client secret that is a JWT keyedge signs with the operator's key for each token
    /// request, sent as `client_secret` in the body (Sign in with Apple).
    SignedSecret(SignedClientSecret),
}

/// The claims and key of a [`UpstreamClientAuth::SignedSecret`]: `iss`, `sub` (the client id)
/// and `aud`, signed with `key` under the provider's name for it, `key_id`.
#[derive(Debug, Clone)]
pub struct SignedClientSecret {
    pub key: std::sync::Arc<SigningKey>,
    pub key_id: String,
    pub issuer: String,
    pub audience: String,
}

/// `client_auth_method` of an upstream provider and the secret or key it needs.
pub(crate) fn client_auth(
    c: &RawOAuthClient,
    path: &str,
    signing_keys: &[(String, Alg, Secret)],
    secrets: &Secrets,
) -> Result<UpstreamClientAuth, ConfigError> {
    let method = c.client_auth_method.as_deref().unwrap_or("client_secret_basic");
    let secret = || match &c.client_secret_env {
        Some(name) if !name.is_empty() => secrets.need(format!("{path}.client_secret_env"), name),
        _ => Err(err(format!("{path}.client_secret_env"), format!("is required for {method}"))),
    };
    if c.client_assertion_signing_alg.is_some() && method != "private_key_jwt" {
        return Err(err(format!("{path}.client_assertion_signing_alg"), "applies to private_key_jwt only"));
    }
    Ok(match method {
        "client_secret_basic" => UpstreamClientAuth::SecretBasic(secret()?),
        "client_secret_post" => UpstreamClientAuth::SecretPost(secret()?),
        "client_secret_jwt" => UpstreamClientAuth::SecretJwt(secret()?),
        "private_key_jwt" => {
            if c.client_secret_env.is_some() {
                return Err(err(
                    format!("{path}.client_secret_env"),
                    "private_key_jwt signs with keyedge's own key; remove the secret",
                ));
            }
            let alg = c.client_assertion_signing_alg.unwrap_or(Alg::RS256);
            if !signing_keys.iter().any(|(_, a, _)| *a == alg) {
                return Err(err(
                    format!("{path}.client_assertion_signing_alg"),
                    format!("keyedge has no {} signing key configured", alg.name()),
                ));
            }
            UpstreamClientAuth::PrivateKeyJwt(alg)
        }
        other => {
            return Err(err(
                format!("{path}.client_auth_method"),
                format!("`{other}`: use client_secret_basic, client_secret_post, client_secret_jwt or private_key_jwt"),
            ))
        }
    })
}
