//! Identity brokering options, each through the harness: several upstream IdPs side by side,
//! stored upstream tokens and `/broker/{alias}/token`, trust_email, sync_mode, link_only and
//! account linking, client authentication methods, signature settings, PKCE and prompt
//! settings, the IdP's back-channel logout and upstream logout.

use crate::common::fake_idp::{FakeIdp, IDP};
use crate::common::*;
use keyedge::core::ports::Store;
use serde_json::json;
use std::rc::Rc;

const GH: &str = "https://gh.test";

fn mount(world: &World, base: &str, client_id: &str, secret: &str) -> Rc<FakeIdp> {
    FakeIdp::mount_at(&world.http, world.clock.clone(), base, client_id, secret)
}

/// A whole login of `user` through `alias` at `idp` for the `app` client; returns the
/// token response.
fn tokens_via(world: &World, browser: &mut Browser, alias: &str, idp: &FakeIdp, user: &str) -> serde_json::Value {
    let rp = rp_request("app", APP_REDIRECT);
    let at_idp = start_login_via(world, browser, &rp.query, alias);
    let done = browser.get(world, &idp.authorize(&at_idp, user));
    let code = query_param(&location(&done), "code").unwrap_or_else(|| panic!("no code: {}", body(&done)));
    json(&redeem(world, &code, &rp.verifier))
}

