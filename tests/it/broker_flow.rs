//! The in-memory harness end to end: RP ↔ keyedge ↔ upstream IdP with virtual time.

use crate::common::*;
use keyedge::core::ports::{Once, OnceKey};

#[test]
fn code_flow_issues_tokens_and_userinfo_for_the_linked_user() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let done = login(&world, &mut browser, &rp.query, "alice");
    assert_eq!(done.status(), 302, "{}", body(&done));
    let to_app = location(&done);
    assert!(to_app.starts_with(APP_REDIRECT), "{to_app}");
    assert_eq!(query_param(&to_app, "state").as_deref(), Some(rp.state.as_str()));
    assert_eq!(query_param(&to_app, "iss").as_deref(), Some(ISSUER));
    let code = query_param(&to_app, "code").unwrap();

    let tokens = redeem(&world, &code, &rp.verifier);
    assert_eq!(tokens.status(), 200, "{}", body(&tokens));
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    let t = json(&tokens);
    assert_eq!(t["token_type"], "Bearer");
    let access = t["access_token"].as_str().unwrap();

    let info = world.send(
        http::Request::get(format!("{ISSUER}/userinfo"))
            .header("authorization", format!("Bearer {access}"))
            .body(vec![])
            .unwrap(),
    );
    assert_eq!(info.status(), 200, "{}", body(&info));
    let info = json(&info);
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    // RS256 went through the external signer/verifier (WebCrypto in the Worker).
    assert!(world.rsa.calls.get() >= 2 && world.rsa.verifications.get() >= 2, "upstream ID token and access token");
}

#[test]
fn oidcc_codereuse_second_redemption_fails_and_revokes_tokens() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(&world, &mut browser, &rp.query, "alice")), "code").unwrap();
    let first = json(&redeem(&world, &code, &rp.verifier));
    let access = first["access_token"].as_str().unwrap().to_owned();
    let second = redeem(&world, &code, &rp.verifier);
    assert_eq!(second.status(), 400);
    assert_eq!(json(&second)["error"], "invalid_grant");
    let info = world.send(
        http::Request::get(format!("{ISSUER}/userinfo"))
            .header("authorization", format!("Bearer {access}"))
            .body(vec![])
            .unwrap(),
    );
    assert_eq!(info.status(), 401, "tokens from a replayed code are revoked");
}

#[test]
fn code_expires_after_its_lifetime() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(&world, &mut browser, &rp.query, "alice")), "code").unwrap();
    world.clock.advance(61);
    let res = redeem(&world, &code, &rp.verifier);
    assert_eq!(json(&res)["error"], "invalid_grant");
}

#[test]
fn rfc7636_wrong_code_verifier_is_invalid_grant() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(&world, &mut browser, &rp.query, "alice")), "code").unwrap();
    let res = redeem(&world, &code, "wrong-verifier-wrong-verifier-wrong-verifier-0000");
    assert_eq!(res.status(), 400);
    assert_eq!(json(&res)["error"], "invalid_grant");
}

#[test]
fn rfc6749_5_2_wrong_client_secret_is_invalid_client_with_www_authenticate() {
    let world = World::new();
    let res = world.post_form("/token", &[("grant_type", "authorization_code"), ("code", "x")], Some(("app", "nope")));
    assert_eq!(res.status(), 401);
    assert_eq!(json(&res)["error"], "invalid_client");
    assert!(res.headers().contains_key("www-authenticate"));
}

#[test]
fn second_login_with_same_identity_finds_the_same_user_and_no_duplicate() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    let code1 = query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    let sub1 = id_token_sub(&json(&redeem(&world, &code1, &rp.verifier)));
    let rp2 = rp_request("app", APP_REDIRECT);
    let code2 = query_param(&location(&login(&world, &mut Browser::default(), &rp2.query, "alice")), "code").unwrap();
    let sub2 = id_token_sub(&json(&redeem(&world, &code2, &rp2.verifier)));
    assert_eq!(sub1, sub2);
    let users = world.store.keys().into_iter().filter(|k| k.starts_with("user:")).count();
    assert_eq!(users, 1);
}

