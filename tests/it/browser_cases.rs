//! What browsers do to a login (issue 19, item 4): two tabs, a reloaded callback, blocked
//! cookies. Each ends in a page or a completed login, never a redirect loop, and nothing is
//! issued twice.

use crate::common::*;

/// Two logins started in two tabs of one browser complete in either order, each for its own
/// application request (the flow cookie is per `state`).
#[test]
fn two_logins_in_two_tabs_both_complete_in_reverse_order() {
    let world = World::new();
    let mut browser = Browser::default();
    let (first, second) = (rp_request("app", APP_REDIRECT), rp_request("app", APP_REDIRECT));
    let at_idp_first = start_login(&world, &mut browser, &first.query);
    let at_idp_second = start_login(&world, &mut browser, &second.query);
    let back_second = browser.get(&world, &world.idp.authorize(&at_idp_second, "alice"));
    let back_first = browser.get(&world, &world.idp.authorize(&at_idp_first, "alice"));
    for (res, rp) in [(&back_second, &second), (&back_first, &first)] {
        let to = location(res);
        assert!(to.starts_with(APP_REDIRECT), "{} {}", res.status(), body(res));
        assert_eq!(query_param(&to, "state").as_deref(), Some(rp.state.as_str()));
        assert_eq!(redeem(&world, &query_param(&to, "code").unwrap(), &rp.verifier).status(), 200);
    }
}

/// Reloading the upstream callback after it completed issues nothing more: a page that
/// offers to start again, not a redirect.
#[test]
fn a_reloaded_callback_is_a_page_and_issues_nothing() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login(&world, &mut browser, &rp.query);
    let callback = world.idp.authorize(&at_idp, "alice");
    assert!(location(&browser.get(&world, &callback)).starts_with(APP_REDIRECT));
    let reloaded = browser.get(&world, &callback);
    assert_eq!(reloaded.status(), 400, "{}", body(&reloaded));
    assert!(location(&reloaded).is_empty() && body(&reloaded).contains("start again"));
}

/// A browser that blocks cookies for keyedge comes back from the IdP without its flow
/// cookie: a page that says cookies may be the cause, not a loop back to the IdP.
#[test]
fn blocked_cookies_get_a_page_that_says_so() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    let mut blocking = Browser::default();
    let at_idp = start_login(&world, &mut blocking, &rp.query);
    blocking.cookies.clear();
    let res = blocking.get(&world, &world.idp.authorize(&at_idp, "alice"));
    assert_eq!(res.status(), 400);
    assert!(location(&res).is_empty(), "no redirect");
    assert!(body(&res).contains("blocks cookies"), "{}", body(&res));
}

/// The back button after a first login completed through the review form: the form shown
/// again and sent again (with the browser's cookies then, or replayed exactly as first sent)
/// makes no second account and issues no second code — a page that offers to start again.
#[test]
fn going_back_to_the_review_form_and_sending_it_again_creates_nothing_more() {
    let a = accounts_world(
        "first_login_flow = \"review\"",
        "",
        "",
        "[[first_login_flows]]\nalias = \"review\"\nreview_profile = \"on\"\n",
    );
    let world = &a.world;
    let mut browser = Browser::default();
    let (form, rp) = callback(world, &mut browser, "up", &world.idp, "alice");
    assert!(body(&form).contains("Check your profile"), "{}", body(&form));
    let fields =
        [("username", "ally"), ("email", "alice@example.com"), ("given_name", "Ally"), ("family_name", "Liddell")];
    let first_sent = browser.form_request("/first-login/review", &fields);
    let done = browser.submit(world, "/first-login/review", &fields);
    let sub = sub_of(world, &code_of(&done), &rp);
    let users = |w: &World| w.store.keys().into_iter().filter(|k| k.starts_with("user:")).count();
    assert_eq!(users(world), 1);

    // Back, and the same form sent again: the pending login is gone from the browser.
    browser.page = body(&form);
    let again = browser.submit(world, "/first-login/review", &fields);
    assert!(location(&again).is_empty(), "no redirect: {}", location(&again));
    assert!(body(&again).contains("start again") || body(&again).contains("Start again"), "{}", body(&again));
    // The first request replayed exactly, its cookies included.
    let replayed = world.send(first_sent);
    assert!(query_param(&location(&replayed), "code").is_none(), "a second code: {}", location(&replayed));
    assert_ne!(replayed.status(), 500, "{}", body(&replayed));
    assert_eq!(users(world), 1, "one account");
    assert_eq!(user_of_link(world, "up", "sub-alice").as_deref(), Some(sub.as_str()));
}

/// The back button from the IdP to keyedge's login page, and the IdP chosen again: the
/// second attempt completes; the first one's callback, if the IdP still sends it, issues
/// nothing more once the login is done.
#[test]
fn going_back_from_the_idp_and_choosing_it_again_completes_once() {
    let world = World::new();
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let first_at_idp = start_login(&world, &mut browser, &rp.query);
    let second_at_idp = start_login(&world, &mut browser, &rp.query);
    let mut before_completion = Browser { cookies: browser.cookies.clone(), ..Browser::default() };
    let done = browser.get(&world, &world.idp.authorize(&second_at_idp, "alice"));
    assert_eq!(redeem(&world, &code_of(&done), &rp.verifier).status(), 200);
    // The abandoned attempt's callback (another state, its own flow cookie) completes its
    // own flow: a code for the same request, which the application's single-use state and
    // PKCE verifier already spent make worthless; the first code is not touched.
    let late = browser.get(&world, &world.idp.authorize(&first_at_idp, "alice"));
    assert_ne!(late.status(), 500, "{}", body(&late));
    assert!(location(&late).starts_with(APP_REDIRECT), "{} {}", late.status(), body(&late));
    // The completed attempt's state is spent: the IdP sending it again, even to a browser that
    // still holds that attempt's flow cookie (kept from before it completed), gets a page.
    let reloaded = before_completion.get(&world, &world.idp.authorize(&second_at_idp, "alice"));
    assert_eq!(reloaded.status(), 400, "{}", body(&reloaded));
    assert!(location(&reloaded).is_empty());
}
