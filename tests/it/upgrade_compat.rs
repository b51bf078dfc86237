//! State that lives across a deploy (flow cookies, pending first logins: 10 minutes each) is
//! read in the shape the previous version wrote, and written in a shape it reads, so a deploy
//! or a rollback turns no link into a sign-in and loses no target. Found by the review of the
//! issue 15 restructure.
use keyedge::core::broker::login::{Purpose, UpstreamFlow};
use serde_json::json;

/// A link flow started by the previous Worker version (flow cookie, up to FLOW_TTL = 600 s),
/// completed by this one.
#[test]
fn a_previous_versions_link_flow_cookie_stays_a_link() {
    let old = json!({
        "alias": "up", "secrets": {"nonce": "n", "pkce_verifier": "v"},
        "continuation": {"kind": "return_to", "path": "/account"},
        "expires_at": 9999999999i64, "grant_id": "g",
        "link_user": "u1", "link_return": "https://app/cb"
    });
    let flow: UpstreamFlow = serde_json::from_value(old).unwrap();
    assert!(matches!(flow.purpose, Purpose::Link { .. }), "read as {:?}", flow.purpose);
}

#[test]
fn a_previous_versions_reauth_flow_cookie_stays_a_reauthentication() {
    let old = json!({
        "alias": "up", "secrets": {"nonce": "n"},
        "continuation": {"kind": "return_to", "path": "/account"},
        "expires_at": 9999999999i64, "grant_id": "g", "reauth": "pending-cookie"
    });
    let flow: UpstreamFlow = serde_json::from_value(old).unwrap();
    assert!(matches!(flow.purpose, Purpose::Reauthenticate { .. }), "read as {:?}", flow.purpose);
}

/// A pending first login saved by the previous version at the confirm/mail step.
#[test]
fn a_previous_versions_pending_keeps_its_target() {
    use keyedge::core::broker::first_login::{Pending, Stage};
    let old = old_pending(json!({"user_id": "u1", "field": "email",
            "mailed": {"user_id": "u1", "to": "a@x.org", "hash": "h", "expires_at": 9999999999i64}}));
    let pending: Pending = match serde_json::from_value(old) {
        Ok(p) => p,
        Err(e) => panic!("old pending does not parse: {e}"),
    };
    assert!(matches!(pending.stage, Stage::AwaitingMail { .. }), "read as {:?}", pending.stage);
}

/// What this version writes, the previous one reads: the purpose in its old fields too.
#[test]
fn a_flow_cookie_is_written_in_the_shape_the_previous_version_reads() {
    let flow: UpstreamFlow = serde_json::from_value(json!({
        "alias": "up", "secrets": {"nonce": "n"},
        "continuation": {"kind": "return_to", "path": "/account"},
        "expires_at": 9999999999i64, "grant_id": "g",
        "purpose": {"purpose": "link", "user_id": "u1", "back_to": null}
    }))
    .unwrap();
    let written = serde_json::to_value(&flow).unwrap();
    assert_eq!(written["link_user"], "u1", "{written}");
    let again: UpstreamFlow = serde_json::from_value(written).unwrap();
    assert!(matches!(again.purpose, Purpose::Link { ref user_id, .. } if user_id == "u1"));
}

/// A mailed code kept by the previous version for another account than its target (it never
/// wrote one, but a code must never outlive its target) is dropped on reading.
#[test]
fn an_old_pending_code_for_another_account_is_dropped() {
    use keyedge::core::broker::first_login::{Pending, Stage};
    let old = old_pending(json!({"user_id": "victim", "field": "username",
            "mailed": {"user_id": "u1", "to": "a@x.org", "hash": "h", "expires_at": 9999999999i64}}));
    let pending: Pending = serde_json::from_value(old).unwrap();
    assert!(matches!(pending.stage, Stage::ConfirmLink { .. }), "read as {:?}", pending.stage);
    let written = serde_json::to_value(&pending).unwrap();
    assert_eq!(written["existing"]["user_id"], "victim");
    assert!(written["existing"]["mailed"].is_null(), "{written}");
}

/// A pending first login as the previous version kept it, at the target `existing`.
fn old_pending(existing: serde_json::Value) -> serde_json::Value {
    json!({
        "alias": "up",
        "identity": {"alias": "up", "sub": "s", "username": "u", "email": "a@x.org", "email_verified": true,
            "given_name": null, "family_name": null, "name": null, "picture": null, "locale": null,
            "phone_number": null, "phone_number_verified": false, "address": null, "upstream_sid": null,
            "tokens": {"access_token": "a", "token_type": "bearer"}, "claims": {}},
        "continuation": {"kind": "return_to", "path": "/account"},
        "grant_id": "g",
        "draft": {"username": "u", "email": "a@x.org", "email_verified": true, "given_name": null, "family_name": null},
        "existing": existing,
        "expires_at": 9999999999i64, "form_secret": "f"
    })
}

/// A user record as the previous version wrote it (every profile field at the top level,
/// absent ones as `null`) reads into the flattened [`StandardClaims`], and a record written
/// now keeps those top-level names with both verification flags, which the previous version
/// requires of a brokered identity.
#[test]
fn a_previous_versions_user_record_reads_and_the_new_one_keeps_its_field_names() {
    use keyedge::core::account::users::User;
    let old = json!({
        "id": "u1", "username": "alice", "email": "alice@example.com", "email_verified": true,
        "given_name": "Alice", "family_name": null, "name": null, "phone_number_verified": false,
        "created_at": 1, "links": [{"alias": "up", "sub": "s", "username": "alice", "linked_at": 1}]
    });
    let user: User = serde_json::from_value(old).unwrap();
    assert_eq!(user.profile.email.as_deref(), Some("alice@example.com"));
    assert!(user.profile.email_verified && user.profile.family_name.is_none());
    let written = serde_json::to_value(&user).unwrap();
    assert_eq!(written["email"], "alice@example.com", "{written}");
    assert_eq!(written["given_name"], "Alice");
    assert!(written.get("profile").is_none(), "{written}");
    assert_eq!(
        (written["email_verified"].as_bool(), written["phone_number_verified"].as_bool()),
        (Some(true), Some(false))
    );
}

/// A session listing the previous version wrote (a KV value, no metadata) is still shown on
/// the account page: it is read, as before.
#[test]
fn a_session_listed_by_the_previous_version_is_still_shown() {
    use crate::common::*;
    let world = World::new();
    let mut browser = signed_in(&world, "alice");
    let listing = world.store.keys().into_iter().find(|k| k.starts_with("user_session:")).expect("listed");
    let entry = world.store.settled(&listing).unwrap();
    world.store.next_request();
    futures::executor::block_on(keyedge::core::ports::Store::put(&world.store, &listing, &entry, Some(3600))).unwrap();
    let page = body(&browser.get(&world, "/account"));
    assert_eq!(page.matches("<tr class=\"session\">").count(), 1, "{page}");
}
