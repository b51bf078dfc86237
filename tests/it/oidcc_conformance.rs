//! Checks of the OpenID Foundation's OP conformance suite (test module names in the test
//! names), re-implemented against the in-memory harness: RP ↔ keyedge ↔ upstream IdP.

use crate::common::*;
use serde_json::Value;

/// A full login with `extra` authorization parameters; returns the token response.
fn flow(world: &World, browser: &mut Browser, extra: &[(&str, &str)]) -> Value {
    let rp = request_with(extra);
    let res = login(world, browser, &rp.query, "alice");
    let code =
        query_param(&location(&res), "code").unwrap_or_else(|| panic!("no code: {} {}", location(&res), body(&res)));
    let tokens = redeem(world, &code, &rp.verifier);
    assert_eq!(tokens.status(), 200, "{}", body(&tokens));
    json(&tokens)
}

/// An authorization request in a browser that may already be signed in: the code if keyedge
/// answered at once, or `None` if it showed the login page.
fn authorize_in(
    world: &World,
    browser: &mut Browser,
    extra: &[(&str, &str)],
) -> (Option<String>, RpRequest, http::Response<Vec<u8>>) {
    let rp = request_with(extra);
    let res = browser.get(world, &format!("/authorize?{}", rp.query));
    (query_param(&location(&res), "code"), rp, res)
}

fn userinfo(world: &World, req: http::request::Builder, body: Vec<u8>) -> (u16, Value) {
    let res = world.send(req.body(body).unwrap());
    (res.status().as_u16(), json(&res))
}

fn at(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn oidcc_server() {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[]);
    let c = id_claims(&t);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], "app");
    assert!(c["exp"].as_i64().unwrap() > START && c["iat"].as_i64().unwrap() <= START);
    assert!(c["auth_time"].is_i64() && c["sub"].is_string() && c["at_hash"].is_string());
}

#[test]
fn oidcc_response_type_missing() {
    let world = World::new();
    let rp = request_with(&[("response_type", "")]);
    let res = Browser::default().get(&world, &format!("/authorize?{}", rp.query));
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("invalid_request"));
}

#[test]
fn oidcc_userinfo_get() {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[]);
    let (status, info) = userinfo(
        &world,
        http::Request::get(format!("{ISSUER}/userinfo")).header("authorization", format!("Bearer {}", at(&t))),
        vec![],
    );
    assert_eq!(status, 200);
    assert_eq!(info["sub"], id_claims(&t)["sub"]);
}

#[test]
fn oidcc_userinfo_post_header() {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[]);
    let (status, info) = userinfo(
        &world,
        http::Request::post(format!("{ISSUER}/userinfo")).header("authorization", format!("Bearer {}", at(&t))),
        vec![],
    );
    assert_eq!(status, 200);
    assert_eq!(info["sub"], id_claims(&t)["sub"]);
}

#[test]
fn oidcc_userinfo_post_body() {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[]);
    let req =
        http::Request::post(format!("{ISSUER}/userinfo")).header("content-type", "application/x-www-form-urlencoded");
    let (status, info) = userinfo(&world, req, format!("access_token={}", at(&t)).into_bytes());
    assert_eq!(status, 200);
    assert_eq!(info["sub"], id_claims(&t)["sub"]);
}

#[test]
fn oidcc_userinfo_invalid_token_is_401_with_bearer_challenge() {
    let world = World::new();
    let res = world.send(
        http::Request::get(format!("{ISSUER}/userinfo")).header("authorization", "Bearer nope").body(vec![]).unwrap(),
    );
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
}

#[test]
fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow() {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[("nonce", "")]);
    assert!(id_claims(&t).get("nonce").is_none());
}

fn scope_claims(scope: &str) -> Value {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[("scope", scope)]);
    let (_, info) = userinfo(
        &world,
        http::Request::get(format!("{ISSUER}/userinfo")).header("authorization", format!("Bearer {}", at(&t))),
        vec![],
    );
    info
}

#[test]
fn oidcc_scope_profile() {
    let info = scope_claims("openid profile");
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["given_name"], "Given");
    assert!(info.get("email").is_none());
}

