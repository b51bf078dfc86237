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