fn get_with_bearer(world: &World, path: &str, token: &str) -> http::Response<Vec<u8>> {
    let req = http::Request::get(format!("{ISSUER}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .body(vec![])
        .unwrap();
    world.send(req)
}

#[test]
fn harness_logs_in_through_two_oidc_idps_and_one_oauth2_idp() {
    let gh = r#"
[[identity_providers]]
alias = "gh"
kind = "oauth2"
authorization_url = "https://gh.test/auth"
token_url = "https://gh.test/token"
userinfo_url = "https://gh.test/userinfo"
client_id = "keyedge-at-gh"
client_secret_env = "IDP2_SECRET"
client_auth_method = "client_secret_post"
first_login_flow = "no review"

[[first_login_flows]]
alias = "no review"
review_profile = "off"
"#;
    let world = World::with("", "identity_provider_claim = true", &format!("{}{gh}", second_idp("")));
    let idp2 = world.mount_second_idp();
    let oauth2 = mount(&world, GH, "keyedge-at-gh", IDP2_SECRET);
    *oauth2.auth_method.borrow_mut() = "client_secret_post";

    let mut subs = Vec::new();
    for (alias, idp, user) in [("up", &world.idp, "alice"), ("second", &idp2, "bob"), ("gh", &oauth2, "carol")] {
        let t = tokens_via(&world, &mut Browser::default(), alias, idp, user);
        let claims = id_claims(&t);
        assert_eq!(claims["identity_provider"], alias, "{claims}");
        assert_eq!(claims["email"], format!("{user}@example.com"));
        subs.push(claims["sub"].as_str().unwrap().to_owned());
    }
    // Three upstream accounts, three keyedge users.
    subs.sort();
    subs.dedup();
    assert_eq!(subs.len(), 3);
    assert_eq!(*idp2.token_requests.borrow(), 1);
    assert_eq!(*oauth2.token_requests.borrow(), 1);
}

#[test]
fn the_login_page_shows_each_idp_with_its_icon_in_gui_order() {
    let world = World::with("gui_order = 2\nicon = \"/icons/up.svg\"", "", &second_idp("gui_order = 1"));
    let html = body(&Browser::default().get(&world, "/login?return_to=%2Faccount"));
    let (second, up) = (html.find("Sign in with Second IdP").unwrap(), html.find("Sign in with Upstream").unwrap());
    assert!(second < up, "gui_order: {html}");
    assert!(html.contains("<img src=\"/icons/up.svg\" alt=\"\""), "{html}");
    assert_eq!(html.matches("<img").count(), 1, "no icon configured for the second IdP");
}

#[test]
fn kc_idp_hint_goes_straight_to_the_named_idp() {
    let world = World::with("", "", &second_idp(""));
    world.mount_second_idp();
    let rp = request_with(&[("kc_idp_hint", "second")]);
    let mut browser = Browser::default();
    let res = browser.get(&world, &format!("/authorize?{}", rp.query));
    assert_eq!(res.status(), 302);
    assert!(location(&res).starts_with("/broker/second/login?"), "{}", location(&res));
    let at_idp = location(&browser.get(&world, &location(&res)));
    assert!(at_idp.starts_with(&format!("{IDP2}/auth?")), "{at_idp}");
}

mod stored_tokens {
    use super::*;

    fn world(up: &str) -> World {
        World::with(&format!("store_tokens = true\n{up}"), "read_broker_tokens = true", "")
    }

    #[test]
    fn tokens_are_sealed_at_rest() {
        let world = world("");
        tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let sealed = world.kv(&keyedge::core::keys::stored_tokens("up", "sub-alice")).expect("tokens stored");
        assert!(!sealed.contains("at-alice") && !sealed.contains("rt-alice"), "{sealed}");
    }

    #[test]
    fn readable_with_the_role_and_a_permitted_client() {
        let world = world("stored_tokens_readable = true");
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 200, "{}", body(&res));
        let stored = json(&res);
        assert_eq!(stored["access_token"], "at-alice");
        assert_eq!(stored["token_type"], "Bearer");
        assert!(stored["refresh_token"].as_str().unwrap().starts_with("rt-alice"));
        assert!(stored["id_token"].is_string());
        assert_eq!(stored["expires_in"], 300);
        assert_eq!(res.headers()["cache-control"], "no-store");
    }

    #[test]
    fn refused_without_the_role() {
        let world = world("");
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 403, "{}", body(&res));
        assert_eq!(json(&res)["error"], "insufficient_scope");
    }

    #[test]
    fn refused_for_a_client_without_read_broker_tokens() {
        let world = World::with("store_tokens = true\nstored_tokens_readable = true", "", "");
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 403, "{}", body(&res));
    }

    #[test]
    fn refused_without_a_valid_keyedge_token() {
        let world = world("stored_tokens_readable = true");
        tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert_eq!(get_with_bearer(&world, "/broker/up/token", "at-alice").status(), 401);
    }

    #[test]
    fn an_expired_access_token_is_refreshed_upstream_and_stored() {
        let world = world("stored_tokens_readable = true");
        *world.idp.access_lifetime.borrow_mut() = 60;
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let access = t["access_token"].as_str().unwrap().to_owned();
        world.clock.advance(61);
        let requests = *world.idp.token_requests.borrow();
        let res = get_with_bearer(&world, "/broker/up/token", &access);
        assert_eq!(res.status(), 200, "{}", body(&res));
        let fresh = json(&res);
        assert_ne!(fresh["access_token"], "at-alice");
        assert!(fresh["access_token"].as_str().unwrap().starts_with("at-alice~"));
        assert_eq!(fresh["expires_in"], 60);
        assert_eq!(*world.idp.token_requests.borrow(), requests + 1);
        // Stored: the next read within the lifetime does not go upstream again.
        let again = json(&get_with_bearer(&world, "/broker/up/token", &access));
        assert_eq!(again["access_token"], fresh["access_token"]);
        assert_eq!(*world.idp.token_requests.borrow(), requests + 1);
    }

    #[test]
    fn a_failed_refresh_is_409_and_keeps_what_was_stored() {
        let world = world("stored_tokens_readable = true");
        *world.idp.access_lifetime.borrow_mut() = 60;
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let key = keyedge::core::keys::stored_tokens("up", "sub-alice");
        let before = world.kv(&key);
        world.clock.advance(61);
        *world.idp.refuse_refresh.borrow_mut() = true;
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 409, "{}", body(&res));
        let e = json(&res);
        assert_eq!(e["error"], "token_refresh_failed");
        assert!(world.logged_for(e["error_description"].as_str().unwrap()).contains("invalid_grant"), "{e}");
        assert_eq!(world.kv(&key), before);
    }

    /// Issue 19, item 4: an IdP slower than `http_timeout` on the refresh grant.
    #[test]
    fn a_refresh_slower_than_http_timeout_is_409_and_keeps_what_was_stored() {
        let world = world("stored_tokens_readable = true\nhttp_timeout = 3");
        *world.idp.access_lifetime.borrow_mut() = 60;
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let key = keyedge::core::keys::stored_tokens("up", "sub-alice");
        let before = world.kv(&key);
        world.clock.advance(61);
        world.http.delay(IDP, 4);
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 409, "{}", body(&res));
        let e = json(&res);
        assert!(world.logged_for(e["error_description"].as_str().unwrap()).contains("no answer within 3 s"), "{e}");
        assert_eq!(world.kv(&key), before);
    }

    #[test]
    fn expired_without_a_refresh_token_is_409() {
        let world = world("stored_tokens_readable = true");
        *world.idp.access_lifetime.borrow_mut() = 60;
        *world.idp.no_refresh_tokens.borrow_mut() = true;
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        world.clock.advance(61);
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 409);
        assert!(json(&res)["error_description"].as_str().unwrap().contains("no refresh token"));
    }

    #[test]
    fn encryption_key_rotation_keeps_stored_tokens_readable_and_reseals_them() {
        let mut world = world("stored_tokens_readable = true");
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        let key = keyedge::core::keys::stored_tokens("up", "sub-alice");
        let sealed_with_old = world.kv(&key).unwrap();
        // The operator puts a new ENCRYPTION_KEY and keeps the old one as previous.
        const NEW_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
        let rotated = |n: &str| match n {
            "ENCRYPTION_KEY" => Some(NEW_KEY.to_owned()),
            "OLD_ENCRYPTION_KEY" => secrets("ENCRYPTION_KEY"),
            other => secrets(other),
        };
        let text = config_text()
            .replace(
                "issuer = \"https://keyedge.test\"",
                "issuer = \"https://keyedge.test\"\nprevious_encryption_key_envs = [\"OLD_ENCRYPTION_KEY\"]",
            )
            .replace(
                "client_secret_env = \"IDP_SECRET\"\n",
                "client_secret_env = \"IDP_SECRET\"\nstore_tokens = true\nstored_tokens_readable = true\n",
            )
            .replace("identity_provider_claim = false", "")
            .replace(
                "backchannel_logout_uri = \"https://app.test/backchannel\"\n",
                "backchannel_logout_uri = \"https://app.test/backchannel\"\nread_broker_tokens = true\n",
            );
        world.app = keyedge::core::Keyedge::from_config_text(&text, &rotated).unwrap();
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 200, "{}", body(&res));
        assert_eq!(json(&res)["access_token"], "at-alice");
        let resealed = world.kv(&key).unwrap();
        assert_ne!(resealed, sealed_with_old);
        let new_only = keyedge::core::seal::Sealer::from_base64(NEW_KEY).unwrap();
        assert!(new_only.open(key.as_bytes(), &resealed).is_some());
        // Without the old key, what it sealed cannot be read: treated as not stored.
        world.app = keyedge::core::Keyedge::from_config_text(
            &text.replace("previous_encryption_key_envs = [\"OLD_ENCRYPTION_KEY\"]", ""),
            &rotated,
        )
        .unwrap();
        world.store.next_request();
        futures::executor::block_on(world.store.put(&key, &sealed_with_old, None)).unwrap();
        let res = get_with_bearer(&world, "/broker/up/token", t["access_token"].as_str().unwrap());
        assert_eq!(res.status(), 400);
    }

    #[test]
    fn nothing_is_stored_without_store_tokens() {
        let world = World::new();
        tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert!(world.store.keys().iter().all(|k| !k.starts_with("tokens:")), "{:?}", world.store.keys());
    }
}