fn id_token_sub(tokens: &serde_json::Value) -> String {
    let token = jwt_compact::UntrustedToken::new(tokens["id_token"].as_str().unwrap()).unwrap();
    let claims = token.deserialize_claims_unchecked::<serde_json::Value>().unwrap();
    claims.custom["sub"].as_str().unwrap().to_owned()
}

#[test]
fn identity_is_found_by_alias_and_sub_never_by_email() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    // Two upstream users with the same email: "mallory" claims alice's address.
    let code1 = query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").unwrap();
    let sub_alice = id_token_sub(&json(&redeem(&world, &code1, &rp.verifier)));
    *world.idp.tamper.borrow_mut() = Box::new(|c| {
        c["email"] = serde_json::json!("alice@example.com");
        c["email_verified"] = serde_json::json!(true);
    });
    let rp2 = rp_request("app", APP_REDIRECT);
    // Not signed in as alice: the first-login flow asks to prove the account is theirs.
    let res = login(&world, &mut Browser::default(), &rp2.query, "mallory");
    assert_eq!(res.status(), 200, "{}", body(&res));
    assert!(body(&res).contains("Account already exists") && location(&res).is_empty());
    let user: serde_json::Value = serde_json::from_str(
        &futures::executor::block_on(keyedge::core::ports::Store::get(&world.store, &format!("user:{sub_alice}")))
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(user["links"].as_array().unwrap().len(), 1);
}

#[test]
fn upstream_state_is_single_use() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login(&world, &mut browser, &rp.query);
    let callback = world.idp.authorize(&at_idp, "alice");
    let stolen = browser.clone(); // the flow cookie, as it was before the callback
                                  // A careless IdP that accepts its codes more than once.
    *world.idp.reusable_codes.borrow_mut() = true;
    assert_eq!(browser.get(&world, &callback).status(), 302);
    // The same browser: its flow cookie was cleared with the first completion.
    let replay = browser.get(&world, &callback);
    assert_eq!(replay.status(), 400);
    assert!(body(&replay).contains("started in another browser"));
    // Even with the cookie and an IdP that accepts its code twice, the state's marker in the
    // Durable Object refuses a second completion, and no code is issued.
    let replay = stolen.clone().get(&world, &callback);
    assert_eq!(replay.status(), 400, "{}", body(&replay));
    assert!(body(&replay).contains("Sign-in expired"));
    assert!(location(&replay).is_empty());
}

/// The second completion of one upstream login loses the race for its `state` and ends the
/// session it opened: that end must not reach the first completion's session, whose tokens
/// keep working. Ending the first completion's session then stops them.
#[test]
fn a_losing_completion_of_a_login_leaves_the_winners_tokens_alone() {
    let world = World::new();
    let TwoCompletions { mut browser, second, callback, tokens } = completed_once_of_two(&world);
    let lost = second.clone().get(&world, &callback);
    assert!(body(&lost).contains("Sign-in expired"), "{}", body(&lost));
    let refreshed = json(&refresh(&world, tokens["refresh_token"].as_str().unwrap()));
    let next = refreshed["refresh_token"].as_str().unwrap_or_else(|| panic!("refresh refused: {refreshed}"));
    browser.get(&world, "/logout");
    assert_eq!(browser.post(&world, "/logout").status(), 200, "signed out");
    let refused = json(&refresh(&world, next));
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
}

#[test]
fn tampered_or_foreign_flow_cookie_is_refused() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login(&world, &mut browser, &rp.query);
    let callback = world.idp.authorize(&at_idp, "alice");
    for v in browser.cookies.values_mut() {
        if v.len() > 50 {
            v.replace_range(10..12, "AA");
        }
    }
    let res = browser.get(&world, &callback);
    assert_eq!(res.status(), 400);
    assert!(body(&res).contains("started in another browser"));
}

