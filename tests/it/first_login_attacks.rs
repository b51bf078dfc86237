//! Attacks on the first-login flow and the email index (issue 14, items 1, 2, 3 and 6), each
//! performed through the real routes: a verification link turned towards another account,
//! an unverified email claimed before its owner arrives, a profile review the flow turned
//! off, and verification mails sent without limit or pages that say too much.

use crate::common::*;
use keyedge::core::keys;
use keyedge::core::ports::{Once, Store};
use serde_json::{json, Value};

fn accounts(up: &str, second: &str, extra: &str) -> Accounts {
    accounts_world(up, "", second, extra)
}

fn user(world: &World, id: &str) -> Value {
    serde_json::from_str(&world.kv(&format!("user:{id}")).expect("user exists")).unwrap()
}

/// Submits the form `path` of the browser's last page (its hidden fields, `form` filled in) and keeps the answer's cookies.
fn post(world: &World, browser: &mut Browser, path: &str, form: &[(&str, &str)]) -> http::Response<Vec<u8>> {
    browser.submit(world, path, form)
}

/// `user` gets an account through `up` (email `{user}@example.com`, verified); its id.
fn account_at_up(world: &World, who: &str) -> String {
    let (res, rp) = callback(world, &mut Browser::default(), "up", &world.idp, who);
    sub_of(world, &code_of(&res), &rp)
}

/// The verification link in the last mail to `to`.
fn mailed_link(a: &Accounts, to: &str) -> String {
    let mails = a.mails_to(to);
    let mail = mails.last().unwrap_or_else(|| panic!("no mail to {to}"));
    let text = mail["text"].as_str().unwrap();
    let start = text.find("https://keyedge.test/first-login/verify-email?token=").expect("a link in the mail");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

/// The profile form, filled.
fn profile<'a>(username: &'a str, email: &'a str) -> [(&'static str, &'a str); 4] {
    [("username", username), ("email", email), ("given_name", "M"), ("family_name", "M")]
}

mod verification_link {
    use super::*;

    // issue 14, item 1
    #[test]
    fn a_verification_code_for_one_account_never_links_another() {
        let a = accounts("", "", MAIL);
        let alice = account_at_up(&a.world, "alice");
        let mallory = account_at_up(&a.world, "mallory");

        // mallory's new identity at `second` collides with her own account: she asks to link.
        let mut browser = Browser::default();
        let (res, _) = callback(&a.world, &mut browser, "second", &a.idp2, "mallory");
        assert!(body(&res).contains("Add to existing account"), "{}", body(&res));
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let link = mailed_link(&a, "mallory@example.com");

        // She turns the pending login towards alice: a username collision needs no email.
        let turned = post(&a.world, &mut browser, "/first-login/review", &profile("alice", "someone@example.org"));
        assert!(turned.status().as_u16() < 500, "{}", body(&turned));

        // The link mailed for her own account must not link anything to alice's.
        let opened = browser.get(&a.world, &link);
        if let Some(code) = query_param(&location(&opened), "code") {
            panic!("the link signed in (code {code}) to {}", location(&opened));
        }
        assert_eq!(opened.status(), 400, "{}", body(&opened));
        assert_eq!(user_of_link(&a.world, "second", "sub-mallory"), None);
        assert_eq!(user(&a.world, &alice)["links"].as_array().unwrap().len(), 1);
        assert_eq!(user(&a.world, &mallory)["links"].as_array().unwrap().len(), 1);
        // Not signed in as anyone.
        let account = browser.get(&a.world, "/account");
        assert!(!body(&account).contains(&alice), "signed in as alice");
    }

