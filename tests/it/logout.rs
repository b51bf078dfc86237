//! OpenID Connect RP-Initiated Logout 1.0 and Back-Channel Logout 1.0.

use crate::common::*;
use std::cell::RefCell;
use std::rc::Rc;

/// Signs alice in through the browser and returns her tokens.
fn signed_in(world: &World, browser: &mut Browser) -> serde_json::Value {
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(world, browser, &rp.query, "alice")), "code").unwrap();
    json(&redeem(world, &code, &rp.verifier))
}

fn logout_url(id_token: &str, extra: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new()).append_pair("id_token_hint", id_token).finish();
    format!("/logout?{q}{extra}")
}

/// Mounts the client's back-channel endpoint; it fails `failures` times, then records tokens.
fn backchannel(world: &World, failures: usize) -> Rc<RefCell<Vec<String>>> {
    let received = Rc::new(RefCell::new(Vec::new()));
    let attempts = Rc::new(RefCell::new(0));
    let (r, a) = (received.clone(), attempts.clone());
    world.http.mount("https://app.test", move |req| {
        *a.borrow_mut() += 1;
        if *a.borrow() <= failures {
            return http::Response::builder().status(503).body(Vec::new()).unwrap();
        }
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(req.body()).into_owned().collect();
        r.borrow_mut().push(form["logout_token"].clone());
        http::Response::builder().status(200).body(Vec::new()).unwrap()
    });
    received
}

fn claims(token: &str) -> serde_json::Value {
    let t = jwt_compact::UntrustedToken::new(token).unwrap();
    t.deserialize_claims_unchecked::<serde_json::Value>().unwrap().custom
}

#[test]
fn rp_initiated_logout_with_hint_ends_session_and_redirects_with_state() {
    let world = World::new();
    backchannel(&world, 0);
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    let res = browser.get(
        &world,
        &logout_url(t["id_token"].as_str().unwrap(), "&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye&state=s1"),
    );
    assert_eq!(res.status(), 302, "{}", body(&res));
    assert_eq!(location(&res), "https://app.test/bye?state=s1");
    assert_eq!(location(&browser.get(&world, "/account")), "/login?return_to=%2Faccount", "session ended");
}

#[test]
fn unregistered_post_logout_redirect_uri_is_an_error_page() {
    let world = World::new();
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    let res = browser.get(
        &world,
        &logout_url(t["id_token"].as_str().unwrap(), "&post_logout_redirect_uri=https%3A%2F%2Fevil.test%2F"),
    );
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert_eq!(browser.get(&world, "/account").status(), 200, "session kept");
}

#[test]
fn redirect_without_hint_or_client_id_is_refused() {
    let world = World::new();
    let res = Browser::default().get(&world, "/logout?post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye");
    assert_eq!(res.status(), 400);
}

#[test]
fn logout_without_hint_asks_first_and_a_get_ends_nothing() {
    let world = World::new();
    let mut browser = Browser::default();
    signed_in(&world, &mut browser);
    let page =
        browser.get(&world, "/logout?client_id=app&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye&state=s2");
    assert_eq!(page.status(), 200);
    let html = body(&page);
    assert!(html.contains("Sign out?") && html.contains("value=\"s2\""), "{html}");
    assert_eq!(browser.clone().get(&world, "/account").status(), 200, "a GET signs no one out");
    // The confirmation form carries the request on (and its CSRF token).
    let res = browser.post(&world, "/logout");
    assert_eq!(location(&res), "https://app.test/bye?state=s2");
}

/// The hint's RS256 signature is checked by the platform's crypto, as in the Worker without
/// SAML, which has no RSA code of its own; a hint it refuses ends nothing.
#[test]
fn id_token_hint_is_checked_by_the_platforms_crypto() {
    let world = World::new();
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    let id_token = t["id_token"].as_str().unwrap();
    let checks = world.rsa.verifications.get();
    let res = browser.get(&world, &logout_url(id_token, ""));
    assert!(res.status().as_u16() < 400, "{}", res.status());
    assert_eq!(world.rsa.verifications.get(), checks + 1);
}

