//! Lost answers (an outside review, 2026-12-08): a Durable Object call that was made (its write
//! landed) but whose answer never came back (`with_lost_answer`; for KV writes,
//! `with_lost_kv_answer`), at each call of a flow in turn, followed by what a real client,
//! browser or IdP does next (retry, reload, sign in again). Where useful, the same with the
//! call refused (`with_once_fault`, `with_kv_fault`). Six holes it found are closed; each test
//! says what it found. The invariants: nothing half-written blocks anyone for
//! good, nothing stays alive that should be dead, nothing single-use is used twice, nothing is
//! linked wrongly, and every answer is readable (never a 500).

use crate::common::*;

/// The redirect to the application (a code) or nothing.
fn code_in(res: &http::Response<Vec<u8>>) -> Option<String> {
    query_param(&location(res), "code")
}

fn assert_readable(res: &http::Response<Vec<u8>>, at: &str) {
    assert_ne!(res.status(), 500, "{at}: {}", body(res));
}

fn userinfo(world: &World, tokens: &serde_json::Value) -> u16 {
    userinfo_status(world, tokens["access_token"].as_str().unwrap())
}

fn refresh_token_of(tokens: &serde_json::Value) -> &str {
    tokens["refresh_token"].as_str().unwrap()
}

type Res = http::Response<Vec<u8>>;
type ApiFault = fn(&World, usize, &mut dyn FnMut() -> Res) -> Option<Res>;