    // issue 14, item 1
    #[test]
    fn a_changed_draft_discards_the_mailed_code_even_for_the_same_account() {
        let a = accounts("", "", MAIL);
        let mallory = account_at_up(&a.world, "mallory");
        let mut browser = Browser::default();
        callback(&a.world, &mut browser, "second", &a.idp2, "mallory");
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let link = mailed_link(&a, "mallory@example.com");
        // The form posted again (the same account is the target again).
        let again = post(&a.world, &mut browser, "/first-login/review", &profile("mallory", "mallory@example.com"));
        assert!(body(&again).contains("Account already exists"), "{}", body(&again));
        let opened = browser.get(&a.world, &link);
        assert_eq!(opened.status(), 400, "{}", body(&opened));
        assert_eq!(user_of_link(&a.world, "second", "sub-mallory"), None);
        assert_eq!(user(&a.world, &mallory)["links"].as_array().unwrap().len(), 1);
    }

    // issue 14, item 1
    #[test]
    fn the_mail_names_the_account_and_the_identity_it_is_for() {
        let a = accounts("", "", MAIL);
        account_at_up(&a.world, "alice");
        let mut browser = Browser::default();
        callback(&a.world, &mut browser, "second", &a.idp2, "alice");
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let mails = a.mails_to("alice@example.com");
        let text = mails[0]["text"].as_str().unwrap();
        assert!(text.contains("Account: alice (alice@example.com)"), "{text}");
        assert!(text.contains("Second IdP") && text.contains("Identity to add: alice"), "{text}");
    }

    // issue 14, item 1 (the same class: the account's address changed after the mail)
    #[test]
    fn a_link_mailed_to_an_address_the_account_no_longer_has_links_nothing() {
        let a = accounts("sync_mode = \"force\"", "", MAIL);
        let alice = account_at_up(&a.world, "alice");
        let mut browser = Browser::default();
        callback(&a.world, &mut browser, "second", &a.idp2, "alice");
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let link = mailed_link(&a, "alice@example.com");
        // Meanwhile the account's address changes (its IdP sends another one, synced).
        *a.world.idp.tamper.borrow_mut() = Box::new(|c| c["email"] = json!("alice@new.example"));
        account_at_up(&a.world, "alice");
        assert_eq!(user(&a.world, &alice)["email"], "alice@new.example");
        let opened = browser.get(&a.world, &link);
        assert_eq!(opened.status(), 400, "{}", body(&opened));
        assert_eq!(user_of_link(&a.world, "second", "sub-alice"), None);
    }

    // issue 14, item 1 (the same class, for re-authentication; it held before the fix)
    #[test]
    fn a_re_authentication_started_for_one_account_never_links_another() {
        let a = accounts("", "", "");
        let alice = account_at_up(&a.world, "alice");
        let mallory = account_at_up(&a.world, "mallory");
        let mut browser = Browser::default();
        callback(&a.world, &mut browser, "second", &a.idp2, "mallory");
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let at_up = location(&browser.get(&a.world, "/first-login/reauthenticate/up"));
        // While at the IdP, the pending login is turned towards alice...
        post(&a.world, &mut browser, "/first-login/review", &profile("alice", "someone@example.org"));
        // ...and mallory re-authenticates as herself.
        let res = browser.get(&a.world, &a.world.idp.authorize(&at_up, "mallory"));
        assert!(query_param(&location(&res), "code").is_none(), "signed in: {}", location(&res));
        // The re-authentication's pending login was consumed by the form post.
        assert!(body(&res).contains("Sign-in expired"), "{}", body(&res));
        assert_eq!(user_of_link(&a.world, "second", "sub-mallory"), None);
        assert_eq!(user(&a.world, &alice)["links"].as_array().unwrap().len(), 1);
        assert_eq!(user(&a.world, &mallory)["links"].as_array().unwrap().len(), 1);
    }