mod profile {
    use super::*;

    fn user_of(world: &World, tokens: &serde_json::Value) -> serde_json::Value {
        let sub = id_claims(tokens)["sub"].as_str().unwrap().to_owned();
        serde_json::from_str(&world.kv(&format!("user:{sub}")).unwrap()).unwrap()
    }

    #[test]
    fn an_unverified_email_stays_unverified_without_trust_email() {
        let world = World::new();
        *world.idp.email_verified.borrow_mut() = false;
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert_eq!(id_claims(&t)["email_verified"], false);
    }

    #[test]
    fn trust_email_marks_the_idps_emails_verified() {
        let world = World::with("trust_email = true", "", "");
        *world.idp.email_verified.borrow_mut() = false;
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert_eq!(id_claims(&t)["email_verified"], true);
    }

    #[test]
    fn sync_mode_import_keeps_the_first_profile() {
        let world = World::with("sync_mode = \"import\"", "", "");
        tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        *world.idp.given_name.borrow_mut() = "Renamed".into();
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert_eq!(user_of(&world, &t)["given_name"], "Given");
    }

    #[test]
    fn sync_mode_force_updates_the_profile_at_every_login() {
        let world = World::with("sync_mode = \"force\"", "", "");
        tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        *world.idp.given_name.borrow_mut() = "Renamed".into();
        let t = tokens_via(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert_eq!(user_of(&world, &t)["given_name"], "Renamed");
        assert_eq!(id_claims(&t)["given_name"], "Renamed");
    }
}

mod linking {
    use super::*;

    fn world() -> World {
        World::with("", "", &second_idp("link_only = true\nstore_tokens = true\nstored_tokens_readable = true"))
    }

    /// Signs `user` in to the account page through `up`.
    fn signed_in(world: &World, user: &str) -> Browser {
        let mut browser = Browser::default();
        let at_idp = location(&browser.get(world, "/broker/up/login?return_to=%2Faccount"));
        let done = browser.get(world, &world.idp.authorize(&at_idp, user));
        assert_eq!(location(&done), "/account");
        browser
    }

    #[test]
    fn a_link_only_idp_is_not_offered_and_cannot_sign_in() {
        let world = world();
        let page = body(&Browser::default().get(&world, "/login?return_to=%2Faccount"));
        assert!(page.contains("/broker/up/login") && !page.contains("/broker/second/login"), "{page}");
        let res = Browser::default().get(&world, "/broker/second/login?return_to=%2Faccount");
        assert_eq!(res.status(), 400);
        assert!(body(&res).contains("can only be linked"));
        let rp = request_with(&[("kc_idp_hint", "second")]);
        let res = Browser::default().get(&world, &format!("/authorize?{}", rp.query));
        assert_eq!(res.status(), 200, "the hint is ignored; the login page is shown");
    }

