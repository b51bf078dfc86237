//! Attacks on keyedge's tokens (issue 14, items 12, 13, 7 and 11), each performed through the
//! real routes: a leaked code spent by someone else, another client's token introspected,
//! claims asked for beyond a client's scopes, and refresh tokens that outlive their session.

use crate::common::*;
use serde_json::Value;

const SPA_REDIRECT: &str = "https://spa.test/cb";

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).to_owned()
}

/// A login of alice at the public client `spa`: its code and its request (the verifier).
fn spa_code(world: &World) -> (String, RpRequest) {
    let rp = rp_request("spa", SPA_REDIRECT);
    let res = login(world, &mut Browser::default(), &rp.query, "alice");
    let code = query_param(&location(&res), "code").unwrap_or_else(|| panic!("no code: {}", body(&res)));
    (code, rp)
}

/// `/token` for the public client `spa` (no client secret: anyone can claim to be it).
fn spa_redeem(world: &World, code: &str, redirect_uri: &str, verifier: &str) -> http::Response<Vec<u8>> {
    world.post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ],
        None,
    )
}

const WRONG_VERIFIER: &str = "attacker-verifier-0123456789012345678901234567890123456789";

// Item 12: a leaked code must not be burnt (nor its grant revoked) by anyone but the client
// it was issued to, at its redirect_uri, with its PKCE verifier.

#[test]
fn leaked_code_presented_by_another_client_is_not_burnt() {
    let world = World::new();
    let (code, rp) = spa_code(&world);
    // The attacker is the confidential client `app`: authenticated, but not the code's client.
    let stolen = world.post_form(
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", &rp.verifier),
        ],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(json(&stolen)["error"], "invalid_grant");
    let victim = spa_redeem(&world, &code, SPA_REDIRECT, &rp.verifier);
    assert_eq!(victim.status(), 200, "the victim redeems its code: {}", body(&victim));
}

#[test]
fn leaked_code_with_a_wrong_verifier_is_not_burnt() {
    let world = World::new();
    let (code, rp) = spa_code(&world);
    for verifier in [WRONG_VERIFIER, ""] {
        let stolen = spa_redeem(&world, &code, SPA_REDIRECT, verifier);
        assert_eq!(json(&stolen)["error"], "invalid_grant", "{verifier:?}");
    }
    let victim = spa_redeem(&world, &code, SPA_REDIRECT, &rp.verifier);
    assert_eq!(victim.status(), 200, "the victim redeems its code: {}", body(&victim));
}

#[test]
fn leaked_code_with_a_wrong_redirect_uri_is_not_burnt() {
    let world = World::new();
    let (code, rp) = spa_code(&world);
    let stolen = spa_redeem(&world, &code, "https://evil.test/cb", &rp.verifier);
    assert_eq!(json(&stolen)["error"], "invalid_grant");
    let victim = spa_redeem(&world, &code, SPA_REDIRECT, &rp.verifier);
    assert_eq!(victim.status(), 200, "the victim redeems its code: {}", body(&victim));
}

