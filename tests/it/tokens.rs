//! Refresh tokens (RFC 6749 §6, RFC 9700 §4.14.2), client credentials (§4.4), introspection
//! (RFC 7662) and revocation (RFC 7009).

use crate::common::*;

fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).to_owned()
}

#[test]
fn oidcc_refresh_token_rotates_and_keeps_the_subject() {
    let world = World::new();
    let first = tokens_for_alice(&world, "openid email profile");
    let rt1 = s(&first, "refresh_token");
    let res = refresh(&world, &rt1);
    assert_eq!(res.status(), 200, "{}", body(&res));
    let second = json(&res);
    let rt2 = s(&second, "refresh_token");
    assert_ne!(rt1, rt2, "rotated");
    assert_eq!(userinfo_status(&world, &s(&second, "access_token")), 200);
    assert!(second["id_token"].is_string());
    let third = refresh(&world, &rt2);
    assert_eq!(third.status(), 200);
}

#[test]
fn rfc9700_refresh_token_reuse_revokes_the_family() {
    let world = World::new();
    let first = tokens_for_alice(&world, "openid");
    let rt1 = s(&first, "refresh_token");
    let second = json(&refresh(&world, &rt1));
    let rt2 = s(&second, "refresh_token");
    // The old token comes back after the grace window for concurrent refreshes (see
    // refresh_policy.rs): theft. Everything of the grant dies.
    world.clock.advance(world.app.config.refresh_token_grace_seconds as i64);
    let reuse = refresh(&world, &rt1);
    assert_eq!(json(&reuse)["error"], "invalid_grant");
    assert_eq!(json(&refresh(&world, &rt2))["error"], "invalid_grant", "the current token is revoked too");
    assert_eq!(userinfo_status(&world, &s(&second, "access_token")), 401);
    assert_eq!(userinfo_status(&world, &s(&first, "access_token")), 401);
}

#[test]
fn a_guessed_refresh_secret_does_not_revoke_the_real_one() {
    let world = World::new();
    let rt = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    let gid = rt.split('.').next().unwrap();
    assert_eq!(json(&refresh(&world, &format!("{gid}.guess")))["error"], "invalid_grant");
    assert_eq!(refresh(&world, &rt).status(), 200);
}

/// RFC 9700 §4.14.2 reuse detection remembers the last `ROTATED_OUT_KEPT` secrets: a token
/// within them revokes the family, an older one is only refused (the live chain goes on).
#[test]
fn reuse_detection_remembers_the_last_rotated_out_secrets() {
    let world = World::new();
    let first = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    let mut chain = vec![first];
    for _ in 0..=keyedge::core::ports::ROTATED_OUT_KEPT {
        let next = s(&json(&refresh(&world, chain.last().unwrap())), "refresh_token");
        chain.push(next);
    }
    let live = chain.last().unwrap().clone();
    // The first secret has dropped out of the window: refused, nothing revoked.
    assert_eq!(json(&refresh(&world, &chain[0]))["error"], "invalid_grant");
    let live = s(&json(&refresh(&world, &live)), "refresh_token");
    // The second is still remembered: reuse, and the whole family is revoked.
    assert_eq!(json(&refresh(&world, &chain[2]))["error"], "invalid_grant");
    assert_eq!(json(&refresh(&world, &live))["error"], "invalid_grant");
}

#[test]
fn refresh_token_of_another_client_is_refused() {
    let world = World::new();
    let rt = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    let res = world.post_form(
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("client_id", "spa")],
        None,
    );
    assert_eq!(json(&res)["error"], "invalid_grant");
}

#[test]
fn refresh_may_narrow_but_not_widen_scope() {
    let world = World::new();
    let rt = s(&tokens_for_alice(&world, "openid email"), "refresh_token");
    let wide = world.post_form(
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("scope", "openid email profile")],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(json(&wide)["error"], "invalid_scope");
    // The refused request burnt nothing: the token is still current.
    let narrow = world.post_form(
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt), ("scope", "openid")],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(narrow.status(), 200, "{}", body(&narrow));
    assert_eq!(json(&narrow)["scope"], "openid");
}

#[test]
fn online_refresh_token_ends_with_the_session_and_offline_survives_it() {
    // offline_access is granted only to clients that list it.
    let world = World::with("", "allowed_scopes = [\"openid\", \"email\", \"profile\", \"offline_access\"]", "");
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(&world, &mut browser, &rp.query, "alice")), "code").unwrap();
    let online = s(&json(&redeem(&world, &code, &rp.verifier)), "refresh_token");
    let rp2 = rp_request("app", APP_REDIRECT);
    let q2 = rp2.query.replace("scope=openid+email+profile", "scope=openid+offline_access");
    let again = browser.get(&world, &format!("/authorize?{q2}"));
    let code2 = query_param(&location(&again), "code").expect("SSO issues a code");
    let offline = s(&json(&redeem(&world, &code2, &rp2.verifier)), "refresh_token");
    browser.get(&world, "/logout");
    assert_eq!(browser.post(&world, "/logout").status(), 200);
    assert_eq!(json(&refresh(&world, &online))["error"], "invalid_grant");
    assert_eq!(refresh(&world, &offline).status(), 200);
}

#[test]
fn refresh_token_expires() {
    let world = World::new();
    let rt = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    world.clock.advance(8 * 3600 + 1);
    assert_eq!(json(&refresh(&world, &rt))["error"], "invalid_grant");
}