#[test]
fn oidcc_scope_email() {
    let info = scope_claims("openid email");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);
    assert!(info.get("given_name").is_none());
}

#[test]
fn oidcc_scope_address() {
    let info = scope_claims("openid address");
    assert_eq!(info["address"]["country"], "NL");
    assert!(info.get("email").is_none());
}

#[test]
fn oidcc_scope_phone() {
    let info = scope_claims("openid phone");
    assert_eq!(info["phone_number"], "+1 555 0100");
    assert_eq!(info["phone_number_verified"], true);
}

#[test]
fn oidcc_scope_all() {
    let info = scope_claims("openid profile email address phone");
    for claim in ["preferred_username", "email", "address", "phone_number"] {
        assert!(info.get(claim).is_some(), "{claim} in {info}");
    }
}

#[test]
fn oidcc_ensure_other_scope_order_succeeds() {
    let info = scope_claims("email openid");
    assert_eq!(info["email"], "alice@example.com");
}

#[test]
fn oidcc_display_page() {
    flow(&World::new(), &mut Browser::default(), &[("display", "page")]);
}

#[test]
fn oidcc_display_popup() {
    flow(&World::new(), &mut Browser::default(), &[("display", "popup")]);
}

#[test]
fn oidcc_prompt_login() {
    let world = World::new();
    let mut browser = Browser::default();
    let first = flow(&world, &mut browser, &[]);
    world.clock.advance(5);
    let (code, _, res) = authorize_in(&world, &mut browser, &[("prompt", "login")]);
    assert!(code.is_none(), "prompt=login must show the login page");
    assert!(body(&res).contains("Sign in with Upstream"));
    let rp = request_with(&[("prompt", "login")]);
    let at_idp = start_login(&world, &mut browser, &rp.query);
    assert_eq!(query_param(&at_idp, "prompt").as_deref(), Some("login"), "forced upstream too: {at_idp}");
    let second = flow(&world, &mut browser, &[("prompt", "login")]);
    assert!(id_claims(&second)["auth_time"].as_i64() > id_claims(&first)["auth_time"].as_i64(), "a new authentication");
}

#[test]
fn oidcc_prompt_none_not_logged_in() {
    let world = World::new();
    let (_, rp, res) = authorize_in(&world, &mut Browser::default(), &[("prompt", "none")]);
    let loc = location(&res);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(query_param(&loc, "state"), Some(rp.state));
}

#[test]
fn oidcc_prompt_none_logged_in() {
    let world = World::new();
    let mut browser = Browser::default();
    let first = flow(&world, &mut browser, &[]);
    let (code, rp, _) = authorize_in(&world, &mut browser, &[("prompt", "none")]);
    let t = json(&redeem(&world, &code.expect("a code without interaction"), &rp.verifier));
    assert_eq!(id_claims(&t)["sub"], id_claims(&first)["sub"]);
}

#[test]
fn oidcc_max_age_1() {
    let world = World::new();
    let mut browser = Browser::default();
    let first = flow(&world, &mut browser, &[]);
    world.clock.advance(2);
    let (code, _, _) = authorize_in(&world, &mut browser, &[("max_age", "1")]);
    assert!(code.is_none(), "the session is older than max_age: log in again");
    let second = flow(&world, &mut browser, &[("max_age", "1")]);
    let (a1, a2) =
        (id_claims(&first)["auth_time"].as_i64().unwrap(), id_claims(&second)["auth_time"].as_i64().unwrap());
    assert!(a2 > a1);
}

#[test]
fn oidcc_max_age_10000() {
    let world = World::new();
    let mut browser = Browser::default();
    let first = flow(&world, &mut browser, &[]);
    world.clock.advance(2);
    let (code, rp, _) = authorize_in(&world, &mut browser, &[("max_age", "10000")]);
    let t = json(&redeem(&world, &code.expect("SSO within max_age"), &rp.verifier));
    assert_eq!(id_claims(&t)["auth_time"], id_claims(&first)["auth_time"]);
}

