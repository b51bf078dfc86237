//! Holes an outside review of the per-IdP `http_timeout`, the dev fault switch and the
//! facebook, x and stackoverflow presets found, each performed as the attack; every test here
//! failed before its fix.

use crate::common::*;

fn with_issuer(issuer: &str, extra: &str) -> String {
    config_text().replace(&format!("issuer = \"{ISSUER}\""), &format!("issuer = \"{issuer}\"")) + extra
}

fn load_error(text: &str) -> String {
    keyedge::core::Keyedge::from_config_text(text, &secrets).err().map(|e| e.to_string()).unwrap_or_default()
}

/// The dev switches (`[dev] fault_injection`, `storage_conformance`, the dev inbox) and the
/// `Secure` cookies and HSTS hang on the issuer being https, which was read as "starts with
/// `https://`". An https issuer with its scheme written in capitals (`HTTPS://…`, a valid URL
/// that every check of the URL itself took for https) passed as plain http: `/dev/faults`
/// let anyone fail the production stores, and the cookies went without `Secure`.
#[test]
fn an_https_issuer_in_capitals_is_not_taken_for_local_development() {
    for issuer in ["HTTPS://keyedge.test", "Https://keyedge.test"] {
        for dev in ["fault_injection", "storage_conformance"] {
            let e = load_error(&with_issuer(issuer, &format!("\n[dev]\n{dev} = true\n")));
            assert!(!e.is_empty(), "{issuer}: dev.{dev} accepted");
        }
        // Without any dev switch, no https deployment goes without Secure cookies either.
        let e = load_error(&with_issuer(issuer, ""));
        assert!(e.contains("issuer"), "{issuer}: accepted, cookies not Secure: {e}");
    }
    // Lower case is what there is to write.
    assert_eq!(load_error(&with_issuer("https://keyedge.test", "")), "");
    assert_eq!(load_error(&with_issuer("http://localhost:8787", "\n[dev]\nfault_injection = true\n")), "");
}

fn discovery_fetches(world: &World) -> usize {
    world.http.log.borrow().iter().filter(|l| l.contains("/.well-known/openid-configuration")).count()
}

/// A failed callback forgets the cached discovery document, so that a moved endpoint is
/// followed. It forgot it on any failure, including those an anonymous visitor chooses
/// without keyedge asking the IdP anything: a callback of their own flow with
/// `error=access_denied`, no code, or a made-up code. One such request before every real
/// sign-in turned the cache off (a discovery request to the IdP, and its wait, in every
/// sign-in); only a failure of the IdP's endpoints forgets it now.
#[test]
fn a_visitors_own_failed_callback_does_not_throw_the_discovery_cache_away() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    assert!(query_param(&location(&login(&world, &mut Browser::default(), &rp.query, "alice")), "code").is_some());
    let cached = discovery_fetches(&world);
    assert_eq!(cached, 1);
    for answer in ["error=access_denied", "", "code=made-up"] {
        let mut attacker = Browser::default();
        let at_idp = start_login(&world, &mut attacker, &rp.query);
        let state = query_param(&at_idp, "state").unwrap();
        let res = attacker.get(&world, &format!("/broker/up/endpoint?state={state}&{answer}"));
        assert!(query_param(&location(&res), "code").is_none(), "{answer}: {}", body(&res));
        let res = login(&world, &mut Browser::default(), &rp.query, "bob");
        assert!(query_param(&location(&res), "code").is_some(), "{answer}: {}", body(&res));
        assert_eq!(discovery_fetches(&world), cached, "`{answer}` made the next sign-in fetch discovery again");
    }
}
