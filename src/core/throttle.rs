//! Rate limits on the requests an attacker would repeat: login starts, the token, revocation
//! and introspection endpoints, verification mails. Counted per client IP before anything else
//! is done, and per client once a client has authenticated (so nobody can spend another
//! client's budget by naming it). Budgets live in the Workers Rate Limiting bindings
//! ([`Limiter::binding`]); a refused request gets `429` with `Retry-After`.

use http::Method;

use super::error::Failure;
use super::ports::rate_limit::Limiter;
use super::ports::Ports;
use super::web::Request;

/// The visitor's IP address as Cloudflare gives it (`CF-Connecting-IP`); `unknown` without.
pub fn client_ip(req: &Request) -> &str {
    req.headers().get("cf-connecting-ip").and_then(|v| v.to_str().ok()).unwrap_or("unknown")
}

/// Counts one request of `key` against `limiter`; past the budget, [`Failure::TooMany`].
pub async fn check(ports: &Ports<'_>, limiter: Limiter, key: &str, json: bool) -> Result<(), Failure> {
    if ports.limits.allow(limiter, key).await? {
        Ok(())
    } else {
        (ports.log)(&format!("rate limit {} reached for {key}", limiter.binding()));
        Err(Failure::TooMany { json })
    }
}

/// The per-IP limit of the route `req` is for, if it has one.
pub async fn by_ip(ports: &Ports<'_>, req: &Request) -> Result<(), Failure> {
    let path = req.uri().path();
    let post = req.method() == Method::POST;
    let (limiter, json) = match path {
        // `/revoke` checks a client's secret as `/token` does: one budget for both.
        "/token" | "/revoke" if post => (Limiter::Token, true),
        "/introspect" if post => (Limiter::Introspection, true),
        _ if path.starts_with("/broker/") && path.ends_with("/login") => (Limiter::LoginStart, false),
        _ => return Ok(()),
    };
    check(ports, limiter, &format!("ip:{}", client_ip(req)), json).await
}

/// The per-client limit, once `client_id` has authenticated (a confidential client: a public
/// one is only named, so anyone could spend its budget).
pub async fn by_client(ports: &Ports<'_>, limiter: Limiter, client_id: &str) -> Result<(), Failure> {
    check(ports, limiter, &format!("client:{client_id}"), true).await
}
