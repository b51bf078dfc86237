//! Accounts: the first-login flow (review profile, create user if unique, handle existing
//! account by mailed link or re-authentication), post-login flows, mappers and sync modes,
//! unlinking and sessions on the account page.

use crate::common::*;
use serde_json::{json, Value};

fn accounts(up: &str, second: &str, extra: &str) -> Accounts {
    accounts_world(up, "user_attributes = [\"country\", \"department\"]", second, extra)
}

fn config_error(text: &str) -> String {
    match keyedge::core::Keyedge::from_config_text(text, &secrets) {
        Ok(_) => panic!("the configuration was accepted"),
        Err(e) => e.to_string(),
    }
}

fn user(world: &World, id: &str) -> Value {
    serde_json::from_str(&world.kv(&format!("user:{id}")).expect("user exists")).unwrap()
}

/// Submits the form `path` of the browser's last page (its hidden fields, `form` filled in).
fn post(world: &World, browser: &mut Browser, path: &str, form: &[(&str, &str)]) -> http::Response<Vec<u8>> {
    browser.submit(world, path, form)
}

/// alice has an account through `up`; returns its id.
fn alice_account(world: &World) -> String {
    let (res, rp) = callback(world, &mut Browser::default(), "up", &world.idp, "alice");
    sub_of(world, &code_of(&res), &rp)
}

mod review_profile {
    use super::*;

    /// The `up` IdP with a first login flow that always shows the review form.
    fn reviewing() -> Accounts {
        accounts(
            "first_login_flow = \"review\"",
            "",
            "[[first_login_flows]]\nalias = \"review\"\nreview_profile = \"on\"\n",
        )
    }

    #[test]
    fn on_shows_the_form_validates_inline_and_creates_the_edited_account() {
        let a = reviewing();
        let world = &a.world;
        let mut browser = Browser::default();
        let (res, rp) = callback(world, &mut browser, "up", &world.idp, "alice");
        let html = body(&res);
        assert_eq!(res.status(), 200);
        assert!(html.contains("Check your profile") && html.contains("value=\"alice@example.com\""), "{html}");
        assert!(browser.cookies.keys().any(|k| k.contains("keyedge_pending")));
        // Nothing is created before the form is complete.
        assert!(user_of_link(world, "up", "sub-alice").is_none());

        let bad = post(
            world,
            &mut browser,
            "/first-login/review",
            &[("username", "a b"), ("email", "nope"), ("given_name", ""), ("family_name", "L")],
        );
        let html = body(&bad);
        assert_eq!(bad.status(), 200);
        assert_eq!(html.matches("aria-invalid=\"true\"").count(), 3, "{html}");
        assert!(html.contains("without spaces") && html.contains("name@example.com"));

        let good = post(
            world,
            &mut browser,
            "/first-login/review",
            &[("username", "ally"), ("email", "alice@example.com"), ("given_name", "Ally"), ("family_name", "Liddell")],
        );
        let sub = sub_of(world, &code_of(&good), &rp);
        let u = user(world, &sub);
        assert_eq!((u["username"].as_str(), u["given_name"].as_str()), (Some("ally"), Some("Ally")));
        assert_eq!(u["email_verified"], true, "the IdP's verified address was kept");
    }

    #[test]
    fn a_changed_email_is_not_verified() {
        let a = reviewing();
        let world = &a.world;
        let mut browser = Browser::default();
        let (_, rp) = callback(world, &mut browser, "up", &world.idp, "alice");
        let res = post(
            world,
            &mut browser,
            "/first-login/review",
            &[("username", "alice"), ("email", "other@example.org"), ("given_name", "A"), ("family_name", "L")],
        );
        let sub = sub_of(world, &code_of(&res), &rp);
        assert_eq!(user(world, &sub)["email_verified"], false);
    }

    #[test]
    fn missing_shows_the_form_only_when_a_name_is_missing() {
        let a = accounts("", "", "");
        *a.world.idp.given_name.borrow_mut() = String::new();
        *a.world.idp.tamper.borrow_mut() = Box::new(|c| c["given_name"] = json!(null));
        let (res, _) = callback(&a.world, &mut Browser::default(), "up", &a.world.idp, "alice");
        assert!(body(&res).contains("Check your profile"));
    }

