//! The static-site gate: public and protected paths, login and back to the exact page, roles
//! and email domains, assets and origin upstreams with signed identity headers.

use crate::common::*;
use keyedge::core::ports::Clock;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const GATE: &str = r#"
[gate]
upstream = "assets"

[[gate.rules]]
path = "/public/*"
allow = "anyone"

[[gate.rules]]
path = "/staff/*"
require_roles = ["staff"]

[[gate.rules]]
path = "/partners/*"
require_email_domains = ["partner.example"]
"#;

/// A world whose site (the Worker's assets) answers every path with its name and echoes the
/// cookies it got.
fn world(extra: &str) -> World {
    world_with_gate(GATE, extra)
}

/// [`world`] with `[gate]` options added.
fn world_with_options(options: &str) -> World {
    world_with_gate(&GATE.replace("[gate]\n", &format!("[gate]\n{options}\n")), "")
}

fn world_with_gate(gate: &str, extra: &str) -> World {
    let world = World::with(STAFF_MAPPER, "", &format!("{gate}{extra}"));
    world.site.mount(ISSUER, |req| {
        let cookies = req.headers().get("cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        // As CGI, FastCGI and IIS read headers: `_` and `-` alike (`HTTP_X_KEYEDGE_USER`).
        let spoofed = req.headers().keys().any(|n| n.as_str().replace('_', "-").starts_with("x-keyedge-"));
        http::Response::builder()
            .status(200)
            .header("content-type", "text/html")
            .header("cache-control", "public, max-age=3600")
            .body(format!("<p>page {} cookies[{cookies}] spoofed[{spoofed}]</p>", req.uri().path()).into_bytes())
            .unwrap()
    });
    world
}

#[test]
fn public_pages_are_served_to_anyone() {
    let world = world("");
    let res = Browser::default().get(&world, "/public/index.html");
    assert_eq!(res.status(), 200);
    assert!(body(&res).contains("page /public/index.html"));
    assert_eq!(res.headers()["cache-control"], "public, max-age=3600");
}

#[test]
fn a_protected_page_sends_to_login_and_back_to_the_exact_page() {
    let world = world("");
    let mut browser = Browser::default();
    let res = browser.get(&world, "/docs/guide.html?section=2");
    assert_eq!(res.status(), 302);
    let to_login = location(&res);
    assert_eq!(to_login, "/login?return_to=%2Fdocs%2Fguide.html%3Fsection%3D2");
    let back = sign_in_from_login_page(&world, &mut browser, &to_login, "alice");
    assert_eq!(back, "/docs/guide.html?section=2");
    let page = browser.get(&world, &back);
    assert_eq!(page.status(), 200);
    assert!(body(&page).contains("page /docs/guide.html"));
    assert_eq!(page.headers()["cache-control"], "private, no-cache");
    // The site never sees keyedge's session cookie.
    assert!(body(&page).contains("cookies[]"), "{}", body(&page));
    // "/" is the site's too.
    assert!(body(&browser.get(&world, "/")).contains("page /"));
}

/// Signs alice in; requests for a path then carry her cookies, a cookie of the site's own
/// (`site_pref=dark`) and a spoofed identity header.
fn alice_with_a_site_cookie(world: &World) -> impl Fn(&str) -> http::Request<Vec<u8>> {
    let mut browser = Browser::default();
    let to_login = location(&browser.get(world, "/docs/"));
    sign_in_from_login_page(world, &mut browser, &to_login, "alice");
    browser.cookies.insert("site_pref".into(), "dark".into());
    let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    move |path: &str| {
        http::Request::get(format!("{ISSUER}{path}"))
            .header("cookie", &cookie)
            .header("x-keyedge-user", "admin")
            .header("x_keyedge_user", "admin")
            .header("X_Keyedge_Roles", "staff")
            .body(vec![])
            .unwrap()
    }
}

#[test]
fn identity_headers_from_the_browser_are_dropped_and_other_cookies_kept() {
    let world = world("");
    let req = alice_with_a_site_cookie(&world);
    let html = body(&world.send(req("/docs/")));
    assert!(html.contains("cookies[site_pref=dark]") && html.contains("spoofed[false]"), "{html}");
}

/// The Worker streams a page the gate lets through: the core hands over the request to make
/// (keyedge's cookies and spoofed identity headers removed) and the header marks, and never
/// reads the page itself; sent through the ports, the same forward gives the marked page.
#[test]
fn a_page_let_through_is_a_forward_the_host_sends() {
    let world = world("");
    let req = alice_with_a_site_cookie(&world);
    let res = world.respond(req("/docs/guide.html"));
    let keyedge::core::gate::Reply::Forward(forward) = res else { panic!("a forward") };
    assert!(forward.to_assets && forward.url == format!("{ISSUER}/docs/guide.html"));
    assert_eq!(forward.headers["cookie"], "site_pref=dark");
    assert!(forward.headers.get("x-keyedge-user").is_none());
    assert_eq!(forward.header_edits(), &[("cache-control", "private, no-cache", true), ("vary", "cookie", false)]);
    let (log, jobs) = (|_: &str| {}, keyedge::core::ports::Jobs::default());
    let page = futures::executor::block_on(forward.send(&world.ports(&log, &jobs))).unwrap();
    assert!(body(&page).contains("page /docs/guide.html"));
    assert_eq!(page.headers()["cache-control"], "private, no-cache");
    // A public page is forwarded unmarked: the site's own caching stays.
    let public = world.respond(req("/public/a.css"));
    let keyedge::core::gate::Reply::Forward(forward) = public else { panic!("a forward") };
    assert!(forward.header_edits().is_empty());
}

/// The Worker answers a site page at once when that needs no storage, upstream or platform
/// call, by the same code as every request, and otherwise by the full path: never a different
/// answer, and never at once for what needs a check (a role, an expired pass, a signature).
#[test]
fn a_site_page_is_answered_at_once_only_when_nothing_is_to_be_checked() {
    let world = world("");
    let mut alice = signed_in(&world, "alice");
    assert_eq!(alice.get(&world, "/docs/").status(), 200, "her gate pass");
    let cookie = alice.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let req =
        |path: &str| http::Request::get(format!("{ISSUER}{path}")).header("cookie", &cookie).body(vec![]).unwrap();
    let at_once = |req: &http::Request<Vec<u8>>| world.app.answer_at_once(req, &world.clock, &world.rng, &|_| {});
    let anonymous = |path: &str| http::Request::get(format!("{ISSUER}{path}")).body(vec![]).unwrap();
    // The same reply as the full path: a forward on alice's fresh pass, a public page, the way
    // to the login page, the canonical spelling of a path, the page refusing an address with
    // no canonical form (an encoded slash).
    for r in [
        req("/docs/guide.html"),
        req("/public/a.css"),
        anonymous("/docs/"),
        anonymous("/public/../docs/x"),
        anonymous("/docs%2Fx"),
        req("/docs%2Fx"),
        anonymous("/public/../login?x=1"),
    ] {
        let quick = at_once(&r).unwrap_or_else(|| panic!("{} at once", r.uri()));
        assert_eq!(format!("{quick:?}"), format!("{:?}", world.respond(r)));
    }
    // A rule with roles reads the user's record: not at once, and the full path refuses her.
    assert!(at_once(&req("/staff/x.html")).is_none());
    assert_eq!(world.send(req("/staff/x.html")).status(), 403);
    // keyedge's own pages are never the site's (those that wait on storage are not at once).
    for path in ["/account", "/login", "/token", "/userinfo"] {
        assert!(at_once(&req(path)).is_none(), "{path}");
    }
    // Past the pass's interval the session is checked: not at once.
    world.clock.advance(3600);
    assert!(at_once(&req("/docs/guide.html")).is_none());
    // An origin given signed identity headers: the assertion is signed by the platform, and a
    // signed-in visitor's page reads the user, so no page of it is tried at once.
    let world = World::with(
        STAFF_MAPPER,
        "",
        "[gate]\nupstream = \"https://origin.test\"\nidentity_headers = true\n\n[[gate.rules]]\npath = \"/public/*\"\nallow = \"anyone\"\n",
    );
    world.http.mount("https://origin.test", |req| {
        http::Response::builder().status(200).body(format!("origin {}", req.uri()).into_bytes()).unwrap()
    });
    let at_once = |req: &http::Request<Vec<u8>>| world.app.answer_at_once(req, &world.clock, &world.rng, &|_| {});
    for path in ["/", "/public/a.css", "/app/"] {
        assert!(!world.app.answers_at_once("GET", path, false), "{path}");
    }
    assert!(world.app.answers_at_once("GET", "/.well-known/openid-configuration", false));
    assert!(at_once(&anonymous("/")).is_none());
    assert_eq!(world.send(anonymous("/")).status(), 302, "the full path sends it to the login page");
    // A public page sent to the origin carries an assertion with no user: signed, so not at once
    // (the gate's own decision waits for it, whatever the Worker tries).
    assert!(at_once(&anonymous("/public/a.css")).is_none());
    let gate = world.app.config.gate.as_ref().expect("a gate");
    let public = anonymous("/public/a.css");
    let decided = keyedge::core::gate::decide(&world.app, gate, &public, world.clock.now());
    assert!(matches!(decided, keyedge::core::gate::Decision::Wait(keyedge::core::gate::Waiting::Assertion(_))));
    assert!(body(&world.send(anonymous("/public/a.css"))).contains("origin"), "the full path serves it");
    let mut browser = Browser::default();
    let to_login = location(&browser.get(&world, "/app/"));
    sign_in_from_login_page(&world, &mut browser, &to_login, "alice");
    let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let page = http::Request::get(format!("{ISSUER}/app/")).header("cookie", cookie).body(vec![]).unwrap();
    assert!(at_once(&page).is_none());
}

/// A browser that asked for `path`, was sent to the login page and signed in there as `user`.
fn signed_in_from(world: &World, path: &str, user: &str) -> Browser {
    let mut browser = Browser::default();
    let to_login = location(&browser.get(world, path));
    sign_in_from_login_page(world, &mut browser, &to_login, user);
    browser
}

#[test]
fn roles_and_email_domains_are_enforced_with_a_readable_page() {
    let world = world("");
    let mut browser = signed_in_from(&world, "/staff/handbook.html", "alice");
    let denied = browser.get(&world, "/staff/handbook.html");
    assert_eq!(denied.status(), 403);
    assert!(body(&denied).contains("needs the role staff") && body(&denied).contains("href=\"/logout\""));
    let partners = browser.get(&world, "/partners/");
    assert_eq!(partners.status(), 403);
    assert!(body(&partners).contains("partner.example"));

    // A staff member (the IdP says so; the mapper makes it a role) gets in.
    *world.idp.tamper.borrow_mut() = Box::new(|c| c["groups"] = json!(["staff"]));
    let mut staff = signed_in_from(&world, "/staff/handbook.html", "bob");
    assert_eq!(staff.get(&world, "/staff/handbook.html").status(), 200);
}

#[test]
fn an_expired_session_leads_to_the_login_page_without_a_loop() {
    let world = world("");
    let mut browser = Browser::default();
    let to_login = location(&browser.get(&world, "/docs/"));
    sign_in_from_login_page(&world, &mut browser, &to_login, "alice");
    world.clock.advance(9 * 3600);
    let res = browser.get(&world, "/docs/");
    assert_eq!(location(&res), "/login?return_to=%2Fdocs%2F");
    assert_eq!(browser.get(&world, &location(&res)).status(), 200, "the login page itself is shown");
}

#[test]
fn keyedge_paths_stay_keyedge() {
    let world = world("");
    assert_eq!(Browser::default().get(&world, "/.well-known/openid-configuration").status(), 200);
    assert_eq!(location(&Browser::default().get(&world, "/account")), "/login?return_to=%2Faccount");
    // The return address is always local (no open redirect through the gate's login).
    let mut browser = Browser::default();
    let back = sign_in_from_login_page(&world, &mut browser, "/login?return_to=%2F%2Fevil.test%2Fx", "alice");
    assert_eq!(back, "/account");
}

#[test]
fn the_sites_redirects_reach_the_browser_with_the_origins_own_address_made_keyedges() {
    let world = World::with(
        "",
        "",
        "[gate]\nupstream = \"https://origin.test\"\n\n[[gate.rules]]\npath = \"/*\"\nallow = \"anyone\"\n",
    );
    world.http.mount("https://origin.test", |req| {
        let to = match req.uri().path() {
            "/dir" => "https://origin.test/dir/",
            "/up" => "HTTPS://ORIGIN.TEST?x=1",
            "/rel" => "/rel/",
            "/away" => "https://elsewhere.test/x",
            "/alike" => "https://origin.test.evil.example/x",
            "/port" => "https://Origin.Test:443/p?q#f",
            "/schemeless" => "//origin.test/s",
            "/at" => "https://origin.test@evil.example/x",
            _ => return http::Response::builder().status(200).body(b"page".to_vec()).unwrap(),
        };
        http::Response::builder().status(301).header("location", to).body(Vec::new()).unwrap()
    });
    let public = ISSUER.trim_end_matches('/');
    for (path, expected) in [
        ("/dir", format!("{public}/dir/")),
        ("/up", format!("{public}/?x=1")),
        ("/rel", "/rel/".to_owned()),
        ("/away", "https://elsewhere.test/x".to_owned()),
        ("/alike", "https://origin.test.evil.example/x".to_owned()),
        ("/port", format!("{public}/p?q#f")),
        ("/schemeless", format!("{public}/s")),
        ("/at", "https://origin.test@evil.example/x".to_owned()),
    ] {
        let res = world.send(http::Request::get(format!("{ISSUER}{path}")).body(vec![]).unwrap());
        assert_eq!(res.status(), 301, "{path}");
        assert_eq!(location(&res), expected, "{path}");
    }
}

/// A gate in front of `https://origin.test` with identity headers; the origin answers with its
/// URL and keeps the headers of every request it gets.
fn origin_with_identity_headers() -> (World, Rc<RefCell<Vec<http::HeaderMap>>>) {
    origin_with_identity_headers_and(STAFF_MAPPER)
}

/// [`origin_with_identity_headers`] with `mappers` for the upstream IdP.
fn origin_with_identity_headers_and(mappers: &str) -> (World, Rc<RefCell<Vec<http::HeaderMap>>>) {
    let world = World::with(mappers, "", "[gate]\nupstream = \"https://origin.test\"\nidentity_headers = true\n");
    let seen: Rc<RefCell<Vec<http::HeaderMap>>> = Rc::default();
    let log = seen.clone();
    world.http.mount("https://origin.test", move |req| {
        log.borrow_mut().push(req.headers().clone());
        http::Response::builder().status(200).body(format!("origin {}", req.uri()).into_bytes()).unwrap()
    });
    (world, seen)
}

/// The headers the origin got for `/app/` once `user` signed in through the gate.
fn headers_at_the_origin(world: &World, seen: &RefCell<Vec<http::HeaderMap>>, user: &str) -> http::HeaderMap {
    let mut browser = Browser::default();
    let to_login = location(&browser.get(world, "/app/"));
    sign_in_from_login_page(world, &mut browser, &to_login, user);
    assert_eq!(body(&browser.get(world, "/app/")), "origin https://origin.test/app/");
    let headers = seen.borrow().last().cloned();
    headers.expect("the origin was asked")
}

#[test]
fn an_origin_gets_signed_identity_headers() {
    let (world, seen) = origin_with_identity_headers();
    let mut browser = Browser::default();
    let to_login = location(&browser.get(&world, "/app/?q=1"));
    sign_in_from_login_page(&world, &mut browser, &to_login, "alice");
    let res = browser.get(&world, "/app/?q=1");
    assert_eq!(body(&res), "origin https://origin.test/app/?q=1");
    let headers = seen.borrow().last().unwrap().clone();
    assert_eq!(headers["x-keyedge-username"], "alice");
    assert_eq!(headers["x-keyedge-email"], "alice@example.com");
    // The assertion is signed by keyedge (its JWKS verifies it) for this origin and page.
    let assertion = headers["x-keyedge-assertion"].to_str().unwrap();
    #[derive(Clone, serde::Deserialize)]
    struct A {
        sub: String,
        aud: String,
        htu: String,
    }
    let a: A = world
        .app
        .keys
        .verify_own(assertion, "keyedge-identity+jwt", keyedge::core::ports::Clock::now(&world.clock))
        .unwrap();
    assert_eq!(headers["x-keyedge-user"].to_str().unwrap(), a.sub);
    assert_eq!((a.aud.as_str(), a.htu.as_str()), ("https://origin.test", "https://origin.test/app/"));
}

/// A user whose name and address are not ASCII gets them to the origin whole, percent-encoded
/// UTF-8 (they were dropped before: a header value holds only visible ASCII on the way out).
#[test]
fn an_origin_gets_a_non_ascii_name_percent_encoded() {
    let (world, seen) = origin_with_identity_headers();
    let headers = headers_at_the_origin(&world, &seen, "josé");
    assert_eq!(headers["x-keyedge-username"], "jos%C3%A9");
    assert_eq!(headers["x-keyedge-email"], "jos%C3%A9@example.com");
    assert_eq!(headers["x-keyedge-roles"], "");
    for name in ["x-keyedge-user", "x-keyedge-username", "x-keyedge-email", "x-keyedge-roles", "x-keyedge-assertion"] {
        assert_eq!(headers.get_all(name).iter().count(), 1, "{name}");
    }
}

/// The plain email header is the address only when it is verified (an origin reading it as
/// the user's email must not get one nobody vouched for); the roles are each encoded, joined by
/// commas.
#[test]
fn an_origin_gets_only_a_verified_email_and_each_role_encoded() {
    let mapper = STAFF_MAPPER.replace("role = \"staff\"", "role = \"app:staff\"");
    let (world, seen) = origin_with_identity_headers_and(&mapper);
    *world.idp.email_verified.borrow_mut() = false;
    *world.idp.tamper.borrow_mut() = Box::new(|c| {
        c["groups"] = json!(["staff"]);
        c["email_verified"] = json!(false);
    });
    let headers = headers_at_the_origin(&world, &seen, "carol");
    assert_eq!(headers["x-keyedge-username"], "carol");
    assert_eq!(headers["x-keyedge-email"], "", "an unverified address is not sent as the user's email");
    assert_eq!(headers["x-keyedge-roles"], "app%3Astaff");
}

#[test]
fn gate_configuration_is_checked() {
    for (gate, expected) in [
        ("[gate]\nupstream = \"ftp://x\"\n", "gate.upstream"),
        ("[gate]\nupstream = \"https://o.test/sub\"\n", "gate.upstream"),
        ("[gate]\nupstream = \"assets\"\nidentity_headers = true\n", "gate.identity_headers"),
        ("[gate]\nupstream = \"assets\"\n[[gate.rules]]\npath = \"docs/*\"\n", "gate.rules[0].path"),
        ("[gate]\nupstream = \"assets\"\n[[gate.rules]]\npath = \"/a*/b\"\n", "gate.rules[0].path"),
        ("[gate]\nupstream = \"assets\"\n[[gate.rules]]\npath = \"/a\"\nallow = \"anyone\"\nrequire_roles = [\"x\"]\n", "gate.rules[0].allow"),
    ] {
        match keyedge::core::Keyedge::from_config_text(&format!("{}\n{gate}", config_text()), &secrets) {
            Ok(_) => panic!("accepted: {gate}"),
            Err(e) => assert!(e.to_string().contains(expected), "{gate}: {e}"),
        }
    }
}

/// Issue 14, item 8: the site shares keyedge's origin, so a `Set-Cookie` from it could plant
/// a session of the attacker's choosing (or end the visitor's). Every one that names one of
/// keyedge's cookies, however it is spelled, is dropped; the site's own cookies pass.
#[test]
fn the_site_cannot_set_keyedges_cookies() {
    const PLANTED: &[&str] = &[
        "__Host-keyedge_session=attacker; Path=/; Secure; HttpOnly",
        "keyedge_session=attacker; Path=/account",
        "__Secure-keyedge_flow=attacker; Path=/; Secure",
        "__host-KEYEDGE_pending=attacker; Path=/; Secure",
        " keyedge_session =attacker",
        "=__Host-keyedge_session=attacker; Path=/",
        // A nameless cookie after white space: a browser stores `keyedge_session=attacker`
        // and sends it back as the session cookie.
        " =keyedge_session=attacker",
        "\t=__Host-keyedge_session=attacker; Path=/",
        "keyedge_session",
        "keyedge_csrf=attacker; Path=/",
    ];
    const OWN: &[&str] = &["site_pref=dark; Path=/", "keyedgeish=1", "my_keyedge_session=1"];
    let site = |req: http::Request<Vec<u8>>| {
        let mut res = http::Response::builder().status(200);
        for cookie in PLANTED.iter().chain(OWN) {
            res = res.header("set-cookie", *cookie);
        }
        res.body(format!("page {}", req.uri().path()).into_bytes()).unwrap()
    };
    for origin in [false, true] {
        let world = if origin {
            let world = World::with(STAFF_MAPPER, "", "[gate]\nupstream = \"https://origin.test\"\n");
            world.http.mount("https://origin.test", site);
            world
        } else {
            let world = World::with(STAFF_MAPPER, "", GATE);
            world.site.mount(ISSUER, site);
            world
        };
        let mut browser = Browser::default();
        let to_login = location(&browser.get(&world, "/docs/"));
        sign_in_from_login_page(&world, &mut browser, &to_login, "alice");
        // The first page view brings the gate pass; keyedge's cookies are complete then.
        assert_eq!(browser.get(&world, "/docs/").status(), 200);
        browser.cookies.retain(|name, _| !OWN.iter().any(|c| c.starts_with(&format!("{name}="))));
        let session = browser.cookies.clone();
        let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        for path in ["/docs/", "/public/a.css"] {
            let req = http::Request::get(format!("{ISSUER}{path}")).header("cookie", &cookie).body(vec![]).unwrap();
            let res = world.send(req);
            assert_eq!(res.status(), 200, "{path}");
            let set: Vec<&str> = res.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
            assert_eq!(set, OWN, "origin={origin} {path}");
        }
        // A browser that takes what it is sent keeps keyedge's cookies as keyedge set them.
        assert_eq!(browser.get(&world, "/docs/").status(), 200);
        browser.cookies.retain(|name, _| !OWN.iter().any(|c| c.starts_with(&format!("{name}="))));
        assert_eq!(browser.cookies, session, "keyedge's cookies are the ones keyedge set");
        assert_eq!(browser.get(&world, "/account").status(), 200, "still alice's session");
    }
    // The rule itself, which the Worker reads through the same `Forward::answer_headers`.
    for cookie in PLANTED {
        assert!(!keyedge::core::gate::Forward::passes_set_cookie(cookie), "{cookie}");
    }
    for cookie in OWN {
        assert!(keyedge::core::gate::Forward::passes_set_cookie(cookie), "{cookie}");
    }
}

/// The gate pass (`session_check_interval`): a page view within the interval of the last
/// session check needs no storage; after it the session is checked again. The pass opens only
/// beside the session cookie it was sealed for.
mod pass {
    use super::*;

    fn pass_name(browser: &Browser) -> String {
        browser.cookies.keys().find(|k| k.ends_with("keyedge_pass")).cloned().expect("a gate pass")
    }

    fn reads(world: &World) -> usize {
        world.store.reads.get() + world.once.calls.get()
    }

    #[test]
    fn within_the_interval_a_page_needs_no_storage_and_after_it_the_session_is_checked() {
        let world = world_with_options("session_check_interval = 20");
        let mut browser = Browser::default();
        let to_login = location(&browser.get(&world, "/docs/a.html"));
        sign_in_from_login_page(&world, &mut browser, &to_login, "alice");
        assert_eq!(browser.get(&world, "/docs/a.html").status(), 200);
        let _ = pass_name(&browser);
        let before = reads(&world);
        let at_once = world.at_once.get();
        world.clock.advance(19);
        assert_eq!(browser.get(&world, "/docs/a.html").status(), 200);
        assert_eq!(reads(&world), before, "a fresh pass stands for the session");
        assert_eq!(world.at_once.get(), at_once + 1, "and the page is answered at once");
        world.clock.advance(1);
        assert_eq!(browser.get(&world, "/docs/a.html").status(), 200);
        assert!(reads(&world) > before, "after the interval the session is checked");
        assert_eq!(world.at_once.get(), at_once + 1, "by the full path");
    }

    /// A page whose rule reads the user's record (a role) gets the pass made by its session
    /// check as a page that needs only a sign-in does; within the interval, the next view reads
    /// the user's record but not the session.
    #[test]
    fn a_page_that_reads_the_user_carries_the_renewed_pass_too() {
        let world = world_with_options("session_check_interval = 20");
        *world.idp.tamper.borrow_mut() = Box::new(|c| c["groups"] = json!(["staff"]));
        let mut staff = signed_in_from(&world, "/staff/handbook.html", "bob");
        assert!(staff.cookies.keys().all(|k| !k.ends_with("keyedge_pass")), "no pass before a page");
        assert_eq!(staff.get(&world, "/staff/handbook.html").status(), 200);
        let _ = pass_name(&staff);
        let sessions_read = world.once.calls.get();
        assert_eq!(staff.get(&world, "/staff/handbook.html").status(), 200);
        assert!(world.once.calls.get() - sessions_read < 2, "the user's record only, not the session too");
    }

    #[test]
    fn a_pass_opens_only_beside_its_own_session_cookie() {
        let world = world("");
        let mut alice = signed_in(&world, "alice");
        assert_eq!(alice.get(&world, "/docs/a.html").status(), 200);
        let name = pass_name(&alice);
        // Alice signs out; someone kept her pass and pairs it with another session cookie.
        let kept = alice.cookies[&name].clone();
        assert_eq!(alice.get(&world, "/logout").status(), 200);
        alice.post(&world, "/logout");
        let mut mallory = Browser::default();
        mallory.cookies.insert(name.clone(), kept);
        let session = alice.cookies.keys().find(|k| k.ends_with("keyedge_session")).cloned();
        mallory.cookies.insert(session.unwrap_or_else(|| "__Host-keyedge_session".into()), "forged".into());
        let res = mallory.get(&world, "/docs/a.html");
        assert_eq!(location(&res), "/login?return_to=%2Fdocs%2Fa.html");
    }

    #[test]
    fn an_interval_of_zero_checks_every_page_view_and_over_a_minute_is_refused() {
        let world = world_with_options("session_check_interval = 0");
        let mut browser = signed_in(&world, "alice");
        let before = reads(&world);
        assert_eq!(browser.get(&world, "/docs/a.html").status(), 200);
        assert!(browser.cookies.keys().all(|k| !k.ends_with("keyedge_pass")));
        assert!(reads(&world) > before);
        let text = format!("{}\n[gate]\nupstream = \"assets\"\nsession_check_interval = 61\n", config_text());
        match keyedge::core::Keyedge::from_config_text(&text, &secrets) {
            Err(e) => assert!(e.to_string().contains("gate.session_check_interval"), "{e}"),
            Ok(_) => panic!("61 s accepted"),
        }
    }
}

/// A site's page is never an answer the Worker's shell keeps (`Keyedge::reusable`), however
/// plain: the gate decides per visitor. In front of a site at the root, the answers kept from
/// the isolate's start (`Keyedge::documents_at_start`) are still keyedge's own documents, the
/// full path's answers.
#[test]
fn a_site_page_is_never_kept_and_the_documents_kept_at_start_are_keyedges() {
    let world = world("");
    let at_once = |req: &http::Request<Vec<u8>>| world.app.answer_at_once(req, &world.clock, &world.rng, &|_| {});
    for path in ["/public/a.css", "/docs/", "/public/index.html"] {
        let req = http::Request::get(format!("{ISSUER}{path}")).body(vec![]).unwrap();
        let reply = at_once(&req).unwrap_or_else(|| panic!("{path} at once"));
        assert!(!world.app.reusable(&req, &reply), "{path}");
    }
    let made = world.app.documents_at_start();
    assert!(!made.is_empty());
    for (method, path, res) in made {
        assert!(
            path == "/.well-known/openid-configuration" || path == "/jwks" || path == "/protocol/openid-connect/certs"
        );
        let req = http::Request::builder().method(method).uri(format!("{ISSUER}{path}")).body(vec![]).unwrap();
        let kept = format!("{:?}", keyedge::core::gate::Reply::Page(res));
        assert_eq!(format!("{:?}", world.respond(req)), kept, "{method} {path}");
    }
}
