//! Issue 14, item 4: the gate checks the path the site serves. Every other spelling of a
//! protected path (`//staff/`, `/%73taff/`, `/public/..%2Fstaff/`, …) either reaches the same
//! rule as the honest one or is refused, for the Worker's assets and for an origin; the site
//! gets exactly the path that was checked. The site here reads paths as leniently as real
//! servers do (nginx decodes escapes, `%2F` included, merges slashes and resolves `..`).

use crate::common::*;
use percent_encoding::percent_decode_str;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

const RULES: &str = r#"
[[gate.rules]]
path = "/"
allow = "anyone"

[[gate.rules]]
path = "/public/*"
allow = "anyone"

[[gate.rules]]
path = "/staff/*"
require_roles = ["staff"]
"#;

/// Every spelling of the staff area an attacker tried (issue 14, tests/e2e/attacks.test.mjs).
const SPELLINGS: &[&str] = &[
    "/staff",
    "//staff/",
    "/%73taff/",
    "/staff%2F",
    "/%2Fstaff/",
    "/staff%2Findex.html",
    "/public/..%2Fstaff/",
    "/public/%2E%2E/staff/",
    "/public/../staff/",
    "/public/..;/staff/",
    "/./staff/",
    "/staff/./",
    "/STAFF/",
    "/staff/index.html",
    "/staff/%2E%2E/staff/index.html",
    "/public%2F..%2Fstaff/",
    "/public/..%5Cstaff/",
    "/public/..%5cstaff/",
];