    // issue 14, item 1
    #[test]
    fn the_mailed_code_expires_on_its_own() {
        let a = accounts("", "", MAIL);
        account_at_up(&a.world, "alice");
        let mut browser = Browser::default();
        callback(&a.world, &mut browser, "second", &a.idp2, "alice");
        post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let link = mailed_link(&a, "alice@example.com");
        a.world.clock.advance(keyedge::core::broker::first_login::EMAIL_CODE_TTL as i64 + 1);
        assert_eq!(browser.get(&a.world, &link).status(), 400);
        assert_eq!(user_of_link(&a.world, "second", "sub-alice"), None);
    }
}

mod unverified_email {
    use super::*;

    /// eve signs up at `up` first, with dave's address that her IdP did not verify (and, with
    /// `username`, dave's username too).
    fn eve_claims_daves_address(a: &Accounts, username: Option<&'static str>) -> String {
        *a.world.idp.email_verified.borrow_mut() = false;
        *a.world.idp.tamper.borrow_mut() = Box::new(move |c| {
            c["email"] = json!("dave@example.com");
            if let Some(u) = username {
                c["preferred_username"] = json!(u);
            }
        });
        let eve = account_at_up(&a.world, "eve");
        *a.world.idp.email_verified.borrow_mut() = true;
        *a.world.idp.tamper.borrow_mut() = Box::new(|_| {});
        assert_eq!(user(&a.world, &eve)["email"], "dave@example.com");
        assert_eq!(user(&a.world, &eve)["email_verified"], false);
        eve
    }

    /// dave signs in at `second` with his verified address and does what any page asks.
    fn dave_signs_in(a: &Accounts, browser: &mut Browser) -> http::Response<Vec<u8>> {
        let (res, _) = callback(&a.world, browser, "second", &a.idp2, "dave");
        if body(&res).contains("Add to existing account") {
            let sent = post(&a.world, browser, "/first-login/confirm", &[("action", "link")]);
            if a.mails_to("dave@example.com").is_empty() {
                return sent;
            }
            let link = mailed_link(a, "dave@example.com");
            return browser.get(&a.world, &link);
        }
        res
    }

    // issue 14, item 2
    #[test]
    fn an_unverified_email_claimed_first_never_captures_the_verified_owner() {
        let a = accounts("", "", MAIL);
        let eve = eve_claims_daves_address(&a, None);
        let mut browser = Browser::default();
        let (res, rp) = callback(&a.world, &mut browser, "second", &a.idp2, "dave");
        assert!(!body(&res).contains("Add to existing account"), "dave was offered eve's account");
        let dave = sub_of(&a.world, &code_of(&res), &rp);
        assert_ne!(dave, eve);
        assert_eq!(user_of_link(&a.world, "second", "sub-dave"), Some(dave.clone()));
        assert_eq!(user(&a.world, &eve)["links"].as_array().unwrap().len(), 1);
        assert_eq!(a.world.kv(&keys::email("dave@example.com")), Some(dave));
        assert!(a.mails_to("dave@example.com").is_empty());
    }

    // issue 14, item 2
    #[test]
    fn an_account_with_an_unverified_email_is_never_offered_for_linking() {
        let a = accounts("", "", MAIL);
        let eve = eve_claims_daves_address(&a, Some("dave"));
        let mut browser = Browser::default();
        let res = dave_signs_in(&a, &mut browser);
        let html = body(&res);
        assert!(!html.contains("Add to existing account") && !html.contains("Check your email"), "{html}");
        assert!(a.mails_to("dave@example.com").is_empty(), "a mail went to eve's unverified address");
        assert!(html.contains("Check your profile") && html.contains("username is taken"), "{html}");
        assert_eq!(user_of_link(&a.world, "second", "sub-dave"), None);
        // With another username dave gets his own account.
        let own = post(&a.world, &mut browser, "/first-login/review", &profile("dave2", "dave@example.com"));
        let dave = user_of_link(&a.world, "second", "sub-dave").unwrap_or_else(|| panic!("{}", body(&own)));
        assert_ne!(dave, eve);
        assert_eq!(user(&a.world, &dave)["email_verified"], true);
    }

