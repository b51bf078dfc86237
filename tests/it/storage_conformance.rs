//! The storage conformance suite (`keyedge::core::ports::conformance`) against the in-memory
//! twins on the harness's virtual clock; against twins broken on purpose, one property at a
//! time, each caught by the check of that property (so every check can fail); and the
//! dev-only `POST /dev/conformance` that runs it against the Worker's bindings
//! (`tests/e2e/storage_conformance.test.mjs` runs that one under `wrangler dev`).

use crate::common::*;
use keyedge::core::ports::conformance::{self, Report, Subject, TimeTravel};
use keyedge::core::ports::memory::{MemoryOnce, MemoryStore, SeededRng, VirtualClock};
use keyedge::core::ports::{
    Family, Marker, NewFamily, NewItem, Once, OnceKey, PortError, Rotation, RotationGrace, Store, Taken,
};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};

fn run(once: &dyn Once, store: &dyn Store, rng: &SeededRng, clock: Option<&VirtualClock>) -> Report {
    let clock = clock.map(|c| c as &dyn TimeTravel);
    let subject = Subject { once, store, rng, once_clock: clock, store_clock: clock };
    futures::executor::block_on(conformance::run(&subject))
}

/// The checks that need time to pass, of the Durable Object and of KV, in the suite's order.
static ONCE_TIMED: [&str; 7] = [
    "items_expire_after_their_ttl",
    "redeemed_items_are_remembered_for_the_replay_window",
    "marker_is_free_again_after_its_ttl",
    "families_expire",
    "family_grace_window_closes",
    "count_use_window_reopens",
    "marks_expire_and_marking_again_extends",
];
static KV_TIMED: [&str; 2] = ["kv_entries_expire_after_their_ttl", "kv_ttl_is_at_least_a_minute"];

fn timed() -> Vec<&'static str> {
    ONCE_TIMED.iter().chain(&KV_TIMED).copied().collect()
}

#[test]
fn the_memory_twins_pass_every_check() {
    let clock = VirtualClock::at(START);
    let (once, store) = (MemoryOnce::new(clock.clone()), MemoryStore::new(clock.clone()));
    let rng = SeededRng::new(1);
    let report = run(&once, &store, &rng, Some(&clock));
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    for timed in timed() {
        assert!(report.passed.contains(&timed), "{timed} ran");
    }
    assert!(report.passed.len() > timed().len(), "{:?}", report.passed);
    // Fresh prefixes: the suite passes again on the stores it has written to.
    let again = run(&once, &store, &rng, Some(&clock));
    assert!(again.failed.is_empty(), "second run: {:#?}", again.failed);
    assert_eq!(again.passed, report.passed);
}

#[test]
fn without_a_clock_the_timed_checks_are_skipped() {
    let clock = VirtualClock::at(START);
    let rng = SeededRng::new(1);
    let report = run(&MemoryOnce::new(clock.clone()), &MemoryStore::new(clock.clone()), &rng, None);
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert_eq!(report.skipped, timed());
    assert!(!report.passed.is_empty() && report.passed.iter().all(|p| !timed().contains(p)));
}

/// A property of the stores, broken on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    TakeNeverReplays,
    TakeInventsItems,
    PutKeepsTheFirst,
    ClaimLastWins,
    UnclaimByAnyone,
    DropsTheFamily,
    MarkerIgnored,
    StoresDespiteTheMarker,
    WithoutMarkerStoresNothing,
    NoRouteCheck,
    ReuseNotDetected,
    ForeignSecretRevokes,
    RevokeIgnored,
    MissingIsRefused,
    RemembersEverySecret,
    GraceIgnored,
    RepeatsAnyRotatedOut,
    AlwaysGrace,
    ReuseBudgetUnlimited,
    GraceNeverCloses,
    NoneOverwrites,
    SwapIgnoresExpected,
    CountUnlimited,
    OneCounter,
    MarkIgnored,
    MarksShared,
    MarkKeepsTheFirstEnd,
    OnceClockStopped,
    KvDeleteIgnored,
    KvPutKeepsTheFirst,
    KvListIgnoresPrefix,
    KvMetadataDropped,
    KvStoreClockStopped,
    KvShortTtlKept,
}