    #[test]
    fn linking_from_the_account_page_adds_the_identity_to_the_signed_in_user() {
        let world = world();
        let idp2 = world.mount_second_idp();
        let mut browser = signed_in(&world, "alice");
        let account = body(&browser.get(&world, "/account"));
        assert!(account.contains("action=\"/broker/second/link\""), "{account}");
        let at_idp = location(&browser.post(&world, "/broker/second/link"));
        let done = browser.get(&world, &idp2.authorize(&at_idp, "alice2"));
        assert_eq!(done.status(), 302, "{}", body(&done));
        assert_eq!(location(&done), "/account");
        let alice = world.kv(&keyedge::core::keys::link("up", "sub-alice")).unwrap();
        assert_eq!(world.kv(&keyedge::core::keys::link("second", "sub-alice2")).as_deref(), Some(alice.as_str()));
        let user: serde_json::Value = serde_json::from_str(&world.kv(&format!("user:{alice}")).unwrap()).unwrap();
        assert_eq!(user["links"].as_array().unwrap().len(), 2);
        assert_eq!(user["roles"], json!(["broker.read-token"]));
        assert!(world.kv(&keyedge::core::keys::stored_tokens("second", "sub-alice2")).is_some());
        assert!(body(&browser.get(&world, "/account")).contains("Second IdP"));
    }

    #[test]
    fn an_identity_linked_to_someone_else_is_never_moved() {
        let world = world();
        let idp2 = world.mount_second_idp();
        let mut alice = signed_in(&world, "alice");
        let at_idp = location(&alice.post(&world, "/broker/second/link"));
        alice.get(&world, &idp2.authorize(&at_idp, "shared"));
        let mut bob = signed_in(&world, "bob");
        let at_idp = location(&bob.post(&world, "/broker/second/link"));
        let res = bob.get(&world, &idp2.authorize(&at_idp, "shared"));
        assert_eq!(res.status(), 409, "{}", body(&res));
        assert!(body(&res).contains("already linked to another"));
        let alice_id = world.kv(&keyedge::core::keys::link("up", "sub-alice")).unwrap();
        assert_eq!(world.kv(&keyedge::core::keys::link("second", "sub-shared")), Some(alice_id));
    }

    #[test]
    fn linking_needs_a_session_and_a_post() {
        let world = world();
        let res = Browser::default().post(&world, "/broker/second/link");
        assert_eq!(location(&res), "/login?return_to=%2Faccount");
        let mut browser = signed_in(&world, "alice");
        // A GET is application-initiated linking, which needs its parameters.
        assert_eq!(browser.get(&world, "/broker/second/link").status(), 400);
    }

    /// Keycloak's client-initiated linking: `hash = b64url(sha256(nonce + sid + client_id + alias))`.
    fn client_link_url(sid: &str, nonce: &str, redirect_uri: &str) -> String {
        use sha2::{Digest, Sha256};
        let hash = keyedge::core::b64url(&Sha256::digest(format!("{nonce}{sid}appsecond")));
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("client_id", "app"), ("redirect_uri", redirect_uri), ("nonce", nonce), ("hash", &hash)])
            .finish();
        format!("/broker/second/link?{q}")
    }

    #[test]
    fn an_application_can_start_linking_for_its_signed_in_user() {
        let world = World::with("", "client_initiated_account_linking = true", &second_idp(""));
        let idp2 = world.mount_second_idp();
        let mut browser = Browser::default();
        let t = tokens_via(&world, &mut browser, "up", &world.idp, "alice");
        let sid = id_claims(&t)["sid"].as_str().unwrap().to_owned();
        // The user confirms on keyedge's page first.
        let page = browser.get(&world, &client_link_url(&sid, "n-1", APP_REDIRECT));
        assert_eq!(page.status(), 200, "{}", body(&page));
        let to_idp = browser.post(&world, "/broker/second/link/confirm");
        assert!(location(&to_idp).starts_with(&format!("{IDP2}/auth?")), "{}", body(&to_idp));
        let back = browser.get(&world, &idp2.authorize(&location(&to_idp), "alice2"));
        assert_eq!(location(&back), APP_REDIRECT);
        let alice = world.kv(&keyedge::core::keys::link("up", "sub-alice")).unwrap();
        assert_eq!(world.kv(&keyedge::core::keys::link("second", "sub-alice2")), Some(alice));
    }

    #[test]
    fn application_initiated_linking_checks_hash_session_and_redirect_uri() {
        let world = World::with("", "client_initiated_account_linking = true", &second_idp(""));
        let mut browser = Browser::default();
        let t = tokens_via(&world, &mut browser, "up", &world.idp, "alice");
        let sid = id_claims(&t)["sid"].as_str().unwrap().to_owned();
        let wrong = browser.get(&world, &client_link_url("another-sid", "n-1", APP_REDIRECT));
        assert_eq!(location(&wrong), format!("{APP_REDIRECT}?link_error=invalid_hash"));
        let nobody = Browser::default().get(&world, &client_link_url(&sid, "n-1", APP_REDIRECT));
        assert_eq!(location(&nobody), format!("{APP_REDIRECT}?link_error=not_logged_in"));
        let elsewhere = browser.get(&world, &client_link_url(&sid, "n-1", "https://evil.test/cb"));
        assert_eq!(elsewhere.status(), 400, "an error page, never a redirect");
        assert!(location(&elsewhere).is_empty());
    }
}

