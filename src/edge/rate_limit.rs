//! The Workers Rate Limiting bindings as the core's [`RateLimit`] port. A limiter whose
//! binding is missing from `wrangler.toml` allows everything.

use async_trait::async_trait;
use worker::{Env, RateLimiter};

use crate::core::ports::rate_limit::{Limiter, RateLimit};
use crate::core::ports::PortError;

pub struct RateLimits(Vec<(Limiter, RateLimiter)>);

impl RateLimits {
    pub fn new(env: &Env) -> Self {
        RateLimits(
            Limiter::ALL.into_iter().filter_map(|l| env.rate_limiter(l.binding()).ok().map(|r| (l, r))).collect(),
        )
    }
}

#[async_trait(?Send)]
impl RateLimit for RateLimits {
    async fn allow(&self, limiter: Limiter, key: &str) -> Result<bool, PortError> {
        match self.0.iter().find(|(l, _)| *l == limiter) {
            None => Ok(true),
            Some((_, binding)) => binding
                .limit(key.to_owned())
                .await
                .map(|outcome| outcome.success)
                .map_err(|e| PortError(format!("rate limit {}: {e}", limiter.binding()))),
        }
    }
}
