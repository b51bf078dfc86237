//! Answering without I/O: ports that never answer, and a runner that polls a request's future
//! once. A request whose answer needs no storage, upstream or platform call (the discovery
//! document, a gated page on a fresh pass, the login redirect) is answered synchronously by the
//! very code that answers every request; one that would wait on a port is dropped before
//! anything was sent or written, and the host answers it the usual way. The Worker's shell
//! tries these requests this way (src/edge, `AtOnce`): no future, promise or waker for them.

use async_trait::async_trait;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::rate_limit::{Limiter, RateLimit};
use super::{
    Clock, Family, Http, Jobs, Marker, NewFamily, NewItem, Once, OnceKey, PlatformCrypto, PortError, Ports, Rng,
    Rotation, RotationGrace, SignatureAlg, Store, Taken,
};

/// Every port that would reach outside the isolate: none of its calls ever completes.
pub struct NoIo;

/// A call to one of [`NoIo`]'s ports: it never completes, so the request's future is pending.
async fn never<T>() -> T {
    std::future::pending().await
}

/// Ports for answering at once: the request's clock, randomness, log and queue of work for
/// after the answer, and [`NoIo`] for everything that would reach outside the isolate.
pub fn ports<'a>(clock: &'a dyn Clock, rng: &'a dyn Rng, log: &'a dyn Fn(&str), jobs: &'a Jobs) -> Ports<'a> {
    Ports {
        store: &NoIo,
        once: &NoIo,
        http: &NoIo,
        clock,
        rng,
        log,
        jobs,
        crypto: Some(&NoIo),
        site: Some(&NoIo),
        limits: &NoIo,
    }
}

/// `future`'s result if it completes in one poll, without waiting on anything; `None` when
/// it would wait (it is then dropped: a port of [`NoIo`] has started nothing).
pub fn at_once<F: Future>(future: F) -> Option<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(out) => Some(out),
        Poll::Pending => None,
    }
}

#[async_trait(?Send)]
impl Store for NoIo {
    async fn get(&self, _: &str) -> Result<Option<String>, PortError> {
        never().await
    }
    async fn put(&self, _: &str, _: &str, _: Option<u64>) -> Result<(), PortError> {
        never().await
    }
    async fn delete(&self, _: &str) -> Result<(), PortError> {
        never().await
    }
    async fn list(&self, _: &str) -> Result<Vec<String>, PortError> {
        never().await
    }
    async fn put_with_metadata(&self, _: &str, _: &str, _: &str, _: Option<u64>) -> Result<(), PortError> {
        never().await
    }
    async fn list_metadata(&self, _: &str) -> Result<Vec<(String, Option<String>)>, PortError> {
        never().await
    }
}

#[async_trait(?Send)]
impl Once for NoIo {
    async fn put(&self, _: &OnceKey, _: &str, _: u64) -> Result<(), PortError> {
        never().await
    }
    async fn take(&self, _: &OnceKey) -> Result<Taken, PortError> {
        never().await
    }
    async fn claim(&self, _: &OnceKey, _: &str) -> Result<Option<String>, PortError> {
        never().await
    }
    async fn unclaim(&self, _: &OnceKey, _: &str) -> Result<(), PortError> {
        never().await
    }
    async fn once_then_store(
        &self,
        _: Option<Marker<'_>>,
        _: Option<NewItem<'_>>,
        _: Option<NewFamily<'_>>,
    ) -> Result<bool, PortError> {
        never().await
    }
    async fn family_rotate_within(
        &self,
        _: &OnceKey,
        _: &str,
        _: &str,
        _: RotationGrace,
    ) -> Result<Rotation, PortError> {
        never().await
    }
    async fn family_revoke(&self, _: &OnceKey) -> Result<(), PortError> {
        never().await
    }
    async fn family_get(&self, _: &OnceKey) -> Result<Option<Family>, PortError> {
        never().await
    }
    async fn record_get(&self, _: &OnceKey) -> Result<Option<String>, PortError> {
        never().await
    }
    async fn record_swap(&self, _: &OnceKey, _: Option<&str>, _: &str) -> Result<bool, PortError> {
        never().await
    }
    async fn count_use(&self, _: &OnceKey, _: u32, _: u64) -> Result<bool, PortError> {
        never().await
    }
    async fn mark(&self, _: &OnceKey, _: u64) -> Result<(), PortError> {
        never().await
    }
    async fn marked(&self, _: &OnceKey) -> Result<bool, PortError> {
        never().await
    }
}

