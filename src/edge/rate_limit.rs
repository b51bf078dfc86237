//! The Workers Rate Limiting bindings as the core's [`RateLimit`] port. A limiter whose
//! binding is missing from `wrangler.toml` allows everything.

use async_trait::async_trait;
use worker::{Env, RateLimiter};

use crate::core::ports::rate_limit::{Limiter, RateLimit};
use crate::core::ports::PortError;

/// The bindings are looked up when a limit is checked, not for every request: most routes
/// have no limit.
pub struct RateLimits(Env);

impl RateLimits {
    pub fn new(env: &Env) -> Self {
        RateLimits(env.clone())
    }
}

#[async_trait(?Send)]
impl RateLimit for RateLimits {
    async fn allow(&self, limiter: Limiter, key: &str) -> Result<bool, PortError> {
        let binding: Option<RateLimiter> = self.0.rate_limiter(limiter.binding()).ok();
        match binding {
            None => Ok(true),
            Some(binding) => binding
                .limit(key.to_owned())
                .await
                .map(|outcome| outcome.success)
                .map_err(|e| PortError(format!("rate limit {}: {e}", limiter.binding()))),
        }
    }
}