#[test]
fn callback_in_another_browser_is_refused() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login(&world, &mut Browser::default(), &rp.query);
    let callback = world.idp.authorize(&at_idp, "alice");
    let res = Browser::default().get(&world, &callback);
    assert_eq!(res.status(), 400);
    assert!(body(&res).contains("started in another browser"));
    assert!(world.store.keys().iter().all(|k| !k.starts_with("user:")), "nothing written");
}

#[test]
fn upstream_failures_log_distinct_reasons_show_retry_and_write_nothing() {
    use crate::common::fake_idp::Tamper;
    let cases: Vec<(&str, Tamper)> = vec![
        ("issued by someone else", Box::new(|c| c["iss"] = serde_json::json!("https://evil.test"))),
        ("issued for another client", Box::new(|c| c["aud"] = serde_json::json!("someone-else"))),
        ("nonce does not match", Box::new(|c| c["nonce"] = serde_json::json!("other"))),
        ("has expired", Box::new(|c| c["exp"] = serde_json::json!(crate::common::START - 3600))),
        ("at_hash", Box::new(|c| c["at_hash"] = serde_json::json!("AAAAAAAAAAAAAAAAAAAAAA"))),
    ];
    for (needle, tamper) in cases {
        let world = World::new();
        *world.idp.tamper.borrow_mut() = tamper;
        let mut browser = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(&world, &mut browser, &rp.query, "alice");
        let html = body(&res);
        assert_eq!(res.status(), 502, "{needle}: {html}");
        // The page says the IdP's answer failed the checks; which check, only the log says.
        assert!(!html.contains(needle), "`{needle}` shown in {html}");
        assert!(world.logged_for(&html).contains(needle), "expected `{needle}` in the log");
        assert!(html.contains("Try again"));
        assert!(world.store.keys().is_empty(), "{needle}: nothing may be written: {:?}", world.store.keys());
    }
}

#[test]
fn userinfo_subject_must_match_id_token() {
    let world = World::new();
    *world.idp.userinfo_sub.borrow_mut() = Some("someone-else".into());
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("different user"));
}

#[test]
fn account_page_requires_a_session_and_shows_linked_identity() {
    let world = World::new();
    let mut browser = Browser::default();
    let res = browser.get(&world, "/account");
    assert_eq!(location(&res), "/login?return_to=%2Faccount");
    let page = browser.get(&world, "/login?return_to=%2Faccount");
    let html = body(&page);
    let start = html.find("/broker/up/login").unwrap();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let at_idp = location(&browser.get(&world, &href.replace("&#38;", "&")));
    let back = browser.get(&world, &world.idp.authorize(&at_idp, "alice"));
    assert_eq!(location(&back), "/account");
    let account = browser.get(&world, "/account");
    let html = body(&account);
    assert!(html.contains("alice"), "{html}");
    assert!(html.contains("Upstream"));
    // Logout ends it.
    assert_eq!(browser.post(&world, "/logout").status(), 200);
    assert_eq!(location(&browser.get(&world, "/account")), "/login?return_to=%2Faccount");
}

#[test]
fn session_continues_without_login_and_prompt_none_without_session_is_login_required() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    let res = Browser::default().get(&world, &format!("/authorize?{}&prompt=none", rp.query));
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("login_required"));

    let mut browser = Browser::default();
    login(&world, &mut browser, &rp.query, "alice");
    let rp2 = rp_request("app", APP_REDIRECT);
    let again = browser.get(&world, &format!("/authorize?{}&prompt=none", rp2.query));
    assert!(query_param(&location(&again), "code").is_some(), "SSO: {}", location(&again));
}

#[test]
fn once_store_redeems_exactly_once() {
    let world = World::new();
    futures::executor::block_on(async {
        let (k, nope) = (OnceKey::alone("k".into()), OnceKey::alone("nope".into()));
        world.once.put(&k, "v", 60).await.unwrap();
        assert_eq!(world.once.take(&k).await.unwrap(), keyedge::core::ports::Taken::Fresh("v".into()));
        assert_eq!(world.once.take(&k).await.unwrap(), keyedge::core::ports::Taken::Replayed("v".into()));
        assert_eq!(world.once.take(&nope).await.unwrap(), keyedge::core::ports::Taken::Missing);
    });
}

