//! Rate limits: the Workers Rate Limiting binding (one per [`Limiter`], budgets set in
//! `wrangler.toml`) and its in-memory twin.

use async_trait::async_trait;
use std::cell::RefCell;
use std::collections::HashMap;

use super::memory::VirtualClock;
use super::{Clock, PortError};

/// A budget requests are counted against: each is its own binding, so an operator sets each
/// one's limit and period (10 or 60 s) in `wrangler.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limiter {
    /// Starting a login at an upstream IdP (`/broker/{alias}/login`), per client IP.
    LoginStart,
    /// The token endpoint, per client IP and per authenticated client.
    Token,
    /// Token introspection, per client IP and per authenticated client.
    Introspection,
    /// Verification mails of the first-login flow, per client IP (per recipient they are
    /// limited in the Durable Object as well).
    Mail,
}

impl Limiter {
    pub const ALL: [Limiter; 4] = [Limiter::LoginStart, Limiter::Token, Limiter::Introspection, Limiter::Mail];

    /// The binding's name in `wrangler.toml` (`[[ratelimits]] name = …`).
    pub fn binding(self) -> &'static str {
        match self {
            Limiter::LoginStart => "RATE_LIMIT_LOGIN",
            Limiter::Token => "RATE_LIMIT_TOKEN",
            Limiter::Introspection => "RATE_LIMIT_INTROSPECTION",
            Limiter::Mail => "RATE_LIMIT_MAIL",
        }
    }
}

/// The longest period the binding supports: a refused request may retry after it.
pub const LONGEST_PERIOD: u64 = 60;

#[async_trait(?Send)]
pub trait RateLimit {
    /// Counts one request of `key` against `limiter`: `false` once the key's budget for the
    /// current period is spent. A limiter that is not bound allows everything.
    async fn allow(&self, limiter: Limiter, key: &str) -> Result<bool, PortError>;
}

/// The twin: a fixed window per limiter (as the binding counts), on a virtual clock.
pub struct MemoryRateLimit {
    clock: VirtualClock,
    budgets: HashMap<Limiter, (u32, u64)>,
    counts: RefCell<HashMap<(Limiter, String), (i64, u32)>>,
}

impl MemoryRateLimit {
    /// `budgets`: per limiter, how many requests per period (seconds); others are unlimited.
    pub fn new(clock: VirtualClock, budgets: &[(Limiter, u32, u64)]) -> Self {
        MemoryRateLimit {
            clock,
            budgets: budgets.iter().map(|(l, limit, period)| (*l, (*limit, *period))).collect(),
            counts: RefCell::default(),
        }
    }
}

#[async_trait(?Send)]
impl RateLimit for MemoryRateLimit {
    async fn allow(&self, limiter: Limiter, key: &str) -> Result<bool, PortError> {
        let Some(&(limit, period)) = self.budgets.get(&limiter) else {
            return Ok(true);
        };
        let window = self.clock.now() / period.max(1) as i64;
        let mut counts = self.counts.borrow_mut();
        let (w, n) = counts.entry((limiter, key.to_owned())).or_insert((window, 0));
        if *w != window {
            (*w, *n) = (window, 0);
        }
        if *n >= limit {
            return Ok(false);
        }
        *n += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn a_key_gets_its_budget_per_window_and_others_their_own() {
        let clock = VirtualClock::at(600);
        let limits = MemoryRateLimit::new(clock.clone(), &[(Limiter::Token, 2, 60)]);
        let allow = |key: &str| block_on(limits.allow(Limiter::Token, key)).unwrap();
        assert!(allow("a") && allow("a") && !allow("a"));
        assert!(allow("b"), "another key has its own budget");
        assert!(block_on(limits.allow(Limiter::Mail, "a")).unwrap(), "an unbound limiter allows");
        clock.advance(60);
        assert!(allow("a"), "a new window");
    }
}
