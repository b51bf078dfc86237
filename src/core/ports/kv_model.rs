//! Workers KV as it behaves on the real platform, for the native harness: one store seen from
//! several locations, each through its own cache.
//!
//! What the model keeps from Cloudflare's documentation ("How KV works", "Limits"):
//! - A write is visible at once at the location that made it; another location that read the
//!   key before keeps serving what it read (a missing key too) until its cached copy is older
//!   than the staleness bound (`cacheTtl`, 60 s by default and at least), then reads afresh.
//! - One write per second to a key: a second write to it within the same second fails (429).
//!   Virtual time stands still between a test's requests, which stand for steps a person takes
//!   seconds apart; so the limit counts the writes of one request, and of requests the harness
//!   runs at once (it calls [`KvModel::next_request`] before each request it runs alone).
//! - `list` is answered from the central store (it, too, is eventually consistent on the real
//!   platform; nothing keyedge decides rests on a list).
//!
//! With a staleness of 0 and the write limit off it is the strongly consistent twin
//! ([`MemoryStore`](super::memory::MemoryStore)'s behaviour), so one suite runs against both.

use super::memory::{FaultPlan, LostAnswer, RoundTrip, VirtualClock};
use super::{Clock, PortError, Store};
use async_trait::async_trait;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// KV's documented bound on how long another location may serve an older value.
pub const KV_STALENESS: i64 = 60;

#[derive(Clone)]
struct Entry {
    value: String,
    expires_at: Option<i64>,
    metadata: Option<String>,
}

/// What a location read, and when.
struct Cached {
    entry: Option<Entry>,
    read_at: i64,
}

/// The KV model: a central store, a cache per location, the location requests are served at.
/// A write is made when it is sent and answered a round trip later, as the binding does (its
/// injected failure writes nothing): a write sent together with one that fails has still been
/// made.
pub struct KvModel {
    clock: VirtualClock,
    origin: RefCell<HashMap<String, Entry>>,
    caches: RefCell<HashMap<String, HashMap<String, Cached>>>,
    here: RefCell<String>,
    staleness: Cell<i64>,
    write_limit: Cell<bool>,
    last_write: RefCell<HashMap<String, (u64, i64)>>,
    request: Cell<u64>,
    /// Fault injection (`fail_after`).
    faults: FaultPlan,
    /// A write made but whose answer is lost (`lose_write_answer_after`), numbered in
    /// [`KvModel::writes`].
    lost_answer: LostAnswer,
    pub writes: Cell<usize>,
    pub reads: Cell<usize>,
    pub lists: Cell<usize>,
}

impl KvModel {
    /// One location (`"home"`), KV's staleness bound and write limit.
    pub fn new(clock: VirtualClock) -> Self {
        KvModel {
            clock,
            origin: RefCell::default(),
            caches: RefCell::default(),
            here: RefCell::new("home".into()),
            staleness: Cell::new(KV_STALENESS),
            write_limit: Cell::new(true),
            last_write: RefCell::default(),
            request: Cell::new(0),
            faults: FaultPlan::default(),
            lost_answer: LostAnswer::default(),
            writes: Cell::new(0),
            reads: Cell::new(0),
            lists: Cell::new(0),
        }
    }

    /// The strongly consistent twin: every read sees the last write, any number of writes.
    pub fn strong(clock: VirtualClock) -> Self {
        let kv = KvModel::new(clock);
        kv.staleness.set(0);
        kv.write_limit.set(false);
        kv
    }

    /// A request begins that runs after the earlier ones, not at the same time: its writes do
    /// not count against theirs.
    pub fn next_request(&self) {
        self.request.set(self.request.get() + 1);
    }

    /// Fault injection: the operation after the next `n` fails (as a KV outage would), once.
    pub fn fail_after(&self, n: usize) {
        self.faults.fail_after(n);
    }

