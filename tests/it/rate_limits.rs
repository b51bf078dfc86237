//! Rate limits (issue 19): login starts, the token and introspection endpoints and
//! verification mails are counted per client IP (`CF-Connecting-IP`) and, once a client has
//! authenticated, per client; past a budget the answer is `429` with `Retry-After`, a page for
//! a browser and OAuth JSON for an API.

use crate::common::*;
use keyedge::core::ports::rate_limit::{Limiter, MemoryRateLimit};

fn limited(budgets: &[(Limiter, u32, u64)]) -> World {
    let mut world = World::new();
    world.limits = MemoryRateLimit::new(world.clock.clone(), budgets);
    world
}

fn from(ip: &str, req: http::request::Builder) -> http::Request<Vec<u8>> {
    req.header("cf-connecting-ip", ip).body(Vec::new()).unwrap()
}

fn login_start(world: &World, ip: &str) -> http::Response<Vec<u8>> {
    world.send(from(ip, http::Request::get(format!("{ISSUER}/broker/up/login?return_to=%2Faccount"))))
}

fn token_request(world: &World, ip: &str, secret: &str) -> http::Response<Vec<u8>> {
    let form = "grant_type=client_credentials";
    let mut req = from(
        ip,
        http::Request::post(format!("{ISSUER}/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", basic("app", secret)),
    );
    *req.body_mut() = form.as_bytes().to_vec();
    world.send(req)
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

fn assert_too_many(res: &http::Response<Vec<u8>>) {
    assert_eq!(res.status(), 429, "{}", body(res));
    assert_eq!(res.headers()["retry-after"], "60");
}

#[test]
fn login_starts_are_limited_per_ip_with_a_page_that_says_when_to_retry() {
    let world = limited(&[(Limiter::LoginStart, 3, 60)]);
    for _ in 0..3 {
        assert_eq!(login_start(&world, "192.0.2.1").status(), 302);
    }
    let refused = login_start(&world, "192.0.2.1");
    assert_too_many(&refused);
    assert!(body(&refused).contains("Too many requests"), "a readable page");
    assert_eq!(login_start(&world, "192.0.2.2").status(), 302, "another network has its own budget");
    world.clock.advance(60);
    assert_eq!(login_start(&world, "192.0.2.1").status(), 302, "the next period");
}

#[test]
fn the_token_endpoint_is_limited_per_ip_before_the_client_is_checked() {
    let world = limited(&[(Limiter::Token, 3, 60)]);
    for _ in 0..3 {
        assert_eq!(token_request(&world, "192.0.2.1", "wrong").status(), 401);
    }
    // Guessing a client secret from one network stops at the budget, right or wrong.
    let refused = token_request(&world, "192.0.2.1", APP_SECRET);
    assert_too_many(&refused);
    assert_eq!(json(&refused)["error"], "temporarily_unavailable");
}

#[test]
fn an_authenticated_client_has_its_own_budget_that_no_one_else_can_spend() {
    let world = limited(&[(Limiter::Token, 3, 60)]);
    // Others naming the client with a wrong secret, each from its own network: not counted
    // against the client.
    for i in 0..5 {
        assert_eq!(token_request(&world, &format!("198.51.100.{i}"), "wrong").status(), 401);
    }
    for i in 0..3 {
        let res = token_request(&world, &format!("203.0.113.{i}"), APP_SECRET);
        assert_eq!(json(&res)["error"], "unauthorized_client", "authenticated (this client has no such grant)");
    }
    // The client itself, from yet another network: its own budget is spent.
    assert_too_many(&token_request(&world, "203.0.113.99", APP_SECRET));
}

#[test]
fn introspection_is_limited_per_ip() {
    let world = limited(&[(Limiter::Introspection, 2, 10)]);
    let introspect = || {
        let mut req = from(
            "192.0.2.7",
            http::Request::post(format!("{ISSUER}/introspect"))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", basic("app", APP_SECRET)),
        );
        *req.body_mut() = b"token=nothing".to_vec();
        world.send(req)
    };
    assert_eq!(introspect().status(), 200);
    assert_eq!(introspect().status(), 200);
    assert_too_many(&introspect());
}