/// Each fault, and the checks that must fail when it breaks the stores.
static FAULTS: &[(Fault, &[&str])] = {
    use Fault::*;
    &[
        (TakeNeverReplays, &["take_is_fresh_once_then_replayed"]),
        (TakeInventsItems, &["take_of_an_unknown_key_is_missing"]),
        (PutKeepsTheFirst, &["put_replaces_an_unredeemed_item"]),
        (ClaimLastWins, &["claim_first_owner_wins"]),
        (UnclaimByAnyone, &["unclaim_releases_only_for_the_owner"]),
        (DropsTheFamily, &["once_then_store_writes_marker_item_and_family"]),
        (MarkerIgnored, &["once_then_store_marker_is_single_use"]),
        (StoresDespiteTheMarker, &["once_then_store_writes_nothing_once_the_marker_is_used"]),
        (WithoutMarkerStoresNothing, &["once_then_store_without_marker_always_stores"]),
        (NoRouteCheck, &["once_then_store_refuses_keys_of_two_objects"]),
        (ReuseNotDetected, &["family_rotates_and_is_revoked_on_reuse"]),
        (ForeignSecretRevokes, &["family_refuses_a_secret_it_never_had"]),
        (RevokeIgnored, &["family_revoke_stops_rotation"]),
        (MissingIsRefused, &["family_that_does_not_exist_is_missing"]),
        (RemembersEverySecret, &["family_forgets_the_oldest_rotated_out_secrets"]),
        (
            GraceIgnored,
            &[
                "family_repeats_the_last_rotation_within_grace",
                "family_repeats_up_to_max_reuse",
                "family_grace_window_closes",
            ],
        ),
        (RepeatsAnyRotatedOut, &["family_repeat_needs_the_current_successor"]),
        (AlwaysGrace, &["family_without_grace_is_strict"]),
        (ReuseBudgetUnlimited, &["family_repeats_up_to_max_reuse"]),
        (GraceNeverCloses, &["family_grace_window_closes"]),
        (NoneOverwrites, &["record_swap_with_none_only_creates"]),
        (SwapIgnoresExpected, &["record_swap_needs_the_current_value"]),
        (CountUnlimited, &["count_use_stops_at_max"]),
        (OneCounter, &["count_use_counts_each_key_apart"]),
        (MarkIgnored, &["marks_are_seen_and_only_where_made", "marks_expire_and_marking_again_extends"]),
        (MarksShared, &["marks_are_seen_and_only_where_made"]),
        (MarkKeepsTheFirstEnd, &["marks_expire_and_marking_again_extends"]),
        (OnceClockStopped, &ONCE_TIMED),
        (KvDeleteIgnored, &["kv_get_put_delete"]),
        (KvPutKeepsTheFirst, &["kv_get_put_delete"]),
        (KvListIgnoresPrefix, &["kv_list_finds_keys_by_prefix"]),
        (KvMetadataDropped, &["kv_list_returns_each_keys_metadata"]),
        (KvStoreClockStopped, &KV_TIMED),
        (KvShortTtlKept, &["kv_ttl_is_at_least_a_minute"]),
    ]
};

/// The memory twin of the Durable Object with `fault` (if it is one of the object's).
struct BrokenOnce {
    inner: MemoryOnce,
    fault: Fault,
    /// Keys put so far (`PutKeepsTheFirst`).
    put: RefCell<HashSet<OnceKey>>,
    /// Every secret rotated out of each family (`RemembersEverySecret`).
    rotated_out: RefCell<HashMap<OnceKey, Vec<String>>>,
}