#[test]
fn oidcc_id_token_hint() {
    let world = World::new();
    let mut browser = Browser::default();
    let first = flow(&world, &mut browser, &[]);
    let hint = first["id_token"].as_str().unwrap();
    world.clock.advance(3600); // an expired hint is still a valid hint
    let checks = world.rsa.verifications.get();
    let (code, _, res) = authorize_in(&world, &mut browser, &[("prompt", "none"), ("id_token_hint", hint)]);
    // The session expired with the clock too (8 h lifetime not reached: still signed in).
    assert!(code.is_some(), "{}", location(&res));
    // Its RS256 signature is checked by the platform's crypto, as in the Worker without SAML,
    // which has no RSA code of its own.
    assert_eq!(world.rsa.verifications.get(), checks + 1);
    let (_, _, res) = authorize_in(&world, &mut browser, &[("id_token_hint", "not-a-token")]);
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("invalid_request"));
}

#[test]
fn oidcc_login_hint() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = request_with(&[("login_hint", "alice@example.com")]);
    let at_idp = start_login(&world, &mut browser, &rp.query);
    assert_eq!(query_param(&at_idp, "login_hint").as_deref(), Some("alice@example.com"), "forwarded upstream");
}

#[test]
fn oidcc_ui_locales() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = request_with(&[("ui_locales", "fr-CA fr en")]);
    let at_idp = start_login(&world, &mut browser, &rp.query);
    assert_eq!(query_param(&at_idp, "ui_locales").as_deref(), Some("fr-CA fr en"));
    flow(&world, &mut Browser::default(), &[("ui_locales", "fr-CA fr en")]);
}

#[test]
fn oidcc_claims_locales() {
    flow(&World::new(), &mut Browser::default(), &[("claims_locales", "fr-CA fr en")]);
}

#[test]
fn oidcc_ensure_request_with_unknown_parameter_succeeds() {
    flow(&World::new(), &mut Browser::default(), &[("extra_parameter", "ignored")]);
}

#[test]
fn oidcc_ensure_post_request_succeeds() {
    let world = World::new();
    let rp = request_with(&[]);
    let req = http::Request::post(format!("{ISSUER}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(rp.query.into_bytes())
        .unwrap();
    let res = world.send(req);
    assert_eq!(res.status(), 200);
    assert!(body(&res).contains("/broker/up/login"));
}

#[test]
fn oidcc_codereuse_30seconds() {
    let world = World::new();
    let rp = request_with(&[]);
    let code = query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    let t = json(&redeem(&world, &code, &rp.verifier));
    world.clock.advance(30);
    assert_eq!(json(&redeem(&world, &code, &rp.verifier))["error"], "invalid_grant");
    assert_eq!(userinfo_status(&world, &at(&t)), 401, "tokens from the code are revoked");
}

#[test]
fn oidcc_discovery_endpoint_verification() {
    let world = World::new();
    let res = Browser::default().get(&world, "/.well-known/openid-configuration");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let d = json(&res);
    assert_eq!(d["issuer"], ISSUER, "byte for byte");
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        assert!(d[endpoint].as_str().unwrap().starts_with(ISSUER), "{endpoint}");
    }
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert!(d["subject_types_supported"].as_array().unwrap().contains(&Value::from("public")));
    assert!(d["id_token_signing_alg_values_supported"].as_array().unwrap().contains(&Value::from("RS256")));
    assert_eq!(d["request_uri_parameter_supported"], false, "defaults to true when absent, so it must be stated");
    let jwks = json(&Browser::default().get(&world, "/jwks"));
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
}

#[test]
fn oidcc_claims_essential() {
    let world = World::new();
    let claims = r#"{"userinfo":{"name":{"essential":true}},"id_token":{"email":null}}"#;
    let t = flow(&world, &mut Browser::default(), &[("scope", "openid"), ("claims", claims)]);
    assert_eq!(id_claims(&t)["email"], "alice@example.com", "id_token member honoured");
    let (_, info) = userinfo(
        &world,
        http::Request::get(format!("{ISSUER}/userinfo")).header("authorization", format!("Bearer {}", at(&t))),
        vec![],
    );
    assert!(info["name"].is_string(), "{info}");
    assert!(info.get("email").is_none());
    let (_, _, res) = authorize_in(&world, &mut Browser::default(), &[("claims", "not json")]);
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("invalid_request"));
}