    #[test]
    fn off_never_shows_it() {
        let a = accounts(
            "first_login_flow = \"quick\"",
            "",
            "[[first_login_flows]]\nalias = \"quick\"\nreview_profile = \"off\"\n",
        );
        *a.world.idp.tamper.borrow_mut() = Box::new(|c| c["given_name"] = json!(null));
        let (res, _) = callback(&a.world, &mut Browser::default(), "up", &a.world.idp, "alice");
        code_of(&res);
    }

    #[test]
    fn a_form_post_without_the_pending_login_is_refused() {
        let a = accounts("", "", "");
        let res = post(&a.world, &mut Browser::default(), "/first-login/review", &[("username", "x")]);
        assert_eq!(res.status(), 400);
        assert!(body(&res).contains("Sign-in expired"));
    }
}

mod existing_account {
    use super::*;

    /// alice has an account through `up`; "alice" at the second IdP (same verified email)
    /// signs in for the first time and reaches the confirm page.
    fn to_confirm(a: &Accounts, browser: &mut Browser) -> (String, RpRequest) {
        let alice = alice_account(&a.world);
        let (res, rp) = callback(&a.world, browser, "second", &a.idp2, "alice");
        let html = body(&res);
        assert_eq!(res.status(), 200, "{html}");
        assert!(html.contains("Account already exists") && html.contains("alice@example.com"), "{html}");
        assert!(user_of_link(&a.world, "second", "sub-alice").is_none(), "nothing linked yet");
        (alice, rp)
    }

    fn mailed_link(a: &Accounts) -> String {
        let mails = a.outbox.borrow();
        let mail = mails.last().expect("a mail was sent");
        assert_eq!(mail["to"], "alice@example.com");
        assert_eq!(mail["from"], "keyedge@keyedge.test");
        let text = mail["text"].as_str().unwrap();
        let start = text.find("https://keyedge.test/first-login/verify-email?token=").unwrap();
        text[start..].split_whitespace().next().unwrap().to_owned()
    }

    #[test]
    fn verified_by_a_mailed_link_in_the_same_browser() {
        let a = accounts("", "", MAIL);
        let mut browser = Browser::default();
        let (alice, rp) = to_confirm(&a, &mut browser);
        let sent = post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        assert!(body(&sent).contains("Check your email") && body(&sent).contains("a…e@example.com"), "{}", body(&sent));
        let link = mailed_link(&a);
        let done = browser.get(&a.world, &link);
        assert_eq!(sub_of(&a.world, &code_of(&done), &rp), alice);
        assert_eq!(user_of_link(&a.world, "second", "sub-alice"), Some(alice.clone()));
        assert_eq!(user(&a.world, &alice)["links"].as_array().unwrap().len(), 2);
        // The link works once.
        assert_eq!(browser.get(&a.world, &link).status(), 400);
    }

    /// Issue 19's race: the mailed link opened twice at once (a double click, a mail client
    /// that prefetches) links exactly once and signs in exactly once.
    #[test]
    fn the_mailed_link_opened_twice_at_once_links_once() {
        let a = accounts("", "", MAIL);
        let mut browser = Browser::default();
        let (alice, _) = to_confirm(&a, &mut browser);
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let link = mailed_link(&a);
        let open = || http::Request::get(&link).header("cookie", browser.cookie_header()).body(Vec::new()).unwrap();
        let answers = a.world.send_all(vec![open(), open()]);
        let codes = answers.iter().filter(|r| query_param(&location(r), "code").is_some()).count();
        assert_eq!(codes, 1, "{:?}", answers.iter().map(|r| r.status()).collect::<Vec<_>>());
        assert!(answers.iter().all(|r| r.status() != 500));
        assert_eq!(user(&a.world, &alice)["links"].as_array().unwrap().len(), 2, "linked once");
    }