mod client_authentication {
    use super::*;

    fn login_with(method: &str, options: &str) -> http::Response<Vec<u8>> {
        let world = World::with(options, "", "");
        *world.idp.auth_method.borrow_mut() = Box::leak(method.to_owned().into_boxed_str());
        let rp = rp_request("app", APP_REDIRECT);
        login(&world, &mut Browser::default(), &rp.query, "alice")
    }

    fn assert_code(res: &http::Response<Vec<u8>>) {
        assert_eq!(res.status(), 302, "{}", body(res));
        assert!(query_param(&location(res), "code").is_some(), "{}", location(res));
    }

    #[test]
    fn client_secret_basic_is_the_default() {
        assert_code(&login_with("client_secret_basic", ""));
    }

    #[test]
    fn client_secret_post() {
        assert_code(&login_with("client_secret_post", "client_auth_method = \"client_secret_post\""));
    }

    #[test]
    fn rfc7523_client_secret_jwt() {
        assert_code(&login_with("client_secret_jwt", "client_auth_method = \"client_secret_jwt\""));
    }

    #[test]
    fn rfc7523_private_key_jwt_signs_with_keyedges_own_key() {
        let up = "client_auth_method = \"private_key_jwt\"";
        let text = config_text().replace("client_secret_env = \"IDP_SECRET\"\n", &format!("{up}\n"));
        let mut world = World::new();
        world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
        *world.idp.auth_method.borrow_mut() = "private_key_jwt";
        let rp = rp_request("app", APP_REDIRECT);
        assert_code(&login(&world, &mut Browser::default(), &rp.query, "alice"));
    }

    #[test]
    fn a_method_the_idp_does_not_expect_fails_readably() {
        let world = World::new();
        *world.idp.auth_method.borrow_mut() = "client_secret_jwt";
        let res = login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
        assert_eq!(res.status(), 502);
        // Readably for the operator: the IdP's answer is in the log, under the page's reference.
        assert!(world.logged_for(&body(&res)).contains("invalid_client"), "{}", body(&res));
    }
}

mod signatures {
    use super::*;
    use rsa::pkcs8::EncodePublicKey;

    fn public_pem(private_pem: &str) -> String {
        let key = crate::common::fake_idp::rsa_key(private_pem);
        key.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap()
    }

    fn pinned(pem: &str) -> String {
        format!("use_jwks_url = false\npublic_key_signature_verifier = \"\"\"\n{pem}\"\"\"")
    }

    #[test]
    fn a_pinned_key_verifies_without_fetching_the_jwks() {
        let world = World::with(&pinned(&public_pem(include_str!("../fixtures/upstream-test-key.pem"))), "", "");
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert!(query_param(&location(&res), "code").is_some(), "{}", body(&res));
        assert_eq!(*world.idp.jwks_requests.borrow(), 0);
    }

    #[test]
    fn a_token_not_signed_by_the_pinned_key_is_refused() {
        let world = World::with(&pinned(&public_pem(include_str!("../fixtures/attacker-test-key.pem"))), "", "");
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert_eq!(res.status(), 502);
        assert!(world.logged_for(&body(&res)).contains("signature is invalid"), "{}", body(&res));
    }

    #[test]
    fn validate_signature_false_still_checks_the_claims_and_refuses_alg_none() {
        let world = World::with("validate_signature = false", "", "");
        world.idp.rotate_key(include_str!("../fixtures/attacker-test-key.pem"), "unpublished");
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert!(query_param(&location(&res), "code").is_some(), "{}", body(&res));
        assert_eq!(*world.idp.jwks_requests.borrow(), 0);

        *world.idp.tamper.borrow_mut() = Box::new(|c| c["aud"] = json!("someone-else"));
        let res = login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query, "alice");
        assert_eq!(res.status(), 502);
        assert!(world.logged_for(&body(&res)).contains("another client"), "{}", body(&res));

