//! Holes an outside review of the per-IdP `http_timeout`, the dev fault switch and the
//! facebook, x and stackoverflow presets found, each performed as the attack; every test here
//! failed before its fix.

use crate::common::*;

fn with_issuer(issuer: &str, extra: &str) -> String {
    config_text().replace(&format!("issuer = \"{ISSUER}\""), &format!("issuer = \"{issuer}\"")) + extra
}

fn load_error(text: &str) -> String {
    keyedge::core::Keyedge::from_config_text(text, &secrets).err().map(|e| e.to_string()).unwrap_or_default()
}

/// The dev switches (`[dev] fault_injection`, `storage_conformance`, the dev inbox) and the
/// `Secure` cookies and HSTS hang on the issuer being https, which was read as "starts with
/// `https://`". An https issuer with its scheme written in capitals (`HTTPS://…`, a valid URL
/// that every check of the URL itself took for https) passed as plain http: `/dev/faults`
/// let anyone fail the production stores, and the cookies went without `Secure`.
#[test]
fn an_https_issuer_in_capitals_is_not_taken_for_local_development() {
    for issuer in ["HTTPS://keyedge.test", "Https://keyedge.test"] {
        for dev in ["fault_injection", "storage_conformance"] {
            let e = load_error(&with_issuer(issuer, &format!("\n[dev]\n{dev} = true\n")));
            assert!(!e.is_empty(), "{issuer}: dev.{dev} accepted");
        }
        // Without any dev switch, no https deployment goes without Secure cookies either.
        let e = load_error(&with_issuer(issuer, ""));
        assert!(e.contains("issuer"), "{issuer}: accepted, cookies not Secure: {e}");
    }
    // Lower case is what there is to write.
    assert_eq!(load_error(&with_issuer("https://keyedge.test", "")), "");
    assert_eq!(load_error(&with_issuer("http://localhost:8787", "\n[dev]\nfault_injection = true\n")), "");
}

fn discovery_fetches(world: &World) -> usize {
    world.http.log.borrow().iter().filter(|l| l.contains("/.well-known/openid-configuration")).count()
}

/// A failed callback forgets the cached discovery document, so that a moved endpoint is
/// followed. It forgot it on any failure, including those an anonymous visitor chooses
/// without keyedge asking the IdP anything: a callback of their own flow with
/// `error=access_denied`, no code, or a made-up code. One such request before every real
/// sign-in turned the cache off (a discovery request to the IdP, and its wait, in every
/// sign-in); only a failure of the IdP's endpoints forgets it now.
#[test]
fn a_visitors_own_failed_callback_does_not_throw_the_discovery_cache_away() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    assert!(query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").is_some());
    let cached = discovery_fetches(&world);
    assert_eq!(cached, 1);
    for answer in ["error=access_denied", "", "code=made-up"] {
        let mut attacker = Browser::default();
        let at_idp = start_login(&world, &mut attacker, &rp.query);
        let state = query_param(&at_idp, "state").unwrap();
        let res = attacker.get(&world, &format!("/broker/up/endpoint?state={state}&{answer}"));
        assert!(query_param(&location(&res), "code").is_none(), "{answer}: {}", body(&res));
        let res = login(&world, &mut Browser::default(), &rp.query, "bob");
        assert!(query_param(&location(&res), "code").is_some(), "{answer}: {}", body(&res));
        assert_eq!(discovery_fetches(&world), cached, "`{answer}` made the next sign-in fetch discovery again");
    }
}

/// A provider whose token answer says the token lasts `expires` seconds (Stack Exchange's
/// format: `{"access_token", "expires"}`), and whose `/me` answers one user.
fn hostile_stack_exchange(world: &World, expires: serde_json::Value) {
    use crate::social_presets::answer;
    world.http.mount("https://so.test", move |req| match req.uri().path() {
        "/oauth/access_token/json" => answer(200, serde_json::json!({"access_token": "tok", "expires": expires})),
        _ => answer(200, serde_json::json!({"items": [{"user_id": 7, "display_name": "seven"}]})),
    });
}

