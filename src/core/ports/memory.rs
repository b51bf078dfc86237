//! In-memory twins of the ports, with a virtual clock, for native tests and the harness.

pub use super::faulty::FaultPlan;
use super::{
    timed_out, Clock, Family, Http, Marker, NewFamily, NewItem, Once, OnceKey, PortError, Rng, Rotation, RotationGrace,
    Store, Taken, Timeout, REPLAY_WINDOW,
};
use async_trait::async_trait;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// One storage round trip: pending once (and woken at once), as a real binding's call is, so
/// the harness can count how many round trips a request waits for one after another (the
/// pending polls of the request's future) and tests can see which calls are sent together.
#[derive(Default)]
pub struct RoundTrip(bool);

impl std::future::Future for RoundTrip {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// A call as a binding makes it: `call` is made now, when the request is sent, and its answer
/// (or failure) comes a round trip later, so a call sent beside one that fails has still been
/// made, as in the Worker.
pub(super) async fn sent<T>(call: impl FnOnce() -> Result<T, PortError>) -> Result<T, PortError> {
    let answer = call();
    RoundTrip::default().await;
    answer
}

/// A planned lost answer of a twin: its call numbered `at` (in the twin's own count) is made,
/// and its answer lost on the way back (the caller gets an error): a write that landed though
/// its caller cannot know it.
#[derive(Default)]
pub struct LostAnswer(Cell<Option<usize>>);

impl LostAnswer {
    /// Loses the answer of the call that will be numbered `at`.
    pub fn plan(&self, at: usize) {
        self.0.set(Some(at));
    }

    /// Drops the planned lost answer, if any.
    pub fn clear(&self) {
        self.0.set(None);
    }

    /// Whether the planned lost answer is still to come.
    pub fn pending(&self) -> bool {
        self.0.get().is_some()
    }

    /// `call` made as [`sent`] makes it; `number`, read right after, is its number in the
    /// twin's count: its answer is lost if that is the planned one.
    pub(super) async fn made<T>(
        &self,
        store: &str,
        number: impl Fn() -> usize,
        call: impl FnOnce() -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let made_as = Cell::new(0);
        let answer = sent(|| {
            let answer = call();
            made_as.set(number());
            answer
        })
        .await;
        if answer.is_ok() && self.0.get() == Some(made_as.get()) {
            self.clear();
            return Err(PortError(format!("{store}: the call was made, its answer lost")));
        }
        answer
    }
}

/// A clock that only moves when told to.
#[derive(Clone, Default)]
pub struct VirtualClock(Rc<Cell<i64>>);

impl VirtualClock {
    pub fn at(now: i64) -> Self {
        Self(Rc::new(Cell::new(now)))
    }
    pub fn advance(&self, seconds: i64) {
        self.0.set(self.0.get() + seconds);
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> i64 {
        self.0.get()
    }
}

impl super::conformance::TimeTravel for VirtualClock {
    fn pass(&self, seconds: u64) {
        self.advance(seconds as i64);
    }
}

/// KV twin that honours TTLs against a [`VirtualClock`] and counts operations; strongly
/// consistent (`KEYEDGE_KV=strong`). A write is made when it is sent ([`sent`]).
pub struct MemoryStore {
    clock: VirtualClock,
    items: RefCell<HashMap<String, (String, Option<i64>)>>,
    metadata: RefCell<HashMap<String, String>>,
    pub writes: Cell<usize>,
    pub reads: Cell<usize>,
    pub lists: Cell<usize>,
}

impl MemoryStore {
    pub fn new(clock: VirtualClock) -> Self {
        Self {
            clock,
            items: RefCell::default(),
            metadata: RefCell::default(),
            writes: Cell::new(0),
            reads: Cell::new(0),
            lists: Cell::new(0),
        }
    }
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.items.borrow().keys().cloned().collect();
        keys.sort();
        keys
    }
}

#[async_trait(?Send)]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        RoundTrip::default().await;
        self.reads.set(self.reads.get() + 1);
        let now = self.clock.now();
        Ok(self.items.borrow().get(key).filter(|(_, exp)| exp.is_none_or(|e| e > now)).map(|(v, _)| v.clone()))
    }
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), PortError> {
        sent(|| {
            self.writes.set(self.writes.get() + 1);
            let exp = ttl.map(|t| self.clock.now() + t.max(60) as i64);
            self.items.borrow_mut().insert(key.to_owned(), (value.to_owned(), exp));
            self.metadata.borrow_mut().remove(key);
            Ok(())
        })
        .await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        sent(|| {
            self.writes.set(self.writes.get() + 1);
            self.items.borrow_mut().remove(key);
            self.metadata.borrow_mut().remove(key);
            Ok(())
        })
        .await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        RoundTrip::default().await;
        self.lists.set(self.lists.get() + 1);
        let now = self.clock.now();
        let mut keys: Vec<String> = self
            .items
            .borrow()
            .iter()
            .filter(|(k, (_, exp))| k.starts_with(prefix) && exp.is_none_or(|e| e > now))
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys.truncate(1000);
        Ok(keys)
    }
    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        metadata: &str,
        ttl: Option<u64>,
    ) -> Result<(), PortError> {
        self.put(key, value, ttl).await?;
        self.metadata.borrow_mut().insert(key.to_owned(), metadata.to_owned());
        Ok(())
    }
    async fn list_metadata(&self, prefix: &str) -> Result<Vec<(String, Option<String>)>, PortError> {
        let keys = self.list(prefix).await?;
        let metadata = self.metadata.borrow();
        Ok(keys.into_iter().map(|k| (k.clone(), metadata.get(&k).cloned())).collect())
    }
}