#[test]
fn a_spent_code_replayed_by_someone_else_does_not_revoke_the_victims_grant() {
    let world = World::new();
    let (code, rp) = spa_code(&world);
    let tokens = json(&spa_redeem(&world, &code, SPA_REDIRECT, &rp.verifier));
    let access = s(&tokens, "access_token");
    // The code leaks after use (a log, a Referer): other clients and wrong verifiers replay it.
    let by_app = world.post_form(
        "/token",
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", SPA_REDIRECT)],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(json(&by_app)["error"], "invalid_grant");
    assert_eq!(json(&spa_redeem(&world, &code, SPA_REDIRECT, WRONG_VERIFIER))["error"], "invalid_grant");
    assert_eq!(json(&spa_redeem(&world, &code, "https://evil.test/cb", &rp.verifier))["error"], "invalid_grant");
    assert_eq!(userinfo_status(&world, &access), 200, "the victim's tokens still work");
    if let Some(rt) = tokens["refresh_token"].as_str() {
        let res = world.post_form(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", "spa")],
            None,
        );
        assert_eq!(res.status(), 200, "the victim's refresh token still works: {}", body(&res));
    }
    // The client itself replaying its code is still RFC 6749 §4.1.2 reuse: all is revoked.
    assert_eq!(json(&spa_redeem(&world, &code, SPA_REDIRECT, &rp.verifier))["error"], "invalid_grant");
    assert_eq!(userinfo_status(&world, &access), 401);
}

// Item 13: introspection tells a client about its own tokens only, unless the client is a
// resource server (`resource_server = true`), whose job is to check tokens of every client.

const RESOURCE_SERVER: &str = r#"
[[clients]]
client_id = "api"
client_secret_env = "IDP2_SECRET"
grant_types = []
resource_server = true
"#;

fn introspect(world: &World, token: &str, client: (&str, &str)) -> Value {
    json(&world.post_form("/introspect", &[("token", token)], Some(client)))
}

#[test]
fn introspection_of_another_clients_tokens_says_only_inactive() {
    let world = World::new();
    let alice = tokens_for_alice(&world, "openid email");
    // `machine` is a confidential client with nothing to do with alice's login at `app`.
    for token in [s(&alice, "access_token"), s(&alice, "refresh_token")] {
        let answer = introspect(&world, &token, ("machine", MACHINE_SECRET));
        assert_eq!(answer, serde_json::json!({ "active": false }), "nothing about alice leaks");
        assert_eq!(introspect(&world, &token, ("app", APP_SECRET))["active"], true, "its own client still sees it");
    }
    let machine = json(&world.post_form(
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "reports")],
        Some(("machine", MACHINE_SECRET)),
    ));
    let answer = introspect(&world, &s(&machine, "access_token"), ("app", APP_SECRET));
    assert_eq!(answer, serde_json::json!({ "active": false }));
}

#[test]
fn a_resource_server_client_introspects_every_clients_tokens() {
    let world = World::with("", "", RESOURCE_SERVER);
    let alice = tokens_for_alice(&world, "openid email");
    let api = ("api", IDP2_SECRET);
    let at = introspect(&world, &s(&alice, "access_token"), api);
    assert_eq!(at["active"], true, "{at}");
    assert_eq!(at["client_id"], "app");
    assert_eq!(introspect(&world, &s(&alice, "refresh_token"), api)["active"], true);
    // Being a resource server gives no say over other clients' grants.
    world.post_form("/revoke", &[("token", &s(&alice, "access_token"))], Some(api));
    assert_eq!(userinfo_status(&world, &s(&alice, "access_token")), 200);
}

// Item 7: the `claims` parameter cannot fetch what a client's `allowed_scopes` keep from it.