#[async_trait::async_trait(?Send)]
impl Once for BrokenOnce {
    async fn put(&self, key: &OnceKey, value: &str, ttl: u64) -> Result<(), PortError> {
        if self.fault == Fault::PutKeepsTheFirst && !self.put.borrow_mut().insert(key.clone()) {
            return Ok(());
        }
        self.inner.put(key, value, ttl).await
    }
    async fn take(&self, key: &OnceKey) -> Result<Taken, PortError> {
        Ok(match (self.fault, self.inner.take(key).await?) {
            (Fault::TakeNeverReplays, Taken::Replayed(v)) => Taken::Fresh(v),
            (Fault::TakeInventsItems, Taken::Missing) => Taken::Fresh(String::new()),
            (_, taken) => taken,
        })
    }
    async fn claim(&self, key: &OnceKey, owner: &str) -> Result<Option<String>, PortError> {
        match (self.fault, self.inner.claim(key, owner).await?) {
            (Fault::ClaimLastWins, Some(held)) => {
                self.inner.unclaim(key, &held).await?;
                self.inner.claim(key, owner).await
            }
            (_, claimed) => Ok(claimed),
        }
    }
    async fn unclaim(&self, key: &OnceKey, owner: &str) -> Result<(), PortError> {
        if self.fault == Fault::UnclaimByAnyone {
            let holder = self.inner.claim(key, owner).await?.unwrap_or_else(|| owner.to_owned());
            return self.inner.unclaim(key, &holder).await;
        }
        self.inner.unclaim(key, owner).await
    }
    async fn once_then_store(
        &self,
        marker: Option<Marker<'_>>,
        item: Option<NewItem<'_>>,
        family: Option<NewFamily<'_>>,
    ) -> Result<bool, PortError> {
        let once = &self.inner;
        match self.fault {
            Fault::DropsTheFamily => once.once_then_store(marker, item, None).await,
            Fault::MarkerIgnored => once.once_then_store(None, item, family).await,
            Fault::StoresDespiteTheMarker => {
                once.once_then_store(None, item, family).await?;
                once.once_then_store(marker, None, None).await
            }
            Fault::WithoutMarkerStoresNothing if marker.is_none() => Ok(true),
            Fault::NoRouteCheck => {
                if !once.once_then_store(marker, None, None).await? {
                    return Ok(false);
                }
                once.once_then_store(None, item, None).await?;
                once.once_then_store(None, None, family).await
            }
            _ => once.once_then_store(marker, item, family).await,
        }
    }
    async fn family_rotate_within(
        &self,
        key: &OnceKey,
        presented: &str,
        next: &str,
        grace: RotationGrace,
    ) -> Result<Rotation, PortError> {
        let grace = match self.fault {
            Fault::GraceIgnored => RotationGrace::STRICT,
            Fault::AlwaysGrace => RotationGrace { seconds: 60, ..grace },
            Fault::ReuseBudgetUnlimited => RotationGrace { max_reuse: u32::MAX, ..grace },
            Fault::GraceNeverCloses if grace.seconds > 0 => RotationGrace { seconds: 1_000_000, ..grace },
            _ => grace,
        };
        if self.fault == Fault::RepeatsAnyRotatedOut && grace != RotationGrace::STRICT {
            if let Some(f) = self.inner.family_get(key).await?.filter(|f| !f.revoked && f.current != presented) {
                return Ok(Rotation::Repeated(f.value));
            }
        }
        let rotation = self.inner.family_rotate_within(key, presented, next, grace).await?;
        let remembered = || self.rotated_out.borrow().get(key).is_some_and(|s| s.iter().any(|s| s == presented));
        Ok(match (self.fault, rotation) {
            (Fault::ReuseNotDetected, Rotation::Reused(_)) => Rotation::Refused,
            (Fault::MissingIsRefused, Rotation::Missing) => Rotation::Refused,
            (Fault::ForeignSecretRevokes, Rotation::Refused) => {
                self.inner.family_revoke(key).await?;
                Rotation::Refused
            }
            (Fault::RemembersEverySecret, Rotation::Rotated(value)) => {
                self.rotated_out.borrow_mut().entry(key.clone()).or_default().push(presented.to_owned());
                Rotation::Rotated(value)
            }
            (Fault::RemembersEverySecret, Rotation::Refused) if remembered() => {
                self.inner.family_revoke(key).await?;
                let value = self.inner.family_get(key).await?.map(|f| f.value).unwrap_or_default();
                Rotation::Reused(value)
            }
            (_, rotation) => rotation,
        })
    }
    async fn family_revoke(&self, key: &OnceKey) -> Result<(), PortError> {
        if self.fault == Fault::RevokeIgnored {
            return Ok(());
        }
        self.inner.family_revoke(key).await
    }
    async fn family_get(&self, key: &OnceKey) -> Result<Option<Family>, PortError> {
        self.inner.family_get(key).await
    }
    async fn record_get(&self, key: &OnceKey) -> Result<Option<String>, PortError> {
        self.inner.record_get(key).await
    }
    async fn record_swap(&self, key: &OnceKey, expected: Option<&str>, value: &str) -> Result<bool, PortError> {
        let held = self.inner.record_get(key).await?;
        match self.fault {
            Fault::SwapIgnoresExpected if expected.is_some() => {
                self.inner.record_swap(key, held.as_deref(), value).await
            }
            Fault::NoneOverwrites if expected.is_none() => self.inner.record_swap(key, held.as_deref(), value).await,
            _ => self.inner.record_swap(key, expected, value).await,
        }
    }
    async fn count_use(&self, key: &OnceKey, max: u32, window: u64) -> Result<bool, PortError> {
        match self.fault {
            Fault::CountUnlimited => self.inner.count_use(key, u32::MAX, window).await,
            Fault::OneCounter => self.inner.count_use(&OnceKey::alone("shared".into()), max, window).await,
            _ => self.inner.count_use(key, max, window).await,
        }
    }
    async fn mark(&self, key: &OnceKey, ttl: u64) -> Result<(), PortError> {
        match self.fault {
            Fault::MarkIgnored => Ok(()),
            Fault::MarksShared => self.inner.mark(&OnceKey::alone("shared".into()), ttl).await,
            Fault::MarkKeepsTheFirstEnd if self.inner.marked(key).await? => Ok(()),
            _ => self.inner.mark(key, ttl).await,
        }
    }
    async fn marked(&self, key: &OnceKey) -> Result<bool, PortError> {
        match self.fault {
            Fault::MarksShared => self.inner.marked(&OnceKey::alone("shared".into())).await,
            _ => self.inner.marked(key).await,
        }
    }
}