        let claims = json!({"iss": "https://idp.test", "sub": "x", "aud": "keyedge-at-idp", "exp": START + 300});
        let none = format!(
            "{}.{}.",
            keyedge::core::b64url(br#"{"alg":"none"}"#),
            keyedge::core::b64url(claims.to_string().as_bytes())
        );
        assert!(matches!(
            keyedge::core::jose::unverified_claims::<serde_json::Value>(&none, START, 30),
            Err(keyedge::core::jose::TokenError::UnsupportedAlgorithm(_))
        ));
    }
}

mod authorization_request {
    use super::*;

    #[test]
    fn pkce_can_be_turned_off_for_idps_that_reject_it() {
        let world = World::with("pkce_enabled = false", "", "");
        *world.idp.pkce_optional.borrow_mut() = true;
        let rp = rp_request("app", APP_REDIRECT);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        assert!(query_param(&location(&res), "code").is_some(), "{}", body(&res));
        assert!(!world.idp.last_authorize.borrow().contains_key("code_challenge"));
    }

    #[test]
    fn pkce_is_sent_by_default() {
        let world = World::new();
        let rp = rp_request("app", APP_REDIRECT);
        login(&world, &mut Browser::default(), &rp.query, "alice");
        assert_eq!(world.idp.last_authorize.borrow()["code_challenge_method"], "S256");
    }

    #[test]
    fn a_fixed_prompt_is_sent_unless_the_client_asks_for_a_fresh_login() {
        let world = World::with("prompt = \"consent\"", "", "");
        let at_idp = start_login(&world, &mut Browser::default(), &rp_request("app", APP_REDIRECT).query);
        assert_eq!(query_param(&at_idp, "prompt").as_deref(), Some("consent"));
        let at_idp = start_login(&world, &mut Browser::default(), &request_with(&[("prompt", "login")]).query);
        assert_eq!(query_param(&at_idp, "prompt").as_deref(), Some("login"));
    }

    #[test]
    fn prompt_none_is_forwarded_only_when_the_idp_accepts_it() {
        let rp = request_with(&[("prompt", "none"), ("kc_idp_hint", "up")]);
        // Not accepted: answered at keyedge.
        let world = World::new();
        let res = Browser::default().get(&world, &format!("/authorize?{}", rp.query));
        assert_eq!(query_param(&location(&res), "error").as_deref(), Some("login_required"));

        let world = World::with("accepts_prompt_none_forward = true", "", "");
        let mut browser = Browser::default();
        let res = browser.get(&world, &format!("/authorize?{}", rp.query));
        let at_idp = location(&browser.get(&world, &location(&res)));
        assert_eq!(query_param(&at_idp, "prompt").as_deref(), Some("none"));
        // The IdP has no session either: the client gets login_required, not a page.
        let back = browser.get(&world, &world.idp.deny(&at_idp, "login_required"));
        let to_client = location(&back);
        assert!(to_client.starts_with(APP_REDIRECT), "{to_client}");
        assert_eq!(query_param(&to_client, "error").as_deref(), Some("login_required"));
        assert_eq!(query_param(&to_client, "state").as_deref(), Some(rp.state.as_str()));
        // With a session there, the login completes silently.
        let mut browser = Browser::default();
        let res = browser.get(&world, &format!("/authorize?{}", rp.query));
        let at_idp = location(&browser.get(&world, &location(&res)));
        let done = browser.get(&world, &world.idp.authorize(&at_idp, "alice"));
        assert!(query_param(&location(&done), "code").is_some());
    }
}

/// Keycloak's IdP option "Backchannel logout" (`backchannel_logout`): when a keyedge session
/// opened through the IdP ends at keyedge, keyedge GETs the IdP's end-session endpoint server
/// to server, with the upstream ID token as `id_token_hint` (Keycloak's
/// `OIDCIdentityProvider.backchannelLogout`), instead of sending the browser there.
mod backchannel_logout_at_the_idp {
    use super::*;

    fn signed_in(world: &World, browser: &mut Browser) -> serde_json::Value {
        let rp = rp_request("app", APP_REDIRECT);
        let code = code_of(&login(world, browser, &rp.query, "alice"));
        json(&redeem(world, &code, &rp.verifier))
    }

    fn logout(world: &World, browser: &mut Browser, tokens: &serde_json::Value) -> http::Response<Vec<u8>> {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
            .finish();
        browser.get(world, &format!("/logout?{q}"))
    }

    #[test]
    fn a_logout_at_keyedge_calls_the_idps_end_session_endpoint_server_to_server() {
        // `upstream_logout` too: the back channel takes its place, the browser stays here.
        let world = World::with("backchannel_logout = true\nupstream_logout = true", "", "");
        let mut browser = Browser::default();
        let tokens = signed_in(&world, &mut browser);
        let sid = payload(tokens["id_token"].as_str().unwrap())["sid"].clone();
        let res = logout(&world, &mut browser, &tokens);
        assert!(!location(&res).starts_with(IDP), "the browser is not sent to the IdP: {}", location(&res));
        let calls = world.idp.end_session_calls.borrow();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let hint = payload(&calls[0]["id_token_hint"]);
        assert_eq!(
            (hint["iss"].as_str(), hint["sub"].as_str()),
            (Some(IDP), Some("sub-alice")),
            "the IdP's own ID token"
        );
        assert_eq!(calls[0]["state"], sid.as_str().unwrap());
    }