    #[test]
    fn a_tampered_link_or_another_browser_links_nothing() {
        let a = accounts("", "", MAIL);
        let mut browser = Browser::default();
        to_confirm(&a, &mut browser);
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let link = mailed_link(&a);
        // Opened elsewhere: no pending cookie.
        assert_eq!(Browser::default().get(&a.world, &link).status(), 400);
        let tampered = format!("{}x", link);
        let res = browser.get(&a.world, &tampered);
        assert_eq!(res.status(), 400);
        assert!(body(&res).contains("Link not valid"));
        // The attempt is over: even the right link does not work now.
        assert_eq!(browser.get(&a.world, &link).status(), 400);
        assert!(user_of_link(&a.world, "second", "sub-alice").is_none());
    }

    #[test]
    fn an_expired_link_links_nothing() {
        let a = accounts("", "", MAIL);
        let mut browser = Browser::default();
        to_confirm(&a, &mut browser);
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let link = mailed_link(&a);
        a.world.clock.advance(11 * 60);
        assert_eq!(browser.get(&a.world, &link).status(), 400);
        assert!(user_of_link(&a.world, "second", "sub-alice").is_none());
    }

    #[test]
    fn verified_by_re_authentication_with_a_linked_idp() {
        let a = accounts("", "", "");
        let mut browser = Browser::default();
        let (alice, rp) = to_confirm(&a, &mut browser);
        // No mail sender: re-authentication.
        let page = post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let html = body(&page);
        assert!(
            html.contains("Confirm it is your account") && html.contains("/first-login/reauthenticate/up"),
            "{html}"
        );
        let at_up = location(&browser.get(&a.world, "/first-login/reauthenticate/up"));
        assert!(at_up.starts_with("https://idp.test/auth?"), "{at_up}");
        let done = browser.get(&a.world, &a.world.idp.authorize(&at_up, "alice"));
        assert_eq!(sub_of(&a.world, &code_of(&done), &rp), alice);
        assert_eq!(user_of_link(&a.world, "second", "sub-alice"), Some(alice));
    }

    #[test]
    fn re_authentication_as_someone_else_links_nothing() {
        let a = accounts("", "", "");
        // bob has an account too.
        let (res, _) = callback(&a.world, &mut Browser::default(), "up", &a.world.idp, "bob");
        code_of(&res);
        let mut browser = Browser::default();
        to_confirm(&a, &mut browser);
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let at_up = location(&browser.get(&a.world, "/first-login/reauthenticate/up"));
        let res = browser.get(&a.world, &a.world.idp.authorize(&at_up, "bob"));
        assert_eq!(res.status(), 403);
        assert!(body(&res).contains("Not the same account"));
        assert!(user_of_link(&a.world, "second", "sub-alice").is_none());
    }

    #[test]
    fn re_authentication_only_with_an_idp_of_that_account() {
        let a = accounts("", "", "");
        let mut browser = Browser::default();
        to_confirm(&a, &mut browser);
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        assert_eq!(browser.get(&a.world, "/first-login/reauthenticate/second").status(), 400);
    }

    #[test]
    fn review_instead_of_linking_leads_back_to_the_form() {
        let a = accounts("", "", "");
        let mut browser = Browser::default();
        let (_, rp) = to_confirm(&a, &mut browser);
        let form = post(&a.world, &mut browser, "/first-login/confirm", &[("action", "review")]);
        assert!(body(&form).contains("Check your profile"));
        let res = post(
            &a.world,
            &mut browser,
            "/first-login/review",
            &[("username", "alice2"), ("email", "alice2@example.org"), ("given_name", "A"), ("family_name", "L")],
        );
        let sub = sub_of(&a.world, &code_of(&res), &rp);
        assert_eq!(user(&a.world, &sub)["username"], "alice2");
    }