struct OnceItem {
    value: String,
    expires_at: i64,
    consumed: bool,
}

/// Durable Object twin: single-use items and claims, atomic because the harness is
/// single-threaded, exactly as a Durable Object is.
pub struct MemoryOnce {
    clock: VirtualClock,
    items: RefCell<HashMap<OnceKey, OnceItem>>,
    claims: RefCell<HashMap<OnceKey, String>>,
    families: RefCell<HashMap<OnceKey, FamilyRow>>,
    records: RefCell<HashMap<OnceKey, String>>,
    pub calls: Cell<usize>,
    /// The calls among [`MemoryOnce::calls`] that only read (`family_get`, `record_get`,
    /// `marked`): `make bench` has its floor make as many reads and writes as keyedge does.
    pub reads: Cell<usize>,
    /// Fault injection (`fail_after`).
    faults: FaultPlan,
    /// A call made but whose answer is lost (`lose_answer_after`), numbered in
    /// [`MemoryOnce::calls`].
    lost_answer: LostAnswer,
    /// [`Once::count_use`] counters: key → (uses, end of the window).
    counters: RefCell<HashMap<OnceKey, (u32, i64)>>,
    /// [`Once::mark`]s: key → marked until.
    marks: RefCell<HashMap<OnceKey, i64>>,
}

struct FamilyRow {
    value: String,
    current: String,
    previous: Vec<String>,
    revoked: bool,
    expires_at: i64,
    /// When `current` replaced the last of `previous`.
    rotated_at: i64,
    /// Late repeats of the last of `previous` (see [`RotationGrace`]).
    late_repeats: u32,
}

impl MemoryOnce {
    /// Fault injection: the call after the next `n` fails (as a Durable Object outage would),
    /// once.
    pub fn fail_after(&self, n: usize) {
        self.faults.fail_after(n);
    }

    /// Whether an injected fault (refused or lost answer) is still to come.
    pub fn fault_pending(&self) -> bool {
        self.faults.pending() || self.lost_answer.pending()
    }

    /// Fault injection: the call after the next `n` is made, but its answer is lost on the way
    /// back (the caller gets an error), once: a write that landed though its caller cannot
    /// know it.
    pub fn lose_answer_after(&self, n: usize) {
        self.lost_answer.plan(self.calls.get() + n + 1);
    }