/// The memory twin of Workers KV with `fault` (if it is one of KV's).
struct BrokenStore {
    inner: MemoryStore,
    fault: Fault,
    clock: VirtualClock,
    /// Expiry of entries put for less than a minute (`KvShortTtlKept`).
    short: RefCell<HashMap<String, i64>>,
}

#[async_trait::async_trait(?Send)]
impl Store for BrokenStore {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        use keyedge::core::ports::Clock;
        if self.short.borrow().get(key).is_some_and(|at| *at <= self.clock.now()) {
            return Ok(None);
        }
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &str, ttl: Option<u64>) -> Result<(), PortError> {
        use keyedge::core::ports::Clock;
        if self.fault == Fault::KvPutKeepsTheFirst && self.inner.get(key).await?.is_some() {
            return Ok(());
        }
        if let (Fault::KvShortTtlKept, Some(ttl @ 0..60)) = (self.fault, ttl) {
            self.short.borrow_mut().insert(key.to_owned(), self.clock.now() + ttl as i64);
        }
        self.inner.put(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        if self.fault == Fault::KvDeleteIgnored {
            return Ok(());
        }
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        self.inner.list(if self.fault == Fault::KvListIgnoresPrefix { "" } else { prefix }).await
    }
    async fn put_with_metadata(
        &self,
        key: &str,
        value: &str,
        metadata: &str,
        ttl: Option<u64>,
    ) -> Result<(), PortError> {
        if self.fault == Fault::KvMetadataDropped {
            return self.inner.put(key, value, ttl).await;
        }
        self.inner.put_with_metadata(key, value, metadata, ttl).await
    }
    async fn list_metadata(&self, prefix: &str) -> Result<Vec<(String, Option<String>)>, PortError> {
        self.inner.list_metadata(prefix).await
    }
}

