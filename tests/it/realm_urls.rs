//! Issue 16, realm-shaped URLs: an issuer with a path (`https://keyedge.test/realms/acme`, a
//! Keycloak realm's issuer) serves discovery at `{issuer}/.well-known/openid-configuration`
//! and every endpoint under the issuer, with Keycloak's endpoint paths as aliases, so an app
//! or an IdP configured for the realm works after changing only the host.

use crate::common::*;

const REALM: &str = "/realms/acme";

fn realm_world(up: &str) -> World {
    let mut world = World::with(up, "", "");
    let text = ConfigBuilder::new()
        .up(up)
        .build()
        .replace(&format!("issuer = \"{ISSUER}\""), &format!("issuer = \"{ISSUER}{REALM}\""));
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).expect("a realm-shaped issuer is valid");
    world
}

/// Every link, form and stylesheet of a page of keyedge's: under the realm.
fn assert_links_under_the_realm(page: &str, html: &str) {
    for attr in ["href=\"/", "action=\"/"] {
        for (i, _) in html.match_indices(attr) {
            let url = &html[i + attr.len() - 1..];
            assert!(url.starts_with(REALM), "{page}: a link outside the realm: {}", &url[..url.len().min(60)]);
        }
    }
}

/// From the authorization request at Keycloak's `protocol/openid-connect/auth` through the
/// login page and the IdP, back to the application with a code.
fn sign_in(world: &World, browser: &mut Browser, rp: &RpRequest) -> String {
    let page = browser.get(world, &format!("{REALM}/protocol/openid-connect/auth?{}", rp.query));
    assert_eq!(page.status(), 200, "{}", body(&page));
    let html = body(&page);
    assert_links_under_the_realm("the login page", &html);
    let start = html.find(&format!("href=\"{REALM}/broker/up/login")).expect("the IdP's button") + 6;
    let href = html[start..start + html[start..].find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&");
    let at_idp = location(&browser.get(world, &href));
    // The redirect URI registered at the IdP has Keycloak's shape.
    assert_eq!(query_param(&at_idp, "redirect_uri").as_deref(), Some(&*format!("{ISSUER}{REALM}/broker/up/endpoint")));
    let back = browser.get(world, &world.idp.authorize(&at_idp, "alice"));
    location(&back)
}

#[test]
fn discovery_is_at_the_issuer_and_names_endpoints_under_it() {
    let world = realm_world("");
    let res = Browser::default().get(&world, &format!("{REALM}/.well-known/openid-configuration"));
    assert_eq!(res.status(), 200, "{}", body(&res));
    let doc = json(&res);
    assert_eq!(doc["issuer"], format!("{ISSUER}{REALM}"));
    for endpoint in
        ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"]
    {
        let url = doc[endpoint].as_str().unwrap();
        assert!(url.starts_with(&format!("{ISSUER}{REALM}/")), "{endpoint}: {url}");
        let path = &url[ISSUER.len()..];
        let answer = Browser::default().get(&world, path);
        assert_ne!(answer.status(), 404, "{endpoint} at {path} answers");
    }
    // Nothing of keyedge's is outside the issuer's path.
    for outside in ["/.well-known/openid-configuration", "/jwks", "/login", "/realms/acmex/jwks"] {
        assert_eq!(Browser::default().get(&world, outside).status(), 404, "{outside}");
    }
}

#[test]
fn an_app_configured_for_the_keycloak_realm_signs_in_refreshes_and_signs_out() {
    let world = realm_world("");
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let back = sign_in(&world, &mut browser, &rp);
    assert!(back.starts_with(APP_REDIRECT), "{back}");
    assert_eq!(query_param(&back, "iss").as_deref(), Some(&*format!("{ISSUER}{REALM}")), "RFC 9207");
    let code = query_param(&back, "code").unwrap();
    // client_secret_post at Keycloak's token endpoint, as seed 000's values configure it.
    let token = format!("{REALM}/protocol/openid-connect/token");
    let res = world.post_form(
        &token,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", APP_REDIRECT),
            ("code_verifier", &rp.verifier),
            ("client_id", "app"),
            ("client_secret", APP_SECRET),
        ],
        None,
    );
    assert_eq!(res.status(), 200, "{}", body(&res));
    let tokens = json(&res);
    let access = tokens["access_token"].as_str().unwrap();
    let certs = json(&Browser::default().get(&world, &format!("{REALM}/protocol/openid-connect/certs")));
    let id: serde_json::Value = keyedge::core::jose::verify_signed(
        tokens["id_token"].as_str().unwrap(),
        &keyedge::core::jose::Jwks::parse(&certs.to_string()).unwrap(),
        START,
        0,
    )
    .expect("the ID token verifies with the keys at Keycloak's certs URL");
    assert_eq!(id["iss"], format!("{ISSUER}{REALM}"));
    let userinfo = world.send(
        http::Request::get(format!("{ISSUER}{REALM}/protocol/openid-connect/userinfo"))
            .header("authorization", format!("Bearer {access}"))
            .body(vec![])
            .unwrap(),
    );
    assert_eq!(json(&userinfo)["sub"], id["sub"]);
    let introspected = world.post_form(
        &format!("{REALM}/protocol/openid-connect/token/introspect"),
        &[("token", access)],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(json(&introspected)["active"], true);
    let refreshed = world.post_form(
        &token,
        &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())],
        Some(("app", APP_SECRET)),
    );
    assert_eq!(refreshed.status(), 200, "{}", body(&refreshed));

    let account = browser.get(&world, &format!("{REALM}/account"));
    assert_eq!(account.status(), 200);
    assert_links_under_the_realm("the account page", &body(&account));
    let hint = tokens["id_token"].as_str().unwrap();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "https://app.test/bye")
        .finish();
    let out = browser.get(&world, &format!("{REALM}/protocol/openid-connect/logout?{q}"));
    assert_eq!(location(&out), "https://app.test/bye", "{}", body(&out));
    assert_eq!(
        location(&browser.get(&world, &format!("{REALM}/account"))),
        format!("{REALM}/login?return_to=%2Frealms%2Facme%2Faccount")
    );
    let latest = json(&refreshed)["refresh_token"].as_str().unwrap().to_owned();
    let revoke = format!("{REALM}/protocol/openid-connect/revoke");
    assert_eq!(world.post_form(&revoke, &[("token", &latest)], Some(("app", APP_SECRET))).status(), 200);
}

