//! Outside review of the sign-out made one mark after the other, and of the harness applying
//! a Durable Object write when it is sent (2026-12-08): writes of a revocation sent together,
//! or made where a failure left no retry. Each test fails a Durable Object call at each point
//! in turn, retries as a client would, and passes while nothing of the grant stays usable.

use crate::common::*;

fn revoke(world: &World, token: &str) -> http::Response<Vec<u8>> {
    world.post_form("/revoke", &[("token", token)], Some(("app", APP_SECRET)))
}

/// RFC 7009: the client revokes its access token (its whole grant); a Durable Object call fails
/// part-way; the client retries, gets 200. Nothing issued alongside must stay usable.
#[test]
fn a_revocation_that_failed_part_way_and_was_retried_leaves_no_live_refresh_token() {
    for n in 0..12 {
        let world = World::new();
        let tokens = tokens_for_alice(&world, "openid email offline_access");
        let (at, rt) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
        let Some(first) = with_once_fault(&world, n, || revoke(&world, at)) else {
            break;
        };
        let again = revoke(&world, at);
        assert_eq!(again.status(), 200, "fault {n} (first: {})", first.status());
        let res = json(&refresh(&world, rt));
        assert_eq!(
            res["error"], "invalid_grant",
            "fault {n}: access token revoked twice (200), refresh still works: {res}"
        );
    }
}

/// The same revoking the refresh token: the access tokens must stop too.
#[test]
fn a_refresh_token_revocation_that_failed_part_way_and_was_retried_leaves_no_live_access_token() {
    for n in 0..12 {
        let world = World::new();
        let tokens = tokens_for_alice(&world, "openid email offline_access");
        let (at, rt) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
        if with_once_fault(&world, n, || revoke(&world, rt)).is_none() {
            break;
        }
        assert_eq!(revoke(&world, rt).status(), 200);
        assert_eq!(
            userinfo_status(&world, at),
            401,
            "fault {n}: refresh token revoked twice (200), access token still works"
        );
    }
}

/// Refresh-token reuse (theft detection): the grant is revoked; a fault part-way. Presenting
/// the reused token again does not finish the job.
#[test]
fn a_reuse_detection_that_failed_part_way_leaves_no_live_access_token() {
    for n in 0..12 {
        let world = World::new();
        let tokens = tokens_for_alice(&world, "openid email offline_access");
        let rt = tokens["refresh_token"].as_str().unwrap();
        let next = json(&refresh(&world, rt));
        let at2 = next["access_token"].as_str().unwrap().to_owned();
        world.clock.advance(120);
        // An old token: reuse.
        if with_once_fault(&world, n, || refresh(&world, rt)).is_none() {
            break;
        }
        refresh(&world, rt);
        assert_eq!(userinfo_status(&world, &at2), 401, "fault {n}: reuse detected, the access token still works");
    }
}

/// With KV's writes applied when sent (as the binding does): a first login whose KV write
/// fails part-way; signing in again; can alice redeem and use her tokens?
#[test]
fn a_first_login_with_a_kv_write_failing_part_way_then_signing_in_again() {
    for n in 0..12 {
        let world = World::new();
        if with_kv_fault(&world, n, || {
            let rp = rp_request("app", APP_REDIRECT);
            login(&world, &mut Browser::default(), &rp.query, "alice")
        })
        .is_none()
        {
            break;
        }
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        let code = query_param(&location(&res), "code").expect("signs in again");
        let t = redeem(&world, &code, &rp.verifier);
        assert_eq!(t.status(), 200, "fault {n}: {}", body(&t));
        let t = json(&t);
        assert_eq!(userinfo_status(&world, t["access_token"].as_str().unwrap()), 200, "fault {n}");
        let users = world.store.keys().into_iter().filter(|k| k.starts_with("user:")).count();
        assert_eq!(users, 1, "fault {n}: KV {:?}", world.store.keys());
    }
}

/// The IdP's logout token, a Durable Object call failing at each step; the IdP retries
/// (the same token, then a new one). The keyedge session must end.
#[test]
fn an_idps_logout_that_failed_part_way_ends_the_session_when_retried() {
    for n in 0..12 {
        let world = World::with("accept_logout_tokens = true", "", "");
        let mut browser = Browser::default();
        login(&world, &mut browser, &rp_request("app", APP_REDIRECT).query, "alice");
        let token = world.idp.logout_token("alice", |_| {});
        let Some(first) = with_once_fault(&world, n, || {
            world.post_form("/broker/up/backchannel_logout", &[("logout_token", &token)], None)
        }) else {
            break;
        };
        let again = world.post_form("/broker/up/backchannel_logout", &[("logout_token", &token)], None);
        let fresh = world.idp.logout_token("alice", |c| c["jti"] = serde_json::json!("retry"));
        let third = world.post_form("/broker/up/backchannel_logout", &[("logout_token", &fresh)], None);
        assert_eq!(
            browser.get(&world, "/account").status(),
            302,
            "fault {n}: answers {} {} {} — the IdP ended the session, keyedge's lives",
            first.status(),
            again.status(),
            third.status()
        );
    }
}

/// A client revoking one token twice at once (a double click, a retry): both revocations
/// write KV's list for a Worker of the previous version, one key twice within a second, which
/// KV refuses. The revocation is the Durable Object's marks: both answers are 200.
#[test]
fn a_token_revoked_twice_at_once_gets_two_200s() {
    let world = World::new();
    let tokens = tokens_for_alice(&world, "openid email offline_access");
    let (at, rt) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
    let revoke = || form_request("/revoke", &[("token", rt)], Some(("app", APP_SECRET)));
    let answers = world.send_all(vec![revoke(), revoke()]);
    assert!(answers.iter().all(|a| a.status() == 200), "{:?}", answers.iter().map(|a| a.status()).collect::<Vec<_>>());
    assert_eq!(userinfo_status(&world, at), 401);
    assert_eq!(json(&refresh(&world, rt))["error"], "invalid_grant");
}
