//! Holes an outside review of issue 16 (Keycloak drop-in: realm-shaped URLs, the realm's
//! back-channel logout, client-library edge cases, signing in again, Keycloak claims, the
//! IdP's back-channel logout, the importer) found, each performed as the attack; every test
//! here failed before its fix.

use crate::common::*;
use std::cell::RefCell;
use std::rc::Rc;

/// Records the logout tokens the client `app` receives at its back-channel logout URI.
fn backchannel(world: &World) -> Rc<RefCell<Vec<String>>> {
    let received = Rc::new(RefCell::new(Vec::new()));
    let r = received.clone();
    world.http.mount("https://app.test", move |req| {
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(req.body()).into_owned().collect();
        r.borrow_mut().push(form["logout_token"].clone());
        http::Response::builder().status(200).body(Vec::new()).unwrap()
    });
    received
}

/// "Signing in again replaces the previous session" ended the browser's session whoever
/// signed in. A page on another site could make that happen without the user doing
/// anything: a top-level navigation to `/authorize` with the attacker's own `id_token_hint`
/// (so the session cannot answer it) and `kc_idp_hint` (no login page) goes straight to the
/// IdP, whose own session signs the victim in again silently. The victim's session ended for
/// every application (a logout token each, refresh tokens dead; with `backchannel_logout`
/// the IdP's session too) — a logout keyedge otherwise asks the user to confirm. The same
/// user signing in again keeps the session's applications; another user replaces it.
#[test]
fn another_site_cannot_end_a_users_sessions_by_signing_her_in_again() {
    let world = World::new();
    let received = backchannel(&world);
    // The attacker's own ID token, from their own login.
    let rp = rp_request("app", APP_REDIRECT);
    let mallory =
        json(&redeem(&world, &code_of(&login(&world, &mut Browser::default(), &rp.query, "mallory")), &rp.verifier));
    let hint = mallory["id_token"].as_str().unwrap();
    // alice, signed in to the app in her browser.
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let alice = json(&redeem(&world, &code_of(&login(&world, &mut browser, &rp.query, "alice")), &rp.verifier));
    let refreshed = refresh(&world, alice["refresh_token"].as_str().unwrap());
    assert_eq!(refreshed.status(), 200);
    let refresh_token = json(&refreshed)["refresh_token"].as_str().unwrap().to_owned();

    // The attacker's page navigates alice's browser; her IdP session answers without her.
    let rp = request_with(&[("id_token_hint", hint), ("kc_idp_hint", "up")]);
    let start = browser.get(&world, &format!("/authorize?{}", rp.query));
    assert_eq!(start.status(), 302, "no login page: {}", body(&start));
    let to_idp = browser.get(&world, &location(&start));
    assert_eq!(to_idp.status(), 302, "on to the IdP: {}", body(&to_idp));
    let back = browser.get(&world, &world.idp.authorize(&location(&to_idp), "alice"));
    assert!(location(&back).starts_with(APP_REDIRECT), "{}", location(&back));

    assert!(received.borrow().is_empty(), "alice's applications were logged out: {:?}", received.borrow());
    let refreshed = refresh(&world, &refresh_token);
    assert_eq!(refreshed.status(), 200, "alice's session ended: {}", body(&refreshed));
}

const REALM: &str = "/realms/acme";

/// keyedge under a realm's issuer with a gate in front of an origin that answers with the
/// path it was asked for; public pages, so no sign-in is in the way.
fn realm_gate_world() -> World {
    gate_world(REALM)
}

/// [`realm_gate_world`] under the issuer's path `realm` (`""`: the host's root).
fn gate_world(realm: &str) -> World {
    let gate = "[gate]\nupstream = \"https://origin.test\"\n[[gate.rules]]\npath = \"/*\"\nallow = \"anyone\"\n";
    let mut world = World::new();
    let text = format!("{}\n{gate}", config_text())
        .replace(&format!("issuer = \"{ISSUER}\""), &format!("issuer = \"{ISSUER}{realm}\""));
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).expect("valid");
    world.http.mount("https://origin.test", |req| {
        http::Response::builder().status(200).body(format!("origin {}", req.uri().path()).into_bytes()).unwrap()
    });
    world
}