/// An application's call with the Durable Object's call `n` made and its answer lost, or
/// refused.
fn api_faults() -> [(&'static str, ApiFault); 2] {
    let lose: ApiFault = |w, n, act| with_lost_answer(w, n, act);
    let refuse: ApiFault = |w, n, act| with_once_fault(w, n, act);
    [("lost", lose), ("refused", refuse)]
}

/// alice signed in to the app in `browser`: the request, the code.
fn code_for_alice(world: &World, browser: &mut Browser) -> (RpRequest, String) {
    let rp = rp_request("app", APP_REDIRECT);
    let code = code_of(&login(world, browser, &rp.query, "alice"));
    (rp, code)
}

/// The answer of a code's redemption at `/token` is lost (the code's `take` landed: it is
/// spent), and the client retries the same code. The code must never yield tokens twice (RFC
/// 6749 §4.1.2), the retry is a JSON error, and the user is not stuck: a new authorization in
/// the same browser gives a code that redeems.
#[test]
fn a_code_whose_redemption_answer_was_lost_yields_tokens_at_most_once_and_signing_in_again_works() {
    for n in 0.. {
        let world = World::new();
        let mut browser = Browser::default();
        let (rp, code) = code_for_alice(&world, &mut browser);
        let Some(first) = with_lost_answer(&world, n, || redeem(&world, &code, &rp.verifier)) else { break };
        let at = format!("answer {n} of the redemption lost");
        assert_readable(&first, &at);
        let retry = redeem(&world, &code, &rp.verifier);
        assert_readable(&retry, &at);
        assert!(!(first.status() == 200 && retry.status() == 200), "{at}: the code redeemed twice");
        if first.status() == 200 {
            // Replayed: the tokens of the first redemption are revoked.
            let tokens = json(&first);
            assert_eq!(userinfo(&world, &tokens), 401, "{at}");
            assert_eq!(refresh(&world, refresh_token_of(&tokens)).status(), 400, "{at}");
        } else {
            assert_eq!(json(&retry)["error"], "invalid_grant", "{at}: {}", body(&retry));
        }
        let rp = rp_request("app", APP_REDIRECT);
        let again = browser.get(&world, &format!("/authorize?{}", rp.query));
        let tokens = redeem(&world, &code_of(&again), &rp.verifier);
        assert_eq!(tokens.status(), 200, "{at}: signing in again: {}", body(&tokens));
    }
}

/// A refresh whose answer is lost after the family rotated (or whose later call, a read, fails
/// once the rotation landed), retried by the client at once with the same refresh token: within
/// `refresh_token_grace_seconds` the retry gets the successor, which goes on working, and the
/// grant is not revoked.
#[test]
fn a_refresh_whose_answer_was_lost_can_be_retried_at_once() {
    for n in 0.. {
        let world = World::new();
        let (_, tokens) = signed_in_with_tokens(&world);
        let rt = refresh_token_of(&tokens).to_owned();
        let Some(first) = with_lost_answer(&world, n, || refresh(&world, &rt)) else { break };
        let at = format!("answer {n} of the refresh lost");
        assert_readable(&first, &at);
        let retry = if first.status() == 200 { first } else { refresh(&world, &rt) };
        assert_eq!(retry.status(), 200, "{at}: the retry: {}", body(&retry));
        world.clock.advance(60);
        let next = refresh(&world, refresh_token_of(&json(&retry)));
        assert_eq!(next.status(), 200, "{at}: the successor: {}", body(&next));
    }
}

/// The same lost answer, but the client retries as a client library does after a `503
/// temporarily_unavailable` with back-off: 30 seconds later, past the default 5 s grace. With
/// the defaults, the refresh it never got an answer to counts as a use, and the retry is taken
/// for a stolen token's reuse: the whole grant is revoked (RFC 9700 §4.14.2; the trade-off is
/// in docs/openid-provider.md, *Refresh tokens*). An operator whose clients back off longer
/// allows late repeats with `refresh_token_max_reuse` (Keycloak's `refreshTokenMaxReuse`):
/// then the retry is answered with the successor the lost answer held. A refused read after
/// the rotation (the session's end mark) is the same case.
#[test]
fn a_refresh_whose_answer_was_lost_can_be_retried_after_a_back_off() {
    let mut holes = Vec::new();
    for (how, fault) in api_faults() {
        for n in 0.. {
            let world = World::with("", "", "refresh_token_max_reuse = 1");
            let (_, tokens) = signed_in_with_tokens(&world);
            let rt = refresh_token_of(&tokens).to_owned();
            let Some(first) = fault(&world, n, &mut || refresh(&world, &rt)) else { break };
            let at = format!("call {n} of the refresh {how}");
            assert_readable(&first, &at);
            if first.status() == 200 {
                continue;
            }
            world.clock.advance(30);
            let retry = refresh(&world, &rt);
            if retry.status() != 200 {
                holes.push(format!("{at}, retried 30 s later: {}", body(&retry)));
            }
        }
    }
    assert!(holes.is_empty(), "{holes:#?}");
}

/// A refresh's answer is lost after its rotation landed; the client, holding only the token it
/// sent, signs the user out and revokes that token at `/revoke` (RFC 7009), which answers 200.
/// Everything of the grant must be dead then: the access token the client held, and the refresh
/// token. `/revoke` looked only for the family's current secret, the successor the client never
/// got, and revoked nothing: the access token kept working at `/userinfo` until it expired, and
/// the "revoked" refresh token was still answered within the grace. It now also takes the
/// secret the current one replaced.
#[test]
fn revoking_the_refresh_token_held_after_a_lost_rotation_answer_revokes_the_grant() {
    let mut holes = Vec::new();
    for n in 0.. {
        let world = World::new();
        let (_, tokens) = signed_in_with_tokens(&world);
        let rt = refresh_token_of(&tokens).to_owned();
        let Some(first) = with_lost_answer(&world, n, || refresh(&world, &rt)) else { break };
        let at = format!("answer {n} of the refresh lost");
        if first.status() == 200 {
            continue;
        }
        let revoked = world.post_form("/revoke", &[("token", &rt)], Some(("app", APP_SECRET)));
        assert_eq!(revoked.status(), 200, "{at}: {}", body(&revoked));
        if userinfo(&world, &tokens) != 401 {
            holes.push(format!("{at}: the access token outlives the revocation"));
        }
        let again = refresh(&world, &rt);
        if again.status() != 400 {
            holes.push(format!("{at}: the revoked refresh token is answered: {}", again.status()));
        }
    }
    assert!(holes.is_empty(), "{holes:#?}");
}

/// `/revoke` whose answer is lost (or refused) at each call in turn, retried by the client as
/// RFC 7009 §2.2.1 lets it after a 503: the grant ends up wholly revoked — its access token
/// refused at `/userinfo`, its refresh token at `/token`.
#[test]
fn a_revocation_whose_answer_was_lost_is_finished_by_the_retry() {
    for (how, fault) in api_faults() {
        for which in ["refresh_token", "access_token"] {
            for n in 0.. {
                let world = World::new();
                let (_, tokens) = signed_in_with_tokens(&world);
                let token = tokens[which].as_str().unwrap().to_owned();
                let revoke = || world.post_form("/revoke", &[("token", &token)], Some(("app", APP_SECRET)));
                let Some(first) = fault(&world, n, &mut || revoke()) else { break };
                let at = format!("call {n} of /revoke ({which}) {how}");
                assert_readable(&first, &at);
                if first.status() != 200 {
                    assert_eq!(revoke().status(), 200, "{at}: the retry");
                }
                assert_eq!(userinfo(&world, &tokens), 401, "{at}: the access token lives");
                let refreshed = refresh(&world, refresh_token_of(&tokens));
                assert_eq!(refreshed.status(), 400, "{at}: the refresh token lives: {}", body(&refreshed));
            }
        }
    }
}

/// Reuse detection: a thief used the stolen refresh token first; the client presents it later
/// (reuse), and that call's answer is lost (or a call refused) at each step in turn; the client
/// retries with the same token as it would after a 503. The grant must end up revoked: the
/// thief's access and refresh tokens dead.
#[test]
fn reuse_detected_with_its_answer_lost_still_revokes_the_thiefs_tokens_on_the_retry() {
    for (how, fault) in api_faults() {
        for n in 0.. {
            let world = World::new();
            let (_, tokens) = signed_in_with_tokens(&world);
            let stolen = refresh_token_of(&tokens).to_owned();
            let thief = json(&refresh(&world, &stolen));
            world.clock.advance(60);
            let Some(first) = fault(&world, n, &mut || refresh(&world, &stolen)) else { break };
            let at = format!("call {n} of the reuse {how}");
            assert_readable(&first, &at);
            assert_ne!(first.status(), 200, "{at}: reuse answered with tokens");
            let retry = refresh(&world, &stolen);
            assert_eq!(retry.status(), 400, "{at}: {}", body(&retry));
            assert_eq!(userinfo(&world, &thief), 401, "{at}: the thief's access token lives");
            assert_eq!(refresh(&world, refresh_token_of(&thief)).status(), 400, "{at}: the thief's refresh token");
        }
    }
}

/// alice signed in to `/account` through `up`, in a world with a second IdP.
fn on_the_account_page(a: &Accounts) -> Browser {
    let world = &a.world;
    let mut browser = Browser::default();
    let at_idp = location(&browser.get(world, "/broker/up/login?return_to=%2Faccount"));
    let done = browser.get(world, &world.idp.authorize(&at_idp, "alice"));
    assert_eq!(location(&done), "/account", "{}", body(&done));
    browser
}

/// alice's account id.
fn alice_id(world: &World) -> String {
    user_of_link(world, "up", "sub-alice").expect("alice is linked")
}

/// Whether the account page lists `alias` among the identities alice can unlink.
fn lists(world: &World, browser: &mut Browser, alias: &str) -> bool {
    let page = browser.get(world, "/account");
    assert_eq!(page.status(), 200, "{}", body(&page));
    body(&page).contains(&format!("/account/unlink/{alias}"))
}

/// The account a fresh browser signing in to the app with `second`'s `user` gets a code for
/// (`None`: no code, e.g. a first-login page or an error).
fn signs_in_as(a: &Accounts, user: &str) -> Option<String> {
    let (res, rp) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, user);
    assert_readable(&res, "signing in with second");
    let code = code_in(&res)?;
    Some(sub_of(&a.world, &code, &rp))
}