/// keyedge's own pages under the realm: the account login, its redirects and error pages'
/// "Try again" links stay under the realm.
#[test]
fn keyedge_pages_link_and_redirect_under_the_realm() {
    let world = realm_world("");
    let mut browser = Browser::default();
    let to_login = browser.get(&world, &format!("{REALM}/account"));
    let login = location(&to_login);
    assert!(login.starts_with(&format!("{REALM}/login?")), "{login}");
    let page = browser.get(&world, &login);
    assert_eq!(page.status(), 200);
    assert_links_under_the_realm("the account login page", &body(&page));
    let html = body(&page);
    assert!(html.contains(&format!("href=\"{REALM}/static/keyedge.")), "the stylesheet under the realm");
    let css = &html[html.find(&format!("{REALM}/static/")).unwrap()..];
    let css = &css[..css.find('"').unwrap()];
    assert_eq!(Browser::default().get(&world, css).status(), 200);
    let start = html.find(&format!("href=\"{REALM}/broker/up/login")).unwrap() + 6;
    let href = html[start..start + html[start..].find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&");
    let at_idp = location(&browser.get(&world, &href));
    let back = browser.get(&world, &world.idp.authorize(&at_idp, "alice"));
    assert_eq!(location(&back), format!("{REALM}/account"));
    // `__Host-` cookies are per host (`Path=/`): a second realm's keyedge on the host has its own.
    assert!(!browser.cookies.is_empty());
    for name in browser.cookies.keys() {
        assert!(name.starts_with("__Host-keyedge_") && name.ends_with(".realms.acme"), "{name}");
    }
    // A callback from another browser: the error page's links stay under the realm.
    let stray = Browser::default().get(&world, &world.idp.authorize(&at_idp, "alice"));
    assert_eq!(stray.status(), 400);
    assert_links_under_the_realm("an error page", &body(&stray));
}

/// Keycloak's realm-wide back-channel logout endpoint: an IdP registered against the realm
/// posts its logout token there; its `iss` picks the IdP, and the session ends.
#[test]
fn the_keycloak_backchannel_logout_path_takes_an_idps_logout_token() {
    let world = realm_world("accept_logout_tokens = true");
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    assert!(sign_in(&world, &mut browser, &rp).starts_with(APP_REDIRECT));
    let path = format!("{REALM}/protocol/openid-connect/logout/backchannel-logout");
    let forged = world.idp.logout_token("alice", |c| c["iss"] = "https://other.test".into());
    assert_eq!(world.post_form(&path, &[("logout_token", &forged)], None).status(), 400);
    assert!(browser.get(&world, &format!("{REALM}/account")).status() == 200, "still signed in");
    let token = world.idp.logout_token("alice", |_| {});
    let res = world.post_form(&path, &[("logout_token", &token)], None);
    assert_eq!(res.status(), 200, "{}", body(&res));
    assert!(location(&browser.get(&world, &format!("{REALM}/account"))).contains("/login?"), "signed out");
}

#[test]
fn an_issuer_with_a_path_keeps_the_gate_outside_it() {
    let world = realm_world("");
    // No gate configured: a path outside the realm is not keyedge's.
    assert_eq!(Browser::default().get(&world, "/docs/").status(), 404);
}

/// Under a realm-shaped issuer, the documents answered at once (the Worker's `AtOnce`) are the
/// full path's answers, and a path outside the issuer's is never one of them.
#[test]
fn the_realm_documents_answered_at_once_are_the_full_path_answers() {
    let world = realm_world("");
    let request = |method: &str, path: &str| {
        http::Request::builder().method(method).uri(format!("{ISSUER}{path}")).body(Vec::new()).unwrap()
    };
    for path in ["/.well-known/openid-configuration", "/jwks", "/protocol/openid-connect/certs"] {
        for method in ["GET", "HEAD"] {
            let path = format!("{REALM}{path}");
            let quick = world.app.answer_at_once(&request(method, &path), &world.clock, &world.rng, &|_| {});
            let full = world.respond(request(method, &path));
            assert_eq!(quick.map(|q| format!("{q:?}")), Some(format!("{full:?}")), "{method} {path}");
        }
    }
    for outside in ["/.well-known/openid-configuration", "/jwks", "/realms/acmex/jwks"] {
        let quick = world.app.answer_at_once(&request("GET", outside), &world.clock, &world.rng, &|_| {});
        assert!(quick.is_none(), "{outside}");
    }
}

/// The discovery document the Worker's shell keeps from the isolate's start is the realm's,
/// at the realm's path (`Keyedge::documents_at_start`), and the very answer a request gets,
/// as are the JWKS's at both of its paths.
#[test]
fn the_discovery_document_kept_at_start_is_at_the_realm_path() {
    let world = realm_world("");
    let made = world.app.documents_at_start();
    let paths: Vec<_> = made.iter().map(|(method, path, _)| format!("{method} {path}")).collect();
    // The JWKS too: this configuration's one RSA key has its public half from the start.
    let at = |method: &str, path: &str| format!("{method} {REALM}{path}");
    let discovery = "/.well-known/openid-configuration";
    let certs = "/protocol/openid-connect/certs";
    let expected = [
        at("GET", discovery),
        at("HEAD", discovery),
        at("GET", "/jwks"),
        at("HEAD", "/jwks"),
        at("GET", certs),
        at("HEAD", certs),
    ];
    assert_eq!(paths, expected);
    // Each the full path's answer, headers (CORS, HSTS, caching) and body.
    for (method, path, res) in &made {
        let req = http::Request::builder().method(*method).uri(format!("{ISSUER}{path}")).body(vec![]).unwrap();
        let kept = format!("{:?}", keyedge::core::gate::Reply::Page(res.clone()));
        assert_eq!(format!("{:?}", world.respond(req)), kept, "{method} {path}");
    }
    let doc: serde_json::Value = serde_json::from_slice(made[0].2.body()).unwrap();
    assert_eq!(doc["issuer"], format!("{ISSUER}{REALM}"));
}