/// A token lifetime the provider gives is added to the clock as it comes: `expires` (or
/// `expires_in`) of 2^63 − 1 seconds overflowed — a panic in a build with overflow checks
/// (the test build), an "expired" token wrapped to a date before 1970 in the release build.
/// The lifetime is capped now; the login completes and the token counts as not expired.
#[test]
fn a_token_lifetime_too_long_to_add_to_the_clock_does_not_overflow() {
    use crate::social_presets::{redirect_back, to_provider};
    for expires in [serde_json::json!(i64::MAX), serde_json::json!(u64::MAX)] {
        let so = "alias = \"so\"\nkind = \"stackoverflow\"\nbase_url = \"https://so.test\"\nkey = \"k\"\nclient_id = \"31337\"\nclient_secret_env = \"IDP2_SECRET\"\nstore_tokens = true\nstored_tokens_readable = true\n";
        let world = World::with("", "read_broker_tokens = true", &format!("[[identity_providers]]\n{so}"));
        hostile_stack_exchange(&world, expires.clone());
        let mut browser = Browser::default();
        let (at_provider, rp) = to_provider(&world, &mut browser, "so");
        let res = browser.get(&world, &redirect_back(&at_provider, &[("code", "c")]));
        assert_eq!(res.status(), 200, "{expires}: the profile form: {}", body(&res));
        let fields = [("username", "seven"), ("email", "seven@example.com"), ("given_name", "S"), ("family_name", "E")];
        let res = browser.submit(&world, "/first-login/review", &fields);
        let code = query_param(&location(&res), "code");
        assert!(code.is_some(), "{expires}: {} {}", res.status(), body(&res));
        let tokens = json(&redeem(&world, &code.unwrap(), &rp.verifier));
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let stored = world.send(
            http::Request::get(format!("{ISSUER}/broker/so/token"))
                .header("authorization", format!("Bearer {access}"))
                .body(Vec::new())
                .unwrap(),
        );
        assert_eq!(stored.status(), 200, "{expires}: the stored token counts as expired: {}", body(&stored));
        assert_eq!(json(&stored)["access_token"], "tok");
    }
}

/// Not a hole, a defence no test held: the back-channel logout and the upstream logout reach
/// the IdP (discovery, keys) with its `http_timeout` too. Without it, a slow IdP held these
/// requests as long as it liked, and the tests of `upstream_faults.rs` still passed.
#[test]
fn the_logout_requests_to_a_slow_idp_give_up_after_http_timeout() {
    use crate::common::fake_idp::IDP;
    // Back-channel logout, nothing cached yet: discovery and keys time out, the token is
    // refused as unverifiable and ends nothing.
    let world = World::with("accept_logout_tokens = true", "", "");
    let token = world.idp.logout_token("alice", |_| {});
    world.http.delay(IDP, 6);
    let res = world.post_form("/broker/up/backchannel_logout", &[("logout_token", &token)], None);
    assert_eq!(res.status(), 400, "{}", body(&res));
    let logged = world.log.borrow().join("\n");
    assert!(logged.contains("no answer within 5 s"), "{logged}");

    // Upstream logout once the cached discovery document is stale: keyedge's own logout
    // completes without sending the browser to the IdP.
    let world = World::with("upstream_logout = true", "", "");
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(&world, &mut browser, &rp.query, "alice")), "code").unwrap();
    let t = json(&redeem(&world, &code, &rp.verifier));
    world.clock.advance(3601);
    world.http.delay(IDP, 6);
    let logout = format!(
        "/logout?id_token_hint={}&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye&state=s1",
        t["id_token"].as_str().unwrap()
    );
    let res = browser.get(&world, &logout);
    assert!(!location(&res).starts_with(IDP), "waited for the slow IdP: {}", location(&res));
    assert_eq!(location(&res), "https://app.test/bye?state=s1", "{}", body(&res));
}

/// The same through an identity the IdP vouches for but the configuration refuses: a Google
/// account of another Workspace than `hd` (anyone's own, at no cost but a Google sign-in)
/// threw the cached discovery document away as if Google had moved an endpoint.
#[test]
fn a_refused_workspace_does_not_throw_the_discovery_cache_away() {
    use crate::social_presets::google::{google_world, sign_in};
    let (world, google) = google_world("hd = \"example.com\"", "");
    assert!(query_param(&location(&sign_in(&world, &google, &mut Browser::default(), "ada").0), "code").is_some());
    let cached = discovery_fetches(&world);
    assert_eq!(cached, 1);
    let (refused, _) = sign_in(&world, &google, &mut Browser::default(), "bob");
    assert_eq!(refused.status(), 502, "{}", body(&refused));
    assert!(query_param(&location(&sign_in(&world, &google, &mut Browser::default(), "ada").0), "code").is_some());
    assert_eq!(discovery_fetches(&world), cached, "another Workspace made the next sign-in fetch discovery again");
}
