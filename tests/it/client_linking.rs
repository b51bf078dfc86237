//! Client-initiated account linking (issue 14, item 10): `GET /broker/{alias}/link` with a
//! `hash` over the session's `sid`, which every application of the session knows from its ID
//! token. Only a client that opted in (`client_initiated_account_linking = true`) may start
//! it, and nothing is linked until the user confirms, on keyedge's page, which identity
//! provider joins which account.

use crate::common::*;

/// A world with a second IdP, the `app` client with `app_options`; its second IdP mounted.
fn world(app_options: &str) -> (World, std::rc::Rc<crate::common::FakeIdp>) {
    let world = World::with("", app_options, &second_idp(""));
    let idp2 = world.mount_second_idp();
    (world, idp2)
}

const OPT_IN: &str = "client_initiated_account_linking = true";

/// alice signs in to `app` through `up`; her browser and the `sid` of her ID token.
fn alice_at_the_app(world: &World) -> (Browser, String) {
    let mut browser = Browser::default();
    let rp = rp_request("app", APP_REDIRECT);
    let code = query_param(&location(&login(world, &mut browser, &rp.query, "alice")), "code").unwrap();
    let tokens = json(&redeem(world, &code, &rp.verifier));
    (browser, id_claims(&tokens)["sid"].as_str().unwrap().to_owned())
}

/// The parameters of Keycloak's client-initiated linking, `hash` made as the application makes it.
fn link_params(sid: &str) -> Vec<(&'static str, String)> {
    use sha2::{Digest, Sha256};
    let nonce = "n-1";
    let hash = keyedge::core::b64url(&Sha256::digest(format!("{nonce}{sid}appsecond")));
    vec![("client_id", "app".into()), ("redirect_uri", APP_REDIRECT.into()), ("nonce", nonce.into()), ("hash", hash)]
}

fn link_url(sid: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(link_params(sid)).finish();
    format!("/broker/second/link?{q}")
}

fn linked(world: &World) -> bool {
    world.kv(&keyedge::core::keys::link("second", "sub-alice2")).is_some()
}

fn starts_linking(res: &http::Response<Vec<u8>>) -> bool {
    location(res).starts_with(IDP2)
        || res.headers().get_all("set-cookie").iter().any(|c| c.to_str().unwrap().contains("keyedge_flow"))
}

#[test]
fn a_client_without_the_opt_in_cannot_start_linking() {
    let (world, _) = world("");
    let (mut browser, sid) = alice_at_the_app(&world);
    let res = browser.get(&world, &link_url(&sid));
    assert!(!starts_linking(&res), "linking started: {}", location(&res));
    assert_eq!(location(&res), format!("{APP_REDIRECT}?link_error=not_allowed"), "{}", body(&res));

    // Nor by posting the confirmation itself, with the user's own session token.
    browser.get(&world, "/account");
    let params = link_params(&sid);
    let fields: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = browser.submit(&world, "/broker/second/link/confirm", &fields);
    assert!(!starts_linking(&res), "linking started: {}", location(&res));
    assert!(!linked(&world));
}

#[test]
fn nothing_is_linked_without_the_users_confirmation() {
    let (world, idp2) = world(OPT_IN);
    let (mut browser, sid) = alice_at_the_app(&world);
    let page = browser.get(&world, &link_url(&sid));
    assert_eq!(page.status(), 200, "{} {}", location(&page), body(&page));
    assert!(!starts_linking(&page), "linking started before the user confirmed");
    // The page says which IdP joins which account, and for which application.
    let html = body(&page);
    assert!(html.contains("Second IdP") && html.contains("alice") && html.contains("alice@example.com"), "{html}");
    assert!(html.contains("action=\"/broker/second/link/confirm\""), "{html}");
    assert_eq!(page.headers()["cross-origin-opener-policy"], "same-origin");

    // The application (or any other site) cannot press the button for the user.
    let fields: Vec<(&str, String)> = link_params(&sid);
    let forged_body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
    let forged = http::Request::post(format!("{ISSUER}/broker/second/link/confirm"))
        .header("cookie", browser.cookie_header())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://app.test")
        .header("sec-fetch-site", "cross-site")
        .body(forged_body.into_bytes())
        .unwrap();
    let res = world.send(forged);
    assert_eq!(res.status(), 403, "{}", body(&res));
    assert!(!starts_linking(&res));
    // Nor read the page by script to take its token.
    let fetched = http::Request::get(format!("{ISSUER}{}", link_url(&sid)))
        .header("cookie", browser.cookie_header())
        .header("sec-fetch-site", "same-origin")
        .header("sec-fetch-mode", "cors")
        .header("sec-fetch-dest", "empty")
        .body(Vec::new())
        .unwrap();
    assert_eq!(world.send(fetched).status(), 403);
    assert!(!linked(&world));

    // The user confirms: only now the IdP, and the identity joins alice's account.
    let to_idp = browser.post(&world, "/broker/second/link/confirm");
    assert!(location(&to_idp).starts_with(IDP2), "{} {}", location(&to_idp), body(&to_idp));
    let back = browser.get(&world, &idp2.authorize(&location(&to_idp), "alice2"));
    assert_eq!(location(&back), APP_REDIRECT);
    let alice = world.kv(&keyedge::core::keys::link("up", "sub-alice")).unwrap();
    assert_eq!(world.kv(&keyedge::core::keys::link("second", "sub-alice2")), Some(alice));
}

#[test]
fn the_confirmation_is_checked_again_when_posted() {
    // A confirmation for another session's `sid` (or a changed hash) links nothing.
    let (world, _) = world(OPT_IN);
    let (mut browser, sid) = alice_at_the_app(&world);
    browser.get(&world, &link_url(&sid));
    let res = browser.submit(&world, "/broker/second/link/confirm", &[("hash", "forged")]);
    assert_eq!(location(&res), format!("{APP_REDIRECT}?link_error=invalid_hash"));
    assert!(!starts_linking(&res));
}

#[test]
fn the_user_can_decline() {
    let (world, _) = world(OPT_IN);
    let (mut browser, sid) = alice_at_the_app(&world);
    let html = body(&browser.get(&world, &link_url(&sid)));
    let cancel = format!("href=\"{APP_REDIRECT}?link_error=cancelled\"");
    assert!(html.contains(&cancel), "{html}");
    assert!(!linked(&world));
}