#[test]
fn client_credentials_issues_an_access_token_without_id_or_refresh_token() {
    let world = World::new();
    let res = world.post_form(
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "reports")],
        Some(("machine", MACHINE_SECRET)),
    );
    assert_eq!(res.status(), 200, "{}", body(&res));
    let t = json(&res);
    assert!(t["id_token"].is_null() && t["refresh_token"].is_null());
    let intro = world.post_form("/introspect", &[("token", &s(&t, "access_token"))], Some(("machine", MACHINE_SECRET)));
    let intro = json(&intro);
    assert_eq!(intro["active"], true);
    assert_eq!(intro["sub"], "machine");
    assert_eq!(intro["scope"], "reports");
}

#[test]
fn grant_types_are_enforced_per_client() {
    let world = World::new();
    let res = world.post_form("/token", &[("grant_type", "client_credentials")], Some(("app", APP_SECRET)));
    assert_eq!(json(&res)["error"], "unauthorized_client");
    let res = world.post_form("/token", &[("grant_type", "password")], Some(("app", APP_SECRET)));
    assert_eq!(json(&res)["error"], "unsupported_grant_type");
    let res = world.post_form("/token", &[], Some(("app", APP_SECRET)));
    assert_eq!(json(&res)["error"], "invalid_request");
}

#[test]
fn oidcc_server_client_secret_post() {
    let world = World::new();
    let res = world.post_form(
        "/token",
        &[("grant_type", "client_credentials"), ("client_id", "machine"), ("client_secret", MACHINE_SECRET)],
        None,
    );
    assert_eq!(res.status(), 200);
    // Two methods at once is refused (RFC 6749 §2.3).
    let res = world.post_form(
        "/token",
        &[("grant_type", "client_credentials"), ("client_secret", MACHINE_SECRET)],
        Some(("machine", MACHINE_SECRET)),
    );
    assert_eq!(json(&res)["error"], "invalid_request");
}

#[test]
fn rfc7662_introspection_reports_active_and_inactive_tokens() {
    let world = World::new();
    let t = tokens_for_alice(&world, "openid email");
    let ask = |token: &str| json(&world.post_form("/introspect", &[("token", token)], Some(("app", APP_SECRET))));
    let at = ask(&s(&t, "access_token"));
    assert_eq!(at["active"], true);
    assert_eq!(at["client_id"], "app");
    assert_eq!(at["scope"], "openid email");
    assert!(at["exp"].as_i64().unwrap() > START);
    assert_eq!(ask(&s(&t, "refresh_token"))["active"], true);
    assert_eq!(ask("garbage")["active"], false);
    world.clock.advance(301);
    assert_eq!(ask(&s(&t, "access_token"))["active"], false, "expired");
    // Public clients cannot introspect; wrong credentials are invalid_client.
    let res = world.post_form("/introspect", &[("token", "x"), ("client_id", "spa")], None);
    assert_eq!(res.status(), 401);
}

#[test]
fn rfc7009_revoking_a_refresh_token_revokes_its_grant() {
    let world = World::new();
    let t = tokens_for_alice(&world, "openid");
    let res = world.post_form(
        "/revoke",
        &[("token", &s(&t, "refresh_token")), ("token_type_hint", "refresh_token")],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(res.status(), 200);
    assert_eq!(json(&refresh(&world, &s(&t, "refresh_token")))["error"], "invalid_grant");
    assert_eq!(userinfo_status(&world, &s(&t, "access_token")), 401);
    // Unknown tokens get the same answer.
    assert_eq!(world.post_form("/revoke", &[("token", "nope")], Some(("app", APP_SECRET))).status(), 200);
}

#[test]
fn rfc7009_revoking_an_access_token_of_another_client_does_nothing() {
    let world = World::new();
    let t = tokens_for_alice(&world, "openid");
    world.post_form("/revoke", &[("token", &s(&t, "access_token"))], Some(("machine", MACHINE_SECRET)));
    assert_eq!(userinfo_status(&world, &s(&t, "access_token")), 200);
    world.post_form("/revoke", &[("token", &s(&t, "access_token"))], Some(("app", APP_SECRET)));
    assert_eq!(userinfo_status(&world, &s(&t, "access_token")), 401);
}

#[test]
fn client_credentials_scope_must_be_allowed() {
    let world = World::new();
    let res = world.post_form(
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "admin")],
        Some(("machine", MACHINE_SECRET)),
    );
    assert_eq!(json(&res)["error"], "invalid_scope");
}

/// RFC 6749 §2.3.1 has both parts of `Authorization: Basic` form-urlencoded; oidc-client-ts
/// (and others) send them as they are. Either spelling of a secret with `+`, `%`, a space, `&`
/// or `:` authenticates; a wrong secret in either spelling does not.
#[test]
fn rfc6749_2_3_1_basic_credentials_form_encoded_or_as_sent() {
    let world = World::with(
        "",
        "",
        "[[clients]]\nclient_id = \"odd\"\nclient_secret_env = \"ODD_SECRET\"\ngrant_types = [\"client_credentials\"]\n",
    );
    let grant = [("grant_type", "client_credentials")];
    let encoded: String = url::form_urlencoded::byte_serialize(ODD_SECRET.as_bytes()).collect();
    assert_ne!(encoded, ODD_SECRET);
    for secret in [ODD_SECRET, encoded.as_str()] {
        let res = world.post_form("/token", &grant, Some(("odd", secret)));
        assert_eq!(res.status(), 200, "Basic with `{secret}`: {}", body(&res));
    }
    let in_body = world.post_form("/token", &[grant[0], ("client_id", "odd"), ("client_secret", ODD_SECRET)], None);
    assert_eq!(in_body.status(), 200, "{}", body(&in_body));
    for wrong in ["s3cr t/ va:lue", "s3cr+t%2F va:lue&y", "s3cr%2Bt%252F+va%3Alue%26y"] {
        let res = world.post_form("/token", &grant, Some(("odd", wrong)));
        assert_eq!(res.status(), 401, "`{wrong}`");
        assert_eq!(json(&res)["error"], "invalid_client");
    }
}