    /// Drops a planned lost answer, if any.
    pub fn keep_answers(&self) {
        self.lost_answer.clear();
    }

    /// A call made as [`sent`] makes it, whose answer is lost if it is the call
    /// [`MemoryOnce::lose_answer_after`] names.
    async fn made<T>(&self, call: impl FnOnce() -> Result<T, PortError>) -> Result<T, PortError> {
        self.lost_answer.made("Durable Object", || self.calls.get(), call).await
    }

    /// The keys of the single-use items held (consumed ones too), for tests to inspect.
    pub fn item_keys(&self) -> Vec<String> {
        self.items.borrow().keys().map(|k| k.as_str().to_owned()).collect()
    }

    /// Counts a call, and fails it if it is the injected fault.
    fn enter(&self) -> Result<(), PortError> {
        self.calls.set(self.calls.get() + 1);
        self.faults.check("Durable Object")
    }

    /// [`MemoryOnce::enter`] for a call that only reads.
    fn enter_read(&self) -> Result<(), PortError> {
        self.reads.set(self.reads.get() + 1);
        self.enter()
    }

    pub fn new(clock: VirtualClock) -> Self {
        Self {
            clock,
            items: RefCell::default(),
            claims: RefCell::default(),
            families: RefCell::default(),
            records: RefCell::default(),
            calls: Cell::new(0),
            reads: Cell::new(0),
            counters: RefCell::default(),
            marks: RefCell::default(),
            faults: FaultPlan::default(),
            lost_answer: LostAnswer::default(),
        }
    }
}