/// Under an issuer with a path, the gate took another spelling of a path under the issuer
/// (`/realms//acme/…`, `/realms/%61cme/…`, `/realms/acme/x/../…`), which keyedge does not
/// serve, for the site's, and sent the site the path it resolves to, under keyedge's: the
/// site was asked for keyedge's pages. And it took its own pages named like keyedge's at
/// the root (`/login`, `/admin/`, `/account`) for keyedge's, answering each with a redirect
/// to itself, for ever. At the host's root, another spelling of a Keycloak endpoint path
/// (`/protocol//openid-connect/certs`) went to the site the same way. Another spelling of a
/// path under the issuer is keyedge's (a redirect to the one spelling); everything outside it
/// is the site's.
#[test]
fn the_gate_under_a_realm_never_sends_the_site_keyedge_paths_nor_loops_on_its_own() {
    let world = realm_gate_world();
    for spelling in [
        "/realms//acme/account",
        "/realms/%61cme/account",
        "/realms/acme/x/../account",
        "//realms/acme/token",
        "/realms/acme//login",
    ] {
        let res = Browser::default().get(&world, spelling);
        assert!(!body(&res).starts_with("origin "), "{spelling}: the site was asked for {}", body(&res));
        if res.status() == 308 {
            assert!(location(&res).starts_with(&format!("{REALM}/")), "{spelling}: to {}", location(&res));
        }
    }
    // At the host's root, another spelling of a Keycloak endpoint path is keyedge's too.
    let world_at_root = gate_world("");
    for spelling in ["/protocol//openid-connect/certs", "/protocol/openid-connect/./auth"] {
        let res = Browser::default().get(&world_at_root, spelling);
        assert!(!body(&res).starts_with("origin "), "{spelling}: the site was asked for {}", body(&res));
    }
    // The site's own pages outside the realm, whatever their names.
    for path in ["/login", "/admin/users", "/account", "/authorize", "/"] {
        let res = Browser::default().get(&world, path);
        assert_eq!(body(&res), format!("origin {path}"), "{path}: {} to {}", res.status(), location(&res));
    }
}

/// Under a realm's issuer with a gate, the site's own pages named like keyedge's endpoints
/// that applications call (`/admin/…`, `/.well-known/…`, `/token`) answered their failures as
/// OAuth JSON errors instead of pages: the path outside the issuer was read as keyedge's. And
/// keyedge's own refusal of a body over its endpoint's limit, there for a body the Worker
/// hands over anyway, looked at the endpoint's inner path (`/token`), which is outside the
/// issuer's, took it for the site's, and let any size through.
#[test]
fn under_a_realm_the_sites_pages_fail_as_pages_and_keyedge_endpoints_keep_their_limits() {
    let world = realm_gate_world();
    for path in ["/admin/a%2Fb", "/.well-known/a%2Fb", "/token%2F"] {
        let res = Browser::default().get(&world, path);
        assert_eq!(res.status(), 400, "{path}: {}", body(&res));
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/html"), "{path}: a browser's page answered {kind}: {}", body(&res));
    }
    let big = "x".repeat(100 * 1024);
    for path in [format!("{REALM}/token"), format!("{REALM}/protocol/openid-connect/token")] {
        let res =
            world.post_form(&path, &[("grant_type", "client_credentials"), ("pad", &big)], Some(("app", APP_SECRET)));
        assert_eq!(res.status(), 413, "{path}: {}", body(&res));
        assert_eq!(json(&res)["error"], "invalid_request");
    }
}

/// Keycloak's realm-wide back-channel logout endpoint picked the first IdP whose issuer the
/// logout token named. Two IdPs of one issuer (two clients at the same upstream realm, each
/// with its own users) are common; a logout token for the second was checked against the
/// first's client, refused, and the sessions it was to end went on. The token's audience
/// picks among IdPs of one issuer.
#[test]
fn the_realm_backchannel_logout_finds_the_idp_of_the_tokens_audience() {
    let mut world = World::with("accept_logout_tokens = true", "", "");
    let decoy = "[[identity_providers]]\nalias = \"decoy\"\nkind = \"oidc\"\nissuer = \"https://idp.test\"\n\
                 client_id = \"another-client-at-idp\"\nclient_secret_env = \"IDP2_SECRET\"\naccept_logout_tokens = true\n\n";
    let text = ConfigBuilder::new().up("accept_logout_tokens = true").build();
    let at = text.find("[[identity_providers]]").unwrap();
    let text = format!("{}{decoy}{}", &text[..at], &text[at..]);
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).expect("valid");
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    assert!(location(&login(&world, &mut browser, &rp.query, "alice")).starts_with(APP_REDIRECT));
    assert_eq!(browser.get(&world, "/account").status(), 200);

    let token = world.idp.logout_token("alice", |_| {});
    let res = world.post_form("/protocol/openid-connect/logout/backchannel-logout", &[("logout_token", &token)], None);
    assert_eq!(res.status(), 200, "{}", body(&res));
    assert!(location(&browser.get(&world, "/account")).contains("/login?"), "alice's session went on");
}