    #[test]
    fn an_unverified_email_never_matches_an_existing_account() {
        let a = accounts("", "", MAIL);
        let alice = alice_account(&a.world);
        *a.idp2.email_verified.borrow_mut() = false;
        *a.idp2.tamper.borrow_mut() = Box::new(|c| c["email"] = json!("alice@example.com"));
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "mallory");
        let html = body(&res);
        assert!(html.contains("Check your profile") && html.contains("belongs to another account"), "{html}");
        assert!(!html.contains("Add to existing account"));
        assert!(a.outbox.borrow().is_empty(), "no mail to alice");
        assert_eq!(user(&a.world, &alice)["links"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn trust_email_lets_an_unverified_address_reach_the_verification() {
        let a = accounts("", "trust_email = true", "");
        *a.idp2.email_verified.borrow_mut() = false;
        let mut browser = Browser::default();
        to_confirm(&a, &mut browser);
    }

    #[test]
    fn a_duplicate_username_is_an_existing_account_too() {
        let a = accounts("", "", "");
        alice_account(&a.world);
        // Another person called "alice" at the second IdP, with another email.
        *a.idp2.tamper.borrow_mut() = Box::new(|c| c["email"] = json!("alice@elsewhere.example"));
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "alice");
        let html = body(&res);
        assert!(html.contains("Account already exists") && html.contains("Username"), "{html}");
    }

    #[test]
    fn without_handle_existing_account_it_is_an_error_page() {
        let flow = "[[first_login_flows]]\nalias = \"strict\"\nhandle_existing_account = false\n";
        let a = accounts("", "first_login_flow = \"strict\"", flow);
        alice_account(&a.world);
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "alice");
        assert_eq!(res.status(), 409);
        assert!(body(&res).contains("link Second IdP on its account page"));
    }

    #[test]
    fn without_create_user_if_unique_only_existing_accounts_may_link() {
        let flow = "[[first_login_flows]]\nalias = \"link only\"\ncreate_user_if_unique = false\nconfirm_link_existing_account = false\n";
        let a = accounts("", "first_login_flow = \"link only\"", flow);
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "nobody");
        assert_eq!(res.status(), 403);
        assert!(body(&res).contains("needs an existing account"));
        alice_account(&a.world);
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "alice");
        assert!(body(&res).contains("Confirm it is your account"), "no confirm page: straight to verification");
    }

    #[test]
    fn two_first_logins_with_one_email_make_exactly_one_account() {
        use keyedge::core::broker::users::{create, Creation, Draft};
        let a = accounts("", "", "");
        let world = &a.world;
        let log = |_: &str| {};
        let jobs = keyedge::core::ports::Jobs::default();
        let ports = keyedge::core::ports::Ports {
            store: &world.store,
            once: &world.once,
            http: &world.http,
            clock: &world.clock,
            rng: &world.rng,
            log: &log,
            jobs: &jobs,
            crypto: None,
            site: None,
            limits: &world.limits,
        };
        let identity = |alias: &str, sub: &str, username: &str| keyedge::core::upstream::BrokeredIdentity {
            alias: alias.into(),
            sub: sub.into(),
            username: username.into(),
            profile: keyedge::core::claims::StandardClaims {
                email: Some("same@example.com".into()),
                email_verified: true,
                ..Default::default()
            },
            upstream_sid: None,
            saml_session: None,
            auth_time: None,
            tokens: Some(keyedge::core::upstream::UpstreamTokens {
                access_token: "a".into(),
                token_type: "Bearer".into(),
                refresh_token: None,
                id_token: None,
                scope: None,
                expires_at: None,
            }),
            claims: json!({}),
        };
        let draft = |username: &str| Draft {
            username: username.into(),
            email: Some("SAME@example.com".into()),
            email_verified: true,
            given_name: None,
            family_name: None,
        };
        let (first, second) = (identity("up", "u1", "one"), identity("second", "u2", "two"));
        let up = world.app.config.provider("up").unwrap();
        let other = world.app.config.provider("second").unwrap();
        let (d1, d2) = (draft("one"), draft("two"));
        let (r1, r2) = futures::executor::block_on(futures::future::join(
            create(&ports, up, &first, &d1),
            create(&ports, other, &second, &d2),
        ));
        let outcomes = [r1.unwrap(), r2.unwrap()];
        let created = outcomes.iter().filter(|c| matches!(c, Creation::Created(_))).count();
        let taken = outcomes.iter().filter(|c| matches!(c, Creation::Taken { .. })).count();
        assert_eq!((created, taken), (1, 1), "{outcomes:?}");
        // The loser left nothing behind: its username is free again.
        assert_eq!(world.store.keys().iter().filter(|k| k.starts_with("user:")).count(), 1);
        let again = futures::executor::block_on(create(
            &ports,
            other,
            &identity("second", "u3", "two"),
            &Draft { email: None, ..draft("two") },
        ));
        assert!(matches!(again.unwrap(), Creation::Created(_)));
    }
}