/// OIDC Core §10.1.1: when the IdP rotates its key, a token with an unknown `kid` makes keyedge
/// fetch the JWKS again — at most once a minute, so forged `kid`s cannot flood the IdP.
#[test]
fn upstream_key_rotation_is_followed_by_refetching_the_jwks() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    assert_eq!(login(&world, &mut Browser::default(), &rp.query, "alice").status(), 302);
    assert_eq!(*world.idp.jwks_requests.borrow(), 1);

    world.idp.rotate_key(include_str!("../fixtures/keyedge-next-test-key.pem"), "up-2");
    // Within the minute: the cached set is kept, the token's key is unknown.
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("a key the provider does not publish"), "{}", body(&res));
    assert_eq!(*world.idp.jwks_requests.borrow(), 1, "no refetch within the rate limit");

    world.clock.advance(61);
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 302, "{}", body(&res));
    assert_eq!(*world.idp.jwks_requests.borrow(), 2);
}

mod home_realm_discovery {
    use crate::common::*;

    fn world() -> World {
        let text = config_text()
            .replace("display_name = \"Upstream\"", "display_name = \"Upstream\"\nemail_domains = [\"Example.com\"]");
        let mut world = World::new();
        world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
        world
    }

    #[test]
    fn an_email_at_a_configured_domain_goes_to_its_idp_with_login_hint() {
        let world = world();
        let rp = rp_request("app", APP_REDIRECT);
        let page = body(&Browser::default().get(&world, &format!("/authorize?{}", rp.query)));
        assert!(page.contains("action=\"/login/discover\"") && page.contains("name=\"email\""), "{page}");
        let res = Browser::default().get(&world, &format!("/login/discover?{}&email=Alice%40EXAMPLE.com", rp.query));
        let to = location(&res);
        assert!(to.starts_with("/broker/up/login?"), "{to}");
        assert_eq!(query_param(&format!("https://x{to}"), "login_hint").as_deref(), Some("Alice@EXAMPLE.com"));
        // The request survives the detour: the login completes with a code for the client.
        let mut browser = Browser::default();
        let at_idp = location(&browser.get(&world, &to));
        assert_eq!(query_param(&at_idp, "login_hint").as_deref(), Some("Alice@EXAMPLE.com"));
        let done = browser.get(&world, &world.idp.authorize(&at_idp, "alice"));
        assert!(query_param(&location(&done), "code").is_some());
    }

    #[test]
    fn an_unknown_domain_shows_the_login_page_again_with_a_notice() {
        let world = world();
        let res = Browser::default().get(&world, "/login/discover?return_to=%2Faccount&email=bob%40other.org");
        assert_eq!(res.status(), 400);
        let html = body(&res);
        assert!(html.contains("no single sign-on for other.org") && html.contains("/broker/up/login"), "{html}");
    }

    #[test]
    fn no_email_field_without_configured_domains() {
        let world = World::new();
        let page = body(&Browser::default().get(&world, "/login?return_to=%2Faccount"));
        assert!(!page.contains("/login/discover"));
    }
}

#[test]
fn disable_userinfo_takes_the_user_from_the_id_token_only() {
    let text = ConfigBuilder::new().up("disable_userinfo = true").build();
    let mut world = World::new();
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
    *world.idp.userinfo_sub.borrow_mut() = Some("someone-else".into()); // would fail if called
    *world.idp.tamper.borrow_mut() = Box::new(|c| {
        c["email"] = serde_json::json!("alice@id-token.example");
        c["given_name"] = serde_json::json!("Alice");
        c["family_name"] = serde_json::json!("Liddell");
    });
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&world, &mut browser, &rp.query, "alice");
    assert_eq!(res.status(), 302, "{}", body(&res));
    assert!(world.http.log.borrow().iter().all(|l| !l.contains("/userinfo")), "{:?}", world.http.log.borrow());
    let code = query_param(&location(&res), "code").unwrap();
    let t = json(&redeem(&world, &code, &rp.verifier));
    assert_eq!(id_claims(&t)["email"], "alice@id-token.example");
}

