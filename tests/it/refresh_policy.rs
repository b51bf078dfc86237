//! The refresh-token policy (issue 16): Keycloak's `revokeRefreshToken` and
//! `refreshTokenMaxReuse`, and a grace window in which concurrent refreshes with one token
//! (tabs, replicas) all get the same successor instead of revoking the grant (RFC 9700
//! §4.14.2); reuse after it, or of a token whose successor was used, still revokes it.

use crate::common::*;
use keyedge::core::keys;
use keyedge::core::ports::{Family, Once};

fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or_else(|| panic!("no {k} in {v}")).to_owned()
}

fn refresh_request(refresh_token: &str) -> http::Request<Vec<u8>> {
    form_request(
        "/token",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
        Some(("app", APP_SECRET)),
    )
}

/// The family of a refresh token, as the Durable Object holds it.
fn family_of(world: &World, refresh_token: &str) -> Family {
    let gid = refresh_token.split('.').next().unwrap();
    futures::executor::block_on(world.once.family_get(&keys::refresh_family(gid))).unwrap().expect("the family")
}

fn is_current(world: &World, refresh_token: &str) -> bool {
    let family = family_of(world, refresh_token);
    let secret = refresh_token.split('.').nth(1).unwrap();
    !family.revoked && family.current == keys::refresh_secret(secret)
}

fn refreshed(world: &World, refresh_token: &str) -> serde_json::Value {
    let res = refresh(world, refresh_token);
    assert_eq!(res.status(), 200, "{}", body(&res));
    json(&res)
}

fn refused(world: &World, refresh_token: &str) {
    assert_eq!(json(&refresh(world, refresh_token))["error"], "invalid_grant");
}

#[test]
fn twenty_concurrent_refreshes_with_one_token_share_one_successor() {
    let world = World::new();
    let first = tokens_for_alice(&world, "openid");
    let rt1 = s(&first, "refresh_token");
    let answers = world.send_all((0..20).map(|_| refresh_request(&rt1)).collect());
    let answers: Vec<serde_json::Value> = answers
        .iter()
        .map(|res| {
            assert_eq!(res.status(), 200, "{}", body(res));
            json(res)
        })
        .collect();
    let rt2 = s(&answers[0], "refresh_token");
    assert_ne!(rt2, rt1);
    for answer in &answers {
        assert_eq!(s(answer, "refresh_token"), rt2, "one successor for all");
        assert_eq!(userinfo_status(&world, &s(answer, "access_token")), 200);
        assert!(answer["id_token"].is_string());
    }
    assert_eq!(rt2.split('.').next(), rt1.split('.').next(), "one family");
    assert!(is_current(&world, &rt2), "{:?}", family_of(&world, &rt2));
    let rt3 = s(&refreshed(&world, &rt2), "refresh_token");
    assert!(is_current(&world, &rt3));
}

#[test]
fn after_the_grace_window_the_old_token_revokes_the_family() {
    let world = World::new();
    let first = tokens_for_alice(&world, "openid");
    let rt1 = s(&first, "refresh_token");
    let second = refreshed(&world, &rt1);
    let rt2 = s(&second, "refresh_token");
    world.clock.advance(4);
    assert_eq!(s(&refreshed(&world, &rt1), "refresh_token"), rt2, "a second before the window closes");
    world.clock.advance(1);
    let late = world.send_all((0..20).map(|_| refresh_request(&rt1)).collect());
    assert!(late.iter().all(|res| json(res)["error"] == "invalid_grant"));
    assert!(family_of(&world, &rt2).revoked);
    refused(&world, &rt2);
    assert_eq!(userinfo_status(&world, &s(&second, "access_token")), 401);
}

#[test]
fn a_token_whose_successor_was_used_revokes_the_family_even_within_the_window() {
    let world = World::new();
    let rt1 = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    let rt2 = s(&refreshed(&world, &rt1), "refresh_token");
    assert_eq!(s(&refreshed(&world, &rt1), "refresh_token"), rt2, "a repeat");
    let rt3 = s(&refreshed(&world, &rt2), "refresh_token");
    // rt2 has been used: rt1 is stale now, whatever the time.
    refused(&world, &rt1);
    assert!(family_of(&world, &rt3).revoked);
    refused(&world, &rt3);
}

#[test]
fn a_grace_of_zero_is_strict() {
    let world = World::with("", "", "refresh_token_grace_seconds = 0");
    let rt1 = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    let rt2 = s(&refreshed(&world, &rt1), "refresh_token");
    refused(&world, &rt1);
    refused(&world, &rt2);
    assert!(family_of(&world, &rt2).revoked);
}

#[test]
fn max_reuse_allows_that_many_late_repeats_then_revokes() {
    let world = World::with("", "", "refresh_token_grace_seconds = 0\nrefresh_token_max_reuse = 2");
    let rt1 = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    let rt2 = s(&refreshed(&world, &rt1), "refresh_token");
    for _ in 0..2 {
        world.clock.advance(60);
        assert_eq!(s(&refreshed(&world, &rt1), "refresh_token"), rt2);
    }
    assert!(is_current(&world, &rt2));
    refused(&world, &rt1);
    refused(&world, &rt2);
}

#[test]
fn without_rotation_the_same_token_is_returned_and_stays_valid() {
    let world = World::with("", "", "revoke_refresh_token = false");
    let rt = s(&tokens_for_alice(&world, "openid"), "refresh_token");
    for _ in 0..3 {
        world.clock.advance(60);
        assert_eq!(s(&refreshed(&world, &rt), "refresh_token"), rt);
    }
    let answers = world.send_all((0..5).map(|_| refresh_request(&rt)).collect());
    for res in &answers {
        assert_eq!(json(res)["refresh_token"], rt.as_str(), "{}", body(res));
    }
    assert!(is_current(&world, &rt));
    let gid = rt.split('.').next().unwrap();
    refused(&world, &format!("{gid}.guess"));
    // Revocation still ends it.
    let revoked = world.post_form("/revoke", &[("token", &rt)], Some(("app", APP_SECRET)));
    assert_eq!(revoked.status(), 200);
    refused(&world, &rt);
}