#[test]
fn forged_id_token_hint_is_refused() {
    let world = World::new();
    let forged = crate::common::fake_idp::sign(
        &crate::common::fake_idp::rsa_key(include_str!("../fixtures/attacker-test-key.pem")),
        "x",
        serde_json::json!({"iss": ISSUER, "sub": "u", "aud": "app"}),
    );
    assert_eq!(Browser::default().get(&world, &logout_url(&forged, "")).status(), 400);
}

#[test]
fn backchannel_logout_token_is_signed_and_names_the_session() {
    let world = World::new();
    let received = backchannel(&world, 0);
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    browser.get(&world, &logout_url(t["id_token"].as_str().unwrap(), ""));
    let tokens = received.borrow();
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    let header = jwt_compact::UntrustedToken::new(token).unwrap();
    assert_eq!(header.header().token_type.as_deref(), Some("logout+jwt"));
    let jwks = keyedge::core::jose::Jwks::parse(&world.app.keys.jwks_json()).unwrap();
    let c: serde_json::Value =
        keyedge::core::jose::verify_signed(token, &jwks, START, 0).expect("signed with keyedge's key");
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], "app");
    assert_eq!(c["sub"], id["sub"]);
    assert_eq!(c["sid"], id["sid"]);
    assert!(c["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(c.get("nonce").is_none(), "§2.4: no nonce");
}

#[test]
fn backchannel_delivery_is_retried_and_never_blocks_the_logout() {
    let world = World::new();
    let received = backchannel(&world, 2);
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    let res = browser.get(&world, &logout_url(t["id_token"].as_str().unwrap(), ""));
    assert_eq!(res.status(), 200);
    assert_eq!(received.borrow().len(), 1, "third attempt delivered");
    assert!(world.jobs_done.borrow()[0].1);

    let world = World::new();
    backchannel(&world, usize::MAX);
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    let res = browser.get(&world, &logout_url(t["id_token"].as_str().unwrap(), ""));
    assert_eq!(res.status(), 200, "the user is signed out even when the client is down");
    assert!(!world.jobs_done.borrow()[0].1);
    assert_eq!(world.log.borrow().iter().filter(|l| l.contains("back-channel logout to app")).count(), 3);
}

#[test]
fn logout_ends_online_refresh_tokens() {
    let world = World::new();
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    browser.get(&world, &logout_url(t["id_token"].as_str().unwrap(), ""));
    assert_eq!(json(&refresh(&world, t["refresh_token"].as_str().unwrap()))["error"], "invalid_grant");
}

/// An application may end its session by a request of its own (a fetch with the browser's
/// cookies, as openid-client's end-session helper is used): with an ID token of the current
/// session there is nothing to ask and nothing to read, so it is not refused as a script.
#[test]
fn rp_initiated_logout_with_hint_works_outside_a_navigation() {
    let world = World::new();
    let mut browser = Browser::default();
    let t = signed_in(&world, &mut browser);
    let url = logout_url(t["id_token"].as_str().unwrap(), "&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye");
    let req = http::Request::get(format!("{ISSUER}{url}"))
        .header("cookie", browser.cookie_header())
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-dest", "empty")
        .header("sec-fetch-site", "cross-site")
        .body(Vec::new())
        .unwrap();
    let res = world.send(req);
    assert_eq!(location(&res), "https://app.test/bye", "{}", body(&res));
    assert_eq!(location(&browser.get(&world, "/account")), "/login?return_to=%2Faccount", "session ended");
}

/// RFC 9700 §4.12: after a form post that carried credentials (here the CSRF token and the
/// session), the redirect is one a browser follows with GET (302), never 307 or 308, which
/// would re-post the form to the next address.
#[test]
fn rfc9700_4_12_a_form_post_is_answered_with_a_redirect_followed_by_get() {
    let world = World::new();
    let mut browser = Browser::default();
    signed_in(&world, &mut browser);
    browser.get(&world, "/logout?client_id=app&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye&state=s2");
    let res = browser.post(&world, "/logout");
    assert_eq!(location(&res), "https://app.test/bye?state=s2");
    assert!(matches!(res.status().as_u16(), 302 | 303), "{}", res.status());
}

/// Issue 16: signing in again in a browser that has a session replaces it. alice's session
/// ends — for her clients too (a logout token with her `sid`), her refresh token stops — when
/// bob signs in on the same browser; bob's session is the browser's.
#[test]
fn signing_in_again_in_the_same_browser_ends_the_previous_session_for_its_clients() {
    let world = World::new();
    let received = backchannel(&world, 0);
    let mut browser = Browser::default();
    let alice = signed_in(&world, &mut browser);
    let alice_sid = claims(alice["id_token"].as_str().unwrap())["sid"].clone();
    assert_eq!(refresh(&world, alice["refresh_token"].as_str().unwrap()).status(), 200);

    // "Not alice? Sign in as someone else": a new login in the same browser.
    let rp = request_with(&[("prompt", "login")]);
    let bob = json(&redeem(&world, &code_of(&login(&world, &mut browser, &rp.query, "bob")), &rp.verifier));
    assert_ne!(claims(bob["id_token"].as_str().unwrap())["sid"], alice_sid);
    let tokens = received.borrow();
    assert_eq!(tokens.len(), 1, "one logout token, for alice's session");
    let c = claims(&tokens[0]);
    assert_eq!(c["sid"], alice_sid);
    drop(tokens);
    let refreshed = refresh(&world, alice["refresh_token"].as_str().unwrap());
    assert_eq!(refreshed.status(), 400, "alice's session ended: {}", body(&refreshed));
    assert_eq!(refresh(&world, bob["refresh_token"].as_str().unwrap()).status(), 200, "bob's goes on");
    let account = browser.get(&world, "/account");
    assert!(body(&account).contains("bob") && !body(&account).contains("alice@"), "{}", body(&account));
}

/// A Worker whose configuration has no IdP accepting logout tokens is built without their
/// check (build.rs) and answers `/broker/{alias}/backchannel_logout` and the realm-wide
/// endpoint with `no_logout_tokens` / `no_realm_logout_tokens`. Natively both exist: those
/// answers must be the ones the check itself gives such a configuration.
#[test]
fn without_the_logout_token_check_compiled_in_the_answers_are_a_configuration_without_it() {
    use keyedge::core::broker::upstream_session::{no_logout_tokens, no_realm_logout_tokens};
    use keyedge::core::error::Failure;
    let world = World::new();
    let form = |path: &str, body: &str| {
        http::Request::post(format!("{ISSUER}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .unwrap()
    };
    let expect = |res: &http::Response<Vec<u8>>, failure: Failure, what: &str| {
        let Failure::Json(status, error) = failure else { panic!("{what}: not a JSON error") };
        assert_eq!(res.status(), status, "{what}: {}", body(res));
        assert_eq!(json(res)["error"], error.code.to_string(), "{what}");
        assert_eq!(json(res)["error_description"], error.description, "{what}");
    };
    let token = "logout_token=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwiYXVkIjoia2V5ZWRnZSJ9.c2ln";
    let res = world.send(form("/broker/up/backchannel_logout", token));
    expect(&res, no_logout_tokens("up"), "an IdP's endpoint");
    for sent in [token, "logout_token=not-a-token", "other=1"] {
        let req = form("/backchannel-logout", sent);
        let res = world.send(req.clone());
        let off = no_realm_logout_tokens(&req).expect_err("always refused");
        expect(&res, off, &format!("the realm-wide endpoint with {sent}"));
    }
}

/// The sign-ins of [`a_sign_in_that_replaces_a_session_ends_it_whatever_call_fails`]: alice
/// signed in to the app in `browser`, then bob signing in there with the Durable Object's
/// call `n` planned to fail by `fault`, then once more. Returns alice's tokens, or `None` once
/// `n` is past the sign-in's last call.
fn replaced_with_a_fault(
    world: &World,
    browser: &mut Browser,
    n: usize,
    fault: fn(&World, usize, &mut dyn FnMut()) -> Option<()>,
) -> Option<serde_json::Value> {
    let alice = signed_in(world, browser);
    // Each step as the browser makes it, stopping where the fault stopped the sign-in.
    fault(world, n, &mut || {
        let page = browser.get(world, &format!("/authorize?{}", request_with(&[("prompt", "login")]).query));
        if page.status() == 200 {
            let to_idp = browser.get(world, &idp_link(&body(&page), "up"));
            if to_idp.status() == 302 {
                browser.get(world, &world.idp.authorize(&location(&to_idp), "bob"));
            }
        }
    })?;
    let rp = request_with(&[("prompt", "login")]);
    let again = login(world, browser, &rp.query, "bob");
    assert!(location(&again).starts_with(APP_REDIRECT), "fault {n}: bob signs in again: {:?}", world.log.borrow());
    Some(alice)
}

/// Bob signs in on the browser alice is signed in to, and a Durable Object call fails at each
/// step in turn — refused, or made with its answer lost; bob signs in again. alice's session
/// must end for her applications (a logout token with her `sid`, her refresh token refused):
/// a sign-in that could not end her session used to replace her cookie all the same, leaving
/// her applications signed in on a shared computer with nothing in the browser to end them.
#[test]
fn a_sign_in_that_replaces_a_session_ends_it_whatever_call_fails() {
    let refuse: fn(&World, usize, &mut dyn FnMut()) -> Option<()> = |w, n, act| with_once_fault(w, n, act);
    let lose: fn(&World, usize, &mut dyn FnMut()) -> Option<()> = |w, n, act| with_lost_answer(w, n, act);
    for (how, fault) in [("refused", refuse), ("answer lost", lose)] {
        for n in 0.. {
            let world = World::new();
            let received = backchannel(&world, 0);
            let mut browser = Browser::default();
            let Some(alice) = replaced_with_a_fault(&world, &mut browser, n, fault) else { break };
            let sid = claims(alice["id_token"].as_str().unwrap())["sid"].clone();
            let told = received.borrow().iter().any(|t| claims(t)["sid"] == sid);
            assert!(told, "call {n} {how}: alice's app got no logout token");
            let refreshed = refresh(&world, alice["refresh_token"].as_str().unwrap());
            assert_eq!(refreshed.status(), 400, "call {n} {how}: alice's session goes on: {}", body(&refreshed));
        }
    }
}

/// Signing out, with the Durable Object's call `n` made but its answer lost, then signing out
/// again: once the cookie's end mark has landed, the second sign-out finds no session, so the
/// first must have told the applications. Their logout tokens are signed before the marks and
/// queued whatever the marks' answers.
#[test]
fn a_sign_out_whose_answer_was_lost_still_tells_the_applications() {
    for n in 0.. {
        let world = World::new();
        let received = backchannel(&world, 0);
        let mut browser = Browser::default();
        let alice = signed_in(&world, &mut browser);
        let hint = alice["id_token"].as_str().unwrap();
        let Some(first) = with_lost_answer(&world, n, || browser.get(&world, &logout_url(hint, ""))) else { break };
        let again = browser.get(&world, &logout_url(hint, ""));
        assert!(
            !received.borrow().is_empty(),
            "answer {n} lost ({} then {}): no logout token",
            first.status(),
            again.status()
        );
        let refreshed = refresh(&world, alice["refresh_token"].as_str().unwrap());
        assert_eq!(refreshed.status(), 400, "answer {n} lost: alice's session goes on: {}", body(&refreshed));
    }
}