    // issue 14, item 2
    #[test]
    fn an_unverified_claim_from_before_passes_to_the_verified_owner() {
        let a = accounts("", "", MAIL);
        let eve = eve_claims_daves_address(&a, None);
        // What earlier versions did: eve's unverified address claimed and indexed.
        let (key, claim) = (keys::email("dave@example.com"), keys::email_claim("dave@example.com"));
        assert_eq!(futures::executor::block_on(a.world.once.claim(&claim, &eve)).unwrap(), None);
        futures::executor::block_on(a.world.store.put(&key, &eve, None)).unwrap();

        let mut browser = Browser::default();
        let res = dave_signs_in(&a, &mut browser);
        let dave = user_of_link(&a.world, "second", "sub-dave").unwrap_or_else(|| panic!("{}", body(&res)));
        assert_ne!(dave, eve);
        assert_eq!(a.world.kv(&key), Some(dave.clone()));
        // The claim is dave's now: claiming it again names him.
        assert_eq!(futures::executor::block_on(a.world.once.claim(&claim, "x")).unwrap(), Some(dave));
        assert!(a.mails_to("dave@example.com").is_empty());
    }

    // issue 14, item 2
    #[test]
    fn the_admin_import_never_claims_an_unverified_email() {
        let mut a = accounts("", "", MAIL);
        let text = config_text().replacen("issuer = ", "admin_token_env = \"ADMIN_TOKEN\"\nissuer = ", 1);
        a.world.app = keyedge::core::Keyedge::from_config_text(&format!("{text}\n{}{MAIL}", second_idp("")), &secrets)
            .expect("valid config");
        let line = json!({
            "id": "imported-eve", "username": "eve", "email": "dave@example.com", "email_verified": false,
            "created_at": START, "links": [{ "alias": "up", "sub": "sub-eve", "username": "eve", "linked_at": START }],
        });
        let req = http::Request::post(format!("{ISSUER}/admin/import"))
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .header("content-type", "application/x-ndjson")
            .body(format!("{line}\n").into_bytes())
            .unwrap();
        let res = a.world.send(req);
        assert_eq!(json(&res)["imported"], 1, "{}", body(&res));
        assert_eq!(a.world.kv(&keys::email("dave@example.com")), None);

        let mut browser = Browser::default();
        let res = dave_signs_in(&a, &mut browser);
        let dave = user_of_link(&a.world, "second", "sub-dave").unwrap_or_else(|| panic!("{}", body(&res)));
        assert_ne!(dave, "imported-eve");
    }

    // issue 14, item 2
    #[test]
    fn without_create_user_if_unique_an_unverified_account_is_not_found() {
        let flow = "[[first_login_flows]]\nalias = \"link only\"\ncreate_user_if_unique = false\n";
        let a = accounts("", "first_login_flow = \"link only\"", &format!("{MAIL}{flow}"));
        let eve = eve_claims_daves_address(&a, None);
        // A claim and index left by an earlier version.
        let key = keys::email("dave@example.com");
        futures::executor::block_on(a.world.once.claim(&keys::email_claim("dave@example.com"), &eve)).unwrap();
        futures::executor::block_on(a.world.store.put(&key, &eve, None)).unwrap();
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "dave");
        assert!(!body(&res).contains("Add to existing account"), "{}", body(&res));
        assert!(a.mails_to("dave@example.com").is_empty());
        assert_eq!(user_of_link(&a.world, "second", "sub-dave"), None);
    }
}

mod review_off {
    use super::*;

    /// `second` uses a flow with `review_profile = "off"`; alice (at `up`) reaches its
    /// confirm page from `second`.
    fn at_confirm(a: &Accounts, browser: &mut Browser) {
        account_at_up(&a.world, "alice");
        let (res, _) = callback(&a.world, browser, "second", &a.idp2, "alice");
        let html = body(&res);
        assert!(html.contains("Add to existing account") && !html.contains("value=\"review\""), "{html}");
    }