    /// Whether an injected fault (refused or lost answer) is still to come.
    pub fn fault_pending(&self) -> bool {
        self.faults.pending() || self.lost_answer.pending()
    }

    /// Fault injection: the write after the next `n` is made, but its answer is lost on the
    /// way back (the caller gets an error), once.
    pub fn lose_write_answer_after(&self, n: usize) {
        self.lost_answer.plan(self.writes.get() + n + 1);
    }

    /// Drops a planned lost answer, if any.
    pub fn keep_answers(&self) {
        self.lost_answer.clear();
    }

    /// A write made as [`super::memory::sent`] makes it, whose answer is lost if it is the one
    /// [`KvModel::lose_write_answer_after`] names.
    async fn written(&self, write: impl FnOnce() -> Result<(), PortError>) -> Result<(), PortError> {
        self.lost_answer.made("KV", || self.writes.get(), write).await
    }

    fn fault(&self) -> Result<(), PortError> {
        self.faults.check("KV")
    }

    /// Serves the following requests at `location`.
    pub fn move_to(&self, location: &str) {
        *self.here.borrow_mut() = location.to_owned();
    }

    pub fn location(&self) -> String {
        self.here.borrow().clone()
    }

    pub fn set_staleness(&self, seconds: i64) {
        self.staleness.set(seconds);
    }

    pub fn set_write_limit(&self, on: bool) {
        self.write_limit.set(on);
    }

    /// The keys of the central store that have not expired, sorted.
    pub fn keys(&self) -> Vec<String> {
        let now = self.clock.now();
        let mut keys: Vec<String> =
            self.origin.borrow().iter().filter(|(_, e)| live(e, now)).map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys
    }

    /// The central store's value of `key`, as every location sees it once caches expire.
    pub fn settled(&self, key: &str) -> Option<String> {
        let now = self.clock.now();
        self.origin.borrow().get(key).filter(|e| live(e, now)).map(|e| e.value.clone())
    }

    fn write(&self, key: &str, entry: Option<Entry>) -> Result<(), PortError> {
        let now = self.clock.now();
        let this = (self.request.get(), now);
        if self.write_limit.get() && self.last_write.borrow().get(key) == Some(&this) {
            return Err(PortError(format!("KV 429: more than one write to {key} in a second")));
        }
        self.last_write.borrow_mut().insert(key.to_owned(), this);
        self.writes.set(self.writes.get() + 1);
        match &entry {
            Some(e) => self.origin.borrow_mut().insert(key.to_owned(), e.clone()),
            None => self.origin.borrow_mut().remove(key),
        };
        let here = self.location();
        self.caches.borrow_mut().entry(here).or_default().insert(key.to_owned(), Cached { entry, read_at: now });
        Ok(())
    }
}

fn live(e: &Entry, now: i64) -> bool {
    e.expires_at.is_none_or(|x| x > now)
}

