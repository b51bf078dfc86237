//! An upstream IdP that fails (issue 19, item 4): down, slower than its `http_timeout`,
//! answering 5xx or something that is not JSON, its key set unreachable, its discovery
//! document changed. Each time the visitor gets a readable page that offers to try again, the
//! log says what failed, nothing is written, and once the IdP is back a sign-in works.

use crate::common::fake_idp::{Broken, IDP};
use crate::common::*;

/// How a test breaks the IdP, and how it mends it.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Every URL under this path refuses connections.
    Down(&'static str),
    /// This endpoint answers with an HTTP error or with something that is not JSON.
    Answers(&'static str, Broken),
    /// The whole IdP takes this many seconds to answer.
    Slow(u64),
}

impl Fault {
    fn apply(self, world: &World) {
        match self {
            Fault::Down(path) => world.http.set_down(&format!("{IDP}{path}"), true),
            Fault::Answers(path, broken) => {
                world.idp.broken.borrow_mut().insert(path, broken);
            }
            Fault::Slow(seconds) => world.http.delay(IDP, seconds),
        }
    }

    fn mend(self, world: &World) {
        match self {
            Fault::Down(path) => world.http.set_down(&format!("{IDP}{path}"), false),
            Fault::Answers(path, _) => {
                world.idp.broken.borrow_mut().remove(path);
            }
            Fault::Slow(_) => world.http.delay(IDP, 0),
        }
    }

    /// What the log says about it (one of these).
    fn logged(self) -> &'static [&'static str] {
        match self {
            Fault::Down(_) => &["connection refused"],
            // The token endpoint's JSON error is an OAuth error answer (RFC 6749 §5.2).
            Fault::Answers(_, Broken::Status(_)) => &["HTTP 503", "server_error"],
            Fault::Answers(_, Broken::NotJson) => &["JSON", "expected value", "Content-Type"],
            Fault::Slow(_) => &["no answer within 5 s"],
        }
    }
}

/// The faults of one endpoint at `path`.
fn faults_of(path: &'static str) -> [Fault; 3] {
    [Fault::Down(path), Fault::Answers(path, Broken::Status(503)), Fault::Answers(path, Broken::NotJson)]
}

/// A 502 page that offers to try again and names its reference; the log line behind it
/// mentions `logged`; KV holds nothing.
fn assert_failed_cleanly(world: &World, res: &http::Response<Vec<u8>>, fault: Fault) {
    let page = body(res);
    assert_eq!(res.status(), 502, "{fault:?}: {page}");
    let unexpected = ["could not be reached or answered unexpectedly", "refused to complete the sign-in"];
    assert!(unexpected.iter().any(|m| page.contains(m)), "{fault:?}: {page}");
    assert!(page.contains("Try again"), "{fault:?}: {page}");
    let line = world.logged_for(&page);
    assert!(fault.logged().iter().any(|m| line.contains(m)), "{fault:?}: the log says `{line}`");
    assert!(world.store.keys().is_empty(), "{fault:?}: written: {:?}", world.store.keys());
}

/// A sign-in of alice for the app ends with a code.
fn assert_signs_in(world: &World, when: &str) {
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(world, &mut Browser::default(), &rp.query, "alice");
    assert!(query_param(&location(&res), "code").is_some(), "{when}: {} {}", res.status(), body(&res));
}

#[test]
fn an_idp_failing_at_discovery_fails_the_start_of_the_sign_in_cleanly() {
    let paths = faults_of("/.well-known/openid-configuration");
    for fault in paths.into_iter().chain([Fault::Down("/"), Fault::Slow(6)]) {
        let world = World::new();
        fault.apply(&world);
        let res = Browser::default().get(&world, "/broker/up/login?return_to=%2Faccount");
        assert_failed_cleanly(&world, &res, fault);
        fault.mend(&world);
        assert_signs_in(&world, &format!("after {fault:?} mended"));
    }
}