type Fault = fn(&World, usize, &mut dyn FnMut()) -> Option<()>;

/// A browser's step with the Durable Object's call `n` made and its answer lost, or refused.
fn lose_or_refuse() -> [(&'static str, Fault); 2] {
    let lose: Fault = |w, n, act| with_lost_answer(w, n, act);
    let refuse: Fault = |w, n, act| with_once_fault(w, n, act);
    [("lost", lose), ("refused", refuse)]
}

/// A Durable Object call made with its answer lost, or refused; a KV call refused, or a KV
/// write made with its answer lost.
fn storage_faults() -> [(&'static str, Fault); 4] {
    let [(_, lose), (_, refuse)] = lose_or_refuse();
    let kv: Fault = |w, n, act| with_kv_fault(w, n, act);
    let kv_lost: Fault = |w, n, act| with_lost_kv_answer(w, n, act);
    [
        ("Durable Object answer lost", lose),
        ("Durable Object call refused", refuse),
        ("KV call refused", kv),
        ("KV write answer lost", kv_lost),
    ]
}

/// For each storage fault at each call in turn: alice on her account page in a fresh world,
/// `ready` (what she did before), then `step` (a request of her browser's, with the fault), its
/// answer readable, then `check` (a hole it finds, if any). Once `step` makes no more calls
/// than the fault's number, the next fault.
fn at_each_fault(
    what: &str,
    ready: impl Fn(&Accounts, &mut Browser) -> String,
    step: impl Fn(&Accounts, &mut Browser, &str) -> http::Response<Vec<u8>>,
    check: impl Fn(&Accounts, &mut Browser) -> Option<String>,
) -> Vec<String> {
    let mut holes = Vec::new();
    for (how, fault) in storage_faults() {
        for n in 0.. {
            let a = accounts_world("", "", "", "");
            let mut browser = on_the_account_page(&a);
            let target = ready(&a, &mut browser);
            let mut first = None;
            let Some(()) = fault(&a.world, n, &mut || first = Some(step(&a, &mut browser, &target))) else { break };
            let at = format!("call {n} of {what}: {how}");
            assert_readable(first.as_ref().unwrap(), &at);
            holes.extend(check(&a, &mut browser).map(|hole| format!("{at}: {hole}")));
        }
    }
    holes
}

/// Unlinking an identity on the account page, with a call's answer lost (or a call refused) at
/// each step in turn; alice reloads `/account`, and unlinks again while it is listed. Then the
/// identity must no longer sign in to her account: unlinking is how she cuts off an identity she
/// lost or no longer trusts. Once the record's swap has landed, a failure (its answer lost, the
/// read of the record after it refused, a refused KV delete or `unclaim`) left the identity's
/// claim and KV link in place and KV's copy of the user stale: the page (which read KV's copy)
/// still listed the identity, unlinking again found nothing to unlink in the record, and the
/// next sign-in with the identity, a first login (`find_linked` checks the record), met the
/// claim and was signed in to alice's account by `heal`. Now the claim is stale (alice's record
/// does not list the identity) and taken back (`users::claim_link`), `heal` signs in only to an
/// account that lists the identity, and the page reads the record.
#[test]
fn an_unlink_whose_answer_was_lost_never_leaves_a_hidden_link() {
    let linked = |a: &Accounts, browser: &mut Browser| {
        let at_idp = location(&browser.post(&a.world, "/broker/second/link"));
        browser.get(&a.world, &a.idp2.authorize(&at_idp, "alice-two"));
        assert!(lists(&a.world, browser, "second"));
        String::new()
    };
    let unlink = |a: &Accounts, browser: &mut Browser, _: &str| browser.post(&a.world, "/account/unlink/second");
    let holes = at_each_fault("the unlink", linked, unlink, |a, browser| {
        // She unlinks again while the page lists it (a person takes seconds to do so).
        for _ in 0..2 {
            a.world.clock.advance(5);
            if lists(&a.world, browser, "second") {
                browser.post(&a.world, "/account/unlink/second");
            }
        }
        (signs_in_as(a, "alice-two") == Some(alice_id(&a.world)))
            .then(|| "the unlinked identity signs in to alice".into())
    });
    assert!(holes.is_empty(), "{holes:#?}");
}

/// Linking an identity from the account page, with a call's answer lost (or a call refused) at
/// each step of the IdP's callback in turn; alice then loads `/account`. An identity that signs
/// in to her account must be listed there (else she can never see or unlink it), and one listed
/// must sign in to it. There were two ways to a hidden link: the identity's claim landing with
/// its answer lost (or the KV link write after it refused), claimed for alice but not on her
/// record, so that a sign-in reached her account through `users::create`'s `AlreadyLinked` and
/// `heal`; or the record's swap landing with its answer lost (or the read after it, or KV's
/// write of the user, failing), the record having it but KV's copy, which the account page
/// read, never getting it. Now a stale claim is taken back, the page reads the record, and a
/// change of the user writes KV's copy even when reading the record back fails.
#[test]
fn a_link_whose_answer_was_lost_never_leaves_a_hidden_link() {
    let to_idp = |a: &Accounts, browser: &mut Browser| {
        let at_idp = location(&browser.post(&a.world, "/broker/second/link"));
        a.idp2.authorize(&at_idp, "alice-two")
    };
    let callback = |a: &Accounts, browser: &mut Browser, callback: &str| browser.get(&a.world, callback);
    let holes = at_each_fault("the link's callback", to_idp, callback, |a, browser| {
        a.world.clock.advance(5);
        let listed = lists(&a.world, browser, "second");
        let signs_in = signs_in_as(a, "alice-two") == Some(alice_id(&a.world));
        (listed != signs_in).then(|| format!("listed on the account page: {listed}; signs in to it: {signs_in}"))
    });
    assert!(holes.is_empty(), "{holes:#?}");
}

/// The `sid`s on alice's account page that are not the current session's ("end" actions).
fn other_session_ends(page: &str) -> Vec<String> {
    page.split("<tr class=\"session\">")
        .skip(1)
        .filter(|row| !row.contains("this session"))
        .filter_map(|row| {
            let start = row.find("/account/sessions/")?;
            let end = row[start..].find('"')? + start;
            Some(row[start..end].to_owned())
        })
        .collect()
}

/// Mounts the app's back-channel logout endpoint; the tokens it got.
fn app_backchannel(world: &World) -> std::rc::Rc<std::cell::RefCell<Vec<String>>> {
    let received = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = received.clone();
    world.http.mount("https://app.test", move |req| {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(req.body()).into_owned().collect();
        sink.borrow_mut().push(form.get("logout_token").cloned().unwrap_or_default());
        http::Response::builder().status(200).body(Vec::new()).unwrap()
    });
    received
}

/// Ending another session (the phone's) from the account page, with a call's answer lost (or
/// refused) at each step; alice reloads the page and ends it again while it is listed. The
/// phone's session must be over: its application told (a logout token), its refresh token
/// refused, the phone's browser signed out.
#[test]
fn ending_a_session_on_the_account_page_with_its_answer_lost_ends_it_for_its_applications() {
    for (how, fault) in lose_or_refuse() {
        for n in 0.. {
            let world = World::new();
            let received = app_backchannel(&world);
            let mut phone = Browser::default();
            let rp = rp_request("app", APP_REDIRECT);
            let phone_tokens =
                json(&redeem(&world, &code_of(&login(&world, &mut phone, &rp.query, "alice")), &rp.verifier));
            let mut laptop = signed_in(&world, "alice");
            let ends = other_session_ends(&body(&laptop.get(&world, "/account")));
            assert_eq!(ends.len(), 1);
            let mut first = None;
            let Some(()) = fault(&world, n, &mut || first = Some(laptop.post(&world, &ends[0]))) else { break };
            let at = format!("call {n} of ending the session {how}");
            assert_readable(first.as_ref().unwrap(), &at);
            for _ in 0..2 {
                let left = other_session_ends(&body(&laptop.get(&world, "/account")));
                if let Some(end) = left.first() {
                    laptop.post(&world, end);
                }
            }
            assert!(!received.borrow().is_empty(), "{at}: the phone's app was not told");
            let refreshed = refresh(&world, refresh_token_of(&phone_tokens));
            assert_eq!(refreshed.status(), 400, "{at}: the phone's refresh token: {}", body(&refreshed));
            assert_eq!(location(&phone.get(&world, "/account")), "/login?return_to=%2Faccount", "{at}");
        }
    }
}

/// The upstream IdP's back-channel logout (`/broker/up/backchannel_logout`), with a call's
/// answer lost (or refused) at each step in turn. The IdP got an error, so it retries the same
/// logout token (Back-Channel Logout 1.0 §2.8: a non-200 answer is an error). The user's keyedge
/// session must end. The token's `jti` was marked used in the very first call, before the
/// sessions were ended: whatever failed after it, the IdP's retry was refused as a replay ("this
/// logout token was already used") and the session the user signed out of at the IdP went on
/// at keyedge, for her applications too. The mark is now made once the sessions have ended
/// (`upstream_session::once_per_message`).
#[test]
fn an_idps_logout_whose_answer_was_lost_ends_the_session_when_the_idp_retries() {
    let mut holes = Vec::new();
    for (how, fault) in lose_or_refuse() {
        for n in 0.. {
            let world = World::with("accept_logout_tokens = true", "", "");
            let mut browser = Browser::default();
            let rp = rp_request("app", APP_REDIRECT);
            login(&world, &mut browser, &rp.query, "alice");
            let token = world.idp.logout_token("alice", |_| {});
            let post = || world.post_form("/broker/up/backchannel_logout", &[("logout_token", &token)], None);
            let mut first = None;
            let Some(()) = fault(&world, n, &mut || first = Some(post())) else { break };
            let first = first.unwrap();
            let at = format!("call {n} of the IdP's logout {how}");
            assert_readable(&first, &at);
            let retry = (first.status() != 200).then(post);
            if location(&browser.get(&world, "/account")) != "/login?return_to=%2Faccount" {
                let answer = retry.as_ref().map(body).unwrap_or_default();
                holes.push(format!("{at}: the session lives; the IdP's retry got {answer}"));
            }
        }
    }
    assert!(holes.is_empty(), "{holes:#?}");
}

/// A returning user's sign-in (from `/authorize` through the login page and the IdP back to the
/// callback), with a call's answer lost (or refused) at each step in turn; the browser reloads
/// the page that failed once, and if that gives no code the user starts again from the app.
/// She ends with a code that redeems; every answer is readable; and a reload of a callback
/// whose `state` was spent never issues a second code.
#[test]
fn a_returning_users_sign_in_with_an_answer_lost_ends_with_one_working_code() {
    for (how, fault) in lose_or_refuse() {
        for n in 0.. {
            let world = World::new();
            code_for_alice(&world, &mut Browser::default());
            let mut browser = Browser::default();
            let rp = rp_request("app", APP_REDIRECT);
            let mut failed: Option<(String, http::Response<Vec<u8>>)> = None;
            let mut code = None;
            let Some(()) = fault(&world, n, &mut || {
                let url = format!("/authorize?{}", rp.query);
                let page = browser.get(&world, &url);
                if page.status() != 200 {
                    failed = Some((url, page));
                    return;
                }
                let link = idp_link(&body(&page), "up");
                let to_idp = browser.get(&world, &link);
                if to_idp.status() != 302 {
                    failed = Some((link, to_idp));
                    return;
                }
                let callback = world.idp.authorize(&location(&to_idp), "alice");
                let done = browser.get(&world, &callback);
                match code_in(&done) {
                    Some(c) => code = Some(c),
                    None => failed = Some((callback, done)),
                }
            }) else {
                break;
            };
            let at = format!("call {n} of the sign-in {how}");
            if let Some((url, res)) = failed {
                assert_readable(&res, &at);
                let reloaded = browser.get(&world, &url);
                assert_readable(&reloaded, &at);
                if let Some(c) = code_in(&reloaded) {
                    code = Some(c);
                }
            }
            let rp = match code {
                Some(_) => rp,
                None => {
                    let rp = rp_request("app", APP_REDIRECT);
                    let again = login(&world, &mut browser, &rp.query, "alice");
                    code = code_in(&again);
                    assert!(code.is_some(), "{at}: signing in again: {}", body(&again));
                    rp
                }
            };
            let tokens = redeem(&world, &code.unwrap(), &rp.verifier);
            assert_eq!(tokens.status(), 200, "{at}: {}", body(&tokens));
        }
    }
}

/// A first login's profile review (`POST /first-login/review`) with a call's answer lost (or
/// refused) at each step in turn; the browser goes back and submits the form again, and if that
/// gives no code the user starts again from the application. She ends with a code, every answer
/// is readable, and her next sign-in reaches the same account (one account, whole).
#[test]
fn a_reviewed_first_login_with_an_answer_lost_ends_with_one_account() {
    let form = [("username", "ally"), ("email", "alice@example.com"), ("given_name", "Ally"), ("family_name", "L")];
    let reviewing = "[[first_login_flows]]\nalias = \"review\"\nreview_profile = \"on\"\n";
    for (how, fault) in lose_or_refuse() {
        for n in 0.. {
            let a = accounts_world("first_login_flow = \"review\"", "", "", reviewing);
            let world = &a.world;
            let mut browser = Browser::default();
            let (page, rp) = callback(world, &mut browser, "up", &world.idp, "alice");
            assert_eq!(page.status(), 200, "{}", body(&page));
            let review_page = browser.page.clone();
            let mut first = None;
            let Some(()) = fault(world, n, &mut || first = Some(browser.submit(world, "/first-login/review", &form)))
            else {
                break;
            };
            let at = format!("call {n} of the review {how}");
            let first = first.unwrap();
            assert_readable(&first, &at);
            let mut code = code_in(&first);
            if code.is_none() {
                // Back, and the form again: a pending login that was taken is not taken twice.
                world.clock.advance(5);
                browser.page = review_page;
                let again = browser.submit(world, "/first-login/review", &form);
                assert_readable(&again, &at);
                code = code_in(&again);
            }
            let mut done = code.map(|c| (c, rp));
            if done.is_none() {
                world.clock.advance(5);
                let (page, rp) = callback(world, &mut browser, "up", &world.idp, "alice");
                let res = match code_in(&page) {
                    Some(_) => page,
                    None => browser.submit(world, "/first-login/review", &form),
                };
                done = Some((code_in(&res).unwrap_or_else(|| panic!("{at}: starting again: {}", body(&res))), rp));
            }
            let (code, rp) = done.unwrap();
            let sub = sub_of(world, &code, &rp);
            let (next, rp) = callback(world, &mut Browser::default(), "up", &world.idp, "alice");
            assert_eq!(sub_of(world, &code_of(&next), &rp), sub, "{at}: the next sign-in");
        }
    }
}

/// The mailed link of a first login that joins an existing account ("alice" at `second` has
/// alice's verified address), opened with a call's answer lost (or refused) at each step in
/// turn; alice opens the link again, and if that gives no code starts again from the application
/// (confirming, and opening the new mail). She ends signed in to her account, and the account
/// page lists the identity she joined to it. The identity's claim in `users::link` landing with
/// its answer lost (or its record's update failing after it) left the hidden link of
/// [`a_link_whose_answer_was_lost_never_leaves_a_hidden_link`]: starting again signed her in to
/// her account at once (`users::create`'s `AlreadyLinked`), and the page never showed it.
#[test]
fn a_first_login_joined_by_mail_with_an_answer_lost_is_listed_on_the_account_page() {
    let mut holes = Vec::new();
    for (how, fault) in lose_or_refuse() {
        for n in 0.. {
            let a = accounts_world("", "", "", MAIL);
            let world = &a.world;
            let (res, rp) = callback(world, &mut Browser::default(), "up", &world.idp, "alice");
            let alice = sub_of(world, &code_of(&res), &rp);
            let mut browser = Browser::default();
            // To the mail: the confirm page, "add to existing account".
            let to_mail = |browser: &mut Browser| {
                let (res, rp) = callback(world, browser, "second", &a.idp2, "alice");
                if code_in(&res).is_some() {
                    return (Some(res), rp, String::new());
                }
                assert!(body(&res).contains("Account already exists"), "{}", body(&res));
                browser.submit(world, "/first-login/confirm", &[("action", "link")]);
                let mails = a.mails_to("alice@example.com");
                let text = mails.last().expect("a mail")["text"].as_str().unwrap().to_owned();
                let start = text.find("https://keyedge.test/first-login/verify-email?token=").unwrap();
                (None, rp, text[start..].split_whitespace().next().unwrap().to_owned())
            };
            let (_, rp, link) = to_mail(&mut browser);
            let mut first = None;
            let Some(()) = fault(world, n, &mut || first = Some(browser.get(world, &link))) else { break };
            let at = format!("call {n} of the mailed link {how}");
            let first = first.unwrap();
            assert_readable(&first, &at);
            let mut code = code_in(&first);
            if code.is_none() {
                world.clock.advance(5);
                let again = browser.get(world, &link);
                assert_readable(&again, &at);
                code = code_in(&again);
            }
            let mut done = code.map(|c| (c, rp));
            if done.is_none() {
                world.clock.advance(5);
                let (res, rp, link) = to_mail(&mut browser);
                let res = res.unwrap_or_else(|| browser.get(world, &link));
                done = Some((code_in(&res).unwrap_or_else(|| panic!("{at}: starting again: {}", body(&res))), rp));
            }
            let (code, rp) = done.unwrap();
            assert_eq!(sub_of(world, &code, &rp), alice, "{at}: signed in to another account");
            if !lists(world, &mut browser, "second") {
                holes.push(format!("{at}: signs in to alice's account, not listed on it"));
            }
        }
    }
    assert!(holes.is_empty(), "{holes:#?}");
}