mod mappers {
    use super::*;

    const MAPPERS: &str = r#"
[[identity_providers.mappers]]
name = "staff"
kind = "hardcoded_role"
role = "staff"

[[identity_providers.mappers]]
name = "department"
kind = "hardcoded_attribute"
attribute = "department"
value = "R&D"

[[identity_providers.mappers]]
name = "country"
kind = "attribute_importer"
claim = "address.country"
attribute = "country"

[[identity_providers.mappers]]
name = "admins"
kind = "claim_to_role"
claim = "groups"
value = "admins"
role = "admin"

[[identity_providers.mappers]]
name = "engineers"
kind = "claim_to_role"
claim = "groups"
value = "eng-.*"
regex = true
role = "engineer"

[[identity_providers.mappers]]
name = "username"
kind = "username_template"
template = "${ALIAS}.${CLAIM.email | lowercase}"
"#;

    fn with_groups(world: &World, groups: Value) {
        *world.idp.tamper.borrow_mut() = Box::new(move |c| c["groups"] = groups.clone());
    }

    /// Logs alice in with `first` groups, then again with `second`; the second login's claims.
    fn second_login(world: &World, first: Value, second: Value) -> Value {
        with_groups(world, first);
        login_claims(world);
        with_groups(world, second);
        login_claims(world)
    }

    fn login_claims(world: &World) -> Value {
        let (res, rp) = callback(world, &mut Browser::default(), "up", &world.idp, "alice");
        id_claims(&json(&redeem(world, &code_of(&res), &rp.verifier)))
    }