#[test]
fn an_idp_failing_at_the_callback_fails_the_sign_in_cleanly() {
    let faults = ["/token", "/jwks", "/userinfo"].into_iter().flat_map(faults_of).chain([Fault::Slow(6)]);
    for fault in faults {
        let world = World::new();
        let mut browser = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        let at_idp = start_login(&world, &mut browser, &rp.query);
        let callback = world.idp.authorize(&at_idp, "alice");
        fault.apply(&world);
        let res = browser.get(&world, &callback);
        assert_failed_cleanly(&world, &res, fault);
        let codes = world.once.item_keys().into_iter().filter(|k| k.contains("code:")).count();
        assert_eq!(codes, 0, "{fault:?}: no code without a session");
        // Reloading the callback once the IdP is back completes the sign-in if the IdP still
        // takes its code (it never reached the token endpoint), or fails as cleanly if not.
        fault.mend(&world);
        let again = browser.get(&world, &callback);
        match again.status().as_u16() {
            302 => assert!(query_param(&location(&again), "code").is_some(), "{fault:?}: {}", location(&again)),
            502 => assert!(body(&again).contains("Try again"), "{fault:?}"),
            other => panic!("{fault:?}: reloading the callback answered {other}: {}", body(&again)),
        }
        assert_signs_in(&world, &format!("after {fault:?} mended"));
    }
}

#[test]
fn http_timeout_is_five_seconds_unless_configured() {
    let world = World::new();
    world.http.delay(IDP, 5);
    assert_signs_in(&world, "an IdP that takes 5 s");
    world.http.delay(IDP, 6);
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 502, "an IdP that takes 6 s: {}", body(&res));
    let slow = World::with("http_timeout = 12", "", "");
    slow.http.delay(IDP, 11);
    assert_signs_in(&slow, "an IdP that takes 11 s with http_timeout = 12");
    slow.http.delay(IDP, 13);
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&slow, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 502);
    assert!(slow.logged_for(&body(&res)).contains("no answer within 12 s"), "{}", body(&res));
}

#[test]
fn http_timeout_is_checked() {
    for (value, ok) in [("0", false), ("1", true), ("30", true), ("31", false)] {
        let text = ConfigBuilder::new().up(&format!("http_timeout = {value}")).build();
        let loaded = keyedge::core::Keyedge::from_config_text(&text, &secrets);
        match loaded {
            Ok(_) => assert!(ok, "http_timeout = {value} accepted"),
            Err(e) => {
                let e = e.to_string();
                assert!(!ok && e.contains("http_timeout") && e.contains("1 to 30 seconds"), "{value}: {e}");
            }
        }
    }
}

/// OIDC Discovery §4: the document can change. A moved endpoint is followed: the failed
/// sign-in forgets the cached document, so the next one reads it again.
#[test]
fn a_moved_token_endpoint_is_followed_after_one_failed_sign_in() {
    let world = World::new();
    assert_signs_in(&world, "before the move");
    *world.idp.discovery_tamper.borrow_mut() = Box::new(|doc| doc["token_endpoint"] = format!("{IDP}/v2/token").into());
    world.idp.broken.borrow_mut().insert("/token", Broken::Status(404));
    let rp = rp_request("app", APP_REDIRECT);
    let res = login(&world, &mut Browser::default(), &rp.query, "alice");
    assert_eq!(res.status(), 502, "the cached endpoint is gone: {}", body(&res));
    assert_signs_in(&world, "after the move");
}

/// OIDC Discovery §4.3: a document naming another issuer is refused, now as at the start.
#[test]
fn a_discovery_document_that_changed_its_issuer_is_refused() {
    let world = World::new();
    *world.idp.discovery_tamper.borrow_mut() = Box::new(|doc| doc["issuer"] = "https://evil.test".into());
    let res = Browser::default().get(&world, "/broker/up/login?return_to=%2Faccount");
    assert_eq!(res.status(), 502);
    assert!(world.logged_for(&body(&res)).contains("differs from the configured"), "{}", body(&res));
    assert!(world.store.keys().is_empty());
}
