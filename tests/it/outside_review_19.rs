//! Holes an outside review of issue 19's changes (the gate pass, revocation marks in the
//! Durable Object, rate limits) found, each performed as the attack; every test here failed
//! before its fix.

use crate::common::*;
use keyedge::core::ports::rate_limit::{Limiter, MemoryRateLimit};
use keyedge::core::ports::Store;
use serde_json::json;

fn kv_put(world: &World, key: &str, value: &str) {
    futures::executor::block_on(world.store.put(key, value, Some(36_000))).unwrap();
}

/// Rollout / deploy: the previous version's logout wrote only KV's `ended_session:{sid}`
/// (and deleted the session). Reading only the Durable Object's mark brought the online
/// refresh token of every session ended before the deploy (or by an old isolate during a
/// gradual rollout) back to life; both marks are read.
#[test]
fn a_session_ended_by_the_previous_version_refreshes_no_token() {
    let world = World::new();
    let (_, tokens) = signed_in_with_tokens(&world);
    let sid = id_claims(&tokens)["sid"].as_str().unwrap().to_owned();
    // What the previous version's session::end wrote (the session record's deletion does
    // not matter to the refresh grant).
    kv_put(&world, &format!("ended_session:{sid}"), "1");
    world.clock.advance(5);
    let res = json(&refresh(&world, tokens["refresh_token"].as_str().unwrap()));
    assert_eq!(res["error"], "invalid_grant", "the ended session's refresh token still works: {res}");
}

/// Same for grants revoked by the previous version (replayed code, RFC 7009 /revoke): their
/// access tokens are accepted again at /userinfo and /introspect.
#[test]
fn an_access_token_of_a_grant_revoked_by_the_previous_version_is_refused() {
    let world = World::new();
    let (_, tokens) = signed_in_with_tokens(&world);
    let access = tokens["access_token"].as_str().unwrap();
    let gid = payload(access)["gid"].as_str().unwrap().to_owned();
    kv_put(&world, &format!("revoked_grant:{gid}"), "1");
    assert_eq!(userinfo_status(&world, access), 401, "a revoked grant's access token is accepted");
}

/// RFC 7662: after the session ended, its online refresh token can no longer be used, and
/// introspection says so.
#[test]
fn introspection_calls_the_refresh_token_of_an_ended_session_inactive() {
    let world = World::new();
    let (mut browser, tokens) = signed_in_with_tokens(&world);
    assert_eq!(browser.get(&world, "/logout").status(), 200);
    browser.post(&world, "/logout");
    let rt = tokens["refresh_token"].as_str().unwrap();
    let res = json(&world.post_form("/introspect", &[("token", rt)], Some(("app", APP_SECRET))));
    assert_eq!(res["active"], false, "{res}");
}

fn post_from(world: &World, ip: &str, path: &str, form: &str, basic: Option<(&str, &str)>) -> http::Response<Vec<u8>> {
    use base64::Engine;
    let mut req = http::Request::post(format!("{ISSUER}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cf-connecting-ip", ip);
    if let Some((id, secret)) = basic {
        let creds = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {creds}"));
    }
    world.send(req.body(form.as_bytes().to_vec()).unwrap())
}

/// `/revoke` authenticates the client too (401 wrong / 200 right): without a limit it was an
/// unlimited secret-guessing oracle beside the limited `/token` and `/introspect`.
#[test]
fn client_secrets_cannot_be_guessed_without_limit_at_revoke() {
    let mut world = World::new();
    world.limits =
        MemoryRateLimit::new(world.clock.clone(), &[(Limiter::Token, 3, 60), (Limiter::Introspection, 3, 60)]);
    let statuses: Vec<u16> = (0..10)
        .map(|i| {
            post_from(&world, "192.0.2.1", "/revoke", "token=x", Some(("app", &format!("guess-{i}")))).status().as_u16()
        })
        .collect();
    assert!(statuses.contains(&429), "ten guesses from one IP, none limited: {statuses:?}");
}

/// A public client is named, not authenticated: a per-client budget would let anyone exhaust
/// the SPA's (garbage codes, each from its own address) and lock every user of it out.
#[test]
fn nobody_spends_a_public_clients_token_budget() {
    let mut world = World::new();
    world.limits = MemoryRateLimit::new(world.clock.clone(), &[(Limiter::Token, 3, 60)]);
    for i in 0..3 {
        let res = post_from(
            &world,
            &format!("198.51.100.{i}"),
            "/token",
            "grant_type=authorization_code&client_id=spa&code=garbage&redirect_uri=https%3A%2F%2Fspa.test%2Fcb",
            None,
        );
        assert_eq!(res.status(), 400, "{}", body(&res));
    }
    let user =
        post_from(&world, "203.0.113.5", "/token", "grant_type=refresh_token&client_id=spa&refresh_token=a.b", None);
    assert_ne!(user.status(), 429, "the SPA's users are locked out by a stranger: {}", body(&user));
}

/// A grant's revocation mark lasts as long as the longest access token any client is
/// issued (a client may set a longer `access_token_lifetime` than the global one).
#[test]
fn a_revoked_grants_long_lived_access_token_stays_refused_until_it_expires() {
    let world = World::with("", "access_token_lifetime = 7200", "");
    let (_, tokens) = signed_in_with_tokens(&world);
    let access = tokens["access_token"].as_str().unwrap();
    let revoked = world.post_form("/revoke", &[("token", access)], Some(("app", APP_SECRET)));
    assert_eq!(revoked.status(), 200);
    assert_eq!(userinfo_status(&world, access), 401);
    world.clock.advance(3700);
    assert_eq!(userinfo_status(&world, access), 401, "the revoked access token worked again");
}

/// The IdP's back-channel logout read and rewrote the upstream-session list in KV: at a
/// location whose copy was stale it missed a session opened elsewhere (and overwrote the list
/// without it), answered 200, and the session lived on. The list is in the Durable Object now.
#[test]
fn an_idp_logout_ends_a_session_opened_elsewhere_a_moment_ago() {
    let world = World::with("accept_logout_tokens = true", "", "");
    let rp = || rp_request("app", APP_REDIRECT);
    // alice at home; the IdP's first logout arrives at fra (the IdP's nearest location).
    let mut first = Browser::default();
    login(&world, &mut first, &rp().query, "alice");
    world.store.move_to("fra");
    let t1 = world.idp.logout_token("alice", |c| c["jti"] = json!("one"));
    assert_eq!(world.post_form("/broker/up/backchannel_logout", &[("logout_token", &t1)], None).status(), 200);
    world.store.move_to("home");
    assert_eq!(first.get(&world, "/account").status(), 302, "the first session ended");
    // A new session at home (someone signs in with alice's IdP account again) ...
    let mut second = Browser::default();
    login(&world, &mut second, &rp().query, "alice");
    assert_eq!(second.get(&world, "/account").status(), 200);
    // ... and the IdP ends alice's sessions again: at fra, as always.
    world.store.move_to("fra");
    let t2 = world.idp.logout_token("alice", |c| c["jti"] = json!("two"));
    assert_eq!(world.post_form("/broker/up/backchannel_logout", &[("logout_token", &t2)], None).status(), 200);
    world.store.move_to("home");
    world.clock.advance(120);
    assert_eq!(second.get(&world, "/account").status(), 302, "the IdP's logout was answered 200 and ended nothing");
}
