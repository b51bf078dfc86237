//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3): only what keyedge
//! really supports.

use serde_json::json;

use crate::core::config::Config;
use crate::core::jose::{Alg, Keyring};

pub fn document(config: &Config, keys: &Keyring) -> String {
    let algs: Vec<&str> = keys.algorithms().into_iter().map(Alg::name).collect();
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
        "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "at_hash",
            "name", "given_name", "family_name", "preferred_username", "picture", "locale",
            "email", "email_verified", "address", "phone_number", "phone_number_verified"
        ],
        "claims_parameter_supported": true,
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"]
    })
    .to_string()
}
