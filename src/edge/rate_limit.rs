//! The Workers Rate Limiting bindings as the core's [`RateLimit`] port. A limiter whose
//! binding is missing from `wrangler.toml` allows everything.

use async_trait::async_trait;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

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

#[wasm_bindgen]
extern "C" {
    /// A rate limiting binding (`[[ratelimits]]` in wrangler.toml).
    #[wasm_bindgen(extends = js_sys::Object)]
    type RateLimitBinding;

    /// `limit({ key })`: a promise of `{ success }`.
    #[wasm_bindgen(method, catch)]
    fn limit(this: &RateLimitBinding, options: &JsValue) -> Result<js_sys::Promise, JsValue>;
}

#[async_trait(?Send)]
impl RateLimit for RateLimits {
    async fn allow(&self, limiter: Limiter, key: &str) -> Result<bool, PortError> {
        let name = limiter.binding();
        let what = format!("rate limit {name}");
        let failed = |e: JsValue| super::ports::js_port_error(&what, e);
        let binding = js_sys::Reflect::get(self.0.as_ref(), &name.into()).unwrap_or(JsValue::UNDEFINED);
        // No binding, or something else under its name: no limit.
        let has_limit =
            binding.is_object() && js_sys::Reflect::get(&binding, &"limit".into()).is_ok_and(|f| f.is_function());
        if !has_limit {
            return Ok(true);
        }
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &"key".into(), &key.into()).map_err(failed)?;
        let promise = binding.unchecked_into::<RateLimitBinding>().limit(&options).map_err(failed)?;
        let outcome = super::settle::settled(promise).await.map_err(failed)?;
        let success = js_sys::Reflect::get(&outcome, &"success".into()).map_err(failed)?;
        success.as_bool().ok_or_else(|| PortError(format!("{what}: the outcome has no success")))
    }
}
