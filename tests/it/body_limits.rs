//! Oversized request bodies (issue 14, item 9): the Worker must not read a body of any size
//! into its memory before routing. Each route class has a limit; past it the answer is `413`,
//! as an OAuth JSON error where an application calls and as a readable page where a browser
//! posts a form. keyedge refuses a body it is handed over the limit too (defence in depth
//! behind the Worker's bounded reader), and a declared `Content-Length` over the limit is
//! refused without a byte of the body.

use crate::common::*;
use keyedge::core::limits::{self, BodyLimit, TooLarge};

const FORM: usize = 64 * 1024;
const IMPORT: usize = 8 * 1024 * 1024;

/// A form body of exactly `len` bytes that starts with `fields`.
fn form_of_len(fields: &str, len: usize) -> Vec<u8> {
    let mut body = format!("{fields}&pad=").into_bytes();
    assert!(body.len() <= len);
    body.resize(len, b'x');
    body
}

fn post(world: &World, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> http::Response<Vec<u8>> {
    let mut req =
        http::Request::post(format!("{ISSUER}{path}")).header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    world.send(req.body(body).unwrap())
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

fn assert_oauth_413(res: &http::Response<Vec<u8>>, what: &str) {
    assert_eq!(res.status(), 413, "{what}: {}", body(res));
    assert_eq!(res.headers()["content-type"], "application/json", "{what}");
    let error = json(res);
    assert_eq!(error["error"], "invalid_request", "{what}: {error}");
    assert!(error["error_description"].as_str().unwrap().contains("64 KiB"), "{what}: {error}");
}

fn assert_page_413(res: &http::Response<Vec<u8>>, what: &str) {
    assert_eq!(res.status(), 413, "{what}: {}", body(res));
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{what}");
    let page = body(res);
    assert!(page.contains("too large"), "{what}: {page}");
}

#[test]
fn oversized_token_revoke_and_introspect_requests_get_an_oauth_413() {
    let world = World::new();
    let auth = basic("app", APP_SECRET);
    for path in ["/token", "/revoke", "/introspect"] {
        let form = form_of_len("grant_type=client_credentials&token=t", FORM + 1);
        let res = post(&world, path, form, &[("authorization", &auth)]);
        assert_oauth_413(&res, path);
    }
    // A browser application reads the error too (the token endpoint answers CORS).
    let res = post(&world, "/token", form_of_len("grant_type=refresh_token", FORM + 1), &[]);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
}

#[test]
fn a_token_request_at_the_limit_is_still_served() {
    let world = World::new();
    let form = form_of_len("grant_type=client_credentials&scope=reports", FORM);
    let res = post(&world, "/token", form, &[("authorization", &basic("machine", MACHINE_SECRET))]);
    assert_eq!(res.status(), 200, "{}", body(&res));
    assert!(json(&res)["access_token"].is_string());
}

#[test]
fn oversized_browser_forms_get_a_readable_413_page() {
    let world = World::new();
    for path in [
        "/authorize",
        "/first-login/review",
        "/first-login/confirm",
        "/logout",
        "/account/unlink/up",
        "/account/sessions/some-sid/end",
        "/broker/up/link",
    ] {
        let res = post(&world, path, form_of_len("a=b", FORM + 1), &[]);
        assert_page_413(&res, path);
    }
}

#[test]
fn an_oversized_sign_out_form_changes_nothing() {
    let world = World::new();
    let mut browser = Browser::default();
    let at_idp = location(&browser.get(&world, "/broker/up/login?return_to=%2Faccount"));
    browser.get(&world, &world.idp.authorize(&at_idp, "alice"));
    assert_eq!(browser.get(&world, "/account").status(), 200);
    let cookie = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let res = post(&world, "/logout", form_of_len("confirm=yes", FORM + 1), &[("cookie", &cookie)]);
    assert_page_413(&res, "/logout");
    assert!(res.headers().get("set-cookie").is_none());
    assert_eq!(browser.get(&world, "/account").status(), 200, "the session survived");
}

#[test]
fn other_api_posts_are_capped_at_the_form_limit_with_an_oauth_413() {
    let world = World::with("accept_logout_tokens = true", "", "");
    let userinfo = post(&world, "/userinfo", form_of_len("access_token=x", FORM + 1), &[]);
    assert_oauth_413(&userinfo, "/userinfo");
    let backchannel = post(&world, "/broker/up/backchannel_logout", form_of_len("logout_token=x", FORM + 1), &[]);
    assert_oauth_413(&backchannel, "/broker/up/backchannel_logout");
}

fn admin_world() -> World {
    let mut world = World::new();
    let text = config_text().replacen("issuer = ", "admin_token_env = \"ADMIN_TOKEN\"\nissuer = ", 1);
    world.app = keyedge::core::Keyedge::from_config_text(&text, &secrets).unwrap();
    world
}

fn user_line(n: usize) -> String {
    format!(
        r#"{{"id":"u-{n}","username":"user{n}","email":null,"email_verified":false,"created_at":{START},"links":[{{"alias":"up","sub":"sub-{n}","username":"user{n}","linked_at":{START}}}]}}"#
    )
}

fn import(world: &World, body: Vec<u8>) -> http::Response<Vec<u8>> {
    let req = http::Request::post(format!("{ISSUER}/admin/import"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(body)
        .unwrap();
    world.send(req)
}

#[test]
fn admin_import_takes_its_documented_size_and_no_more() {
    let world = admin_world();
    // Larger than a form, well under the import limit: imported.
    let mut text = String::new();
    let mut n = 0;
    while text.len() <= FORM {
        text.push_str(&user_line(n));
        text.push('\n');
        n += 1;
    }
    let res = import(&world, text.into_bytes());
    assert_eq!(res.status(), 200, "{}", body(&res));
    assert_eq!(json(&res)["imported"], n);

    // One byte over the import limit: refused whole, nothing imported.
    let mut over = format!("{}\n", user_line(1_000_000)).into_bytes();
    over.resize(IMPORT + 1, b'\n');
    let res = import(&world, over);
    assert_eq!(res.status(), 413, "{}", body(&res));
    let error = json(&res);
    assert_eq!(error["error"], "invalid_request");
    assert!(error["error_description"].as_str().unwrap().contains("8 MiB"), "{error}");
    assert!(world.kv("user:u-1000000").is_none(), "nothing of an oversized import is written");
}

#[test]
fn a_declared_content_length_over_the_limit_is_refused_before_the_body_is_read() {
    let world = admin_world();
    // The head of the request only, as the Worker has it before reading the stream.
    for (path, declared, json_error) in
        [("/token", FORM + 1, true), ("/first-login/review", FORM + 1, false), ("/admin/import", IMPORT + 1, true)]
    {
        let req = http::Request::post(format!("{ISSUER}{path}"))
            .header("content-length", declared.to_string())
            .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
            .body(Vec::new())
            .unwrap();
        let refused = world.app.oversized(&req).unwrap_or_else(|| panic!("{path}: the declared length was accepted"));
        assert_eq!(refused.status(), 413, "{path}");
        let is_json = refused.headers()["content-type"] == "application/json";
        assert_eq!(is_json, json_error, "{path}");
        assert_eq!(world.send(req).status(), 413, "{path}: respond refuses it too");
    }
    let at_limit = http::Request::post(format!("{ISSUER}/token"))
        .header("content-length", FORM.to_string())
        .body(Vec::new())
        .unwrap();
    assert!(world.app.oversized(&at_limit).is_none());
}

const GATE: &str = r#"
[gate]
upstream = "assets"

[[gate.rules]]
path = "/public/*"
allow = "anyone"
"#;

#[test]
fn a_gated_sites_bodies_are_streamed_to_it_not_read_or_capped() {
    let world = World::with("", "", GATE);
    let method = http::Method::POST;
    assert_eq!(world.app.body_limit(&method, "/public/upload"), BodyLimit::Stream);
    assert_eq!(world.app.body_limit(&method, "/token"), BodyLimit::Read { max: FORM, answer: TooLarge::Json });
    world.site.mount(ISSUER, |req| {
        http::Response::builder().status(200).body(format!("got {} bytes", req.body().len()).into_bytes()).unwrap()
    });
    let upload = vec![b'u'; 1024 * 1024];
    let res = post(&world, "/public/upload", upload, &[]);
    assert_eq!(res.status(), 200, "{}", body(&res));
    assert_eq!(body(&res), "got 1048576 bytes");
}

#[test]
fn without_a_gate_every_path_is_capped() {
    let world = World::new();
    let method = http::Method::POST;
    assert_eq!(world.app.body_limit(&method, "/public/upload"), BodyLimit::Read { max: FORM, answer: TooLarge::Page });
    let res = post(&world, "/public/upload", vec![b'u'; FORM + 1], &[]);
    assert_eq!(res.status(), 413);
}

#[test]
fn the_limit_is_a_function_of_method_and_path() {
    use http::Method;
    let json = |max| BodyLimit::Read { max, answer: TooLarge::Json };
    let page = |max| BodyLimit::Read { max, answer: TooLarge::Page };
    for (method, path, gated, expected) in [
        (Method::POST, "/token", false, json(FORM)),
        (Method::POST, "/revoke", true, json(FORM)),
        (Method::POST, "/introspect", false, json(FORM)),
        (Method::POST, "/userinfo", false, json(FORM)),
        (Method::POST, "/admin/import", false, json(IMPORT)),
        (Method::PUT, "/admin/import", false, json(FORM)),
        (Method::POST, "/admin/users", false, json(FORM)),
        (Method::POST, "/broker/up/backchannel_logout", false, json(FORM)),
        (Method::GET, "/broker/up/token", false, json(FORM)),
        (Method::POST, "/authorize", false, page(FORM)),
        (Method::POST, "/first-login/review", true, page(FORM)),
        (Method::POST, "/logout", false, page(FORM)),
        (Method::POST, "/broker/up/link", false, page(FORM)),
        (Method::POST, "/account/unlink/up", false, page(FORM)),
        (Method::POST, "/site/form", false, page(FORM)),
        (Method::POST, "/site/form", true, BodyLimit::Stream),
    ] {
        assert_eq!(limits::body_limit(&method, path, gated), expected, "{method} {path} gated={gated}");
    }
}