/// OIDC Core §5.3.2 and §5.1: userinfo completes the ID token, and a verification flag is about
/// its own address. An ID token naming one address (unflagged) and a userinfo answer flagging
/// another as verified must not make the first one verified.
#[test]
fn oidc_core_5_1_a_userinfo_verification_of_another_address_does_not_verify_the_id_tokens() {
    let world = World::new();
    *world.idp.tamper.borrow_mut() = Box::new(|c| c["email"] = serde_json::json!("alice@id-token.example"));
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    let code = query_param(&location(&res), "code").unwrap();
    let claims = id_claims(&json(&redeem(&world, &code, &rp.verifier)));
    assert_eq!(claims["email"], "alice@id-token.example");
    assert_eq!(claims["email_verified"], false, "userinfo verified alice@example.com, not this address");

    // The same address in both: userinfo's flag counts.
    *world.idp.tamper.borrow_mut() = Box::new(|c| c["email"] = serde_json::json!("bob@example.com"));
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&world, &mut Browser::default(), &rp.query, "bob");
    let code = query_param(&location(&res), "code").unwrap();
    let claims = id_claims(&json(&redeem(&world, &code, &rp.verifier)));
    assert_eq!((claims["email"].as_str(), claims["email_verified"].as_bool()), (Some("bob@example.com"), Some(true)));
}

