//! Hostile input, a bounded fuzz run on stable Rust (seeded, so a failure replays): random and
//! mutated input to every parser of outside input — request paths, query strings, form
//! bodies, cookies, tokens presented to keyedge, the configuration — never panics and never
//! gets a 5xx: bad input gets a clear 4xx (or a redirect to sign in), nothing else.
//! (Issue 19, hostile input; a longer run: `KEYEDGE_FUZZ_ROUNDS=100000 cargo test hostile`.)

use crate::common::*;
use keyedge::core::web::{request_head, Unreadable};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn rounds() -> usize {
    std::env::var("KEYEDGE_FUZZ_ROUNDS").ok().and_then(|n| n.parse().ok()).unwrap_or(300)
}

/// Bytes that parsers trip on: separators, escapes, quotes, controls, non-ASCII.
const ALPHABET: &[&str] = &[
    "a",
    "Z",
    "0",
    "/",
    "//",
    ".",
    "..",
    "%",
    "%2F",
    "%2e",
    "%00",
    "%ff",
    "%C5%BF",
    "?",
    "#",
    "&",
    "=",
    ";",
    ",",
    " ",
    "+",
    "\"",
    "'",
    "<",
    ">",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "*",
    "~",
    "|",
    "é",
    "\u{212A}",
    "\u{0}",
    "\t",
    "\n",
    "openid",
    "code",
    "state",
    "redirect_uri",
    "client_id",
    "https://",
    "app.test",
    "eyJ",
    "==",
];

fn junk(rng: &mut StdRng, max: usize) -> String {
    (0..rng.gen_range(0..=max)).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())]).collect()
}

