//! Cross-site request forgery (issue 14, item 8). Every state-changing form of keyedge's pages
//! — link, unlink, end a session, sign out, the first-login forms — is posted the ways another
//! site (or a page of a gated site on keyedge's origin) could post it, with the victim's
//! cookies: without a token, with a token of another session or pending login, with the
//! victim's own token from another origin, and as a `fetch()`. Each is refused and changes
//! nothing; then the honest form post works.
//!
//! The victim's cookies go with every forged request here: `SameSite=Lax` alone does not
//! keep them back from a sibling host of the same site, from a top-level POST within two
//! minutes of the cookie being set (Chrome's "Lax+POST"), or in browsers without SameSite.

use crate::common::*;

const EVIL: &str = "https://evil.test";

/// How a forged form post reaches keyedge.
#[derive(Clone, Copy, Debug)]
enum Forgery<'a> {
    /// A form on another site, without a token.
    CrossSite,
    /// No `Origin` or `Sec-Fetch-*` headers (an older browser), with a token that belongs to
    /// another session or pending login.
    OthersToken(&'a str),
    /// The victim's own token (leaked), posted from another site.
    LeakedTokenFromOrigin(&'a str),
    /// The victim's own token, `Sec-Fetch-Site: cross-site` and no `Origin`.
    LeakedTokenCrossSite(&'a str),
    /// The victim's own token, from a sibling host of the same site.
    LeakedTokenSameSite(&'a str),
    /// The victim's own token, from a sandboxed frame on another site (`Origin: null`).
    LeakedTokenOpaqueOrigin(&'a str),
    /// The victim's own token, posted by `fetch()` from a page on keyedge's origin (a gated
    /// site's page).
    Fetch(&'a str),
}

/// Every forgery, with the victim's token `victim` and someone else's token `other`.
fn forgeries<'a>(victim: &'a str, other: &'a str) -> Vec<Forgery<'a>> {
    vec![
        Forgery::CrossSite,
        Forgery::OthersToken(other),
        Forgery::LeakedTokenFromOrigin(victim),
        Forgery::LeakedTokenCrossSite(victim),
        Forgery::LeakedTokenSameSite(victim),
        Forgery::LeakedTokenOpaqueOrigin(victim),
        Forgery::Fetch(victim),
    ]
}

/// Posts `fields` to `action` with `victim`'s cookies, as `how` says. The victim's browser
/// keeps nothing from the answer (the forged answers are looked at, not followed).
fn forge(world: &World, victim: &Browser, action: &str, fields: &[(&str, &str)], how: Forgery<'_>) -> Response {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    let mut req = http::Request::post(format!("{ISSUER}{action}"))
        .header("cookie", victim.cookie_header())
        .header("content-type", "application/x-www-form-urlencoded");
    let navigate = [("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "document")];
    let headers: Vec<(&str, &str)> = match how {
        Forgery::CrossSite => {
            [("origin", EVIL), ("sec-fetch-site", "cross-site")].into_iter().chain(navigate).collect()
        }
        Forgery::OthersToken(token) => {
            form.push(("csrf", token));
            Vec::new()
        }
        Forgery::LeakedTokenFromOrigin(token) => {
            form.push(("csrf", token));
            vec![("origin", EVIL)]
        }
        Forgery::LeakedTokenCrossSite(token) => {
            form.push(("csrf", token));
            [("sec-fetch-site", "cross-site")].into_iter().chain(navigate).collect()
        }
        Forgery::LeakedTokenSameSite(token) => {
            form.push(("csrf", token));
            [("origin", "https://app.keyedge.test"), ("sec-fetch-site", "same-site")]
                .into_iter()
                .chain(navigate)
                .collect()
        }
        Forgery::LeakedTokenOpaqueOrigin(token) => {
            form.push(("csrf", token));
            [("origin", "null"), ("sec-fetch-site", "cross-site")].into_iter().chain(navigate).collect()
        }
        Forgery::Fetch(token) => {
            form.push(("csrf", token));
            vec![
                ("origin", ISSUER),
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-mode", "cors"),
                ("sec-fetch-dest", "empty"),
            ]
        }
    };
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
    world.send(req.body(body.into_bytes()).unwrap())
}

type Response = http::Response<Vec<u8>>;

fn assert_refused(res: &Response, how: Forgery<'_>) {
    assert_eq!(res.status(), 403, "{how:?} was not refused: {} {}", location(res), body(res));
    assert!(res.headers().get("set-cookie").is_none(), "{how:?} set a cookie");
}

/// A world with a second IdP (`second`) mounted.
fn world() -> (World, std::rc::Rc<FakeIdp>) {
    let world = World::with("", "", &second_idp(""));
    let idp2 = world.mount_second_idp();
    (world, idp2)
}

/// `user` signed in through `up`, on the account page.
fn on_account_page(world: &World, user: &str) -> Browser {
    let mut browser = Browser::default();
    let at_idp = location(&browser.get(world, "/broker/up/login?return_to=%2Faccount"));
    let done = browser.get(world, &world.idp.authorize(&at_idp, user));
    assert_eq!(location(&done), "/account", "{}", body(&done));
    assert_eq!(browser.get(world, "/account").status(), 200);
    browser
}

/// The CSRF token of the browser's last page (none: empty).
fn token(browser: &Browser) -> String {
    browser.csrf.clone().unwrap_or_default()
}

fn signed_in(world: &World, browser: &Browser) -> bool {
    let mut probe = browser.clone();
    probe.get(world, "/account").status() == 200
}

use crate::common::fake_idp::FakeIdp;

mod account_page {
    use super::*;

    #[test]
    fn a_forged_link_post_starts_no_linking() {
        let (world, idp2) = world();
        let mut alice = on_account_page(&world, "alice");
        let mallory = on_account_page(&world, "mallory");
        let (victim, other) = (token(&alice), token(&mallory));
        for how in forgeries(&victim, &other) {
            let res = forge(&world, &alice, "/broker/second/link", &[], how);
            assert_refused(&res, how);
            assert!(!location(&res).starts_with(IDP2), "{how:?} started linking");
        }
        // The honest button still works.
        let at_idp = location(&alice.post(&world, "/broker/second/link"));
        assert!(at_idp.starts_with(IDP2), "{at_idp}");
        let done = alice.get(&world, &idp2.authorize(&at_idp, "alice2"));
        assert_eq!(location(&done), "/account", "{}", body(&done));
        assert!(user_of_link(&world, "second", "sub-alice2").is_some());
    }

    #[test]
    fn a_forged_unlink_post_removes_nothing() {
        let (world, idp2) = world();
        let mut alice = on_account_page(&world, "alice");
        let at_idp = location(&alice.post(&world, "/broker/second/link"));
        alice.get(&world, &idp2.authorize(&at_idp, "alice2"));
        assert_eq!(alice.get(&world, "/account").status(), 200);
        let mallory = on_account_page(&world, "mallory");
        let (victim, other) = (token(&alice), token(&mallory));
        for how in forgeries(&victim, &other) {
            assert_refused(&forge(&world, &alice, "/account/unlink/second", &[], how), how);
            assert!(user_of_link(&world, "second", "sub-alice2").is_some(), "{how:?} unlinked");
        }
        assert_eq!(location(&alice.post(&world, "/account/unlink/second")), "/account");
        assert!(user_of_link(&world, "second", "sub-alice2").is_none());
    }

    #[test]
    fn a_forged_end_session_post_ends_nothing() {
        let (world, _) = world();
        let mut laptop = on_account_page(&world, "alice");
        let phone = on_account_page(&world, "alice");
        let mallory = on_account_page(&world, "mallory");
        assert_eq!(laptop.get(&world, "/account").status(), 200);
        let page = laptop.page.clone();
        let row = page.split("<tr class=\"session\">").skip(1).find(|r| !r.contains("this session")).unwrap();
        let start = row.find("/account/sessions/").unwrap();
        let action = row[start..start + row[start..].find('"').unwrap()].to_owned();
        // Another session of the same user is another session: its token does not do either.
        for other in [token(&mallory), token(&phone)] {
            for how in forgeries(&token(&laptop), &other) {
                assert_refused(&forge(&world, &laptop, &action, &[], how), how);
                assert!(signed_in(&world, &phone), "{how:?} ended the phone's session");
            }
        }
        assert_eq!(location(&laptop.post(&world, &action)), "/account");
        assert!(!signed_in(&world, &phone));
    }

    #[test]
    fn a_forged_sign_out_only_asks() {
        let (world, _) = world();
        let mut alice = on_account_page(&world, "alice");
        let mallory = on_account_page(&world, "mallory");
        let (victim, other) = (token(&alice), token(&mallory));
        for how in forgeries(&victim, &other) {
            let res = forge(&world, &alice, "/logout", &[], how);
            if let Forgery::Fetch(_) = how {
                assert_refused(&res, how);
            } else {
                // Sign-out is also the RP-initiated logout endpoint, which other sites may
                // post to: without the token it asks the user instead of acting.
                assert_eq!(res.status(), 200, "{how:?}: {}", body(&res));
                assert!(body(&res).contains("Sign out?"), "{how:?}: {}", body(&res));
            }
            assert!(signed_in(&world, &alice), "{how:?} signed alice out");
        }
        let done = alice.post(&world, "/logout");
        assert!(body(&done).contains("You are signed out"), "{}", body(&done));
        assert!(!signed_in(&world, &alice));
    }

    #[test]
    fn the_account_page_answers_only_top_level_navigations() {
        let (world, _) = world();
        let alice = on_account_page(&world, "alice");
        let get = |headers: &[(&str, &str)]| {
            let mut req = http::Request::get(format!("{ISSUER}/account")).header("cookie", alice.cookie_header());
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            world.send(req.body(Vec::new()).unwrap())
        };
        let same = ("sec-fetch-site", "same-origin");
        for headers in [
            vec![same, ("sec-fetch-mode", "cors"), ("sec-fetch-dest", "empty")],
            vec![same, ("sec-fetch-mode", "no-cors"), ("sec-fetch-dest", "empty")],
            vec![same, ("sec-fetch-mode", "same-origin"), ("sec-fetch-dest", "empty")],
            vec![same, ("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "iframe")],
            vec![("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "no-cors"), ("sec-fetch-dest", "script")],
        ] {
            let res = get(&headers);
            assert_eq!(res.status(), 403, "{headers:?}: {}", body(&res));
            assert!(!body(&res).contains("alice@example.com") && !body(&res).contains("name=\"csrf\""), "{headers:?}");
        }
        let page =
            get(&[same, ("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "document"), ("sec-fetch-user", "?1")]);
        assert_eq!(page.status(), 200, "{}", body(&page));
        assert_eq!(get(&[]).status(), 200, "a browser without Sec-Fetch headers");
        // Not a browser (Node's fetch sends Sec-Fetch-Mode alone): it holds only its own cookies.
        assert_eq!(get(&[("sec-fetch-mode", "cors")]).status(), 200, "a server's HTTP client");
        let coop = page.headers().get("cross-origin-opener-policy").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(coop.as_deref(), Some("same-origin"));
    }

    /// The first-login pages that carry a form's token (the e-mail check, the re-sign-in
    /// with a linked IdP) are refused to a script before anything is read for them, as the
    /// account page is; a top-level navigation gets past that check.
    #[test]
    fn the_first_login_pages_answer_only_top_level_navigations() {
        let (world, _) = world();
        let get = |path: &str, mode: &str, dest: &str| {
            let req = http::Request::get(format!("{ISSUER}{path}"))
                .header("sec-fetch-site", "same-origin")
                .header("sec-fetch-mode", mode)
                .header("sec-fetch-dest", dest);
            world.send(req.body(Vec::new()).unwrap())
        };
        for path in ["/first-login/verify-email", "/first-login/reauthenticate/up"] {
            let scripted = get(path, "cors", "empty");
            assert_eq!(scripted.status(), 403, "{path}: {}", body(&scripted));
            let navigated = get(path, "navigate", "document");
            assert_ne!(navigated.status(), 403, "{path}: {}", body(&navigated));
        }
    }

    #[test]
    fn the_sign_out_question_is_not_shown_to_scripts() {
        // It carries the session's token: a gated site's script must not read it.
        let (world, _) = world();
        let alice = on_account_page(&world, "alice");
        for method in ["GET", "POST"] {
            let req = http::Request::builder()
                .method(method)
                .uri(format!("{ISSUER}/logout"))
                .header("cookie", alice.cookie_header())
                .header("sec-fetch-site", "same-origin")
                .header("sec-fetch-mode", "cors")
                .header("sec-fetch-dest", "empty")
                .body(Vec::new())
                .unwrap();
            let res = world.send(req);
            assert_eq!(res.status(), 403, "{method}: {}", body(&res));
            assert!(!body(&res).contains("name=\"csrf\""), "{method}");
            assert!(signed_in(&world, &alice));
        }
    }

    #[test]
    fn every_post_form_of_the_account_page_carries_the_token() {
        let (world, idp2) = world();
        let mut alice = on_account_page(&world, "alice");
        let at_idp = location(&alice.post(&world, "/broker/second/link"));
        alice.get(&world, &idp2.authorize(&at_idp, "alice2"));
        alice.get(&world, "/account");
        let posts = alice.page.matches("<form method=\"post\"").count();
        let with_token = forms(&alice.page).iter().filter(|(_, h)| h.iter().any(|(k, _)| k == "csrf")).count();
        assert!(posts >= 4, "{}", alice.page);
        assert_eq!(with_token, posts, "{}", alice.page);
    }
}

mod sign_out {
    use super::*;

    fn tokens_in(world: &World, browser: &mut Browser) -> serde_json::Value {
        let rp = rp_request("app", APP_REDIRECT);
        let code = query_param(&location(&login(world, browser, &rp.query, "alice")), "code").unwrap();
        json(&redeem(world, &code, &rp.verifier))
    }

    #[test]
    fn a_logout_link_with_an_id_token_of_an_earlier_session_asks_first() {
        let (world, _) = world();
        let mut browser = Browser::default();
        let old = tokens_in(&world, &mut browser);
        browser.cookies.clear();
        tokens_in(&world, &mut browser);
        // Anyone who ever saw one of alice's ID tokens could otherwise sign her out with a link.
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", old["id_token"].as_str().unwrap())
            .finish();
        let res = browser.get(&world, &format!("/logout?{q}"));
        assert_eq!(res.status(), 200, "{}", body(&res));
        assert!(body(&res).contains("Sign out?"), "{}", body(&res));
        assert!(signed_in(&world, &browser));
        browser.post(&world, "/logout");
        assert!(!signed_in(&world, &browser));
    }
}

mod first_login {
    use super::*;

    /// `who` signs in through `up` for the first time without a given name: the profile
    /// form.
    fn on_review_page(world: &World, who: &str) -> Browser {
        *world.idp.given_name.borrow_mut() = String::new();
        *world.idp.tamper.borrow_mut() = Box::new(|c| c["given_name"] = serde_json::Value::Null);
        let mut browser = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        let page = login(world, &mut browser, &rp.query, who);
        *world.idp.given_name.borrow_mut() = "Given".into();
        *world.idp.tamper.borrow_mut() = Box::new(|_| {});
        assert!(body(&page).contains("action=\"/first-login/review\""), "{}", body(&page));
        browser
    }

    fn profile(username: &str) -> [(&'static str, &str); 4] {
        [("username", username), ("email", "x@example.org"), ("given_name", "X"), ("family_name", "Y")]
    }

    #[test]
    fn a_forged_profile_post_changes_nothing() {
        let (world, _) = world();
        let mut victim = on_review_page(&world, "victim");
        // The attacker's own first login, in her browser: a real token, of another login.
        let attacker = on_review_page(&world, "mallory");
        let (own, other) = (token(&victim), token(&attacker));
        for how in forgeries(&own, &other) {
            assert_refused(&forge(&world, &victim, "/first-login/review", &profile("chosen-by-mallory"), how), how);
            assert!(world.kv(&keyedge::core::keys::username("chosen-by-mallory")).is_none(), "{how:?}");
        }
        // The victim's login is intact; the honest form creates the victim's account.
        let done = victim.submit(&world, "/first-login/review", &profile("victim"));
        assert!(query_param(&location(&done), "code").is_some(), "{} {}", location(&done), body(&done));
        assert!(world.kv(&keyedge::core::keys::username("victim")).is_some());
    }

    #[test]
    fn a_forged_confirm_post_changes_nothing() {
        let (world, idp2) = world();
        on_account_page(&world, "alice");
        // alice at `second` has the same verified address: "Add to existing account?".
        let mut victim = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        let at_idp = start_login_via(&world, &mut victim, &rp.query, "second");
        let page = victim.get(&world, &idp2.authorize(&at_idp, "alice"));
        assert!(body(&page).contains("action=\"/first-login/confirm\""), "{}", body(&page));
        let attacker = on_review_page(&world, "mallory");
        let (own, other) = (token(&victim), token(&attacker));
        for how in forgeries(&own, &other) {
            assert_refused(&forge(&world, &victim, "/first-login/confirm", &[("action", "review")], how), how);
        }
        let review = victim.submit(&world, "/first-login/confirm", &[("action", "review")]);
        assert!(body(&review).contains("action=\"/first-login/review\""), "{}", body(&review));
    }

    #[test]
    fn the_token_of_a_pending_login_survives_its_steps() {
        // The confirm page's token still works after the review page replaced the pending
        // login's cookie: a user may go back a page.
        let (world, idp2) = world();
        on_account_page(&world, "alice");
        let mut browser = Browser::default();
        let rp = rp_request("app", APP_REDIRECT);
        let at_idp = start_login_via(&world, &mut browser, &rp.query, "second");
        browser.get(&world, &idp2.authorize(&at_idp, "alice"));
        let first = token(&browser);
        browser.submit(&world, "/first-login/confirm", &[("action", "review")]);
        assert!(!first.is_empty(), "the confirm page has a token");
        assert_eq!(token(&browser), first);
        let done = browser.submit(&world, "/first-login/review", &profile("alice-two"));
        assert!(query_param(&location(&done), "code").is_some(), "{}", body(&done));
    }
}