    #[test]
    fn every_kind_on_the_first_login_and_their_claims_in_tokens() {
        let world = World::with(MAPPERS, "user_attributes = [\"country\", \"department\"]", "");
        with_groups(&world, json!(["admins", "eng-platform"]));
        let claims = login_claims(&world);
        let roles: Vec<&str> = claims["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert_eq!(roles, ["staff", "admin", "engineer"], "{claims}");
        assert_eq!(claims["country"], "NL");
        assert_eq!(claims["department"], "R&D");
        assert_eq!(claims["preferred_username"], "up.alice@example.com");
    }

    #[test]
    fn a_claim_that_does_not_match_gives_no_role() {
        let world = World::with(MAPPERS, "", "");
        with_groups(&world, json!(["administrators", "eng"]));
        let roles = login_claims(&world)["roles"].clone();
        assert_eq!(roles, json!(["staff"]));
    }

    #[test]
    fn sync_mode_import_keeps_what_the_first_login_set() {
        let world = World::with(&format!("sync_mode = \"import\"\n{MAPPERS}"), "", "");
        assert_eq!(second_login(&world, json!(["admins"]), json!([]))["roles"], json!(["staff", "admin"]));
    }

    #[test]
    fn sync_mode_force_follows_the_idp_at_every_login() {
        let world = World::with(&format!("sync_mode = \"force\"\n{MAPPERS}"), "", "");
        let claims = second_login(&world, json!(["admins"]), json!(["eng-web"]));
        assert_eq!(claims["roles"], json!(["staff", "engineer"]));
        // The username stays what the first login made.
        assert_eq!(claims["preferred_username"], "up.alice@example.com");
    }

    #[test]
    fn a_mapper_can_override_the_idps_sync_mode() {
        let mappers = MAPPERS.replace("name = \"admins\"", "name = \"admins\"\nsync_mode = \"force\"");
        let world = World::with(&format!("sync_mode = \"import\"\n{mappers}"), "", "");
        assert_eq!(second_login(&world, json!(["admins", "eng-x"]), json!([]))["roles"], json!(["staff", "engineer"]));
    }

    #[test]
    fn legacy_updates_the_claim_driven_mappers_only() {
        let world = World::with(&format!("sync_mode = \"legacy\"\n{MAPPERS}"), "user_attributes = [\"country\"]", "");
        with_groups(&world, json!(["admins"]));
        login_claims(&world);
        with_groups(&world, json!([]));
        *world.idp.tamper.borrow_mut() = Box::new(|c| c["address"] = json!({"country": "BE"}));
        let claims = login_claims(&world);
        assert_eq!(claims["roles"], json!(["staff"]));
        assert_eq!(claims["country"], "BE");
    }

    #[test]
    fn templates_and_regexes_are_checked_in_the_config() {
        let bad = [
            ("template = \"${CLAIM.email\"", "template"),
            ("template = \"${USER}\"", "template"),
            ("template = \"${ALIAS | reverse}\"", "template"),
        ];
        for (line, field) in bad {
            let m = format!("[[identity_providers.mappers]]\nname = \"u\"\nkind = \"username_template\"\n{line}");
            let text = ConfigBuilder::new().up(&m).build();
            let e = config_error(&text);
            assert!(e.contains(&format!("mappers[0].{field}")), "{e}");
        }
        let m = "[[identity_providers.mappers]]\nname = \"r\"\nkind = \"claim_to_role\"\nclaim = \"g\"\nvalue = \"(\"\nregex = true\nrole = \"x\"";
        let text = ConfigBuilder::new().up(m).build();
        let e = config_error(&text);
        assert!(e.contains("mappers[0].value: not a valid regex"), "{e}");
        let m = "[[identity_providers.mappers]]\nname = \"r\"\nkind = \"hardcoded_role\"\nrole = \"x\"\nclaim = \"g\"";
        let text = ConfigBuilder::new().up(m).build();
        let e = config_error(&text);
        assert!(e.contains("mappers[0].claim: does not apply"), "{e}");
    }
}

mod post_login {
    use super::*;

    const FLOWS: &str = r#"
[[post_login_flows]]
alias = "staff only"
require_email_domains = ["example.com"]
require_claims = [{ claim = "groups", value = "staff" }]
deny_message = "Only staff may sign in here."
"#;

    #[test]
    fn a_login_that_meets_the_requirements_passes() {
        let world = World::with("post_login_flow = \"staff only\"", "", FLOWS);
        *world.idp.tamper.borrow_mut() = Box::new(|c| c["groups"] = json!(["staff"]));
        let (res, _) = callback(&world, &mut Browser::default(), "up", &world.idp, "alice");
        code_of(&res);
    }

    #[test]
    fn a_missing_claim_or_another_domain_is_denied_and_nothing_is_written() {
        let world = World::with("post_login_flow = \"staff only\"", "", FLOWS);
        let (res, _) = callback(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert_eq!(res.status(), 403);
        assert!(body(&res).contains("Only staff may sign in here."));
        *world.idp.tamper.borrow_mut() = Box::new(|c| {
            c["groups"] = json!(["staff"]);
            c["email"] = json!("alice@elsewhere.example");
        });
        let (res, _) = callback(&world, &mut Browser::default(), "up", &world.idp, "alice");
        assert_eq!(res.status(), 403);
        assert!(world.store.keys().iter().all(|k| !k.starts_with("user:") && !k.starts_with("session:")));
    }

    #[test]
    fn an_unknown_flow_is_a_config_error() {
        let text = config_text().replace(
            "client_secret_env = \"IDP_SECRET\"\n",
            "client_secret_env = \"IDP_SECRET\"\npost_login_flow = \"nope\"\n",
        );
        let e = config_error(&text);
        assert!(e.contains("identity_providers[0].post_login_flow"), "{e}");
    }
}

mod account_page {
    use super::*;

