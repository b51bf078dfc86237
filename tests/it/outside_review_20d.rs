//! An outside review of the six commits after 37ec4d3: a sign-in that ends another user's
//! session first, an IdP's logout message acted on once (`once_per_message`, `opened_by`),
//! stale link claims taken back (`claim_link`), `/revoke` of the secret a lost rotation left
//! the client holding, and a first login's lost claim taken back. The holes it found are
//! closed (`opened_by` dropped: a logout message ends every session it names, a message given
//! again after its sessions ended is answered as done; `users::link` lists the identity on the
//! record before claiming it; a claim of an account without a record stands), but one, older
//! than the changes reviewed and of low severity, kept `#[ignore]`d: claiming the identity
//! after the email and username (which closes it) makes a first login whose KV writes failed
//! meet its own account's email claim when signing in again, instead of healing.

use crate::common::fake_idp::FakeIdp;
use crate::common::*;
use keyedge::core::ports::Clock;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Helpers

fn record_of(world: &World, id: &str) -> Option<Value> {
    let record = keyedge::core::keys::user_record(id);
    let json = futures::executor::block_on(keyedge::core::ports::Once::record_get(&world.once, &record)).ok()??;
    serde_json::from_str(&json).ok()
}

/// The accounts whose Durable Object record lists the identity `(alias, sub)`.
fn accounts_listing(world: &World, alias: &str, sub: &str) -> Vec<String> {
    let ids: Vec<String> =
        world.store.keys().into_iter().filter_map(|k| k.strip_prefix("user:").map(str::to_owned)).collect();
    let mut ids: Vec<String> = ids
        .into_iter()
        .filter(|id| {
            record_of(world, id).is_some_and(|user| {
                user["links"].as_array().is_some_and(|l| l.iter().any(|l| l["alias"] == alias && l["sub"] == sub))
            })
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Who holds the identity's link claim (asked as a claimant that never wins).
fn claim_holder(world: &World, alias: &str, sub: &str) -> Option<String> {
    let claim = keyedge::core::keys::link_claim(alias, sub);
    futures::executor::block_on(keyedge::core::ports::Once::claim(&world.once, &claim, "nobody")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 2. An IdP's logout message acted on once, ending only sessions opened by its issue time

mod idp_logout {
    use super::*;

    fn world() -> World {
        World::with("accept_logout_tokens = true", "", "")
    }

    fn backchannel(world: &World, token: &str) -> http::Response<Vec<u8>> {
        world.post_form("/broker/up/backchannel_logout", &[("logout_token", token)], None)
    }

    /// The IdP's clock is 20 s behind keyedge's (within the IdP's `allowed_clock_skew`, 30 s
    /// by default, which keyedge grants its `iat` and `exp`). alice signs in, and 5 s later
    /// logs out at the IdP, which sends its logout token at once, naming her upstream `sid`.
    /// Its `iat` (IdP's clock) is before the moment keyedge recorded her login (keyedge's
    /// clock), so `end_listed`'s `opened_by` skipped her session on the token's FIRST delivery:
    /// keyedge answered `200` and her session, and her applications, went on.
    #[test]
    fn a_logout_token_from_an_idp_whose_clock_is_a_little_behind_ends_the_session() {
        let world = world();
        let mut browser = Browser::default();
        login(&world, &mut browser, &rp_request("app", APP_REDIRECT).query, "alice");
        world.clock.advance(5);
        let iat = world.clock.now() - 20;
        let token = world.idp.logout_token("alice", |c| c["iat"] = json!(iat));
        let res = backchannel(&world, &token);
        assert_eq!(res.status(), 200, "{}", body(&res));
        assert_eq!(
            browser.get(&world, "/account").status(),
            302,
            "the IdP logged alice's upstream session out; keyedge answered 200 and kept the session"
        );
    }

    /// No skew at all. alice's browser is on its way back from the IdP with a code the IdP
    /// issued at `T`, as she logs out at the IdP in another tab at `T` too; keyedge completes
    /// her login at `T + 1`, through the upstream session (`sid`) the token ends. The IdP's
    /// first delivery failed (a `503`) or was queued, and the token arrives after the login.
    /// The session belongs to an upstream session that is over, yet `opened_by` (`iat` = `T`)
    /// skipped it: a session of a logged-out `sid` lived on. (A token naming a `sid` needs no
    /// time filter: no login after the logout can come through that `sid`.)
    #[test]
    fn a_login_through_the_upstream_session_just_logged_out_is_ended_by_its_token() {
        let world = world();
        let mut browser = Browser::default();
        let at_idp = start_login(&world, &mut browser, &rp_request("app", APP_REDIRECT).query);
        let back = world.idp.authorize(&at_idp, "alice");
        let token = world.idp.logout_token("alice", |_| {});
        world.clock.advance(1);
        assert!(location(&browser.get(&world, &back)).starts_with(APP_REDIRECT));
        world.clock.advance(1);
        let res = backchannel(&world, &token);
        assert_eq!(res.status(), 200, "{}", body(&res));
        assert_eq!(browser.get(&world, "/account").status(), 302, "the session of the ended upstream sid lives on");
    }

    /// The same logout token delivered twice at once (an IdP's retry racing its first try,
    /// §2.8): both read the mark unset and act; nothing breaks, a later login lives, and the
    /// token is refused afterwards.
    #[test]
    fn one_logout_token_delivered_twice_at_once_ends_the_session_once_and_no_later_one() {
        for delay in 0..12 {
            let world = world();
            let mut before = Browser::default();
            login(&world, &mut before, &rp_request("app", APP_REDIRECT).query, "alice");
            world.clock.advance(5);
            let token = world.idp.logout_token("alice", |_| {});
            let req = || form_request("/broker/up/backchannel_logout", &[("logout_token", &token)], None);
            let answers = world.send_staggered(vec![(0, req()), (delay, req())]);
            let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
            assert!(statuses.contains(&200), "delay {delay}: {statuses:?}");
            assert!(statuses.iter().all(|s| matches!(s, 200 | 400)), "delay {delay}: {statuses:?}");
            assert_eq!(before.get(&world, "/account").status(), 302, "delay {delay}: alice's session lives on");
            world.clock.advance(5);
            let mut since = Browser::default();
            login(&world, &mut since, &rp_request("app", APP_REDIRECT).query, "alice");
            assert_eq!(backchannel(&world, &token).status(), 200, "delay {delay}: a used token is answered as done");
            assert_eq!(since.get(&world, "/account").status(), 200, "delay {delay}: a later login lives");
        }
    }

    /// Back-Channel Logout §2.8: `400` tells the IdP its logout failed. With the Durable
    /// Object's answer lost at each call in turn, the IdP's retry (after the `503`) is
    /// answered: when the sessions did end — the lost answer being the `jti` mark's, made
    /// after them — the retry found the mark and got `400` "already used", so the IdP
    /// recorded (and might show, or alert on) a failed logout that succeeded.
    #[test]
    fn a_retry_after_a_lost_answer_is_told_the_logout_succeeded() {
        let mut wrong = Vec::new();
        for n in 0.. {
            let world = world();
            let mut browser = Browser::default();
            login(&world, &mut browser, &rp_request("app", APP_REDIRECT).query, "alice");
            let token = world.idp.logout_token("alice", |_| {});
            let Some(first) = with_lost_answer(&world, n, || backchannel(&world, &token)) else { break };
            if first.status() == 200 {
                continue;
            }
            let retry = backchannel(&world, &token);
            let ended = browser.get(&world, "/account").status() == 302;
            assert!(ended, "answer {n} lost: the session lives after the retry ({})", retry.status());
            if retry.status() != 200 {
                wrong.push(format!("answer {n} lost: {} then {} {}", first.status(), retry.status(), body(&retry)));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// A KV call failing at each step of the IdP's logout, then the IdP's retry with the same
    /// token: the session ends.
    #[test]
    fn a_logout_token_failing_in_kv_at_any_step_ends_the_session_when_retried() {
        for n in 0.. {
            let world = world();
            let mut before = Browser::default();
            login(&world, &mut before, &rp_request("app", APP_REDIRECT).query, "alice");
            world.clock.advance(5);
            let token = world.idp.logout_token("alice", |_| {});
            let Some(first) = with_kv_fault(&world, n, || backchannel(&world, &token)) else { break };
            let again = backchannel(&world, &token);
            let answers = format!("answers {} then {}", first.status(), again.status());
            assert_eq!(before.get(&world, "/account").status(), 302, "KV call {n}: {answers}: the session lives");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Link claims: a claim whose account's record does not list the identity is "stale"

mod stale_claims {
    use super::*;

    /// The callback of a link of carol's identity at `second` from `browser`'s account page,
    /// ready to send.
    fn link_callback(world: &World, browser: &mut Browser, idp2: &FakeIdp) -> http::Request<Vec<u8>> {
        let at_idp = location(&browser.post(world, "/broker/second/link"));
        let back = idp2.authorize(&at_idp, "carol");
        http::Request::get(back).header("cookie", browser.cookie_header()).body(Vec::new()).unwrap()
    }

    /// The callback of a first login with carol's identity at `second` in a new browser.
    fn first_login_callback(world: &World, idp2: &FakeIdp) -> http::Request<Vec<u8>> {
        let mut other = Browser::default();
        let at_idp = location(&other.get(world, "/broker/second/login?return_to=%2Faccount"));
        let back = idp2.authorize(&at_idp, "carol");
        http::Request::get(back).header("cookie", other.cookie_header()).body(Vec::new()).unwrap()
    }

    /// alice links carol's identity at `second` from her account page while the same identity
    /// signs in for the first time in another browser; the first login starts `delay` round
    /// trips after the link (every interleaving in turn). `users::link` claimed the identity,
    /// then wrote KV's link, then added it to alice's record: in between, the claim was held by
    /// an account whose record did not (yet) list the identity, and the first login's
    /// `claim_link` took it for "stale" and took it back. The link went on and added the
    /// identity to alice's record; the first login made a second account listing it. The
    /// identity was then on two accounts. Now the record lists it before it is claimed.
    #[test]
    fn a_link_in_progress_is_never_taken_for_a_stale_claim() {
        let mut holes = Vec::new();
        for delay in 0..12 {
            for link_first in [true, false] {
                let (world, idp2, _) = three_idps();
                let mut alice = on_the_account_page_as(&world, "alice");
                let linking = link_callback(&world, &mut alice, &idp2);
                let first = first_login_callback(&world, &idp2);
                let reqs =
                    if link_first { vec![(0, linking), (delay, first)] } else { vec![(0, first), (delay, linking)] };
                let answers = world.send_staggered(reqs);
                let statuses: Vec<_> = answers.iter().map(|r| (r.status().as_u16(), location(r))).collect();
                let listing = accounts_listing(&world, "second", "sub-carol");
                let holder = claim_holder(&world, "second", "sub-carol");
                let at = format!("{} {delay} round trips later", if link_first { "first login" } else { "link" });
                if listing.len() > 1 {
                    holes.push(format!("{at}: the identity is on {} accounts ({statuses:?})", listing.len()));
                } else if listing.first() != holder.as_ref() {
                    holes.push(format!("{at}: the claim names {holder:?}, the record {listing:?}"));
                }
            }
        }
        assert!(holes.is_empty(), "{holes:#?}");
    }

    /// Two first logins of one identity at once, in two browsers, at every offset: one
    /// account, listing the identity, whose claim names it; both browsers signed in to it.
    /// (A creation's record lists the identity before its claim is made, so `claim_link`
    /// never takes back a live first login's claim.)
    #[test]
    fn two_first_logins_of_one_identity_at_once_make_one_account() {
        for delay in 0..12 {
            let (world, idp2, _) = three_idps();
            let a = first_login_callback(&world, &idp2);
            let b = first_login_callback(&world, &idp2);
            let answers = world.send_staggered(vec![(0, a), (delay, b)]);
            let statuses: Vec<_> = answers.iter().map(|r| (r.status().as_u16(), location(r))).collect();
            let listing = accounts_listing(&world, "second", "sub-carol");
            assert_eq!(listing.len(), 1, "delay {delay}: {listing:?} {statuses:?}");
            assert_eq!(claim_holder(&world, "second", "sub-carol").as_ref(), listing.first(), "delay {delay}");
        }
    }

    /// carol's identity at `third` (same verified email) makes its first login; a moment
    /// later her identity at `second` makes its first login twice at once (two tabs); every
    /// offset in turn. The first `second` login claims the identity (its record lists it: a
    /// live claim), then loses the email claim to `third` and abandons its account (claims
    /// taken back, record emptied). The other tab, having found the identity's claim live
    /// meanwhile, was signed in to that account (`AlreadyLinked` → `heal`, which also wrote
    /// KV's copy of it and KV's link): a session of an account that no longer exists, sent on
    /// to `/account`, which sends it to sign in. Older than the six commits (`heal`'s new
    /// "record lists the identity" check passes: it still did). Checked: every browser sent on
    /// to `/account` has an account there.
    #[test]
    #[ignore = "hole (pre-existing, low): a first login is signed in to the account a concurrent first login of the same identity then abandons"]
    fn a_first_login_never_signs_in_to_an_account_another_first_login_abandons() {
        let mut holes = Vec::new();
        for d2 in 0..8 {
            for d3 in 0..8 {
                let (world, idp2, idp3) = three_idps();
                let start = |alias: &str, idp: &FakeIdp| {
                    let mut b = Browser::default();
                    let at_idp = location(&b.get(&world, &format!("/broker/{alias}/login?return_to=%2Faccount")));
                    let back = idp.authorize(&at_idp, "carol");
                    let req = http::Request::get(back).header("cookie", b.cookie_header()).body(Vec::new()).unwrap();
                    (b, req)
                };
                let (mut b1, r1) = start("second", &idp2);
                let (mut b2, r2) = start("second", &idp2);
                let (mut b3, r3) = start("third", &idp3);
                let answers = world.send_staggered(vec![(d3, r1), (d3 + d2, r2), (0, r3)]);
                for (browser, answer) in [&mut b1, &mut b2, &mut b3].into_iter().zip(&answers) {
                    browser.remember(answer);
                }
                world.clock.advance(120);
                for (i, (browser, answer)) in [&mut b1, &mut b2, &mut b3].into_iter().zip(&answers).enumerate() {
                    if location(answer) == "/account" {
                        let page = browser.get(&world, "/account");
                        if page.status() != 200 {
                            holes.push(format!(
                                "offsets {d2} {d3}: login {i} was sent to /account, which answers {} {}",
                                page.status(),
                                location(&page)
                            ));
                        }
                    }
                }
            }
        }
        assert!(holes.is_empty(), "{holes:#?}");
    }

    /// Two signed-in accounts link the same identity at once (both authenticated at the IdP
    /// as carol): at most one gets it, and the other is told it is linked elsewhere.
    #[test]
    fn two_accounts_linking_one_identity_at_once_never_both_get_it() {
        let mut holes = Vec::new();
        for delay in 0..12 {
            let (world, idp2, _) = three_idps();
            // The two KV writes of the identity's link a second apart or more (the harness's
            // clock stands still during `send_staggered`; with KV's one write per second to a
            // key, the later link fails on its KV write instead, before touching its record).
            world.store.set_write_limit(false);
            let mut alice = on_the_account_page_as(&world, "alice");
            let mut bob = on_the_account_page_as(&world, "bob");
            let a = link_callback(&world, &mut alice, &idp2);
            let b = link_callback(&world, &mut bob, &idp2);
            let answers = world.send_staggered(vec![(0, a), (delay, b)]);
            let statuses: Vec<_> = answers.iter().map(|r| (r.status().as_u16(), location(r))).collect();
            let listing = accounts_listing(&world, "second", "sub-carol");
            if listing.len() > 1 {
                holes.push(format!("delay {delay}: the identity is on {} accounts ({statuses:?})", listing.len()));
            }
        }
        assert!(holes.is_empty(), "{holes:#?}");
    }
    /// An account written before the Durable Object held records (no record: `load_current`
    /// reads KV's copy). During a rolling deploy the previous version, serving another
    /// location, links carol's identity at `second` to it: the claim in the Durable Object,
    /// KV's link and KV's copy of the user. At this location KV's copy of the user was read
    /// a moment before, so it is served from cache without the identity for up to 60 s.
    /// carol signed in here: `claim_link` asked the holder's "current record", got KV's stale
    /// copy, took the live claim back and made a new account of the identity. Now the claim
    /// of an account without a record stands.
    #[test]
    fn a_live_claim_of_an_account_without_a_record_is_never_taken_back_on_kvs_stale_copy() {
        use futures::executor::block_on;
        use keyedge::core::keys;
        use keyedge::core::ports::{Once, Store};
        // KV's copy of an account as a first login writes it, made record-less under a new id.
        let (model, _, _) = three_idps();
        on_the_account_page_as(&model, "alice");
        let made = model.kv(&keys::link("up", "sub-alice")).unwrap();
        let mut user: Value = serde_json::from_str(&model.kv(&keys::user(&made)).unwrap()).unwrap();
        user["id"] = json!("legacy-alice");
        let (world, idp2, _) = three_idps();
        let put = |key: &str, value: &str| block_on(Store::put(&world.store, key, value, None)).unwrap();
        world.store.move_to("old-version");
        put(&keys::user("legacy-alice"), &user.to_string());
        put(&keys::link("up", "sub-alice"), "legacy-alice");
        put(&keys::username("alice"), "legacy-alice");
        assert_eq!(
            block_on(Once::claim(&world.once, &keys::link_claim("up", "sub-alice"), "legacy-alice")).unwrap(),
            None
        );
        world.clock.advance(120);
        // This location reads alice's account (any request of hers does).
        world.store.move_to("here");
        assert!(block_on(Store::get(&world.store, &keys::user("legacy-alice"))).unwrap().is_some());
        // The previous version links carol's identity to it, elsewhere.
        world.store.move_to("old-version");
        assert_eq!(
            block_on(Once::claim(&world.once, &keys::link_claim("second", "sub-carol"), "legacy-alice")).unwrap(),
            None
        );
        put(&keys::link("second", "sub-carol"), "legacy-alice");
        user["links"]
            .as_array_mut()
            .unwrap()
            .push(json!({"alias": "second", "sub": "sub-carol", "username": "carol", "linked_at": world.clock.now()}));
        put(&keys::user("legacy-alice"), &user.to_string());
        world.clock.advance(5);
        // carol signs in here.
        world.store.move_to("here");
        let mut carol = Browser::default();
        let at_idp = location(&carol.get(&world, "/broker/second/login?return_to=%2Faccount"));
        let done = carol.get(&world, &idp2.authorize(&at_idp, "carol"));
        let holder = claim_holder(&world, "second", "sub-carol");
        assert_eq!(
            holder.as_deref(),
            Some("legacy-alice"),
            "the live claim was taken back ({} {}); accounts with a record listing carol: {:?}",
            done.status(),
            location(&done),
            accounts_listing(&world, "second", "sub-carol")
        );
    }
    /// alice links her identities at `second` and `third` at once from two tabs (KV's writes a
    /// second apart: its one-write-per-second limit off), with the Durable Object failing at
    /// each call in turn. `users::update` now writes KV's copy even when re-reading the record
    /// after its swap fails, writing its own (possibly older) version: the link whose swap came
    /// first can then overwrite, in KV, the copy the later one wrote. Checked once KV settled:
    /// KV's copy of alice (read by `/userinfo`, a refresh's claims, the gate) is the record.
    #[test]
    fn two_changes_at_once_with_a_call_failing_leave_kvs_copy_no_older_than_the_record() {
        use keyedge::core::keys;
        let mut stale = Vec::new();
        for delay in 0..4 {
            for n in 0.. {
                let (world, idp2, idp3) = three_idps();
                world.store.set_write_limit(false);
                let mut alice = on_the_account_page_as(&world, "alice");
                let id = world.kv(&keys::link("up", "sub-alice")).unwrap();
                let start = |alias: &str, idp: &FakeIdp, alice: &mut Browser| {
                    let at_idp = location(&alice.post(&world, &format!("/broker/{alias}/link")));
                    let back = idp.authorize(&at_idp, &format!("alice-{alias}"));
                    http::Request::get(back).header("cookie", alice.cookie_header()).body(Vec::new()).unwrap()
                };
                let a = start("second", &idp2, &mut alice);
                let b = start("third", &idp3, &mut alice);
                let Some(answers) = with_once_fault(&world, n, || world.send_staggered(vec![(0, a), (delay, b)]))
                else {
                    break;
                };
                world.clock.advance(120);
                let record = record_of(&world, &id).unwrap();
                let kv: Value = serde_json::from_str(&world.store.settled(&keys::user(&id)).unwrap()).unwrap();
                if kv["links"] != record["links"] {
                    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
                    stale.push(format!(
                        "delay {delay}, call {n} failing ({statuses:?}): KV {} record {}",
                        kv["links"], record["links"]
                    ));
                }
            }
        }
        assert!(stale.is_empty(), "{stale:#?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A sign-in that replaces another user's session

mod replaced_session {
    use super::*;

    fn signed_in(world: &World, browser: &mut Browser, user: &str) -> Value {
        let rp = rp_request("app", APP_REDIRECT);
        let code = query_param(&location(&login(world, browser, &rp.query, user)), "code").unwrap();
        json(&redeem(world, &code, &rp.verifier))
    }

    /// bob signs in on the browser alice is signed in to, with a KV call failing at each step
    /// in turn (the Durable Object's are covered by `logout.rs`): whenever bob's cookie has
    /// replaced alice's, her session must be over for her applications; after bob's retry it
    /// is over in every case.
    #[test]
    fn a_sign_in_that_replaces_a_session_with_a_kv_call_failing_never_leaves_it_alive_unreachable() {
        for n in 0.. {
            let world = World::new();
            let mut browser = Browser::default();
            let alice = signed_in(&world, &mut browser, "alice");
            let rt = alice["refresh_token"].as_str().unwrap().to_owned();
            let before = browser.cookies.clone();
            let rp = request_with(&[("prompt", "login")]);
            let Some(_) = with_kv_fault(&world, n, || {
                let page = browser.get(&world, &format!("/authorize?{}", rp.query));
                if page.status() == 200 {
                    let to_idp = browser.get(&world, &idp_link(&body(&page), "up"));
                    if to_idp.status() == 302 {
                        browser.get(&world, &world.idp.authorize(&location(&to_idp), "bob"));
                    }
                }
            }) else {
                break;
            };
            let session = |c: &std::collections::HashMap<String, String>| {
                c.iter().filter(|(k, _)| k.contains("keyedge_session")).map(|(_, v)| v.clone()).collect::<Vec<_>>()
            };
            if session(&browser.cookies) != session(&before) {
                let refreshed = refresh(&world, &rt);
                assert_eq!(refreshed.status(), 400, "KV call {n}: bob's cookie replaced alice's, her session goes on");
            }
            let again = login(&world, &mut browser, &request_with(&[("prompt", "login")]).query, "bob");
            assert!(location(&again).starts_with(APP_REDIRECT), "KV call {n}: bob signs in again");
            assert_eq!(refresh(&world, &rt).status(), 400, "KV call {n}: alice's session goes on after bob's retry");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. /revoke of the secret the current one replaced

mod revoke_last_secret {
    use super::*;

    /// The secret a refresh replaced is accepted by `/revoke` now; presented by another
    /// client it revokes nothing (RFC 7009 §2.1: the token must have been issued to the
    /// client making the request).
    #[test]
    fn another_client_presenting_the_replaced_secret_revokes_nothing() {
        let world = World::new();
        let (_, tokens) = signed_in_with_tokens(&world);
        let old = tokens["refresh_token"].as_str().unwrap().to_owned();
        let rotated = json(&refresh(&world, &old));
        let current = rotated["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(old, current);
        let res = world.post_form("/revoke", &[("token", &old)], Some(("machine", MACHINE_SECRET)));
        assert!(matches!(res.status().as_u16(), 200 | 400), "{}", body(&res));
        let next = refresh(&world, &current);
        assert_eq!(next.status(), 200, "another client's /revoke ended app's grant: {}", body(&next));
    }

    /// Only the secret the current one replaced is taken: one replaced two rotations ago is
    /// not recognised by `/revoke` (it is an unknown token: `200`, nothing revoked), so the
    /// rule does not widen what an old, leaked secret can do there.
    #[test]
    fn a_secret_two_rotations_old_is_not_taken_by_revoke() {
        let world = World::new();
        let (_, tokens) = signed_in_with_tokens(&world);
        let first = tokens["refresh_token"].as_str().unwrap().to_owned();
        world.clock.advance(120);
        let second = json(&refresh(&world, &first))["refresh_token"].as_str().unwrap().to_owned();
        world.clock.advance(120);
        let third = json(&refresh(&world, &second))["refresh_token"].as_str().unwrap().to_owned();
        let res = world.post_form("/revoke", &[("token", &first)], Some(("app", APP_SECRET)));
        assert_eq!(res.status(), 200, "{}", body(&res));
        let next = refresh(&world, &third);
        assert_eq!(next.status(), 200, "{}", body(&next));
        // The one the current replaced is: it revokes the grant.
        let fourth = json(&next)["refresh_token"].as_str().unwrap().to_owned();
        let res = world.post_form("/revoke", &[("token", &third)], Some(("app", APP_SECRET)));
        assert_eq!(res.status(), 200, "{}", body(&res));
        assert_eq!(refresh(&world, &fourth).status(), 400, "revoking the replaced secret left the grant alive");
    }
}