#[test]
fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported() {
    let world = World::new();
    let object = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJhcHAifQ.";
    let (_, _, res) = authorize_in(&world, &mut Browser::default(), &[("request", object)]);
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("request_not_supported"));
}

#[test]
fn response_mode_form_post_posts_code_state_and_iss() {
    let world = World::new();
    let rp = request_with(&[("response_mode", "form_post")]);
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 200);
    let html = body(&res);
    assert!(html.contains(&format!("action=\"{APP_REDIRECT}\"")), "{html}");
    assert!(html.contains("name=\"code\"") && html.contains(&format!("value=\"{}\"", rp.state)));
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action https://app.test") && csp.contains("script-src 'sha256-"), "{csp}");
}

#[test]
fn cors_preflight_only_on_browser_endpoints() {
    let world = World::new();
    let options = |path: &str| world.send(http::Request::options(format!("{ISSUER}{path}")).body(vec![]).unwrap());
    let res = options("/token");
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(res.headers()["access-control-allow-headers"].to_str().unwrap().contains("Authorization"));
    // A single-page app revokes its tokens at sign-out (oidc-client-ts `revokeTokensOnSignout`).
    let res = options("/revoke");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let revoked = world.post_form("/revoke", &[("token", "x"), ("client_id", "spa")], None);
    assert_eq!(revoked.status(), 200, "{}", body(&revoked));
    assert_eq!(revoked.headers()["access-control-allow-origin"], "*");
    assert!(options("/introspect").headers().get("access-control-allow-origin").is_none(), "server to server");
    let page = Browser::default().get(&world, "/account");
    assert!(page.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn allowed_identity_providers_per_client_are_enforced() {
    let text = crate::common::config_text().replace(
        "post_logout_redirect_uris = [\"https://app.test/bye\"]",
        "post_logout_redirect_uris = [\"https://app.test/bye\"]\nallowed_identity_providers = []",
    );
    let app = keyedge::core::Keyedge::from_config_text(&text, &crate::common::secrets).unwrap();
    let mut world = World::new();
    world.app = app;
    let rp = request_with(&[]);
    let page = body(&Browser::default().get(&world, &format!("/authorize?{}", rp.query)));
    assert!(!page.contains("/broker/up/login"), "no IdP offered");
    let res = Browser::default().get(&world, &format!("/broker/up/login?{}", rp.query));
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("access_denied"));
}

/// The test world with an ES256 key configured and `client_option` added to the `app` client.
fn world_with_es256_key(client_option: &str) -> World {
    let text = crate::common::config_text()
        .replace(
            "issuer = \"https://keyedge.test\"",
            "issuer = \"https://keyedge.test\"\nes256_signing_key_env = \"ES\"",
        )
        .replace(
            "post_logout_redirect_uris = [\"https://app.test/bye\"]",
            &format!("post_logout_redirect_uris = [\"https://app.test/bye\"]\n{client_option}"),
        );
    let secrets = |n: &str| {
        if n == "ES" {
            Some(include_str!("../fixtures/es256-test-key.pem").to_owned())
        } else {
            crate::common::secrets(n)
        }
    };
    let mut world = World::new();
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
    world
}

#[test]
fn es256_client_gets_es256_tokens() {
    let world = world_with_es256_key("id_token_signed_response_alg = \"ES256\"");
    let t = flow(&world, &mut Browser::default(), &[]);
    let header = jwt_compact::UntrustedToken::new(t["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.algorithm(), "ES256");
    assert_eq!(userinfo_status(&world, &at(&t)), 200);
}

/// Keycloak's per-client "Access token signature algorithm": RS256 ID tokens for the client,
/// ES256 access tokens for resource servers (one RSA signature per token response).
#[test]
fn access_token_signed_response_alg_signs_only_the_access_token() {
    let world = world_with_es256_key("access_token_signed_response_alg = \"ES256\"");
    let t = flow(&world, &mut Browser::default(), &[("scope", "openid email offline_access")]);
    let algs = |t: &Value| {
        let alg = |jwt: &str| jwt_compact::UntrustedToken::new(jwt).unwrap().algorithm().to_owned();
        (alg(t["id_token"].as_str().unwrap()), alg(t["access_token"].as_str().unwrap()))
    };
    assert_eq!(algs(&t), ("RS256".to_owned(), "ES256".to_owned()));
    // OIDC Core §3.1.3.6: at_hash uses the hash of the ID token's algorithm.
    assert_eq!(id_claims(&t)["at_hash"], keyedge::core::jose::half_hash(&at(&t)));
    assert_eq!(userinfo_status(&world, &at(&t)), 200);
    let refreshed = json(&crate::common::refresh(&world, t["refresh_token"].as_str().unwrap()));
    assert_eq!(algs(&refreshed), ("RS256".to_owned(), "ES256".to_owned()));
    assert_eq!(userinfo_status(&world, &at(&refreshed)), 200);
    // Both verify against the published keys.
    let jwks = keyedge::core::jose::Jwks::parse(&body(&Browser::default().get(&world, "/jwks"))).unwrap();
    for jwt in [&refreshed["id_token"], &refreshed["access_token"]] {
        keyedge::core::jose::verify_signed::<Value>(jwt.as_str().unwrap(), &jwks, START, 0).unwrap();
    }
}

#[test]
fn scopes_outside_the_clients_allowed_scopes_are_not_granted() {
    let text = crate::common::config_text().replace(
        "post_logout_redirect_uris = [\"https://app.test/bye\"]",
        "post_logout_redirect_uris = [\"https://app.test/bye\"]\nallowed_scopes = [\"email\"]",
    );
    let mut world = World::new();
    world.app = keyedge::core::Keyedge::from_config_text(&text, &crate::common::secrets).unwrap();
    let t = flow(&world, &mut Browser::default(), &[("scope", "openid phone email email")]);
    assert_eq!(t["scope"], "openid email");
    assert!(id_claims(&t).get("phone_number").is_none());
}

#[test]
fn oidcc_server_client_secret_post_code_flow() {
    let world = World::new();
    let rp = request_with(&[]);
    let code = query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    let res = world.post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_REDIRECT),
            ("code_verifier", &rp.verifier),
            ("client_id", "app"),
            ("client_secret", APP_SECRET),
        ],
        None,
    );
    assert_eq!(res.status(), 200, "{}", body(&res));
}

