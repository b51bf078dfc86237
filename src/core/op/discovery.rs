//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3): only what keyedge
//! really supports.

use serde_json::json;

use crate::core::claims::{supported_claims, SCOPE_CLAIMS};
use crate::core::config::{Config, GrantType};
use crate::core::jose::{Alg, Keyring};
use crate::core::vocab::{scope, PromptValue, DISPLAY_VALUES};

use super::authorize::ResponseMode;

pub fn document(config: &Config, keys: &Keyring) -> String {
    let algs: Vec<&str> = keys.algorithms().into_iter().map(Alg::name).collect();
    // `openid`, the scopes that release standard claims (OIDC Core §5.4), `offline_access`.
    let scopes: Vec<&str> = std::iter::once(scope::OPENID)
        .chain(SCOPE_CLAIMS.iter().map(|(s, _)| *s))
        .chain(std::iter::once(scope::OFFLINE_ACCESS))
        .collect();
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint("/authorize"),
        "token_endpoint": config.endpoint("/token"),
        "userinfo_endpoint": config.endpoint("/userinfo"),
        "jwks_uri": config.endpoint("/jwks"),
        "end_session_endpoint": config.endpoint("/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "introspection_endpoint": config.endpoint("/introspect"),
        "revocation_endpoint": config.endpoint("/revoke"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ResponseMode::ALL.map(ResponseMode::as_str),
        "grant_types_supported": GrantType::ALL.map(GrantType::as_str),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": supported_claims().collect::<Vec<_>>(),
        "claims_parameter_supported": true,
        "display_values_supported": DISPLAY_VALUES,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": PromptValue::ALL.map(PromptValue::as_str)
    })
    .to_string()
}