/// The login page is answered at once for a browser without a session (src/edge `AtOnce`:
/// no Rust future), with the full path's answer byte for byte, refusals included; what would
/// wait takes the full path, having written nothing: a browser with a session (its session is
/// read), an `id_token_hint` (verified with the platform's crypto), the way to an IdP (its
/// per-IP rate limit), a POST (its body is read first).
#[test]
fn the_login_page_is_answered_at_once_as_the_full_path_answers_it() {
    // Two worlds that draw the same random values in the same order: one answers at once,
    // the other by the full path.
    let (quick_world, full_world) = (World::new(), World::new());
    let at_once = |req: http::Request<Vec<u8>>| {
        quick_world.app.answer_at_once(&req, &quick_world.clock, &quick_world.rng, &|_| {}).map(|r| format!("{r:?}"))
    };
    let full = |req: http::Request<Vec<u8>>| format!("{:?}", full_world.respond(req));
    let get = |path: &str| http::Request::get(format!("{ISSUER}{path}")).body(Vec::new()).unwrap();
    let head = |path: &str| http::Request::head(format!("{ISSUER}{path}")).body(Vec::new()).unwrap();

    let rp = rp_request("app", APP_REDIRECT);
    let other = request_with(&[("redirect_uri", "https://evil.test/cb")]);
    let none = request_with(&[("prompt", "none")]);
    for path in [
        format!("/authorize?{}", rp.query),
        "/login?return_to=/account".to_owned(),
        "/login/discover?email=alice@example.com".to_owned(),
        format!("/login/discover?email=alice@example.com&{}", rp.query),
        // Refusals: an unknown client, a redirect_uri not registered (a page, never a
        // redirect), prompt=none without a session (back to the client).
        "/authorize?client_id=nobody".to_owned(),
        format!("/authorize?{}", other.query),
        format!("/authorize?{}", none.query),
    ] {
        let quick = at_once(get(&path)).unwrap_or_else(|| panic!("GET {path} at once"));
        assert_eq!(quick, full(get(&path)), "GET {path}");
        let quick = at_once(head(&path)).unwrap_or_else(|| panic!("HEAD {path} at once"));
        assert_eq!(quick, full(head(&path)), "HEAD {path}");
    }

    // The way to the IdP counts against its per-IP rate limit (a platform call) first.
    let to_idp = idp_link(&body(&quick_world.send(get(&format!("/authorize?{}", rp.query)))), "up");
    assert!(at_once(get(&to_idp)).is_none());
    assert!(!quick_world.app.answers_at_once("GET", to_idp.split('?').next().unwrap(), false), "{to_idp}");

    // A browser with a session: its session is read first, so the full path answers.
    let mut browser = Browser::default();
    let done = login(&quick_world, &mut browser, &rp.query, "alice");
    assert_eq!(done.status(), 302);
    let with_session = |path: &str| {
        http::Request::get(format!("{ISSUER}{path}"))
            .header("cookie", browser.cookie_header())
            .body(Vec::new())
            .unwrap()
    };
    let sso = format!("/authorize?{}", rp_request("app", APP_REDIRECT).query);
    assert!(at_once(with_session(&sso)).is_none());
    assert!(at_once(with_session("/login?return_to=/account")).is_none());
    // The full path then signs it in without a login page (a code at once).
    let answer = quick_world.send(with_session(&sso));
    assert!(query_param(&location(&answer), "code").is_some(), "{}", body(&answer));

    // An id_token_hint is verified first (the platform's crypto): the full path answers.
    let hint = tokens_for_alice(&quick_world, "openid")["id_token"].as_str().unwrap().to_owned();
    let hinted = format!("/authorize?{}", request_with(&[("id_token_hint", &hint)]).query);
    assert!(at_once(get(&hinted)).is_none());
    assert_eq!(quick_world.send(get(&hinted)).status(), 200, "the login page, the hint verified");

    // A POST reads its body first.
    let post = http::Request::post(format!("{ISSUER}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(rp.query.clone().into_bytes())
        .unwrap();
    assert!(at_once(post).is_none());
}

/// Which requests the Worker tries at once: a GET or HEAD without a body of a sign-in page
/// or of a document. Not the way to an IdP (its per-IP rate limit comes first), not the
/// callback, not a POST, and not a GET with a body: the full path reads a body and refuses
/// one past its limit, which a body sent in chunks announces nowhere in the head.
#[test]
fn only_sign_in_pages_and_documents_without_a_body_are_tried_at_once() {
    let world = World::new();
    let tried = |method: &str, path: &str, has_body: bool| world.app.answers_at_once(method, path, has_body);
    for path in ["/authorize", "/login", "/login/discover", "/.well-known/openid-configuration", "/jwks"] {
        assert!(tried("GET", path, false) && tried("HEAD", path, false), "{path}");
        assert!(!tried("GET", path, true), "{path} with a body");
        assert!(!tried("POST", path, false) && !tried("POST", path, true), "POST {path}");
    }
    for path in ["/broker/up/login", "/broker/up/endpoint", "/token", "/userinfo", "/logout", "/authorize/", "/"] {
        assert!(!tried("GET", path, false), "{path}");
    }

    // Answered with its body, the request is left to the full path, which answers it.
    let rp = rp_request("app", APP_REDIRECT);
    let with_body = || http::Request::get(format!("{ISSUER}/authorize?{}", rp.query)).body(b"x".to_vec()).unwrap();
    assert!(world.app.answer_at_once(&with_body(), &world.clock, &world.rng, &|_| {}).is_none());
    assert_eq!(world.send(with_body()).status(), 200);
    assert_eq!(world.at_once.get(), 0);
}

/// A whole login as the Worker serves it: its login page is answered at once; the way to the
/// IdP, the callback and the redemption by the full path.
#[test]
fn a_login_answers_its_login_page_at_once() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    let done = login(&world, &mut Browser::default(), &rp.query, "alice");
    let code = query_param(&location(&done), "code").expect("a code");
    assert_eq!(world.at_once.get(), 1, "the login page");
    assert_eq!(redeem(&world, &code, &rp.verifier).status(), 200);
}