fn broken(fault: Fault) -> Report {
    let clock = VirtualClock::at(START);
    let stopped = VirtualClock::at(START);
    let once_clock = if fault == Fault::OnceClockStopped { &stopped } else { &clock };
    let store_clock = if fault == Fault::KvStoreClockStopped { &stopped } else { &clock };
    let once = BrokenOnce {
        inner: MemoryOnce::new(once_clock.clone()),
        fault,
        put: RefCell::default(),
        rotated_out: RefCell::default(),
    };
    let store = BrokenStore {
        inner: MemoryStore::new(store_clock.clone()),
        fault,
        clock: clock.clone(),
        short: RefCell::default(),
    };
    run(&once, &store, &SeededRng::new(1), Some(&clock))
}

/// Each property broken on its own is caught by the check of that property, and every check
/// catches at least one of them: no check passes whatever the stores do.
#[test]
fn every_check_fails_when_its_property_breaks() {
    let mut caught = BTreeSet::new();
    for &(fault, checks) in FAULTS {
        let report = broken(fault);
        let failed: Vec<&str> = report.failed.iter().map(|f| f.name).collect();
        for check in checks {
            assert!(failed.contains(check), "{fault:?} is not caught by {check}; failed: {failed:?}");
            caught.insert(*check);
        }
    }
    let clock = VirtualClock::at(START);
    let rng = SeededRng::new(1);
    let every = run(&MemoryOnce::new(clock.clone()), &MemoryStore::new(clock.clone()), &rng, Some(&clock)).passed;
    assert_eq!(caught, every.into_iter().collect::<BTreeSet<_>>(), "checks that no fault breaks");
}

fn post_conformance(world: &World) -> http::Response<Vec<u8>> {
    world.send(http::Request::post("http://localhost:8787/dev/conformance").body(Vec::new()).unwrap())
}

/// `POST /dev/conformance` runs the suite against the stores keyedge is given (the Worker's
/// bindings, in the Worker), which cannot travel in time: the timed checks are skipped.
#[test]
fn the_dev_route_runs_the_suite_against_the_stores_it_is_given() {
    let world = local_dev("[dev]\nstorage_conformance = true\n");
    // The suite rewrites its KV keys at once, as `wrangler dev`'s local KV allows; the
    // deployed one's one write per second to a key is not what it checks.
    world.store.set_write_limit(false);
    let res = post_conformance(&world);
    assert_eq!(res.status(), 200, "{}", body(&res));
    let report = json(&res);
    assert_eq!(report["failed"], serde_json::json!([]), "{report}");
    assert_eq!(report["skipped"], serde_json::json!(timed()), "{report}");
    let passed = report["passed"].as_array().unwrap();
    assert!(passed.iter().any(|p| p == "take_is_fresh_once_then_replayed"), "{report}");
    assert!(world.once.calls.get() > 0 && world.store.writes.get() > 0, "it used the world's stores");
}

#[test]
fn the_dev_route_exists_only_where_the_config_asks_for_it() {
    for world in [local_dev(""), World::new()] {
        assert_eq!(post_conformance(&world).status(), 404);
        assert_eq!(world.once.calls.get(), 0);
    }
    let on = local_dev("[dev]\nstorage_conformance = true\n");
    let get = on.send(http::Request::get("http://localhost:8787/dev/conformance").body(Vec::new()).unwrap());
    assert_eq!(get.status(), 404, "only POST runs it");
}

/// The Worker under `wrangler dev`: the Durable Object's clock can be moved for a run, KV's
/// expiry is the platform's own. The Durable Object's timed checks run; only KV's are skipped.
#[test]
fn only_the_store_whose_clock_cannot_move_skips_its_timed_checks() {
    let clock = VirtualClock::at(START);
    let rng = SeededRng::new(1);
    let (once, store) = (MemoryOnce::new(clock.clone()), MemoryStore::new(clock.clone()));
    let subject = Subject { once: &once, store: &store, rng: &rng, once_clock: Some(&clock), store_clock: None };
    let report = futures::executor::block_on(conformance::run(&subject));
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    assert_eq!(report.skipped, KV_TIMED.to_vec());
    for timed in ONCE_TIMED {
        assert!(report.passed.contains(&timed), "{timed} ran");
    }
}