#[test]
fn claims_parameter_does_not_bypass_a_clients_allowed_scopes() {
    let world = World::with("", "allowed_scopes = [\"openid\", \"profile\"]", "");
    let wanted = ["email", "email_verified", "phone_number", "phone_number_verified", "address"];
    let members: serde_json::Map<String, Value> = wanted.iter().map(|n| (n.to_string(), Value::Null)).collect();
    let claims = serde_json::json!({ "id_token": members, "userinfo": members }).to_string();
    let rp = request_with(&[("scope", "openid profile email phone address"), ("claims", &claims)]);
    let code = query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    let tokens = json(&redeem(&world, &code, &rp.verifier));
    assert_eq!(tokens["scope"], "openid profile", "{tokens}");
    let id = id_claims(&tokens);
    let req = http::Request::get(format!("{ISSUER}/userinfo"))
        .header("authorization", format!("Bearer {}", s(&tokens, "access_token")))
        .body(vec![])
        .unwrap();
    let info = json(&world.send(req));
    assert_eq!(info["preferred_username"], "alice", "profile claims are allowed: {info}");
    for name in wanted {
        assert!(id.get(name).is_none(), "{name} in the ID token: {id}");
        assert!(info.get(name).is_none(), "{name} from userinfo: {info}");
    }
    // Asked for by name, a claim of an allowed scope still comes (OIDC Core §5.5).
    let rp = request_with(&[("scope", "openid"), ("claims", r#"{"id_token":{"given_name":null}}"#)]);
    let code = query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    assert_eq!(id_claims(&json(&redeem(&world, &code, &rp.verifier)))["given_name"], "Given");
}

// Item 11: an online refresh token ends with its session — logout, or the session's expiry —
// and only `offline_access` outlives it, for clients that allow that scope.

const SESSION: i64 = 28800;

/// A refresh token of alice at `app` for `scope`, from the browser's session (signing in
/// first if it has none); the token response.
fn tokens_in(world: &World, browser: &mut Browser, scope: &str) -> Value {
    let rp = request_with(&[("scope", scope)]);
    let res = browser.get(world, &format!("/authorize?{}", rp.query));
    let code = match query_param(&location(&res), "code") {
        Some(code) => code,
        None => query_param(&location(&login(world, browser, &rp.query, "alice")), "code").unwrap(),
    };
    json(&redeem(world, &code, &rp.verifier))
}

/// Signs out through the confirmation form (with its CSRF token) and checks it took effect.
fn sign_out(world: &World, browser: &mut Browser) {
    browser.get(world, "/logout");
    assert_eq!(browser.post(world, "/logout").status(), 200);
    assert_eq!(browser.clone().get(world, "/account").status(), 302, "signed out");
}

#[test]
fn online_refresh_token_issued_late_in_a_session_ends_when_the_session_expires() {
    let world = World::new();
    let mut browser = Browser::default();
    tokens_in(&world, &mut browser, "openid");
    // Single sign-on near the end of the session: a new code, a new online refresh token.
    world.clock.advance(SESSION - 600);
    let rt = s(&tokens_in(&world, &mut browser, "openid"), "refresh_token");
    world.clock.advance(601);
    assert_eq!(browser.get(&world, "/account").status(), 302, "the session is over");
    assert_eq!(json(&refresh(&world, &rt))["error"], "invalid_grant", "and so is its online refresh token");
}

#[test]
fn online_refresh_token_with_a_long_lifetime_does_not_come_back_after_logout() {
    let world = World::with("", "refresh_token_lifetime = 2592000", "");
    let mut browser = Browser::default();
    let rt = s(&tokens_in(&world, &mut browser, "openid"), "refresh_token");
    sign_out(&world, &mut browser);
    // Long after the session would have ended by itself (and its logout marker with it), the
    // token is still dead. (Presented once only: a second try would be refused as reuse.)
    world.clock.advance(SESSION + 3600);
    assert_eq!(json(&refresh(&world, &rt))["error"], "invalid_grant");
}

#[test]
fn offline_access_is_not_granted_to_a_client_that_does_not_allow_it() {
    let world = World::new();
    let mut browser = Browser::default();
    let tokens = tokens_in(&world, &mut browser, "openid offline_access");
    assert_eq!(tokens["scope"], "openid", "{tokens}");
    let rt = s(&tokens, "refresh_token");
    sign_out(&world, &mut browser);
    assert_eq!(json(&refresh(&world, &rt))["error"], "invalid_grant", "an online token: it ended with the session");
}

#[test]
fn offline_access_outlives_the_session_where_the_client_allows_it() {
    let world = World::with("", "allowed_scopes = [\"openid\", \"profile\", \"offline_access\"]", "");
    let mut browser = Browser::default();
    let tokens = tokens_in(&world, &mut browser, "openid offline_access");
    assert_eq!(tokens["scope"], "openid offline_access");
    let rt = s(&tokens, "refresh_token");
    sign_out(&world, &mut browser);
    world.clock.advance(SESSION + 3600);
    let res = refresh(&world, &rt);
    assert_eq!(res.status(), 200, "{}", body(&res));
}
