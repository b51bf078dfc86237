//! What keyedge promises under Workers KV's eventual consistency (docs/consistency.md), each
//! tested on the harness's KV model: a location that read a record keeps serving it for up to
//! 60 s after it changed elsewhere. Every test here first makes another location ("fra") read
//! the state, then changes it at "home", then acts at "fra".

use crate::common::*;

const HOME: &str = "home";
const FRA: &str = "fra";

/// The user signs out at home (the confirmation page, then its form).
fn sign_out(world: &World, browser: &mut Browser) {
    world.store.move_to(HOME);
    assert_eq!(browser.get(world, "/logout").status(), 200);
    browser.post(world, "/logout");
}

#[test]
fn a_session_ended_at_one_location_signs_no_one_in_at_another() {
    let world = World::new();
    let (mut browser, _) = signed_in_with_tokens(&world);
    let copied = browser.clone();
    world.store.move_to(FRA);
    assert_eq!(copied.clone().get(&world, "/account").status(), 200, "fra has read the session");
    sign_out(&world, &mut browser);

    world.store.move_to(FRA);
    let account = copied.clone().get(&world, "/account");
    assert_eq!(location(&account), "/login?return_to=%2Faccount", "the account page at fra");
    // Single sign-on at fra: no code for the ended session.
    let rp = request_with(&[("prompt", "none")]);
    let silent = copied.clone().get(&world, &format!("/authorize?{}", rp.query));
    assert_eq!(query_param(&location(&silent), "error").as_deref(), Some("login_required"), "{}", location(&silent));
}

#[test]
fn a_refresh_token_of_a_session_ended_elsewhere_is_refused_at_once() {
    let world = World::new();
    let (mut browser, tokens) = signed_in_with_tokens(&world);
    world.store.move_to(FRA);
    let rotated = json(&refresh(&world, tokens["refresh_token"].as_str().unwrap()));
    let next = rotated["refresh_token"].as_str().expect("fra refreshes while the session lives").to_owned();
    sign_out(&world, &mut browser);

    world.store.move_to(FRA);
    let refused = json(&refresh(&world, &next));
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
}

/// A code issued by single sign-on, in a session an earlier login opened: its refresh token
/// stops with that session at once, at a location whose KV still serves the session.
#[test]
fn a_refresh_token_from_single_sign_on_of_a_session_ended_elsewhere_is_refused_at_once() {
    let world = World::new();
    let (mut browser, _) = signed_in_with_tokens(&world);
    let rp = rp_request("app", APP_REDIRECT);
    let sso = browser.get(&world, &format!("/authorize?{}", rp.query));
    let code = query_param(&location(&sso), "code").expect("single sign-on issues a code at once");
    let tokens = json(&redeem(&world, &code, &rp.verifier));
    world.store.move_to(FRA);
    let rotated = json(&refresh(&world, tokens["refresh_token"].as_str().unwrap()));
    let next = rotated["refresh_token"].as_str().expect("fra refreshes while the session lives").to_owned();
    sign_out(&world, &mut browser);

    world.store.move_to(FRA);
    let refused = json(&refresh(&world, &next));
    assert_eq!(refused["error"], "invalid_grant", "{refused}");
}

#[test]
fn an_access_token_revoked_at_one_location_is_refused_at_another_at_once() {
    let world = World::new();
    let (_, tokens) = signed_in_with_tokens(&world);
    let access = tokens["access_token"].as_str().unwrap();
    world.store.move_to(FRA);
    assert_eq!(userinfo_status(&world, access), 200, "fra has checked the token");

    world.store.move_to(HOME);
    let revoked =
        world.post_form("/revoke", &[("token", tokens["refresh_token"].as_str().unwrap())], Some(("app", APP_SECRET)));
    assert_eq!(revoked.status(), 200);

    world.store.move_to(FRA);
    assert_eq!(userinfo_status(&world, access), 401);
}

/// An identity unlinked at one location signs no one in to that account at another, though
/// KV there still serves the old link: the account's record in the Durable Object decides.
#[test]
fn an_identity_unlinked_at_one_location_no_longer_opens_the_account_at_another() {
    let a = accounts_world("", "", "", "");
    let world = &a.world;
    let mut browser = signed_in(world, "alice");
    let at_idp = location(&browser.post(world, "/broker/second/link"));
    browser.get(world, &a.idp2.authorize(&at_idp, "alice-two"));
    let alice = user_of_link(world, "second", "sub-alice-two").expect("linked");

    world.store.move_to(FRA);
    let (res, rp) = callback(world, &mut Browser::default(), "second", &a.idp2, "alice-two");
    assert_eq!(sub_of(world, &code_of(&res), &rp), alice, "fra has read the link");

    world.store.move_to(HOME);
    browser.get(world, "/account");
    assert_eq!(location(&browser.post(world, "/account/unlink/second")), "/account");

    world.store.move_to(FRA);
    let (res, rp) = callback(world, &mut Browser::default(), "second", &a.idp2, "alice-two");
    let signed_in_as = query_param(&location(&res), "code").map(|_| sub_of(world, &code_of(&res), &rp));
    assert_ne!(signed_in_as, Some(alice), "the unlinked identity opened alice's account at fra");
}

/// The gate: a session ended at one location stops opening pages at another within
/// `session_check_interval` (the promise in docs/consistency.md), whatever KV serves there.
#[test]
fn a_session_ended_at_one_location_stops_opening_gated_pages_elsewhere_within_the_interval() {
    let world = World::with("", "", "[gate]\nupstream = \"assets\"\nsession_check_interval = 30\n");
    world.site.mount(ISSUER, |req| {
        http::Response::builder().status(200).body(format!("page {}", req.uri().path()).into_bytes()).unwrap()
    });
    let mut browser = Browser::default();
    let to_login = location(&browser.get(&world, "/docs/"));
    sign_in_from_login_page(&world, &mut browser, &to_login, "alice");
    world.store.move_to(FRA);
    assert_eq!(body(&browser.get(&world, "/docs/")), "page /docs/", "fra has read the session");
    let copied = browser.clone();
    sign_out(&world, &mut browser);

    world.store.move_to(FRA);
    world.clock.advance(30);
    let res = copied.clone().get(&world, "/docs/");
    assert_eq!(location(&res), "/login?return_to=%2Fdocs%2F", "{}", body(&res));
}