    #[test]
    fn ending_a_session_on_the_account_page_calls_the_idp_too() {
        let world = World::with("backchannel_logout = true", "", "");
        let mut browser = Browser::default();
        signed_in(&world, &mut browser);
        let page = browser.get(&world, "/account");
        let html = body(&page);
        let start = html.find("action=\"/account/sessions/").unwrap() + 8;
        let action = html[start..start + html[start..].find('"').unwrap()].to_owned();
        assert!(browser.submit(&world, &action, &[]).status().as_u16() < 400);
        assert_eq!(world.idp.end_session_calls.borrow().len(), 1);
    }

    #[test]
    fn the_idps_own_logout_token_is_not_answered_with_a_call_back() {
        let world = World::with("backchannel_logout = true\naccept_logout_tokens = true", "", "");
        let mut browser = Browser::default();
        signed_in(&world, &mut browser);
        let token = world.idp.logout_token("alice", |_| {});
        let res = world.post_form("/broker/up/backchannel_logout", &[("logout_token", &token)], None);
        assert_eq!(res.status(), 200, "{}", body(&res));
        assert!(world.idp.end_session_calls.borrow().is_empty(), "the IdP ended it; it is not called");
    }

    #[test]
    fn without_the_option_the_idp_is_not_called_and_a_slow_idp_never_holds_the_logout() {
        let world = World::new();
        let mut browser = Browser::default();
        let tokens = signed_in(&world, &mut browser);
        logout(&world, &mut browser, &tokens);
        assert!(world.idp.end_session_calls.borrow().is_empty());

        let world = World::with("backchannel_logout = true\nhttp_timeout = 2", "", "");
        let mut browser = Browser::default();
        let tokens = signed_in(&world, &mut browser);
        world.http.delay(IDP, 3);
        let res = logout(&world, &mut browser, &tokens);
        assert_eq!(res.status(), 200, "signed out at keyedge all the same");
        let jobs = world.jobs_done.borrow();
        assert!(jobs.iter().any(|(j, done)| matches!(j, keyedge::core::ports::Job::UpstreamLogout { .. }) && !done));
        assert!(world.log.borrow().iter().any(|l| l.contains("no answer within 2 s")), "{:?}", world.log.borrow());
    }
}

mod upstream_logout {
    use super::*;

    fn world() -> World {
        World::with("accept_logout_tokens = true", "", "")
    }

    fn backchannel(world: &World, token: &str) -> http::Response<Vec<u8>> {
        world.post_form("/broker/up/backchannel_logout", &[("logout_token", token)], None)
    }

    #[test]
    fn the_idps_logout_token_ends_the_keyedge_session_and_tells_the_clients() {
        let world = world();
        let mut browser = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        login(&world, &mut browser, &rp.query, "alice");
        assert_eq!(browser.get(&world, "/account").status(), 200);
        let token = world.idp.logout_token("alice", |_| {});
        let res = backchannel(&world, &token);
        assert_eq!(res.status(), 200, "{}", body(&res));
        assert_eq!(location(&browser.get(&world, "/account")), "/login?return_to=%2Faccount");
        // keyedge's own back-channel logout to the client that took part.
        let jobs = world.jobs_done.borrow();
        assert!(jobs.iter().any(|(j, _)| format!("{j:?}").contains("https://app.test/backchannel")), "{jobs:?}");
        drop(jobs);
        // A logout token is acted on once: given again (alice signed in anew meanwhile, through
        // the IdP's same `sid` here), it is answered as done and ends nothing.
        let mut since = Browser::default();
        login(&world, &mut since, &rp_request("app", APP_REDIRECT).query, "alice");
        assert_eq!(backchannel(&world, &token).status(), 200);
        assert_eq!(since.get(&world, "/account").status(), 200, "the token given again ended a session");
    }

    #[test]
    fn another_upstream_session_of_the_same_user_survives() {
        let world = world();
        let mut browser = Browser::default();
        login(&world, &mut browser, &rp_request("app", APP_REDIRECT).query, "alice");
        let token = world.idp.logout_token("alice", |c| c["sid"] = json!("another-sid"));
        assert_eq!(backchannel(&world, &token).status(), 200);
        assert_eq!(browser.get(&world, "/account").status(), 200);
        // `sub` alone ends every session of that upstream user.
        let token = world.idp.logout_token("alice", |c| {
            c.as_object_mut().unwrap().remove("sid");
            c["jti"] = json!("second");
        });
        assert_eq!(backchannel(&world, &token).status(), 200);
        assert_eq!(browser.get(&world, "/account").status(), 302);
    }