/// The path as a lenient server reads it: every escape decoded, `\` as `/`, empty and `.`
/// segments dropped, `..` resolved, `;parameters` cut (Tomcat, Spring); lowercased when the
/// server ignores case.
fn as_served(path: &str, ignores_case: bool) -> String {
    let decoded = percent_decode_str(path).decode_utf8_lossy().replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment.split(';').next().unwrap_or("") {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let served = format!("/{}", segments.join("/"));
    if ignores_case {
        served.to_lowercase()
    } else {
        served
    }
}

/// The site: the staff area for anything it reads as `/staff…`, else the path it was sent.
/// Records every path and query it gets.
fn site(
    seen: Rc<RefCell<Vec<String>>>,
    ignores_case: bool,
) -> impl Fn(http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    move |req| {
        let pq = req.uri().path_and_query().map(|pq| pq.to_string()).unwrap_or_default();
        seen.borrow_mut().push(pq);
        let served = as_served(req.uri().path(), ignores_case);
        let page = if served == "/staff" || served.starts_with("/staff/") {
            "<h1>Staff area</h1>".to_owned()
        } else {
            format!("<p>page {served}</p>")
        };
        http::Response::builder().status(200).header("content-type", "text/html").body(page.into_bytes()).unwrap()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Upstream {
    Assets,
    Origin,
}

const ORIGIN: &str = "https://origin.test";

/// A world with the rules above in front of `upstream`, whose site reads paths leniently;
/// returns it with the log of paths the site was sent.
fn world(upstream: Upstream, gate_options: &str, ignores_case: bool) -> (World, Rc<RefCell<Vec<String>>>) {
    let upstream_line = match upstream {
        Upstream::Assets => "upstream = \"assets\"".to_owned(),
        Upstream::Origin => format!("upstream = \"{ORIGIN}\"\nidentity_headers = true"),
    };
    let world = World::with(STAFF_MAPPER, "", &format!("[gate]\n{upstream_line}\n{gate_options}\n{RULES}"));
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    match upstream {
        Upstream::Assets => world.site.mount(ISSUER, site(seen.clone(), ignores_case)),
        Upstream::Origin => world.http.mount(ORIGIN, site(seen.clone(), ignores_case)),
    }
    (world, seen)
}

fn no_spelling_reaches_the_staff_area(upstream: Upstream, gate_options: &str, ignores_case: bool) {
    let (world, _) = world(upstream, gate_options, ignores_case);
    let alice = signed_in(&world, "alice");
    assert_eq!(get_raw(&world, &alice, "/staff/").status(), 403, "{upstream:?}: the honest spelling");
    for path in SPELLINGS {
        for (who, browser) in [("alice (no staff role)", &alice), ("a visitor", &Browser::default())] {
            let res = get_raw(&world, browser, path);
            assert!(
                !body(&res).contains("Staff area"),
                "{upstream:?}: {path} served the staff area to {who} ({})",
                res.status()
            );
        }
    }
}

#[test]
fn no_spelling_of_a_protected_path_reaches_it_through_assets() {
    no_spelling_reaches_the_staff_area(Upstream::Assets, "", false);
}

#[test]
fn no_spelling_of_a_protected_path_reaches_it_through_an_origin() {
    no_spelling_reaches_the_staff_area(Upstream::Origin, "", false);
}

/// An origin that ignores case (IIS, a case-insensitive file system) is declared as such;
/// then `/STAFF/` is the staff area for the gate too.
#[test]
fn no_spelling_reaches_a_case_insensitive_origin() {
    no_spelling_reaches_the_staff_area(Upstream::Origin, "case_insensitive_paths = true", true);
    no_spelling_reaches_the_staff_area(Upstream::Assets, "case_insensitive_paths = true", true);
    let (world, _) = world(Upstream::Origin, "case_insensitive_paths = true", true);
    let alice = signed_in(&world, "alice");
    assert_eq!(get_raw(&world, &alice, "/STAFF/").status(), 403);
    assert_eq!(get_raw(&world, &alice, "/Staff/Index.html").status(), 403);
}

/// A staff member reaches the area by the equivalent spellings, and the site is sent the
/// canonical path (the query as it came), whatever spelling the browser used.
#[test]
fn the_site_is_sent_the_path_that_was_checked() {
    for upstream in [Upstream::Assets, Upstream::Origin] {
        let (world, seen) = world(upstream, "", false);
        *world.idp.tamper.borrow_mut() = Box::new(|c| c["groups"] = json!(["staff"]));
        let staff = signed_in(&world, "bob");
        for (path, sent) in [
            ("/staff", "/staff"),
            ("//staff/", "/staff/"),
            ("/%73taff/", "/staff/"),
            ("/./staff/", "/staff/"),
            ("/staff/./", "/staff/"),
            ("/public/../staff/", "/staff/"),
            ("/public/%2e%2E/staff/a.html", "/staff/a.html"),
            ("/staff/%7Ebob/%61.html?x=%2F&y=..%2F", "/staff/~bob/a.html?x=%2F&y=..%2F"),
            ("/staff/caf%c3%a9%20menu.html", "/staff/caf%C3%A9%20menu.html"),
        ] {
            seen.borrow_mut().clear();
            let res = get_raw(&world, &staff, path);
            assert_eq!(res.status(), 200, "{upstream:?} {path}: {}", body(&res));
            assert_eq!(*seen.borrow(), vec![sent.to_owned()], "{upstream:?} {path}");
        }
        // The forward itself carries the canonical URL.
        let cookie = staff.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let req = http::Request::get(format!("{ISSUER}//staff/./%61.html?q=1")).header("cookie", cookie).body(vec![]);
        let res = world.respond(req.unwrap());
        let keyedge::core::gate::Reply::Forward(forward) = res else { panic!("a forward") };
        let base = match upstream {
            Upstream::Assets => ISSUER,
            Upstream::Origin => ORIGIN,
        };
        assert_eq!(forward.url, format!("{base}/staff/a.html?q=1"));
    }
}

/// The assertion an origin gets names the canonical page, the one it is sent.
#[test]
fn the_identity_assertion_names_the_canonical_page() {
    let (world, seen) = world(Upstream::Origin, "", false);
    let headers: Rc<RefCell<Vec<http::HeaderMap>>> = Rc::default();
    let log = headers.clone();
    let site = site(seen, false);
    world.http.mount(ORIGIN, move |req| {
        log.borrow_mut().push(req.headers().clone());
        site(req)
    });
    let alice = signed_in(&world, "alice");
    assert_eq!(get_raw(&world, &alice, "//docs/./%67uide.html?x=1").status(), 200);
    let assertion = headers.borrow().last().unwrap()["x-keyedge-assertion"].to_str().unwrap().to_owned();
    assert_eq!(payload(&assertion)["htu"], format!("{ORIGIN}/docs/guide.html"));
}

/// With identity headers, a public page carries an assertion too (without user claims), so
/// an origin locked to keyedge can refuse every request that lacks a valid one.
#[test]
fn a_public_page_carries_an_assertion_without_a_user() {
    let (world, seen) = world(Upstream::Origin, "", false);
    let headers: Rc<RefCell<Vec<http::HeaderMap>>> = Rc::default();
    let log = headers.clone();
    let site = site(seen, false);
    world.http.mount(ORIGIN, move |req| {
        log.borrow_mut().push(req.headers().clone());
        site(req)
    });
    let spoofed = http::Request::get(format!("{ISSUER}/public/%61.css"))
        .header("x-keyedge-user", "admin")
        .header("x-keyedge-assertion", "forged")
        .body(vec![])
        .unwrap();
    assert_eq!(world.send(spoofed).status(), 200);
    let sent = headers.borrow().last().unwrap().clone();
    assert!(sent.get("x-keyedge-user").is_none());
    assert_eq!(sent.get_all("x-keyedge-assertion").iter().count(), 1);
    let assertion = sent["x-keyedge-assertion"].to_str().unwrap();
    let claims: serde_json::Value = world
        .app
        .keys
        .verify_own(assertion, "keyedge-identity+jwt", keyedge::core::ports::Clock::now(&world.clock))
        .unwrap();
    assert_eq!(claims["htu"], format!("{ORIGIN}/public/a.css"));
    assert_eq!(claims["aud"], ORIGIN);
    assert_eq!(claims["iss"], ISSUER);
    assert!(claims.get("sub").is_none() && claims.get("roles").is_none(), "{claims}");
}

/// A rule `/dir/*` covers `/dir` itself.
#[test]
fn a_prefix_rule_covers_the_directory_itself() {
    let (world, _) = world(Upstream::Assets, "", false);
    let alice = signed_in(&world, "alice");
    assert_eq!(get_raw(&world, &alice, "/staff").status(), 403);
    assert_eq!(get_raw(&world, &Browser::default(), "/public").status(), 200, "public without a session");
    // Only the directory: a sibling that shares the prefix is not in it.
    assert_eq!(location(&get_raw(&world, &Browser::default(), "/publicity/")), "/login?return_to=%2Fpublicity%2F");
}

/// Spellings no honest link uses, and that servers read in different ways, are refused with
/// a readable page before any rule or session is looked at.
#[test]
fn ambiguous_paths_are_refused() {
    for upstream in [Upstream::Assets, Upstream::Origin] {
        let (world, seen) = world(upstream, "", false);
        let alice = signed_in(&world, "alice");
        for path in [
            "/staff%2F",
            "/%2Fstaff/",
            "/staff%2Findex.html",
            "/public/..%2Fstaff/",
            "/public%2f..%2fstaff/",
            "/public/..%5Cstaff/",
            "/public/..\\staff/",
            "/public/..;/staff/",
            "/public/.%3B/staff/",
            "/public/a%00.html",
            "/public/a%0A.html",
            "/public/a%7F.html",
            "/public/a%zz.html",
            "/public/a%4.html",
            "/public/a%.html",
            "/public/%FF.html",
            "/public/%C3%28.html",
        ] {
            let uri: http::Uri = format!("{ISSUER}{path}").parse().unwrap();
            for browser in [&alice, &Browser::default()] {
                let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
                let res = world.send(http::Request::get(uri.clone()).header("cookie", cookie).body(vec![]).unwrap());
                assert_eq!(res.status(), 400, "{upstream:?} {path}: {}", body(&res));
                assert!(body(&res).contains("not a valid address"), "{path}: {}", body(&res));
            }
        }
        assert!(seen.borrow().is_empty(), "the site got {:?}", seen.borrow());
    }
}

/// keyedge's own pages keep their one spelling: another one is sent to it, never to the site.
#[test]
fn keyedge_paths_spelled_otherwise_are_not_the_sites() {
    let (world, seen) = world(Upstream::Origin, "", false);
    for (path, canonical) in [("//account", "/account"), ("/%61ccount?x=1", "/account?x=1"), ("/./token", "/token")] {
        let res = get_raw(&world, &Browser::default(), path);
        assert_eq!(res.status(), 308, "{path}");
        assert_eq!(location(&res), canonical);
    }
    assert!(seen.borrow().is_empty(), "the site got {:?}", seen.borrow());
}

#[test]
fn rule_paths_must_be_canonical() {
    for (rule, expected) in [
        ("/staff//*", "gate.rules[1].path"),
        ("/public/../staff/*", "gate.rules[1].path"),
        ("/%73taff/*", "gate.rules[1].path"),
        ("/a%2Fb", "gate.rules[1].path"),
        ("/a\\\\b", "gate.rules[1].path"),
        ("/a;b/*", "gate.rules[1].path"),
        ("/a?b", "gate.rules[1].path"),
        ("/café/*", "gate.rules[1].path"),
        ("/caf%c3%a9/*", "gate.rules[1].path"),
    ] {
        let gate = format!(
            "[gate]\nupstream = \"assets\"\n[[gate.rules]]\npath = \"/ok/*\"\n[[gate.rules]]\npath = \"{rule}\"\n"
        );
        match keyedge::core::Keyedge::from_config_text(&format!("{}\n{gate}", config_text()), &secrets) {
            Ok(_) => panic!("accepted: {rule}"),
            Err(e) => assert!(e.to_string().contains(expected), "{rule}: {e}"),
        }
    }
    // Canonical non-ASCII is written percent-encoded, upper-case hex.
    let gate = "[gate]\nupstream = \"assets\"\n[[gate.rules]]\npath = \"/caf%C3%A9/*\"\n";
    assert!(keyedge::core::Keyedge::from_config_text(&format!("{}\n{gate}", config_text()), &secrets).is_ok());
}

/// A world whose site (Workers assets or the origin) answers with `answer` and keeps the
/// headers of every request it is sent.
fn recording_site(
    upstream: Upstream,
    answer: impl Fn(&http::Request<Vec<u8>>) -> http::Response<Vec<u8>> + 'static,
) -> (World, Rc<RefCell<Vec<http::HeaderMap>>>) {
    let (world, _) = world(upstream, "", false);
    let sent: Rc<RefCell<Vec<http::HeaderMap>>> = Rc::default();
    let log = sent.clone();
    let site = move |req: http::Request<Vec<u8>>| {
        log.borrow_mut().push(req.headers().clone());
        answer(&req)
    };
    match upstream {
        Upstream::Assets => world.site.mount(ISSUER, site),
        Upstream::Origin => world.http.mount(ORIGIN, site),
    }
    (world, sent)
}

/// An origin that writes its redirects from the forwarding headers it trusts (Express with
/// `trust proxy`, Django, Rails…): a browser's `X-Forwarded-Host` would make it redirect every
/// visitor of a cached page to the attacker's host.
#[test]
fn the_browsers_forwarding_headers_never_reach_the_site_and_an_origin_is_sent_keyedges() {
    for upstream in [Upstream::Assets, Upstream::Origin] {
        let (world, sent) = recording_site(upstream, |req| {
            let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let host = header("x-forwarded-host").unwrap_or_else(|| "origin.internal".into());
            let scheme = header("x-forwarded-proto").unwrap_or_else(|| "http".into());
            let to = format!("{scheme}://{host}{}/", req.uri().path());
            http::Response::builder().status(301).header("location", to).body(Vec::new()).unwrap()
        });
        for (header, value) in [
            ("x-forwarded-host", "evil.example"),
            ("X-Forwarded-Proto", "gopher"),
            ("x-forwarded-port", "4444"),
            ("forwarded", "host=evil.example;proto=http"),
            ("x-host", "evil.example"),
        ] {
            let req = http::Request::get(format!("{ISSUER}/public/docs")).header(header, value).body(vec![]);
            let res = world.send(req.unwrap());
            assert_eq!(res.status(), 301, "{upstream:?} {header}");
            assert!(!location(&res).contains("evil.example"), "{upstream:?}: {header}: {}", location(&res));
            let forwarded = sent.borrow().last().cloned().expect("the site was asked");
            assert!(forwarded.get_all(header).iter().all(|v| v != value), "{upstream:?}: {header} was forwarded");
            if upstream == Upstream::Origin {
                // keyedge's address, so the origin's redirect is to keyedge's page.
                assert_eq!(location(&res), format!("{ISSUER}/public/docs/"), "{header}");
            }
        }
    }
}

/// Origins behind IIS URL Rewrite, or Symfony and Zend apps, take the path from
/// `X-Original-URL` / `X-Rewrite-URL` rather than the request line: such headers from the
/// browser would let `/public/x` be checked and `/staff/…` be served. They never reach the
/// site, nor do identity headers or `Proxy` (httpoxy), under any spelling a server folds into
/// the same variable. Found by the outside reviews of issue 14 and of 2026-12-06.
#[test]
fn path_override_headers_never_reach_the_site() {
    for upstream in [Upstream::Assets, Upstream::Origin] {
        let (world, sent) = recording_site(upstream, |req| {
            // As lighttpd's CGI and FastCGI read headers: every character but a letter or digit
            // alike (`X.Original.URL`, `X_Original_URL`: `HTTP_X_ORIGINAL_URL`).
            let overridden = req.headers().iter().find_map(|(name, value)| {
                let name: String =
                    name.as_str().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
                ["x-original-url", "x-rewrite-url"].contains(&name.as_str()).then(|| value.to_str().ok())?
            });
            let path = overridden.map(str::to_owned).unwrap_or_else(|| req.uri().path().to_owned());
            let page = if path.starts_with("/staff") { "<h1>Staff area</h1>" } else { "<p>public</p>" };
            http::Response::builder().status(200).body(page.as_bytes().to_vec()).unwrap()
        });
        for header in [
            "x-original-url",
            "X-Rewrite-URL",
            "x-original-uri",
            "x-forwarded-prefix",
            "x-http-method-override",
            "X-Script-Name",
            "X_Original_URL",
            "x_rewrite_url",
            "X_Forwarded_Prefix",
            "X.Original.URL",
            "x~rewrite~url",
            "X.Keyedge.User",
            "x_keyedge_roles",
            "X.Keyedge.Assertion",
            "Proxy",
        ] {
            let req =
                http::Request::get(format!("{ISSUER}/public/x")).header(header, "/staff/payroll.html").body(vec![]);
            let res = world.send(req.unwrap());
            assert_eq!(res.status(), 200, "{upstream:?} {header}");
            assert!(!body(&res).contains("Staff area"), "{upstream:?}: {header} reached the site");
            let forwarded = sent.borrow().last().cloned().expect("the site was asked");
            assert!(forwarded.get(header).is_none(), "{upstream:?}: {header} was forwarded");
            assert!(
                forwarded.values().all(|v| v != "/staff/payroll.html"),
                "{upstream:?}: {header}'s value reached the site under another name"
            );
        }
    }
}

/// Workers assets serve `/reports/q3.html` at `/reports/q3` too (`html_handling`'s default),
/// and other static hosts at `/reports/q3/` or `/reports/q3/index.html`: an exact rule that
/// restricts a page covers each of those addresses. Found by the outside review of issue 14.
#[test]
fn an_exact_rule_on_a_page_covers_every_address_it_is_served_at() {
    let world = World::with(
        "",
        "",
        "[gate]\nupstream = \"assets\"\n\n[[gate.rules]]\npath = \"/reports/q3.html\"\nrequire_roles = [\"finance\"]\n\n\
         [[gate.rules]]\npath = \"/about.html\"\nallow = \"anyone\"\n",
    );
    world.site.mount(ISSUER, |req| {
        let page = match req.uri().path() {
            "/reports/q3" | "/reports/q3/" | "/reports/q3.html" | "/reports/q3/index.html" => "<h1>Q3 figures</h1>",
            p => return http::Response::builder().status(200).body(format!("<p>page {p}</p>").into_bytes()).unwrap(),
        };
        http::Response::builder().status(200).body(page.as_bytes().to_vec()).unwrap()
    });
    let alice = signed_in(&world, "alice");
    for path in ["/reports/q3.html", "/reports/q3", "/reports/q3/", "/reports/q3/index.html", "/reports/q3/index"] {
        let res = get_raw(&world, &alice, path);
        assert_eq!(res.status(), 403, "{path}: {}", body(&res));
    }
    assert_eq!(get_raw(&world, &alice, "/reports/q4.html").status(), 200, "another page is not covered");
    // A public exact rule opens only what it names.
    assert_eq!(get_raw(&world, &Browser::default(), "/about.html").status(), 200);
    assert_eq!(get_raw(&world, &Browser::default(), "/about").status(), 302, "/about needs a sign-in");
}

/// WebDAV's `MOVE` and `COPY` name a second path in `Destination` that no rule checked: a
/// public page moved onto the staff area, or the staff area copied to a public page. Methods
/// outside the ones a site is sent get a readable 405 with `Allow`, and the site is never
/// asked. Found by the outside review of issue 20 (the site request kept the browser's method).
#[test]
fn methods_that_name_another_path_never_reach_the_site() {
    for upstream in [Upstream::Assets, Upstream::Origin] {
        let (world, sent) =
            recording_site(upstream, |_| http::Response::builder().status(201).body(b"moved".to_vec()).unwrap());
        for method in ["MOVE", "COPY", "PROPFIND", "PROPPATCH", "MKCOL", "LOCK", "TRACE", "PURGE"] {
            let req = http::Request::builder()
                .method(method)
                .uri(format!("{ISSUER}/staff/payroll.html"))
                .header("destination", format!("{ISSUER}/public/payroll.html"));
            let res = world.send(req.body(vec![]).unwrap());
            assert_eq!(res.status(), 405, "{upstream:?} {method}");
            let allow = res.headers().get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert_eq!(allow, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", "{upstream:?} {method}");
            assert!(body(&res).contains("does not take"), "{upstream:?} {method}: {}", body(&res));
            let public = http::Request::builder().method(method).uri(format!("{ISSUER}/public/x"));
            let public = public.header("destination", format!("{ISSUER}/staff/payroll.html"));
            assert_eq!(world.send(public.body(vec![]).unwrap()).status(), 405, "{upstream:?} {method} public");
        }
        assert!(sent.borrow().is_empty(), "{upstream:?}: the site was asked");
        // A signed-in visitor, first on the session (the pass is then set), then on the pass;
        // and the methods spelled in other cases, which are other methods (RFC 9110 §9.1).
        let mut alice = signed_in(&world, "alice");
        assert_eq!(alice.get(&world, "/docs/x").status(), 201, "{upstream:?}: alice's page");
        assert!(alice.cookie_header().contains("keyedge_pass"), "{upstream:?}: alice has a gate pass");
        let asked = sent.borrow().len();
        for method in ["MOVE", "COPY", "move", "Move", "get", "Post"] {
            for cookie in [alice.cookie_header(), alice.cookie_header().replace("keyedge_pass", "x")] {
                let req = http::Request::builder().method(method).uri(format!("{ISSUER}/docs/x"));
                let req = req.header("cookie", cookie).header("destination", format!("{ISSUER}/staff/payroll.html"));
                assert_eq!(world.send(req.body(vec![]).unwrap()).status(), 405, "{upstream:?} {method} signed in");
            }
        }
        assert_eq!(sent.borrow().len(), asked, "{upstream:?}: the site was asked");
        // The methods a site takes still reach it.
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
            let req = http::Request::builder().method(method).uri(format!("{ISSUER}/public/x"));
            assert_eq!(world.send(req.body(vec![]).unwrap()).status(), 201, "{upstream:?} {method}");
        }
        assert_eq!(sent.borrow().len(), asked + 7, "{upstream:?}");
    }
}

/// A `DELETE` of a folder deletes everything in it on a writable WebDAV origin (RFC 4918
/// §9.6.1): every rule in the tree counts, not only the one the folder's path matches. Found
/// by the outside review of 2026-12-06.
#[test]
fn a_delete_must_pass_every_rule_in_the_tree_it_deletes() {
    let nested = "[[gate.rules]]\npath = \"/public/private/*\"\nrequire_roles = [\"staff\"]\n";
    for upstream in [Upstream::Assets, Upstream::Origin] {
        let (world, seen) = world(upstream, nested, false);
        let delete = |browser: &Browser, path: &str| send_raw(&world, browser, "DELETE", path);
        let visitor = Browser::default();
        let alice = signed_in(&world, "alice");
        // `/` is public, but only itself: the tree holds the staff area and pages for the signed-in.
        assert_eq!(delete(&visitor, "/").status(), 302, "{upstream:?}: a visitor deletes /");
        assert_eq!(delete(&alice, "/").status(), 403, "{upstream:?}: alice deletes / (and /staff/ in it)");
        // A public prefix rule, with a staff-only folder in it.
        assert_eq!(delete(&visitor, "/public/").status(), 302, "{upstream:?}: a visitor deletes /public/");
        assert_eq!(delete(&alice, "/public").status(), 403, "{upstream:?}: alice deletes /public");
        assert!(seen.borrow().is_empty(), "{upstream:?}: the site was asked: {:?}", seen.borrow());
        // What the tree's rules allow still reaches the site.
        assert_eq!(delete(&visitor, "/public/old.txt").status(), 200, "{upstream:?}");
        assert_eq!(delete(&alice, "/docs/").status(), 200, "{upstream:?}");
        assert_eq!(get_raw(&world, &visitor, "/public/").status(), 200, "{upstream:?}: GET stays public");
        *world.idp.tamper.borrow_mut() = Box::new(|c| c["groups"] = json!(["staff"]));
        let staff = signed_in(&world, "bob");
        assert_eq!(delete(&staff, "/").status(), 200, "{upstream:?}: staff deletes /");
        assert_eq!(delete(&staff, "/public/").status(), 200, "{upstream:?}: staff deletes /public/");
        assert_eq!(seen.borrow().len(), 5, "{upstream:?}: {:?}", seen.borrow());
    }
}

/// An exact restricting rule on a page covers its folder spelling (`/team.html`:
/// `/team/index.html`), which a `DELETE /team/` deletes, whatever rule `/team/` matches first.
/// Found by the outside review of the rule above.
#[test]
fn a_delete_of_a_folder_passes_the_rule_on_its_page() {
    let public_folder = "[[gate.rules]]\npath = \"/team/\"\nallow = \"anyone\"\n";
    let staff_page = "[[gate.rules]]\npath = \"/team.html\"\nrequire_roles = [\"staff\"]\n";
    for rules in [format!("{public_folder}{staff_page}"), format!("{staff_page}{public_folder}")] {
        for upstream in [Upstream::Assets, Upstream::Origin] {
            let (world, seen) = world(upstream, &rules, false);
            let alice = signed_in(&world, "alice");
            assert_eq!(get_raw(&world, &alice, "/team/index.html").status(), 403, "{upstream:?} {rules}");
            for path in ["/team/", "/team", "/"] {
                assert_eq!(send_raw(&world, &alice, "DELETE", path).status(), 403, "{upstream:?} {path} {rules}");
            }
            assert!(seen.borrow().is_empty(), "{upstream:?}: the site was asked: {:?}", seen.borrow());
        }
    }
}