fn percent(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn assert_handled(what: &str, res: &http::Response<Vec<u8>>) {
    assert!(!res.status().is_server_error(), "{what}: {} {}", res.status(), body(res));
}

/// `http::Request` refuses some raw paths before keyedge sees them; those are not keyedge's.
fn get(world: &World, raw: &str, cookie: Option<&str>) -> Option<http::Response<Vec<u8>>> {
    let mut req = http::Request::get(format!("{ISSUER}{raw}"));
    if let Some(c) = cookie.and_then(|c| http::HeaderValue::from_str(c).ok()) {
        req = req.header("cookie", c);
    }
    req.body(Vec::new()).ok().map(|r| world.send(r))
}

#[test]
fn hostile_paths_queries_and_cookies_are_refused_cleanly() {
    let world = World::with("", "", "[gate]\nupstream = \"assets\"\n");
    world.site.mount(ISSUER, |_| http::Response::builder().status(200).body(b"site".to_vec()).unwrap());
    let mut rng = StdRng::seed_from_u64(14);
    let prefixes = [
        "/",
        "/authorize?",
        "/login?return_to=",
        "/broker/up/endpoint?",
        "/broker/up/login?",
        "/logout?",
        "/first-login/verify-email?token=",
        "/account/",
        "/static/",
        "/.well-known/",
        "/admin/users?",
    ];
    for _ in 0..rounds() {
        let prefix = prefixes[rng.gen_range(0..prefixes.len())];
        let tail = junk(&mut rng, 12);
        let raw = if rng.gen_bool(0.5) { format!("{prefix}{tail}") } else { format!("{prefix}{}", percent(&tail)) };
        let cookie = format!("__Host-keyedge_session={}; keyedge_pending={}", junk(&mut rng, 6), junk(&mut rng, 6));
        if let Some(res) = get(&world, &raw, Some(&cookie)) {
            assert_handled(&raw, &res);
        }
    }
}

#[test]
fn hostile_form_bodies_are_refused_cleanly() {
    let world = World::new();
    let mut rng = StdRng::seed_from_u64(19);
    let endpoints = [
        "/token",
        "/revoke",
        "/introspect",
        "/userinfo",
        "/logout",
        "/first-login/review",
        "/first-login/confirm",
        "/broker/up/backchannel_logout",
        "/authorize",
    ];
    for _ in 0..rounds() {
        let path = endpoints[rng.gen_range(0..endpoints.len())];
        let fields = [
            "grant_type",
            "code",
            "refresh_token",
            "client_id",
            "client_secret",
            "token",
            "redirect_uri",
            "code_verifier",
            "logout_token",
            "csrf",
            "scope",
            "id_token_hint",
        ];
        let body: String = (0..rng.gen_range(0..6))
            .map(|_| format!("{}={}", fields[rng.gen_range(0..fields.len())], percent(&junk(&mut rng, 10))))
            .collect::<Vec<_>>()
            .join("&");
        let mut req =
            http::Request::post(format!("{ISSUER}{path}")).header("content-type", "application/x-www-form-urlencoded");
        if rng.gen_bool(0.3) {
            let auth = format!("Basic {}", junk(&mut rng, 8));
            if let Ok(v) = http::HeaderValue::from_str(&auth) {
                req = req.header("authorization", v);
            }
        }
        let res = world.send(req.body(body.clone().into_bytes()).unwrap());
        assert_handled(&format!("POST {path} {body}"), &res);
    }
}

#[test]
fn hostile_tokens_are_refused_cleanly() {
    let world = World::new();
    let mut rng = StdRng::seed_from_u64(7662);
    // A real access token, then mutated: a flipped byte, a cut, another part swapped in.
    let real = tokens_for_alice(&world, "openid")["access_token"].as_str().unwrap().to_owned();
    for _ in 0..rounds() {
        let mut token = real.clone().into_bytes();
        match rng.gen_range(0..3) {
            0 => {
                let i = rng.gen_range(0..token.len());
                token[i] = b"AZaz09-_.="[rng.gen_range(0..10)];
            }
            1 => token.truncate(rng.gen_range(0..token.len())),
            _ => token = format!("{}.{}.{}", junk(&mut rng, 4), junk(&mut rng, 8), junk(&mut rng, 4)).into_bytes(),
        }
        let token = String::from_utf8_lossy(&token).into_owned();
        if let Ok(auth) = http::HeaderValue::from_str(&format!("Bearer {token}")) {
            let req = http::Request::get(format!("{ISSUER}/userinfo")).header("authorization", auth);
            let res = world.send(req.body(Vec::new()).unwrap());
            assert_handled(&token, &res);
            if token != real {
                assert_ne!(res.status(), 200, "a mutated token was accepted: {token}");
            }
        }
        let _ = keyedge::core::jose::unverified_claims::<serde_json::Value>(&token, START, 0);
        let _ = keyedge::core::jose::token_kid(&token);
    }
}

#[test]
fn hostile_configurations_are_refused_with_an_error() {
    let mut rng = StdRng::seed_from_u64(1338);
    let base = config_text();
    for _ in 0..rounds() {
        let mut text = base.clone();
        let at = {
            let mut i = rng.gen_range(0..text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match rng.gen_range(0..3) {
            0 => text.insert_str(at, &junk(&mut rng, 6)),
            1 => {
                let mut end = (at + rng.gen_range(1..20)).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(at..end, "");
            }
            _ => text.insert_str(at, "\n[[identity_providers]]\nalias = \"x\"\nkind = \"oidc\"\n"),
        }
        // Loads or refuses, naming what is wrong; never panics.
        if let Err(e) = keyedge::core::Keyedge::from_config_text(&text, &secrets) {
            assert!(!e.to_string().is_empty());
        }
    }
}

/// RFC 9110 §5.5: a header value with a control character (other than tab) is refused with a
/// 400 in its route's kind — an OAuth error where applications call, a page elsewhere, a
/// gated site's pages included — never a 5xx. workerd lets such a value through to the Worker;
/// `tests/e2e/attacks.test.mjs` sends one through `wrangler dev`.
#[test]
fn rfc9110_5_5_a_header_with_a_control_character_gets_its_routes_400() {
    let world =
        World::with("", "", "[gate]\nupstream = \"assets\"\n\n[[gate.rules]]\npath = \"/*\"\nallow = \"anyone\"\n");
    for (path, json_error, cors) in [
        ("/token", true, true),
        ("/.well-known/openid-configuration", true, true),
        ("/admin/users", true, false),
        ("/login", false, false),
        ("/first-login/review", false, false),
        ("/docs/page.html", false, false),
    ] {
        let pairs = [("accept-language", "de"), ("x-forwarded-note", "a\u{7f}b"), ("cookie", "a=1")];
        let uri = format!("{ISSUER}{path}").parse().unwrap();
        let refused = request_head(http::Method::GET, uri, &pairs).unwrap_err();
        assert_eq!(refused.why, Unreadable::ControlCharacter("x-forwarded-note".into()));
        let res = world.app.unreadable_header(&refused);
        assert_eq!(res.status(), 400, "{path}: {}", body(&res));
        assert_eq!(res.headers()["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(res.headers().contains_key("access-control-allow-origin"), cors, "{path}");
        if json_error {
            assert_eq!(res.headers()["content-type"], "application/json", "{path}");
            let error = json(&res);
            assert_eq!(error["error"], "invalid_request", "{path}");
            assert!(error["error_description"].as_str().unwrap().contains("x-forwarded-note"), "{error}");
        } else {
            assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
            let page = body(&res);
            assert!(page.contains("x-forwarded-note") && page.contains("control character"), "{path}: {page}");
            // In the visitor's language, read from the headers that could be read.
            assert!(page.contains("lang=\"de\""), "{path}: {page}");
        }
    }
}

/// More headers than keyedge reads (a `HeaderMap` holds about 24,000 names) get a `431` in
/// their route's kind, not a panic of the Worker.
#[test]
fn rfc6585_5_more_headers_than_keyedge_reads_get_a_431() {
    let world = World::with("", "", "");
    let names: Vec<String> = (0..40_000).map(|i| format!("x-h{i}")).collect();
    for (path, json_error) in [("/token", true), ("/login", false)] {
        let uri = format!("{ISSUER}{path}").parse().unwrap();
        let pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
        let refused = request_head(http::Method::POST, uri, &pairs).unwrap_err();
        assert_eq!(refused.why, Unreadable::TooMany);
        let res = world.app.unreadable_header(&refused);
        assert_eq!(res.status(), 431, "{path}: {}", body(&res));
        let is_json = res.headers()["content-type"] == "application/json";
        assert_eq!(is_json, json_error, "{path}");
        assert!(body(&res).contains("more headers than keyedge reads"), "{path}: {}", body(&res));
    }
}