    #[test]
    fn the_last_identity_cannot_be_unlinked() {
        let world = World::new();
        let mut browser = on_the_account_page_as(&world, "alice");
        let page = body(&browser.get(&world, "/account"));
        assert!(!page.contains("/account/unlink/up"), "{page}");
        let res = browser.post(&world, "/account/unlink/up");
        assert_eq!(res.status(), 400);
        assert!(user_of_link(&world, "up", "sub-alice").is_some());
    }

    #[test]
    fn unlinking_removes_the_identity_and_its_claim() {
        let a = accounts("", "", "");
        let world = &a.world;
        let mut browser = on_the_account_page_as(world, "alice");
        let at_idp = location(&browser.post(world, "/broker/second/link"));
        browser.get(world, &a.idp2.authorize(&at_idp, "alice-two"));
        let page = body(&browser.get(world, "/account"));
        assert!(page.contains("/account/unlink/second") && page.contains("/account/unlink/up"), "{page}");
        assert_eq!(location(&browser.post(world, "/account/unlink/second")), "/account");
        assert!(user_of_link(world, "second", "sub-alice-two").is_none());
        let alice = user_of_link(world, "up", "sub-alice").unwrap();
        assert_eq!(user(world, &alice)["links"].as_array().unwrap().len(), 1);
        // The identity is free: linking it again (here to the same account) works.
        let at_idp = location(&browser.post(world, "/broker/second/link"));
        browser.get(world, &a.idp2.authorize(&at_idp, "alice-two"));
        assert_eq!(user_of_link(world, "second", "sub-alice-two"), Some(alice));
    }

    #[test]
    fn sessions_are_listed_and_can_be_ended() {
        let world = World::new();
        let mut laptop = on_the_account_page_as(&world, "alice");
        let mut phone = on_the_account_page_as(&world, "alice");
        let page = body(&laptop.get(&world, "/account"));
        let ends: Vec<&str> = page.match_indices("/account/sessions/").map(|(i, _)| &page[i..i + 60]).collect();
        assert_eq!(ends.len(), 2, "{page}");
        assert_eq!(page.matches("this session").count(), 1);
        // End the phone's session from the laptop: the one not marked current.
        let row_of_phone =
            page.split("<tr class=\"session\">").skip(1).find(|row| !row.contains("this session")).unwrap();
        let start = row_of_phone.find("/account/sessions/").unwrap();
        let end = row_of_phone[start..].find('"').unwrap() + start;
        let action = &row_of_phone[start..end];
        assert_eq!(location(&laptop.post(&world, action)), "/account");
        assert_eq!(location(&phone.get(&world, "/account")), "/login?return_to=%2Faccount");
        assert_eq!(laptop.get(&world, "/account").status(), 200);
        let page = body(&laptop.get(&world, "/account"));
        assert_eq!(page.matches("/account/sessions/").count(), 1);
        // Ending the current one signs out here.
        let start = page.find("/account/sessions/").unwrap();
        let end = page[start..].find('"').unwrap() + start;
        let action = page[start..end].to_owned();
        assert_eq!(location(&laptop.post(&world, &action)), "/logout/done");
        assert_eq!(location(&laptop.get(&world, "/account")), "/login?return_to=%2Faccount");
    }

    #[test]
    fn single_sign_on_updates_last_seen() {
        let world = World::new();
        let mut browser = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        code_of(&login(&world, &mut browser, &rp.query, "alice"));
        world.clock.advance(3 * 3600);
        // The same browser signs in to the app again without the IdP.
        let again = browser.get(&world, &format!("/authorize?{}", rp_request("app", APP_REDIRECT).query));
        code_of(&again);
        let page = body(&browser.get(&world, "/account"));
        let row = page.split("<tr class=\"session\">").nth(1).unwrap();
        let cells: Vec<&str> = row.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap()).collect();
        assert_ne!(cells[2], cells[3], "signed in {} / last seen {}", cells[2], cells[3]);
        assert!(cells[3].ends_with("UTC"));
    }

    #[test]
    fn the_device_is_named_from_the_user_agent() {
        use keyedge::core::broker::session::device_of;
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(device_of(Some(firefox)), "Firefox on Linux");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_of(Some(safari)), "Safari on iOS");
        assert_eq!(device_of(None), "A browser");
    }
}
