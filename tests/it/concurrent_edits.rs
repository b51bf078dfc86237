//! Requests that change one user record at the same time (issue 14, item 15): several
//! isolates serve them, each reading, changing and writing the record. None of their changes
//! may be lost, and a rule checked on the record ("not the last identity") may not be raced.

use crate::common::fake_idp::FakeIdp;
use crate::common::*;
use serde_json::Value;

/// Links alice's identity at `alias` (whose IdP is `idp`) from the account page.
fn link(world: &World, browser: &mut Browser, alias: &str, idp: &FakeIdp) {
    let at_idp = location(&browser.post(world, &format!("/broker/{alias}/link")));
    let done = browser.get(world, &idp.authorize(&at_idp, &format!("alice-{alias}")));
    assert_eq!(location(&done), "/account", "{}", body(&done));
}

/// The account page's unlink form for `alias`, as a request ready to send.
fn unlink_request(browser: &Browser, alias: &str) -> http::Request<Vec<u8>> {
    browser.form_request(&format!("/account/unlink/{alias}"), &[])
}

fn alice(world: &World) -> Value {
    let id = world
        .kv(&keyedge::core::keys::link("up", "sub-alice"))
        .or_else(|| world.kv(&keyedge::core::keys::link("second", "sub-alice-second")))
        .expect("alice is linked");
    // The account as the Durable Object holds it: what sign-ins read. (KV's copy follows; under
    // KV's one write per second to a key it may lag concurrent changes until the next one.)
    let record = keyedge::core::keys::user_record(&id);
    let json = futures::executor::block_on(keyedge::core::ports::Once::record_get(&world.once, &record)).unwrap();
    serde_json::from_str(&json.expect("alice's record")).unwrap()
}

fn aliases(user: &Value) -> Vec<String> {
    let mut a: Vec<String> =
        user["links"].as_array().unwrap().iter().map(|l| l["alias"].as_str().unwrap().to_owned()).collect();
    a.sort();
    a
}

#[test]
fn two_unlinks_at_once_both_take_effect() {
    let (world, idp2, idp3) = three_idps();
    let mut browser = on_the_account_page_as(&world, "alice");
    link(&world, &mut browser, "second", &idp2);
    link(&world, &mut browser, "third", &idp3);
    assert_eq!(aliases(&alice(&world)), ["second", "third", "up"]);

    let answers = world.send_all(vec![unlink_request(&browser, "second"), unlink_request(&browser, "third")]);
    for res in &answers {
        assert_eq!(location(res), "/account", "{}", body(res));
    }
    // Without a compare-and-swap, the later write brought back the identity the other removed.
    assert_eq!(aliases(&alice(&world)), ["up"]);
    assert!(world.kv(&keyedge::core::keys::link("second", "sub-alice-second")).is_none());
    assert!(world.kv(&keyedge::core::keys::link("third", "sub-alice-third")).is_none());
}

#[test]
fn unlinking_both_identities_at_once_keeps_one_to_sign_in_with() {
    let (world, idp2, _) = three_idps();
    let mut browser = on_the_account_page_as(&world, "alice");
    link(&world, &mut browser, "second", &idp2);

    let answers = world.send_all(vec![unlink_request(&browser, "up"), unlink_request(&browser, "second")]);
    let refused = answers.iter().filter(|r| r.status() == 400).count();
    assert_eq!(
        refused,
        1,
        "exactly one unlink is refused: {:?}",
        answers.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    // The record and the link index agree on the one identity left, which still signs in.
    let left = aliases(&alice(&world));
    assert_eq!(left.len(), 1, "{left:?}");
    let sub = if left[0] == "up" { "sub-alice".to_owned() } else { "sub-alice-second".to_owned() };
    assert!(world.kv(&keyedge::core::keys::link(&left[0], &sub)).is_some(), "{left:?} lost its link");
}

#[test]
fn a_link_and_an_unlink_at_once_both_take_effect() {
    let (world, idp2, idp3) = three_idps();
    let mut browser = on_the_account_page_as(&world, "alice");
    link(&world, &mut browser, "second", &idp2);
    // The third IdP's callback arrives while the second identity is being unlinked.
    let at_idp = location(&browser.post(&world, "/broker/third/link"));
    let callback_url = idp3.authorize(&at_idp, "alice-third");
    let callback = http::Request::get(callback_url).header("cookie", browser.cookie_header()).body(Vec::new()).unwrap();

    let answers = world.send_all(vec![callback, unlink_request(&browser, "second")]);
    for res in &answers {
        assert_eq!(location(res), "/account", "{}", body(res));
    }
    assert_eq!(aliases(&alice(&world)), ["third", "up"]);
}

/// The records (as the Durable Object holds them) of every account, by user id.
fn records(world: &World) -> Vec<(String, Value)> {
    let ids: Vec<String> =
        world.store.keys().into_iter().filter_map(|k| k.strip_prefix("user:").map(str::to_owned)).collect();
    ids.into_iter()
        .filter_map(|id| {
            let record = keyedge::core::keys::user_record(&id);
            let json =
                futures::executor::block_on(keyedge::core::ports::Once::record_get(&world.once, &record)).ok()??;
            serde_json::from_str(&json).ok().map(|v| (id, v))
        })
        .collect()
}

/// alice links her identity at `second` from the account page while, in another browser, she
/// signs in with that identity for the first time. A claim of the identity is taken back
/// when the account holding it does not list it (one left by a link or unlink that failed):
/// never one whose account does. The identity ends up on one account only, the one its claim
/// names.
#[test]
fn a_link_and_a_first_login_of_the_same_identity_at_once_leave_it_on_one_account() {
    let (world, idp2, _) = three_idps();
    let mut browser = on_the_account_page_as(&world, "alice");
    let at_idp = location(&browser.post(&world, "/broker/second/link"));
    let linking = idp2.authorize(&at_idp, "carol");
    let linking = http::Request::get(linking).header("cookie", browser.cookie_header()).body(Vec::new()).unwrap();
    let mut other = Browser::default();
    let at_idp = location(&other.get(&world, "/broker/second/login?return_to=%2Faccount"));
    let first = idp2.authorize(&at_idp, "carol");
    let first = http::Request::get(first).header("cookie", other.cookie_header()).body(Vec::new()).unwrap();

    let answers = world.send_all(vec![first, linking]);
    let statuses: Vec<_> = answers.iter().map(|r| (r.status(), location(r))).collect();
    let holders: Vec<String> = records(&world)
        .into_iter()
        .filter(|(_, user)| {
            user["links"].as_array().unwrap().iter().any(|l| l["alias"] == "second" && l["sub"] == "sub-carol")
        })
        .map(|(id, _)| id)
        .collect();
    assert_eq!(holders.len(), 1, "carol's identity is on {holders:?} ({statuses:?})");
    let claim = keyedge::core::keys::link_claim("second", "sub-carol");
    let owner = futures::executor::block_on(keyedge::core::ports::Once::claim(&world.once, &claim, "nobody")).unwrap();
    assert_eq!(owner.as_deref(), Some(holders[0].as_str()), "the claim names another account ({statuses:?})");
}