#[async_trait(?Send)]
impl Http for NoIo {
    async fn send(&self, _: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, PortError> {
        never().await
    }
}

#[async_trait(?Send)]
impl RateLimit for NoIo {
    async fn allow(&self, _: Limiter, _: &str) -> Result<bool, PortError> {
        never().await
    }
}

#[async_trait(?Send)]
impl PlatformCrypto for NoIo {
    async fn sign_rs256(&self, _: &str, _: &[u8], _: &[u8]) -> Result<Vec<u8>, PortError> {
        never().await
    }
    async fn sign_es256(&self, _: &str, _: &[u8], _: &[u8]) -> Result<Vec<u8>, PortError> {
        never().await
    }
    async fn sign_ed25519(&self, _: &str, _: &[u8], _: &[u8]) -> Result<Vec<u8>, PortError> {
        never().await
    }
    async fn ed25519_public(&self, _: &[u8]) -> Result<[u8; 32], PortError> {
        never().await
    }
    async fn p256_public(&self, _: &[u8]) -> Result<[u8; 65], PortError> {
        never().await
    }
    async fn verify(&self, _: SignatureAlg, _: &[u8], _: &[u8], _: &[u8]) -> Result<bool, PortError> {
        never().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_future_that_waits_on_a_port_is_not_answered_at_once() {
        assert_eq!(at_once(async { 7 }), Some(7));
        assert_eq!(at_once(async { NoIo.get("k").await }), None);
        assert_eq!(at_once(async { Once::marked(&NoIo, &OnceKey::in_object("s", "k")).await }), None);
    }

    /// A request answered at once skips none of its checks: a rate limit, a signature to
    /// check, a store or object call and an upstream or site request all leave its future
    /// pending, so it is answered the usual way (a port that answered here would have let it
    /// pass without the call).
    #[test]
    fn every_port_of_no_io_leaves_the_request_pending() {
        let key = OnceKey::in_object("s", "k");
        let request = || http::Request::new(Vec::new());
        let grace = || RotationGrace { seconds: 0, max_reuse: 0 };
        macro_rules! pending {
            ($($call:expr),+ $(,)?) => {$(
                assert!(at_once(async { $call.await }).is_none(), "{} completed", stringify!($call));
            )+};
        }
        pending!(
            Store::get(&NoIo, "k"),
            Store::put(&NoIo, "k", "v", None),
            Store::delete(&NoIo, "k"),
            Store::list(&NoIo, "k"),
            Store::put_with_metadata(&NoIo, "k", "v", "m", None),
            Store::list_metadata(&NoIo, "k"),
            Once::put(&NoIo, &key, "v", 1),
            Once::take(&NoIo, &key),
            Once::claim(&NoIo, &key, "c"),
            Once::unclaim(&NoIo, &key, "c"),
            Once::once_then_store(&NoIo, None, None, None),
            Once::family_rotate_within(&NoIo, &key, "a", "b", grace()),
            Once::family_revoke(&NoIo, &key),
            Once::family_get(&NoIo, &key),
            Once::record_get(&NoIo, &key),
            Once::record_swap(&NoIo, &key, None, "v"),
            Once::count_use(&NoIo, &key, 1, 1),
            Once::mark(&NoIo, &key, 1),
            Once::marked(&NoIo, &key),
            Http::send(&NoIo, request()),
            RateLimit::allow(&NoIo, Limiter::LoginStart, "ip"),
            PlatformCrypto::sign_rs256(&NoIo, "k", b"d", b"m"),
            PlatformCrypto::sign_es256(&NoIo, "k", b"d", b"m"),
            PlatformCrypto::sign_ed25519(&NoIo, "k", b"d", b"m"),
            PlatformCrypto::ed25519_public(&NoIo, b"d"),
            PlatformCrypto::p256_public(&NoIo, b"d"),
            PlatformCrypto::verify(&NoIo, SignatureAlg::Rs256, b"k", b"m", b"s"),
        );
        // The ports handed to a request answered at once are these.
        use crate::core::ports::memory::{SeededRng, VirtualClock};
        let (clock, rng, jobs) = (VirtualClock::at(0), SeededRng::new(0), Jobs::default());
        let ports = ports(&clock, &rng, &|_| {}, &jobs);
        pending!(
            ports.store.get("k"),
            ports.once.marked(&key),
            ports.http.send(request()),
            ports.limits.allow(Limiter::Token, "ip"),
        );
        assert!(ports.crypto.is_some_and(|c| at_once(c.verify(SignatureAlg::Es256, b"k", b"m", b"s")).is_none()));
        assert!(ports.site.is_some_and(|site| at_once(site.send(request())).is_none()));
    }
}
