//! Issue 16: `keycloak_claims = true` on a client gives tokens shaped like a Keycloak
//! realm's, read here with the claim paths apps written against Keycloak use:
//! Spring Security's Keycloak role converters and the legacy Keycloak adapters read
//! `realm_access.roles` and `resource_access.{client}.roles`; OpenMetadata's
//! `jwtPrincipalClaims` default to `email`, `preferred_username`, `sub` and reads them from
//! the access token; Keycloak's adapters check `typ` (`Bearer`) and `azp`.

use crate::common::*;
use serde_json::Value;

/// Two clients (`app` with the Keycloak shape, `plain` without) and alice's roles through the
/// IdP's mappers: `staff` (a realm role) and `app.editor` (the `app` client's `editor` role,
/// written as Keycloak's role mappers write client roles).
fn world() -> World {
    World::with(
        "[[identity_providers.mappers]]\nname = \"s\"\nkind = \"hardcoded_role\"\nrole = \"staff\"\n\
         [[identity_providers.mappers]]\nname = \"e\"\nkind = \"hardcoded_role\"\nrole = \"app.editor\"\n",
        "keycloak_claims = true",
        "[[clients]]\nclient_id = \"plain\"\nclient_secret_env = \"APP_SECRET\"\nredirect_uris = [\"https://plain.test/cb\"]\n",
    )
}

/// The value at a dotted claim path (`realm_access.roles`).
fn at<'a>(claims: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(claims, |v, key| &v[key])
}

#[test]
fn access_tokens_carry_keycloaks_claim_paths() {
    let world = world();
    // alice's IdP username is `alice`; Keycloak lower-cases usernames, so does this shape.
    *world.idp.given_name.borrow_mut() = "Alice".into();
    let tokens = tokens_for_alice(&world, "openid email profile");
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(at(&access, "realm_access.roles"), &serde_json::json!(["staff"]), "{access}");
    assert_eq!(at(&access, "resource_access.app.roles"), &serde_json::json!(["editor"]), "{access}");
    assert_eq!(access["typ"], "Bearer");
    assert_eq!(access["azp"], "app");
    assert_eq!(access["scope"], "openid email profile");
    assert_eq!(access["email"], "alice@example.com");
    assert_eq!(access["email_verified"], true);
    assert_eq!(access["preferred_username"], "alice");
    assert_eq!(access["given_name"], "Alice");
    assert!(access["name"].is_string());
    let id = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["typ"], "ID");
    assert_eq!(access["sid"], id["sid"]);
    assert_eq!(access["session_state"], id["sid"]);
    assert_eq!(access["sub"], id["sub"]);
    // The token still works where keyedge reads it back.
    let info = world.send(
        http::Request::get(format!("{ISSUER}/userinfo"))
            .header("authorization", format!("Bearer {}", tokens["access_token"].as_str().unwrap()))
            .body(vec![])
            .unwrap(),
    );
    assert_eq!(json(&info)["sub"], id["sub"]);
    let introspected = world.post_form(
        "/introspect",
        &[("token", tokens["access_token"].as_str().unwrap())],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(json(&introspected)["active"], true);
}

#[test]
fn preferred_username_is_lower_cased_as_keycloak_does() {
    let world = world();
    let rp = rp_request("app", APP_REDIRECT);
    let code = code_of(&login(&world, &mut Browser::default(), &rp.query, "Carol"));
    let tokens = json(&redeem(&world, &code, &rp.verifier));
    for token in ["access_token", "id_token"] {
        let claims = payload(tokens[token].as_str().unwrap());
        assert_eq!(claims["preferred_username"], "carol", "{token}: {claims}");
    }
}

#[test]
fn only_clients_that_ask_get_the_keycloak_shape() {
    let world = world();
    let rp = rp_request("plain", "https://plain.test/cb");
    let code = code_of(&login(&world, &mut Browser::default(), &rp.query, "alice"));
    let res = world.post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://plain.test/cb"),
            ("code_verifier", &rp.verifier),
        ],
        Some(("plain", APP_SECRET)),
    );
    let tokens = json(&res);
    let access = payload(tokens["access_token"].as_str().unwrap());
    for claim in ["realm_access", "resource_access", "typ", "azp", "email", "session_state"] {
        assert!(access.get(claim).is_none(), "{claim} in {access}");
    }
    assert_eq!(access["roles"], serde_json::json!(["staff", "app.editor"]), "keyedge's own `roles`");
    assert!(payload(tokens["id_token"].as_str().unwrap()).get("typ").is_none());
}

/// A role names the client whose id is the longest prefix of it: with clients `app` and
/// `app.admin`, `app.admin.boss` is `app.admin`'s `boss`, not `app`'s `admin.boss`.
#[test]
fn a_client_role_belongs_to_the_longest_client_id_that_names_it() {
    let world = World::with(
        "[[identity_providers.mappers]]\nname = \"b\"\nkind = \"hardcoded_role\"\nrole = \"app.admin.boss\"\n",
        "keycloak_claims = true",
        "[[clients]]\nclient_id = \"app.admin\"\nclient_secret_env = \"APP_SECRET\"\nredirect_uris = [\"https://admin.test/cb\"]\n",
    );
    let tokens = tokens_for_alice(&world, "openid");
    let access = payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["resource_access"], serde_json::json!({ "app.admin": { "roles": ["boss"] } }), "{access}");
}
