//! Step-up with evidence (issue 14, item 5; OIDC Core §3.1.2.1 `prompt=login` and
//! `max_age`, §2 `auth_time`): a client that asks for a fresh login gets a fresh `auth_time`
//! only when the upstream IdP proves one. The attacks: the IdP answers from an old session
//! (session reuse), or cannot say when the user authenticated at all (plain OAuth2).

use crate::common::*;
use serde_json::Value;

/// A full login of alice with `extra` authorization parameters; keyedge's final answer and
/// the request (to redeem a code).
fn step_up(world: &World, browser: &mut Browser, extra: &[(&str, &str)]) -> (http::Response<Vec<u8>>, RpRequest) {
    let rp = request_with(extra);
    (login(world, browser, &rp.query, "alice"), rp)
}

fn tokens(world: &World, res: &http::Response<Vec<u8>>, rp: &RpRequest) -> Value {
    let code = query_param(&location(res), "code").unwrap_or_else(|| panic!("no code: {}", location(res)));
    json(&redeem(world, &code, &rp.verifier))
}

fn auth_time(tokens: &Value) -> i64 {
    id_claims(tokens)["auth_time"].as_i64().unwrap()
}

fn forwarded(world: &World, name: &str) -> Option<String> {
    world.idp.last_authorize.borrow().get(name).cloned()
}

#[test]
fn prompt_login_answered_from_an_old_upstream_session_is_login_required() {
    let world = World::new();
    let mut browser = Browser::default();
    let (res, rp) = step_up(&world, &mut browser, &[]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START);
    world.clock.advance(1000);
    // The IdP does not sign alice in again: it answers from its session of START.
    *world.idp.session_since.borrow_mut() = Some(START);
    let (res, rp) = step_up(&world, &mut browser, &[("prompt", "login")]);
    assert_eq!(forwarded(&world, "prompt").as_deref(), Some("login"));
    let loc = location(&res);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("login_required"), "no fresh auth_time: {loc}");
    assert_eq!(query_param(&loc, "state"), Some(rp.state));
}

#[test]
fn max_age_0_answered_from_an_old_upstream_session_is_login_required() {
    let world = World::new();
    let mut browser = Browser::default();
    world.clock.advance(1000);
    *world.idp.session_since.borrow_mut() = Some(START);
    let (res, _) = step_up(&world, &mut browser, &[("max_age", "0")]);
    assert_eq!(forwarded(&world, "max_age").as_deref(), Some("0"), "max_age goes upstream");
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("login_required"));
}

#[test]
fn auth_time_is_the_upstream_login_time_within_max_age() {
    let world = World::new();
    world.clock.advance(1000);
    *world.idp.session_since.borrow_mut() = Some(START + 700);
    let (res, rp) = step_up(&world, &mut Browser::default(), &[("max_age", "600")]);
    assert_eq!(forwarded(&world, "max_age").as_deref(), Some("600"));
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START + 700, "the IdP's auth_time, not keyedge's clock");
}

#[test]
fn prompt_login_sends_max_age_0_so_the_idp_must_state_auth_time() {
    let world = World::new();
    step_up(&world, &mut Browser::default(), &[("prompt", "login")]);
    assert_eq!(forwarded(&world, "max_age").as_deref(), Some("0"));
}

#[test]
fn an_oidc_answer_without_auth_time_does_not_refresh_auth_time() {
    let world = World::new();
    let mut browser = Browser::default();
    let (res, rp) = step_up(&world, &mut browser, &[]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START);
    world.clock.advance(1000);
    *world.idp.tamper.borrow_mut() = Box::new(|c: &mut Value| {
        c.as_object_mut().map(|o| o.remove("auth_time"));
    });
    let (res, rp) = step_up(&world, &mut browser, &[("prompt", "login")]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START, "the earlier authentication is all there is");
}

#[test]
fn an_oidc_answer_without_auth_time_is_login_required_where_configured() {
    let world = World::with("unproven_step_up = \"login_required\"", "", "");
    *world.idp.tamper.borrow_mut() = Box::new(|c: &mut Value| {
        c.as_object_mut().map(|o| o.remove("auth_time"));
    });
    let (res, _) = step_up(&world, &mut Browser::default(), &[("max_age", "60")]);
    assert_eq!(query_param(&location(&res), "error").as_deref(), Some("login_required"));
    // Without a step-up asked for, a login needs no proof of freshness.
    let (res, rp) = step_up(&world, &mut Browser::default(), &[]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START);
}

// A plain OAuth 2.0 IdP (GitHub-like) cannot prove a fresh login: it has no `auth_time`.

#[test]
fn plain_oauth2_step_up_keeps_the_older_auth_time() {
    let world = oauth2_world("");
    let mut browser = Browser::default();
    let (res, rp) = via_gh(&world, &mut browser, &[]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START);
    world.clock.advance(1000);
    let (res, rp) = via_gh(&world, &mut browser, &[("prompt", "login")]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START, "a round trip to GitHub proves no new login");
    let (res, rp) = via_gh(&world, &mut browser, &[("max_age", "0")]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START);
}

#[test]
fn plain_oauth2_step_up_is_login_required_where_configured() {
    let world = oauth2_world("unproven_step_up = \"login_required\"");
    let mut browser = Browser::default();
    let (res, rp) = via_gh(&world, &mut browser, &[]);
    assert_eq!(auth_time(&tokens(&world, &res, &rp)), START, "an ordinary login is not a step-up");
    world.clock.advance(1000);
    let (res, rp) = via_gh(&world, &mut browser, &[("prompt", "login")]);
    let loc = location(&res);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("login_required"), "{loc}");
    assert_eq!(query_param(&loc, "state"), Some(rp.state));
}

/// Signing out of keyedge first (at an unlocked browser) leaves no earlier session whose
/// `auth_time` could be kept; the IdP's silent answer still proves no new login: the time of
/// the user's last login through that IdP is kept. Found by the outside review of issue 14.
#[test]
fn signing_out_first_does_not_turn_an_unproven_step_up_into_a_fresh_login() {
    for world in [oauth2_world(""), World::new()] {
        // The OIDC IdP of World::new is made to state no auth_time, like GitHub.
        *world.idp.tamper.borrow_mut() = Box::new(|c: &mut Value| {
            c.as_object_mut().map(|o| o.remove("auth_time"));
        });
        let oauth2 = world.app.config.provider("gh").is_some();
        let sign_in = |browser: &mut Browser, extra: &[(&str, &str)]| {
            if oauth2 {
                via_gh(&world, browser, extra)
            } else {
                step_up(&world, browser, extra)
            }
        };
        let mut browser = Browser::default();
        let (res, rp) = sign_in(&mut browser, &[]);
        assert_eq!(auth_time(&tokens(&world, &res, &rp)), START);
        world.clock.advance(3600);
        browser.get(&world, "/logout");
        browser.post(&world, "/logout");
        assert_eq!(browser.clone().get(&world, "/account").status(), 302, "signed out");
        for extra in [[("prompt", "login")], [("max_age", "60")]] {
            let (res, rp) = sign_in(&mut browser, &extra);
            assert_eq!(auth_time(&tokens(&world, &res, &rp)), START, "oauth2 {oauth2}, {extra:?}");
        }
        // An ordinary login through such an IdP proves no more: the time stays.
        browser.get(&world, "/logout");
        browser.post(&world, "/logout");
        world.clock.advance(60);
        let (res, rp) = sign_in(&mut Browser::default(), &[]);
        assert_eq!(auth_time(&tokens(&world, &res, &rp)), START, "oauth2 {oauth2}");
    }
}