/// Every call is made when it is sent, and its answer (or its injected failure, which applies
/// nothing) comes a round trip later, as with the Worker's binding: a call sent together with
/// one that fails has still been made, though nobody awaits its answer. (KV's twin,
/// [`super::kv_model::KvModel`], writes the same way.)
#[async_trait(?Send)]
impl Once for MemoryOnce {
    async fn put(&self, key: &OnceKey, value: &str, ttl: u64) -> Result<(), PortError> {
        self.made(|| {
            self.enter()?;
            let item = OnceItem { value: value.to_owned(), expires_at: self.clock.now() + ttl as i64, consumed: false };
            self.items.borrow_mut().insert(key.clone(), item);
            Ok(())
        })
        .await
    }
    async fn take(&self, key: &OnceKey) -> Result<Taken, PortError> {
        self.made(|| {
            self.enter()?;
            let now = self.clock.now();
            let mut items = self.items.borrow_mut();
            Ok(match items.get_mut(key) {
                Some(item) if item.expires_at <= now => Taken::Missing,
                Some(item) if item.consumed => Taken::Replayed(item.value.clone()),
                Some(item) => {
                    item.consumed = true;
                    item.expires_at = now + REPLAY_WINDOW as i64;
                    Taken::Fresh(item.value.clone())
                }
                None => Taken::Missing,
            })
        })
        .await
    }
    async fn claim(&self, key: &OnceKey, owner: &str) -> Result<Option<String>, PortError> {
        self.made(|| {
            self.enter()?;
            let mut claims = self.claims.borrow_mut();
            if let Some(existing) = claims.get(key) {
                return Ok(Some(existing.clone()));
            }
            claims.insert(key.clone(), owner.to_owned());
            Ok(None)
        })
        .await
    }
    async fn unclaim(&self, key: &OnceKey, owner: &str) -> Result<(), PortError> {
        self.made(|| {
            self.enter()?;
            let mut claims = self.claims.borrow_mut();
            if claims.get(key).is_some_and(|o| o == owner) {
                claims.remove(key);
            }
            Ok(())
        })
        .await
    }
    async fn once_then_store(
        &self,
        marker: Option<Marker<'_>>,
        item: Option<NewItem<'_>>,
        family: Option<NewFamily<'_>>,
    ) -> Result<bool, PortError> {
        self.made(|| {
            super::once_then_store_key(marker, item, family)?;
            self.enter()?;
            let now = self.clock.now();
            let mut items = self.items.borrow_mut();
            if let Some(m) = marker {
                if items.get(m.key).is_some_and(|held| held.expires_at > now) {
                    return Ok(false);
                }
                let used = OnceItem { value: String::new(), expires_at: now + m.ttl_seconds as i64, consumed: true };
                items.insert(m.key.clone(), used);
            }
            if let Some(i) = item {
                let stored =
                    OnceItem { value: i.value.to_owned(), expires_at: now + i.ttl_seconds as i64, consumed: false };
                items.insert(i.key.clone(), stored);
            }
            if let Some(f) = family {
                let row = FamilyRow {
                    value: f.value.to_owned(),
                    current: f.current.to_owned(),
                    previous: Vec::new(),
                    revoked: false,
                    expires_at: now + f.ttl_seconds as i64,
                    rotated_at: now,
                    late_repeats: 0,
                };
                self.families.borrow_mut().insert(f.key.clone(), row);
            }
            Ok(true)
        })
        .await
    }
    async fn family_rotate_within(
        &self,
        key: &OnceKey,
        presented: &str,
        next: &str,
        grace: RotationGrace,
    ) -> Result<Rotation, PortError> {
        self.made(|| {
            self.enter()?;
            let now = self.clock.now();
            let mut families = self.families.borrow_mut();
            let Some(row) = families.get_mut(key).filter(|r| r.expires_at > now) else {
                return Ok(Rotation::Missing);
            };
            Ok(if row.revoked {
                Rotation::Refused
            } else if row.current == presented {
                let old = std::mem::replace(&mut row.current, next.to_owned());
                row.previous.push(old);
                if row.previous.len() > super::ROTATED_OUT_KEPT {
                    row.previous.remove(0);
                }
                row.rotated_at = now;
                row.late_repeats = 0;
                Rotation::Rotated(row.value.clone())
            } else if let Some(late) = (row.previous.last().is_some_and(|p| p == presented) && row.current == next)
                .then(|| grace.allows(now - row.rotated_at, row.late_repeats))
                .flatten()
            {
                row.late_repeats += u32::from(late);
                Rotation::Repeated(row.value.clone())
            } else if row.previous.iter().any(|p| p == presented) {
                row.revoked = true;
                Rotation::Reused(row.value.clone())
            } else {
                Rotation::Refused
            })
        })
        .await
    }
    async fn family_revoke(&self, key: &OnceKey) -> Result<(), PortError> {
        self.made(|| {
            self.enter()?;
            if let Some(row) = self.families.borrow_mut().get_mut(key) {
                row.revoked = true;
            }
            Ok(())
        })
        .await
    }
    async fn family_get(&self, key: &OnceKey) -> Result<Option<Family>, PortError> {
        self.made(|| {
            self.enter_read()?;
            let now = self.clock.now();
            Ok(self.families.borrow().get(key).filter(|r| r.expires_at > now).map(|r| Family {
                value: r.value.clone(),
                current: r.current.clone(),
                revoked: r.revoked,
            }))
        })
        .await
    }
    async fn record_get(&self, key: &OnceKey) -> Result<Option<String>, PortError> {
        self.made(|| {
            self.enter_read()?;
            Ok(self.records.borrow().get(key).cloned())
        })
        .await
    }
    async fn record_swap(&self, key: &OnceKey, expected: Option<&str>, value: &str) -> Result<bool, PortError> {
        self.made(|| {
            self.enter()?;
            let mut records = self.records.borrow_mut();
            if records.get(key).map(String::as_str) != expected {
                return Ok(false);
            }
            records.insert(key.clone(), value.to_owned());
            Ok(true)
        })
        .await
    }
    async fn count_use(&self, key: &OnceKey, max: u32, window_seconds: u64) -> Result<bool, PortError> {
        self.made(|| {
            self.enter()?;
            let now = self.clock.now();
            let mut counters = self.counters.borrow_mut();
            let counter = counters.entry(key.clone()).or_insert((0, now + window_seconds as i64));
            if counter.1 <= now {
                *counter = (0, now + window_seconds as i64);
            }
            if counter.0 >= max {
                return Ok(false);
            }
            counter.0 += 1;
            Ok(true)
        })
        .await
    }
    async fn mark(&self, key: &OnceKey, ttl_seconds: u64) -> Result<(), PortError> {
        self.made(|| {
            self.enter()?;
            self.marks.borrow_mut().insert(key.clone(), self.clock.now() + ttl_seconds as i64);
            Ok(())
        })
        .await
    }
    async fn marked(&self, key: &OnceKey) -> Result<bool, PortError> {
        self.made(|| {
            self.enter_read()?;
            Ok(self.marks.borrow().get(key).is_some_and(|until| *until > self.clock.now()))
        })
        .await
    }
}