#[async_trait(?Send)]
impl Store for KvModel {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        RoundTrip::default().await;
        self.fault()?;
        self.reads.set(self.reads.get() + 1);
        let now = self.clock.now();
        let here = self.location();
        let mut caches = self.caches.borrow_mut();
        let cache = caches.entry(here).or_default();
        let fresh = cache.get(key).is_some_and(|c| now - c.read_at < self.staleness.get());
        if !fresh {
            let entry = self.origin.borrow().get(key).cloned();
            cache.insert(key.to_owned(), Cached { entry, read_at: now });
        }
        Ok(cache.get(key).and_then(|c| c.entry.as_ref()).filter(|e| live(e, now)).map(|e| e.value.clone()))
    }

    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), PortError> {
        self.written(|| {
            self.fault()?;
            let expires_at = ttl.map(|t| self.clock.now() + t.max(60) as i64);
            self.write(key, Some(Entry { value: value.to_owned(), expires_at, metadata: None }))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.written(|| {
            self.fault()?;
            self.write(key, None)
        })
        .await
    }

    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        metadata: &str,
        ttl: Option<u64>,
    ) -> Result<(), PortError> {
        self.written(|| {
            self.fault()?;
            let expires_at = ttl.map(|t| self.clock.now() + t.max(60) as i64);
            self.write(key, Some(Entry { value: value.to_owned(), expires_at, metadata: Some(metadata.to_owned()) }))
        })
        .await
    }

    async fn list_metadata(&self, prefix: &str) -> Result<Vec<(String, Option<String>)>, PortError> {
        let keys = self.list(prefix).await?;
        let origin = self.origin.borrow();
        Ok(keys.into_iter().map(|k| (k.clone(), origin.get(&k).and_then(|e| e.metadata.clone()))).collect())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        RoundTrip::default().await;
        self.fault()?;
        self.lists.set(self.lists.get() + 1);
        let mut keys: Vec<String> = self.keys().into_iter().filter(|k| k.starts_with(prefix)).collect();
        keys.truncate(1000);
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    fn model() -> (VirtualClock, KvModel) {
        let clock = VirtualClock::at(1_000);
        (clock.clone(), KvModel::new(clock))
    }

    #[test]
    fn a_write_is_seen_at_once_where_it_was_made_and_within_the_bound_elsewhere() {
        let (clock, kv) = model();
        block_on(kv.put("k", "v1", None)).unwrap();
        kv.move_to("fra");
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("v1"));
        kv.move_to("home");
        clock.advance(1);
        block_on(kv.put("k", "v2", None)).unwrap();
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("v2"), "read your own write");
        kv.move_to("fra");
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("v1"), "fra serves what it read");
        clock.advance(KV_STALENESS - 2);
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("v1"), "still within the bound");
        clock.advance(1);
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("v2"), "the bound has passed");
    }

    #[test]
    fn a_delete_and_a_miss_are_cached_too() {
        let (clock, kv) = model();
        kv.move_to("fra");
        assert_eq!(block_on(kv.get("k")).unwrap(), None);
        kv.move_to("home");
        block_on(kv.put("k", "v", None)).unwrap();
        kv.move_to("fra");
        assert_eq!(block_on(kv.get("k")).unwrap(), None, "fra cached the miss");
        clock.advance(KV_STALENESS);
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("v"));
        kv.move_to("home");
        block_on(kv.delete("k")).unwrap();
        kv.move_to("fra");
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("v"), "a delete takes the bound to arrive");
    }

    #[test]
    fn one_write_per_second_to_a_key() {
        let (clock, kv) = model();
        block_on(kv.put("k", "1", None)).unwrap();
        assert!(block_on(kv.put("k", "2", None)).is_err());
        assert!(block_on(kv.delete("k")).is_err());
        block_on(kv.put("other", "1", None)).unwrap();
        clock.advance(1);
        block_on(kv.put("k", "3", None)).unwrap();
        assert_eq!(kv.settled("k").as_deref(), Some("3"));
        kv.next_request();
        block_on(kv.put("k", "4", None)).unwrap();
        assert!(block_on(kv.put("k", "5", None)).is_err(), "within one request");
    }

    #[test]
    fn the_strong_twin_reads_every_write_everywhere() {
        let clock = VirtualClock::at(1_000);
        let kv = KvModel::strong(clock);
        kv.move_to("fra");
        assert_eq!(block_on(kv.get("k")).unwrap(), None);
        kv.move_to("home");
        block_on(kv.put("k", "1", None)).unwrap();
        block_on(kv.put("k", "2", None)).unwrap();
        kv.move_to("fra");
        assert_eq!(block_on(kv.get("k")).unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn entries_expire_at_every_location() {
        let (clock, kv) = model();
        block_on(kv.put("k", "v", Some(60))).unwrap();
        clock.advance(61);
        assert_eq!(block_on(kv.get("k")).unwrap(), None);
        assert!(kv.keys().is_empty());
    }
}