#[test]
fn oidcc_idtoken_signature_verifies_against_published_jwks() {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[]);
    let jwks = keyedge::core::jose::Jwks::parse(&body(&Browser::default().get(&world, "/jwks"))).unwrap();
    let claims: Value = keyedge::core::jose::verify_signed(t["id_token"].as_str().unwrap(), &jwks, START, 0).unwrap();
    assert_eq!(claims["aud"], "app");
    // One flipped bit in the signature and it no longer verifies.
    let token = t["id_token"].as_str().unwrap();
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() - 5;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(keyedge::core::jose::verify_signed::<Value>(&tampered, &jwks, START, 0).is_err());
}

#[test]
fn identity_provider_claim_names_the_upstream_idp_when_the_client_asks() {
    let world = World::new();
    let t = flow(&world, &mut Browser::default(), &[]);
    assert!(id_claims(&t).get("identity_provider").is_none(), "off by default");

    let text = crate::common::config_text().replace(
        "post_logout_redirect_uris = [\"https://app.test/bye\"]",
        "post_logout_redirect_uris = [\"https://app.test/bye\"]\nidentity_provider_claim = true",
    );
    let mut world = World::new();
    world.app = keyedge::core::Keyedge::from_config_text(&text, &crate::common::secrets).unwrap();
    let t = flow(&world, &mut Browser::default(), &[]);
    assert_eq!(id_claims(&t)["identity_provider"], "up");
    assert_eq!(payload(t["access_token"].as_str().unwrap())["identity_provider"], "up");
    // It survives a refresh.
    let renewed = json(&refresh(&world, t["refresh_token"].as_str().unwrap()));
    assert_eq!(id_claims(&renewed)["identity_provider"], "up");
}