    fn off() -> Accounts {
        accounts(
            "",
            "first_login_flow = \"quick\"",
            &format!("{MAIL}[[first_login_flows]]\nalias = \"quick\"\nreview_profile = \"off\"\n"),
        )
    }

    // issue 14, item 3
    #[test]
    fn the_review_form_is_refused_when_the_flow_turns_it_off() {
        let a = off();
        let mut browser = Browser::default();
        at_confirm(&a, &mut browser);
        let res = post(&a.world, &mut browser, "/first-login/review", &profile("bob", "bob@example.org"));
        assert_eq!(res.status(), 403, "{}", body(&res));
        assert!(body(&res).contains("Profile review is off"), "{}", body(&res));
        assert_eq!(a.world.kv(&keys::username("bob")), None, "nothing created");
        assert_eq!(user_of_link(&a.world, "second", "sub-alice"), None);
    }

    // issue 14, item 3
    #[test]
    fn the_review_action_is_refused_when_the_flow_turns_it_off() {
        let a = off();
        let mut browser = Browser::default();
        at_confirm(&a, &mut browser);
        let res = post(&a.world, &mut browser, "/first-login/confirm", &[("action", "review")]);
        assert_eq!(res.status(), 403, "{}", body(&res));
        assert!(!body(&res).contains("Check your profile"));
    }

    // issue 14, item 3
    #[test]
    fn an_unverified_email_that_collides_is_an_error_page_when_review_is_off() {
        let a = off();
        account_at_up(&a.world, "alice");
        *a.idp2.email_verified.borrow_mut() = false;
        *a.idp2.tamper.borrow_mut() = Box::new(|c| c["email"] = json!("alice@example.com"));
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "mallory");
        assert_eq!(res.status(), 409, "{}", body(&res));
        assert!(!body(&res).contains("Check your profile"));
        assert!(a.outbox.borrow().is_empty());
    }
}

mod mail_limits {
    use super::*;

    /// alice has an account at `up`; `browser` signs in as alice at `second` and asks to link.
    fn ask_to_link(a: &Accounts, browser: &mut Browser) -> http::Response<Vec<u8>> {
        let (res, _) = callback(&a.world, browser, "second", &a.idp2, "alice");
        assert!(body(&res).contains("Add to existing account"), "{}", body(&res));
        post(&a.world, browser, "/first-login/confirm", &[("action", "link")])
    }

    // issue 14, item 6
    #[test]
    fn one_mail_per_pending_target() {
        let a = accounts("", "", MAIL);
        let alice = account_at_up(&a.world, "alice");
        let mut browser = Browser::default();
        let first = ask_to_link(&a, &mut browser);
        assert!(body(&first).contains("Check your email"));
        for _ in 0..3 {
            let again = post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
            assert_eq!(again.status(), 200, "{}", body(&again));
            assert!(body(&again).contains("already sent"), "{}", body(&again));
        }
        assert_eq!(a.mails_to("alice@example.com").len(), 1);
        // The one link still works.
        let done = browser.get(&a.world, &mailed_link(&a, "alice@example.com"));
        code_of(&done);
        assert_eq!(user_of_link(&a.world, "second", "sub-alice"), Some(alice));
    }

