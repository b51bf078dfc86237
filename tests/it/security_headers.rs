//! Every answer of keyedge's own carries its security headers: `nosniff` and, over https,
//! HSTS; every page a CSP without inline script that forbids framing, `X-Frame-Options` and
//! `Referrer-Policy: no-referrer`. The test walks every kind of route (issue 19's checklist).

use crate::common::*;

type Response = http::Response<Vec<u8>>;

fn request(method: &str, path: &str) -> http::Request<Vec<u8>> {
    http::Request::builder().method(method).uri(format!("{ISSUER}{path}")).body(Vec::new()).unwrap()
}

fn check(what: &str, res: &Response) {
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{what}");
    assert_eq!(header("strict-transport-security").as_deref(), Some("max-age=31536000"), "{what}");
    if header("content-type").is_some_and(|t| t.starts_with("text/html")) {
        let csp = header("content-security-policy").unwrap_or_else(|| panic!("{what}: a page without CSP"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{what}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("script-src"), "{what}: scripts allowed: {csp}");
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"), "{what}");
        assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"), "{what}");
    }
}

#[test]
fn every_route_answers_with_its_security_headers() {
    let world = World::new();
    let rp = rp_request("app", APP_REDIRECT);
    let css = keyedge::core::pages::css_path();
    let routes: Vec<(&str, String)> = vec![
        ("GET", "/".into()),
        ("GET", "/login".into()),
        ("GET", "/account".into()),
        ("GET", "/logout".into()),
        ("GET", "/logout/done".into()),
        ("GET", "/.well-known/openid-configuration".into()),
        ("GET", "/jwks".into()),
        ("GET", format!("/authorize?{}", rp.query)),
        ("GET", "/authorize?client_id=nobody".into()),
        ("GET", "/userinfo".into()),
        ("POST", "/token".into()),
        ("GET", "/token".into()),
        ("OPTIONS", "/token".into()),
        ("POST", "/revoke".into()),
        ("POST", "/introspect".into()),
        ("GET", "/broker/up/login".into()),
        ("GET", "/broker/up/endpoint?state=x&code=y".into()),
        ("GET", "/broker/up/token".into()),
        ("GET", "/first-login/verify-email?token=x".into()),
        ("POST", "/first-login/review".into()),
        ("GET", "/admin/users".into()),
        ("GET", css),
        ("GET", "/no/such/page".into()),
    ];
    for (method, path) in routes {
        check(&format!("{method} {path}"), &world.send(request(method, &path)));
    }
    // A signed-in user's pages, and a 413.
    let mut browser = Browser::default();
    login(&world, &mut browser, &rp.query, "alice");
    check("GET /account signed in", &browser.get(&world, "/account"));
    let big = http::Request::post(format!("{ISSUER}/token")).body(vec![b'a'; 70 * 1024]).unwrap();
    check("POST /token too large", &world.send(big));
}

/// Over plain http (local development) there is no HSTS, which would pin the host to https.
#[test]
fn no_hsts_over_http() {
    let text = config_text().replace("issuer = \"https://keyedge.test\"", "issuer = \"http://localhost:8787\"");
    let app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
    let world = World { app, ..World::new() };
    let res = world.send(http::Request::get("http://localhost:8787/login").body(Vec::new()).unwrap());
    assert!(res.headers().get("strict-transport-security").is_none());
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}
