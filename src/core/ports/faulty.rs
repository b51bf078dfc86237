//! Storage that fails on purpose: the harness's twins fail through a [`FaultPlan`], and under
//! `wrangler dev` (`[dev] fault_injection = true`) `POST /dev/faults` plans a fault of the real
//! KV or Durable Object bindings, through [`FaultyStore`] and [`FaultyOnce`] (issue 19, item 4).

use async_trait::async_trait;
use std::cell::Cell;

use super::{Family, Marker, NewFamily, NewItem, Once, OnceKey, PortError, Rotation, RotationGrace, Store, Taken};

/// At most one planned fault: the operation after the next `n` fails, once.
#[derive(Debug, Default)]
pub struct FaultPlan(Cell<Option<usize>>);

impl FaultPlan {
    pub fn fail_after(&self, n: usize) {
        self.0.set(Some(n));
    }

    /// Drops the planned fault, if any.
    pub fn clear(&self) {
        self.0.set(None);
    }

    /// Whether the planned fault is still to come.
    pub fn pending(&self) -> bool {
        self.0.get().is_some()
    }

    /// Counts one operation of `store`; fails it if it is the planned one.
    pub fn check(&self, store: &str) -> Result<(), PortError> {
        match self.0.get() {
            Some(0) => {
                self.0.set(None);
                Err(PortError(format!("{store}: injected fault")))
            }
            Some(n) => {
                self.0.set(Some(n - 1));
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// The faults planned through `POST /dev/faults`, kept for the isolate's life.
#[derive(Default)]
pub struct DevFaults {
    pub kv: FaultPlan,
    pub once: FaultPlan,
}

/// `inner`, with the operations counted and failed by `plan`.
pub struct FaultyStore<'a> {
    pub inner: &'a dyn Store,
    pub plan: &'a FaultPlan,
}

const KV: &str = "KV";
const DURABLE_OBJECT: &str = "Durable Object";

#[async_trait(?Send)]
impl Store for FaultyStore<'_> {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        self.plan.check(KV)?;
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), PortError> {
        self.plan.check(KV)?;
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.plan.check(KV)?;
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        self.plan.check(KV)?;
        self.inner.list(prefix).await
    }
    async fn put_with_metadata(&self, key: &str, value: &str, meta: &str, ttl: Option<u64>) -> Result<(), PortError> {
        self.plan.check(KV)?;
        self.inner.put_with_metadata(key, value, meta, ttl).await
    }
    async fn list_metadata(&self, prefix: &str) -> Result<Vec<(String, Option<String>)>, PortError> {
        self.plan.check(KV)?;
        self.inner.list_metadata(prefix).await
    }
}

/// `inner`, with the calls counted and failed by `plan`.
pub struct FaultyOnce<'a> {
    pub inner: &'a dyn Once,
    pub plan: &'a FaultPlan,
}

#[async_trait(?Send)]
impl Once for FaultyOnce<'_> {
    fn time_travel(&self) -> Option<&dyn super::conformance::TimeTravel> {
        self.inner.time_travel()
    }
    async fn put(&self, key: &OnceKey, value: &str, ttl: u64) -> Result<(), PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.put(key, value, ttl).await
    }
    async fn take(&self, key: &OnceKey) -> Result<Taken, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.take(key).await
    }
    async fn claim(&self, key: &OnceKey, owner: &str) -> Result<Option<String>, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.claim(key, owner).await
    }
    async fn unclaim(&self, key: &OnceKey, owner: &str) -> Result<(), PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.unclaim(key, owner).await
    }
    async fn once_then_store(
        &self,
        marker: Option<Marker<'_>>,
        item: Option<NewItem<'_>>,
        family: Option<NewFamily<'_>>,
    ) -> Result<bool, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.once_then_store(marker, item, family).await
    }
    async fn family_rotate_within(
        &self,
        key: &OnceKey,
        presented: &str,
        next: &str,
        grace: RotationGrace,
    ) -> Result<Rotation, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.family_rotate_within(key, presented, next, grace).await
    }
    async fn family_revoke(&self, key: &OnceKey) -> Result<(), PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.family_revoke(key).await
    }
    async fn family_get(&self, key: &OnceKey) -> Result<Option<Family>, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.family_get(key).await
    }
    async fn record_get(&self, key: &OnceKey) -> Result<Option<String>, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.record_get(key).await
    }
    async fn record_swap(&self, key: &OnceKey, expected: Option<&str>, value: &str) -> Result<bool, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.record_swap(key, expected, value).await
    }
    async fn count_use(&self, key: &OnceKey, max: u32, window: u64) -> Result<bool, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.count_use(key, max, window).await
    }
    async fn mark(&self, key: &OnceKey, ttl: u64) -> Result<(), PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.mark(key, ttl).await
    }
    async fn marked(&self, key: &OnceKey) -> Result<bool, PortError> {
        self.plan.check(DURABLE_OBJECT)?;
        self.inner.marked(key).await
    }
}
