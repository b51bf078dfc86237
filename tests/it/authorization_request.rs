//! Authorization request validation, named after the OpenID conformance tests and RFC
//! clauses they mirror. Until client and redirect URI are trusted, errors are pages; after,
//! they go back to the client with `state` and `iss`.

use crate::common::*;

fn authorize(world: &World, query: &str) -> http::Response<Vec<u8>> {
    Browser::default().get(world, &format!("/authorize?{query}"))
}

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn q(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "app"),
        ("redirect_uri", APP_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "xyz"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn with(overrides: &[(&'static str, Option<&'static str>)]) -> String {
    let mut pairs = base();
    for (k, v) in overrides {
        pairs.retain(|(n, _)| n != k);
        if let Some(v) = v {
            pairs.push((k, v));
        }
    }
    q(&pairs)
}

fn assert_page(res: &http::Response<Vec<u8>>, text: &str) {
    assert_eq!(res.status(), 400, "{}", body(res));
    assert!(res.headers().get("location").is_none(), "never a redirect");
    assert!(body(res).contains(text), "expected `{text}` in {}", body(res));
}

fn assert_error_redirect(res: &http::Response<Vec<u8>>, error: &str) {
    assert_eq!(res.status(), 302, "{}", body(res));
    let loc = location(res);
    assert!(loc.starts_with(APP_REDIRECT), "{loc}");
    assert_eq!(query_param(&loc, "error").as_deref(), Some(error), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(ISSUER), "RFC 9207");
}

#[test]
fn oidcc_ensure_redirect_uri_in_authorization_request() {
    assert_page(&authorize(&World::new(), &with(&[("redirect_uri", None)])), "Missing redirect URI");
}

#[test]
fn oidcc_ensure_registered_redirect_uri_exact_match() {
    let world = World::new();
    for bad in ["https://app.test/cb/", "https://app.test/cb?x=1", "https://APP.test/cb", "https://app.test/other"] {
        let res = authorize(&world, &with(&[("redirect_uri", Some(bad))]));
        assert_page(&res, "Invalid redirect URI");
    }
}

#[test]
fn redirect_uri_with_registered_query_keeps_it() {
    let world = World::new();
    let res = authorize(
        &world,
        &with(&[("redirect_uri", Some("https://app.test/other?keep=1")), ("response_type", Some("token"))]),
    );
    let loc = location(&res);
    assert!(loc.starts_with("https://app.test/other?keep=1&error=unsupported_response_type"), "{loc}");
}

#[test]
fn unknown_or_missing_client_is_an_error_page() {
    let world = World::new();
    assert_page(&authorize(&world, &with(&[("client_id", Some("nobody"))])), "Unknown application");
    assert_page(&authorize(&world, &with(&[("client_id", None)])), "Missing client");
}

#[test]
fn rfc6749_4_1_2_1_missing_response_type_is_invalid_request() {
    assert_error_redirect(&authorize(&World::new(), &with(&[("response_type", None)])), "invalid_request");
}

#[test]
fn oidcc_response_type_missing_or_unsupported() {
    assert_error_redirect(
        &authorize(&World::new(), &with(&[("response_type", Some("token"))])),
        "unsupported_response_type",
    );
    assert_error_redirect(
        &authorize(&World::new(), &with(&[("response_type", Some("code id_token"))])),
        "unsupported_response_type",
    );
}

#[test]
fn oidcc_scope_without_openid_is_invalid_scope() {
    assert_error_redirect(&authorize(&World::new(), &with(&[("scope", Some("profile"))])), "invalid_scope");
}

#[test]
fn rfc7636_plain_method_is_refused() {
    let res = authorize(&World::new(), &with(&[("code_challenge_method", Some("plain"))]));
    assert_error_redirect(&res, "invalid_request");
}

#[test]
fn rfc7636_malformed_challenge_is_refused() {
    assert_error_redirect(&authorize(&World::new(), &with(&[("code_challenge", Some("short"))])), "invalid_request");
}

#[test]
fn public_client_must_use_pkce() {
    let pairs = [
        ("client_id", "spa"),
        ("redirect_uri", "https://spa.test/cb"),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "xyz"),
    ];
    let res = authorize(&World::new(), &q(&pairs));
    let loc = location(&res);
    assert_eq!(query_param(&loc, "error").as_deref(), Some("invalid_request"), "{loc}");
}

#[test]
fn rfc6749_3_1_repeated_parameter_is_invalid_request() {
    let query = format!("{}&scope=openid", with(&[]));
    assert_error_redirect(&authorize(&World::new(), &query), "invalid_request");
}

#[test]
fn request_objects_are_refused_explicitly() {
    assert_error_redirect(&authorize(&World::new(), &with(&[("request", Some("eyJ..."))])), "request_not_supported");
    assert_error_redirect(
        &authorize(&World::new(), &with(&[("request_uri", Some("https://x"))])),
        "request_uri_not_supported",
    );
}