    // issue 14, item 6
    #[test]
    fn a_recipient_gets_a_limited_number_of_mails() {
        use keyedge::core::broker::first_login::{MAILS_PER_RECIPIENT, MAIL_WINDOW};
        let a = accounts("", "", MAIL);
        account_at_up(&a.world, "alice");
        for _ in 0..MAILS_PER_RECIPIENT {
            let sent = ask_to_link(&a, &mut Browser::default());
            assert!(body(&sent).contains("Check your email"), "{}", body(&sent));
        }
        let refused = ask_to_link(&a, &mut Browser::default());
        let html = body(&refused);
        assert_eq!(refused.status(), 429, "{html}");
        assert!(!html.contains("example.com") && !html.contains("a…e"), "names the address: {html}");
        assert_eq!(a.mails_to("alice@example.com").len(), MAILS_PER_RECIPIENT as usize);
        // The limit is per recipient: another account still gets its mail.
        account_at_up(&a.world, "bob");
        let (res, _) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "bob");
        assert!(body(&res).contains("Add to existing account"));
        // ...and it ends with its window.
        a.world.clock.advance(MAIL_WINDOW as i64);
        let sent = ask_to_link(&a, &mut Browser::default());
        assert!(body(&sent).contains("Check your email"), "{}", body(&sent));
        assert_eq!(a.mails_to("alice@example.com").len(), MAILS_PER_RECIPIENT as usize + 1);
    }

    // issue 14, item 6
    #[test]
    fn the_pages_do_not_name_an_account_found_by_username() {
        // A third IdP that alice's account does not use.
        let third = "\n[[identity_providers]]\nalias = \"third\"\ndisplay_name = \"Third IdP\"\nkind = \"oidc\"\nissuer = \"https://idp3.test\"\nclient_id = \"k\"\nclient_secret_env = \"IDP2_SECRET\"\n";
        let a = accounts("", "", &format!("{MAIL}{third}"));
        account_at_up(&a.world, "alice");
        // Another person called alice, with another address.
        *a.idp2.tamper.borrow_mut() = Box::new(|c| c["email"] = json!("alice@elsewhere.example"));
        let mut browser = Browser::default();
        let (res, _) = callback(&a.world, &mut browser, "second", &a.idp2, "alice");
        assert!(body(&res).contains("Account already exists"));
        let sent = post(&a.world, &mut browser, "/first-login/confirm", &[("action", "link")]);
        let html = body(&sent);
        assert!(html.contains("Check your email"), "{html}");
        assert!(!html.contains("@example.com") && !html.contains("a…e"), "the address of alice's account: {html}");
        // The IdPs offered for re-authentication are not the account's: every visible one.
        assert!(html.contains("/first-login/reauthenticate/up") && html.contains("/first-login/reauthenticate/third"));
    }
}

mod look_alike {
    use super::*;

    /// The pre-account hijack of item 2 through a *verified* address: eve's IdP verified her
    /// mailbox `\u{212A}ate@example.com` (KELVIN SIGN, another mailbox), which Unicode case
    /// folding made the same index key as `kate@example.com`; kate would then be offered eve's
    /// account and a link mailed to eve. Found by the outside review of issue 14.
    #[test]
    fn a_look_alike_verified_address_never_captures_the_real_owner() {
        let a = accounts("", "", MAIL);
        let eves_mailbox = "\u{212A}ate@example.com";
        *a.world.idp.tamper.borrow_mut() = Box::new(move |c| {
            c["email"] = json!(eves_mailbox);
            c["email_verified"] = json!(true);
        });
        let (res, rp) = callback(&a.world, &mut Browser::default(), "up", &a.world.idp, "eve");
        let eve = sub_of(&a.world, &code_of(&res), &rp);
        *a.world.idp.tamper.borrow_mut() = Box::new(|_| {});
        assert_eq!(a.world.kv(&keys::email(eves_mailbox)), Some(eve.clone()), "eve holds her own address");
        assert_eq!(a.world.kv(&keys::email("kate@example.com")), None, "and not kate's");

        let (res, rp) = callback(&a.world, &mut Browser::default(), "second", &a.idp2, "kate");
        assert!(!body(&res).contains("Add to existing account"), "kate was offered eve's account");
        let kate = sub_of(&a.world, &code_of(&res), &rp);
        assert_ne!(kate, eve);
        assert_eq!(a.world.kv(&keys::email("kate@example.com")), Some(kate));
        assert!(a.mails_to(eves_mailbox).is_empty());
    }
}
