//! The seed's app: a confidential client configured exactly as `examples/openmetadata`
//! says (keyedge side: keyedge-client.toml; app side: openmetadata.env) logs in.

use crate::common::*;
use std::collections::HashMap;

const CLIENT: &str = include_str!("../../examples/openmetadata/keyedge-client.toml");
const APP_ENV: &str = include_str!("../../examples/openmetadata/openmetadata.env");
const SECRET: &str = "openmetadata-secret-0123456789";

fn app_settings() -> HashMap<String, String> {
    APP_ENV
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[test]
fn openmetadata_settings_log_in_as_a_confidential_client() {
    let env = app_settings();
    // The app side points at keyedge: the authority is the issuer, discovery and JWKS under it.
    let authority = &env["AUTHENTICATION_AUTHORITY"];
    assert_eq!(env["OIDC_DISCOVERY_URI"], format!("{authority}/.well-known/openid-configuration"));
    assert!(env["AUTHENTICATION_PUBLIC_KEYS"].contains(&format!("{authority}/jwks")));
    assert_eq!(env["AUTHENTICATION_CLIENT_TYPE"], "confidential");

    let mut world = World::new();
    let text = format!("{}\n{CLIENT}", config_text());
    let secrets = |n: &str| if n == "OPENMETADATA_SECRET" { Some(SECRET.to_owned()) } else { secrets(n) };
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();

    // The authorization request OpenMetadata sends: code flow, its scopes, a nonce, no PKCE.
    let callback = &env["OIDC_CALLBACK"];
    assert_eq!(callback, &env["AUTHENTICATION_CALLBACK_URL"]);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", env["OIDC_CLIENT_ID"].as_str()),
            ("redirect_uri", callback.as_str()),
            ("response_type", env["OIDC_RESPONSE_TYPE"].as_str()),
            ("scope", env["OIDC_SCOPE"].as_str()),
            ("state", "om-state"),
            ("nonce", "om-nonce"),
        ])
        .finish();
    assert_eq!(env["OIDC_DISABLE_PKCE"], "true");
    let res = login(&world, &mut Browser::default(), &query, "alice");
    let to_app = location(&res);
    assert!(to_app.starts_with(callback.as_str()), "{to_app}");
    let code = query_param(&to_app, "code").unwrap();

    // The token request with client_secret_post, as OIDC_CLIENT_AUTH_METHOD says.
    assert_eq!(env["OIDC_CLIENT_AUTH_METHOD"], "client_secret_post");
    let tokens = json(&world.post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", callback),
            ("client_id", &env["OIDC_CLIENT_ID"]),
            ("client_secret", SECRET),
        ],
        None,
    ));
    let id = id_claims(&tokens);
    assert_eq!(id["aud"], "open-metadata");
    assert_eq!(id["nonce"], "om-nonce");
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["preferred_username"], "alice");
    assert!(tokens["refresh_token"].is_string());
    assert_eq!(userinfo_status(&world, tokens["access_token"].as_str().unwrap()), 200);
}