#[test]
fn valid_request_shows_the_login_page_with_the_client_name() {
    let res = authorize(&World::new(), &with(&[]));
    assert_eq!(res.status(), 200);
    let html = body(&res);
    assert!(html.contains("Sign in with Upstream"));
    assert!(html.contains("<strong>app</strong>"));
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

#[test]
fn kc_idp_hint_skips_the_login_page() {
    let res = authorize(&World::new(), &with(&[("kc_idp_hint", Some("up"))]));
    assert_eq!(res.status(), 302);
    assert!(location(&res).starts_with("/broker/up/login?"), "{}", location(&res));
}

#[test]
fn post_authorization_request_is_accepted() {
    let world = World::new();
    let req = http::Request::post(format!("{ISSUER}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(with(&[]).into_bytes())
        .unwrap();
    assert_eq!(world.send(req).status(), 200);
}

#[test]
fn open_redirect_via_return_to_is_impossible() {
    let world = World::new();
    for evil in ["//evil.test/x", "https://evil.test/", "/\\evil.test", "javascript:alert(1)"] {
        let page = body(&Browser::default().get(&world, &format!("/login?{}", q(&[("return_to", evil)]))));
        assert!(page.contains("return_to=%2Faccount"), "{evil} must fall back to /account: {page}");
    }
}

/// RFC 8252 §7.3: a native app registers `http://127.0.0.1/…` or `http://[::1]/…` and listens
/// on whatever port the system gives it; any port is accepted, the rest stays byte-exact, and
/// the code is redeemed with the URI as sent. `localhost` and https stay exact (§8.3).
#[test]
fn rfc8252_7_3_a_loopback_ip_redirect_uri_takes_any_port() {
    let world = World::with(
        "",
        "",
        "[[clients]]\nclient_id = \"native\"\nredirect_uris = [\"http://127.0.0.1/callback\", \"http://[::1]:8000/cb\", \"http://localhost/cb\"]\n",
    );
    for ok in ["http://127.0.0.1:51234/callback", "http://127.0.0.1/callback", "http://[::1]:61000/cb"] {
        let rp = rp_request("native", ok);
        let res = login(&world, &mut Browser::default(), &rp.query, "alice");
        let to = location(&res);
        assert!(to.starts_with(&format!("{ok}?")), "{ok}: {} {to}", res.status());
        let code = query_param(&to, "code").unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", ok),
            ("code_verifier", rp.verifier.as_str()),
            ("client_id", "native"),
        ];
        assert_eq!(world.post_form("/token", &form, None).status(), 200, "{ok}");
    }
    for bad in [
        "http://127.0.0.1:51234/callback/",
        "http://127.0.0.1:51234/other",
        "http://127.0.0.1:51234/callback?x=1",
        "http://127.0.0.1:51234/callback/../callback",
        "http://127.0.0.1:51234@evil.test/callback",
        "https://127.0.0.1:51234/callback",
        "http://127.0.0.2:51234/callback",
        "http://localhost:51234/cb",
        "http://[::1]:61000/cb2",
        "HTTP://127.0.0.1:51234/callback",
    ] {
        let query = q(&[
            ("client_id", "native"),
            ("redirect_uri", bad),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        assert_page(&authorize(&world, &query), "Invalid redirect URI");
    }
}

/// The sign-in pages answer their methods only, as every other route (`Keyedge::pick` tries
/// them first, by a function of their own): `/authorize` by GET, HEAD or a form POST (OIDC
/// Core §3.1.2.1), `/login` and `/login/discover` by GET or HEAD. Any other method, or a path
/// that only begins as theirs does, is not found, and none of them is answered by another
/// route.
#[test]
fn the_sign_in_pages_answer_only_their_methods() {
    let world = World::new();
    let query = q(&base());
    let send = |method: &str, path: &str, form: Option<&str>| {
        let req = http::Request::builder().method(method).uri(format!("{ISSUER}{path}"));
        let req = match form {
            Some(_) => req.header("content-type", "application/x-www-form-urlencoded"),
            None => req,
        };
        world.send(req.body(form.unwrap_or("").as_bytes().to_vec()).unwrap())
    };
    let login_page = send("GET", &format!("/authorize?{query}"), None);
    assert_eq!(login_page.status(), 200);
    assert!(body(&login_page).contains("/broker/up/login"), "the login page");
    assert_eq!(send("HEAD", &format!("/authorize?{query}"), None).status(), 200);
    let posted = send("POST", "/authorize", Some(&query));
    assert_eq!(posted.status(), 200);
    assert!(body(&posted).contains("/broker/up/login"), "a posted authorization request gets the login page");
    for method in ["PUT", "DELETE", "PATCH", "OPTIONS"] {
        assert_eq!(send(method, &format!("/authorize?{query}"), None).status(), 404, "{method} /authorize");
    }
    for path in ["/login", "/login/discover"] {
        assert_eq!(send("HEAD", path, None).status(), send("GET", path, None).status(), "HEAD {path}");
        assert_ne!(send("GET", path, None).status(), 404, "GET {path}");
        for method in ["POST", "PUT", "DELETE"] {
            assert_eq!(send(method, path, Some("")).status(), 404, "{method} {path}");
        }
    }
    for path in ["/authorize/", "/authorizex", "/login/", "/login/discover/x", "/Authorize"] {
        assert_eq!(send("GET", &format!("{path}?{query}"), None).status(), 404, "GET {path}");
    }
}