/// A deterministic random source for tests (a counter run through SHA-256).
pub struct SeededRng(Cell<u64>);

impl SeededRng {
    pub fn new(seed: u64) -> Self {
        Self(Cell::new(seed))
    }
}

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buf.chunks_mut(32) {
            let n = self.0.get();
            self.0.set(n + 1);
            let block = Sha256::digest(n.to_le_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

type Handler = Box<dyn Fn(http::Request<Vec<u8>>) -> http::Response<Vec<u8>>>;

/// Routes outbound requests by `scheme://host[:port]` to in-process handlers.
#[derive(Default)]
pub struct MemoryHttp {
    hosts: RefCell<HashMap<String, Rc<Handler>>>,
    /// Seconds a host takes to answer (none: at once).
    delays: RefCell<HashMap<String, u64>>,
    /// URLs (by prefix) that cannot be reached.
    down: RefCell<Vec<String>>,
    pub log: RefCell<Vec<String>>,
}

impl MemoryHttp {
    pub fn mount(&self, origin: &str, handler: impl Fn(http::Request<Vec<u8>>) -> http::Response<Vec<u8>> + 'static) {
        self.hosts.borrow_mut().insert(origin.trim_end_matches('/').to_owned(), Rc::new(Box::new(handler)));
    }

    /// Makes `origin` answer after `seconds` (0: at once): a request whose [`Timeout`] is
    /// shorter fails as it would at the edge; one without a timeout waits for the answer.
    pub fn delay(&self, origin: &str, seconds: u64) {
        self.delays.borrow_mut().insert(origin.trim_end_matches('/').to_owned(), seconds);
    }

    /// Makes every URL that starts with `prefix` unreachable (`false`: reachable again).
    pub fn set_down(&self, prefix: &str, down: bool) {
        let mut list = self.down.borrow_mut();
        list.retain(|p| p != prefix);
        if down {
            list.push(prefix.to_owned());
        }
    }
}

#[async_trait(?Send)]
impl Http for MemoryHttp {
    async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, PortError> {
        let uri = request.uri();
        let origin = match (uri.scheme_str(), uri.authority()) {
            (Some(s), Some(a)) => format!("{s}://{a}"),
            _ => return Err(PortError(format!("not an absolute URL: {uri}"))),
        };
        self.log.borrow_mut().push(format!("{} {}", request.method(), uri));
        let url = uri.to_string();
        if self.down.borrow().iter().any(|prefix| url.starts_with(prefix.as_str())) {
            return Err(PortError(format!("connection refused: {origin}")));
        }
        let delay = self.delays.borrow().get(&origin).copied().unwrap_or(0);
        if let Some(Timeout(seconds)) = request.extensions().get::<Timeout>().copied() {
            if delay > seconds {
                return Err(timed_out(seconds));
            }
        }
        let handler = self.hosts.borrow().get(&origin).cloned();
        match handler {
            Some(h) => Ok(h(request)),
            None => Err(PortError(format!("connection refused: {origin}"))),
        }
    }
}