    #[test]
    fn bad_logout_tokens_are_refused_and_end_nothing() {
        let world = world();
        let mut browser = Browser::default();
        login(&world, &mut browser, &rp_request("app", APP_REDIRECT).query, "alice");
        let attacker = crate::common::fake_idp::rsa_key(include_str!("../fixtures/attacker-test-key.pem"));
        let forged = crate::common::fake_idp::sign(
            &attacker,
            "up-1",
            crate::common::payload(&world.idp.logout_token("alice", |c| c["jti"] = json!("forged"))),
        );
        let cases = [
            ("signature", forged),
            ("nonce", world.idp.logout_token("alice", |c| c["nonce"] = json!("n"))),
            ("event", world.idp.logout_token("alice", |c| c["events"] = json!({}))),
            ("aud", world.idp.logout_token("alice", |c| c["aud"] = json!("other"))),
            ("iss", world.idp.logout_token("alice", |c| c["iss"] = json!("https://evil.test"))),
            ("exp", world.idp.logout_token("alice", |c| c["exp"] = json!(START - 3600))),
            ("iat", world.idp.logout_token("alice", |c| _ = c.as_object_mut().unwrap().remove("iat"))),
        ];
        for (what, token) in cases {
            let res = backchannel(&world, &token);
            assert_eq!(res.status(), 400, "{what}: {}", body(&res));
            assert_eq!(json(&res)["error"], "invalid_request", "{what}");
        }
        assert_eq!(browser.get(&world, "/account").status(), 200);
    }

    /// Back-Channel Logout §2.8: an IdP whose logout failed at keyedge may send the same
    /// token again. Its `jti` used to be marked before the sessions ended, so a retry after a
    /// storage failure was refused as a replay and the sessions lived on. Once they have
    /// ended, the token is refused.
    #[test]
    fn a_logout_token_sent_again_after_a_failure_ends_the_sessions_it_names() {
        for n in 0.. {
            let world = world();
            let mut browser = Browser::default();
            login(&world, &mut browser, &rp_request("app", APP_REDIRECT).query, "alice");
            let token = world.idp.logout_token("alice", |_| {});
            let Some(first) = with_once_fault(&world, n, || backchannel(&world, &token)) else { break };
            let again = backchannel(&world, &token);
            let ended = browser.get(&world, "/account").status() == 302;
            assert!(ended, "fault {n}: answers {} then {}: the session lives", first.status(), again.status());
            let mut since = Browser::default();
            login(&world, &mut since, &rp_request("app", APP_REDIRECT).query, "alice");
            assert_eq!(backchannel(&world, &token).status(), 200, "fault {n}: a used token is answered as done");
            assert_eq!(since.get(&world, "/account").status(), 200, "fault {n}: a used token ended a session");
        }
    }

    #[test]
    fn idps_without_backchannel_logout_refuse_logout_tokens() {
        let world = World::new();
        let token = world.idp.logout_token("alice", |_| {});
        assert_eq!(backchannel(&world, &token).status(), 404);
    }

    #[test]
    fn upstream_logout_sends_the_browser_to_the_idp_and_back() {
        let world = World::with("upstream_logout = true", "", "");
        let mut browser = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        let code = query_param(&location(&login(&world, &mut browser, &rp.query, "alice")), "code").unwrap();
        let t = json(&redeem(&world, &code, &rp.verifier));
        let logout = format!(
            "/logout?id_token_hint={}&post_logout_redirect_uri=https%3A%2F%2Fapp.test%2Fbye&state=s1",
            t["id_token"].as_str().unwrap()
        );
        let res = browser.get(&world, &logout);
        let to_idp = location(&res);
        assert!(to_idp.starts_with("https://idp.test/session/end?"), "{to_idp}");
        assert_eq!(query_param(&to_idp, "client_id").as_deref(), Some("keyedge-at-idp"));
        assert_eq!(
            query_param(&to_idp, "post_logout_redirect_uri").as_deref(),
            Some("https://keyedge.test/broker/up/logout_response")
        );
        let hint = query_param(&to_idp, "id_token_hint").unwrap();
        assert_eq!(crate::common::payload(&hint)["iss"], "https://idp.test");
        // The IdP sends the browser back with the state; keyedge continues to the client.
        let state = query_param(&to_idp, "state").unwrap();
        let back = browser.get(&world, &format!("/broker/up/logout_response?state={state}"));
        assert_eq!(location(&back), "https://app.test/bye?state=s1");
        // A made-up state goes nowhere.
        let forged = browser.get(&world, "/broker/up/logout_response?state=https%3A%2F%2Fevil.test");
        assert_eq!(forged.status(), 400);
        assert_eq!(browser.get(&world, "/account").status(), 302);
    }
}
