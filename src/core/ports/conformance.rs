//! The storage conformance suite (model: Dex's `storage/conformance`): one set of checks that
//! every implementation of [`Once`] and [`Store`] must pass. It runs against the in-memory
//! twins natively (`tests/it/storage_conformance.rs`) and against the Worker's own bindings —
//! the `OnceStore` Durable Object and Workers KV — under `wrangler dev`, through the dev-only
//! `POST /dev/conformance` (`tests/e2e/storage_conformance.test.mjs`), so the twins the native
//! tests rely on behave as the real stores do.
//!
//! Each check writes only under keys of its own fresh random prefix (`conformance:{random}`),
//! so the suite can run against a live store again and again. What it leaves behind expires,
//! except its claims and records, which nothing on a login path ever reads.
//!
//! Checks that need time to pass (expiry, replay and use windows) run only where the caller
//! can move that store's clock ([`TimeTravel`]): natively the memory twins on the harness's
//! virtual clock; under `wrangler dev` the Durable Object, whose clock a dev build can move
//! forward per run ([`Once::time_travel`]). KV's expiry is the platform's own and cannot be
//! moved: its timed checks are reported as skipped there.

use serde::Serialize;
use std::fmt::Debug;

use super::{Family, Marker, NewFamily, NewItem, Once, OnceKey, PortError, Rng, Store, Taken, REPLAY_WINDOW};

mod families;
use families::*;

/// Moves the clock of the stores under test forward.
pub trait TimeTravel {
    /// Lets `seconds` pass.
    fn pass(&self, seconds: u64);

    /// Waits, where real time passes too, until a second of the real clock has just begun:
    /// a timed check's steps then fall in one real second, and "a second before the end"
    /// stays a second before it (a second boundary crossed between two steps would move the
    /// store's clock one more). A virtual clock has nothing to wait for.
    fn fresh_second(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>> {
        Box::pin(async {})
    }
}

/// What the suite runs against.
pub struct Subject<'a> {
    pub once: &'a dyn Once,
    pub store: &'a dyn Store,
    /// Where each check's fresh key prefix comes from.
    pub rng: &'a dyn Rng,
    /// The clock of `once`, when it can be moved; `None` skips its checks that need time to pass.
    pub once_clock: Option<&'a dyn TimeTravel>,
    /// The clock of `store`, likewise.
    pub store_clock: Option<&'a dyn TimeTravel>,
}

/// The outcome of a run, as `POST /dev/conformance` answers it.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub passed: Vec<&'static str>,
    pub failed: Vec<Failed>,
    /// Checks that need time to pass, against a store whose clock cannot be moved.
    pub skipped: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Failed {
    pub name: &'static str,
    pub error: String,
}

impl Report {
    fn add(&mut self, name: &'static str, outcome: Outcome) {
        match outcome {
            Ok(()) => self.passed.push(name),
            Err(Broken(error)) => self.failed.push(Failed { name, error }),
        }
    }
}

/// Why a check failed: what the store answered against what the property wants, or the
/// store's own error.
#[derive(Debug)]
struct Broken(String);

impl From<PortError> for Broken {
    fn from(e: PortError) -> Self {
        Broken(format!("store error: {e}"))
    }
}

type Outcome = Result<(), Broken>;

fn expect<T: PartialEq + Debug>(what: &str, got: T, want: T) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(Broken(format!("{what}: got {got:?}, want {want:?}")))
    }
}

/// One check's view of the stores, with keys under its own fresh prefix.
struct Trial<'a> {
    once: &'a dyn Once,
    store: &'a dyn Store,
    prefix: String,
}

impl Trial<'_> {
    /// A key in the check's own object.
    fn key(&self, name: &str) -> OnceKey {
        OnceKey::in_object(&self.prefix, name)
    }
    /// A key whose routing part differs from [`Trial::key`]'s.
    fn elsewhere(&self, name: &str) -> OnceKey {
        OnceKey::in_object(&format!("{}:elsewhere", self.prefix), name)
    }
    /// A key that is its own routing part (as claims and counters are).
    fn alone(&self, name: &str) -> OnceKey {
        OnceKey::alone(format!("{}:{name}", self.prefix))
    }
    /// A KV key.
    fn kv(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    async fn start_family(&self, key: &OnceKey, current: &str, ttl_seconds: u64) -> Outcome {
        let family = NewFamily { key, value: "grant", current, ttl_seconds };
        expect("creating the family", self.once.once_then_store(None, None, Some(family)).await?, true)
    }
}

/// Runs every check against `subject`.
pub async fn run(subject: &Subject<'_>) -> Report {
    let mut report = Report::default();
    let trial = || Trial {
        once: subject.once,
        store: subject.store,
        prefix: format!("conformance:{}", fresh_prefix(subject.rng)),
    };
    macro_rules! checks {
        ($($check:ident),* $(,)?) => {$(
            report.add(stringify!($check), $check(&trial()).await);
        )*};
    }
    macro_rules! timed_checks {
        ($clock:expr; $($check:ident),* $(,)?) => {$(
            match $clock {
                Some(clock) => {
                    clock.fresh_second().await;
                    report.add(stringify!($check), $check(&trial(), clock).await)
                }
                None => report.skipped.push(stringify!($check)),
            }
        )*};
    }
    checks!(
        take_is_fresh_once_then_replayed,
        take_of_an_unknown_key_is_missing,
        put_replaces_an_unredeemed_item,
        claim_first_owner_wins,
        unclaim_releases_only_for_the_owner,
        once_then_store_writes_marker_item_and_family,
        once_then_store_marker_is_single_use,
        once_then_store_writes_nothing_once_the_marker_is_used,
        once_then_store_without_marker_always_stores,
        once_then_store_refuses_keys_of_two_objects,
        family_rotates_and_is_revoked_on_reuse,
        family_refuses_a_secret_it_never_had,
        family_revoke_stops_rotation,
        family_that_does_not_exist_is_missing,
        family_forgets_the_oldest_rotated_out_secrets,
        family_repeats_the_last_rotation_within_grace,
        family_repeat_needs_the_current_successor,
        family_without_grace_is_strict,
        family_repeats_up_to_max_reuse,
        record_swap_with_none_only_creates,
        record_swap_needs_the_current_value,
        count_use_stops_at_max,
        count_use_counts_each_key_apart,
        marks_are_seen_and_only_where_made,
        kv_get_put_delete,
        kv_list_finds_keys_by_prefix,
        kv_list_returns_each_keys_metadata,
    );
    timed_checks!(subject.once_clock;
        items_expire_after_their_ttl,
        redeemed_items_are_remembered_for_the_replay_window,
        marker_is_free_again_after_its_ttl,
        families_expire,
        family_grace_window_closes,
        count_use_window_reopens,
        marks_expire_and_marking_again_extends,
    );
    timed_checks!(subject.store_clock;
        kv_entries_expire_after_their_ttl,
        kv_ttl_is_at_least_a_minute,
    );
    report
}

fn fresh_prefix(rng: &dyn Rng) -> String {
    let mut bytes = [0u8; 12];
    rng.fill(&mut bytes);
    crate::core::b64url(&bytes)
}

fn fresh(value: &str) -> Taken {
    Taken::Fresh(value.into())
}

fn replayed(value: &str) -> Taken {
    Taken::Replayed(value.into())
}

fn some(value: &str) -> Option<String> {
    Some(value.into())
}

async fn take_is_fresh_once_then_replayed(t: &Trial<'_>) -> Outcome {
    let key = t.key("item");
    t.once.put(&key, "v1", 600).await?;
    expect("first take", t.once.take(&key).await?, fresh("v1"))?;
    expect("second take", t.once.take(&key).await?, replayed("v1"))?;
    expect("third take", t.once.take(&key).await?, replayed("v1"))
}

async fn take_of_an_unknown_key_is_missing(t: &Trial<'_>) -> Outcome {
    expect("take of a key never stored", t.once.take(&t.key("never")).await?, Taken::Missing)?;
    t.once.put(&t.key("stored"), "v", 600).await?;
    expect("take of its neighbour", t.once.take(&t.key("other")).await?, Taken::Missing)
}

async fn put_replaces_an_unredeemed_item(t: &Trial<'_>) -> Outcome {
    let key = t.key("item");
    t.once.put(&key, "v1", 600).await?;
    t.once.put(&key, "v2", 600).await?;
    expect("take", t.once.take(&key).await?, fresh("v2"))
}

async fn claim_first_owner_wins(t: &Trial<'_>) -> Outcome {
    let key = t.alone("claim");
    expect("first claim", t.once.claim(&key, "alice").await?, None)?;
    expect("claim by another", t.once.claim(&key, "bob").await?, some("alice"))?;
    expect("claim by the owner again", t.once.claim(&key, "alice").await?, some("alice"))?;
    expect("a claim elsewhere", t.once.claim(&t.alone("other"), "bob").await?, None)
}

async fn unclaim_releases_only_for_the_owner(t: &Trial<'_>) -> Outcome {
    let key = t.alone("claim");
    expect("claim", t.once.claim(&key, "alice").await?, None)?;
    t.once.unclaim(&key, "bob").await?;
    expect("claim after another's unclaim", t.once.claim(&key, "carol").await?, some("alice"))?;
    t.once.unclaim(&key, "alice").await?;
    expect("claim after the owner's unclaim", t.once.claim(&key, "carol").await?, None)?;
    expect("claim of the new owner's key", t.once.claim(&key, "alice").await?, some("carol"))
}

async fn once_then_store_writes_marker_item_and_family(t: &Trial<'_>) -> Outcome {
    let (marker, item, family) = (t.key("state"), t.key("code"), t.key("rt"));
    let stored = t
        .once
        .once_then_store(
            Some(Marker { key: &marker, ttl_seconds: 1200 }),
            Some(NewItem { key: &item, value: "code grant", ttl_seconds: 600 }),
            Some(NewFamily { key: &family, value: "grant", current: "s1", ttl_seconds: 600 }),
        )
        .await?;
    expect("once_then_store", stored, true)?;
    expect("take of the item", t.once.take(&item).await?, fresh("code grant"))?;
    let want = Family { value: "grant".into(), current: "s1".into(), revoked: false };
    expect("the family", t.once.family_get(&family).await?, Some(want))
}

async fn once_then_store_marker_is_single_use(t: &Trial<'_>) -> Outcome {
    let marker = t.key("state");
    let used = Marker { key: &marker, ttl_seconds: 1200 };
    let (first, second) = (t.key("first"), t.key("second"));
    let first = NewItem { key: &first, value: "v", ttl_seconds: 600 };
    let second = NewItem { key: &second, value: "v", ttl_seconds: 600 };
    expect("first use", t.once.once_then_store(Some(used), Some(first), None).await?, true)?;
    expect("second use", t.once.once_then_store(Some(used), Some(second), None).await?, false)?;
    expect("third use, the marker alone", t.once.once_then_store(Some(used), None, None).await?, false)?;
    let other = t.key("other state");
    let fresh_marker = Marker { key: &other, ttl_seconds: 1200 };
    expect("another marker", t.once.once_then_store(Some(fresh_marker), None, None).await?, true)
}

async fn once_then_store_writes_nothing_once_the_marker_is_used(t: &Trial<'_>) -> Outcome {
    let (marker, item, family) = (t.key("state"), t.key("code"), t.key("rt"));
    let used = Marker { key: &marker, ttl_seconds: 1200 };
    expect("first use", t.once.once_then_store(Some(used), None, None).await?, true)?;
    let stored = t
        .once
        .once_then_store(
            Some(used),
            Some(NewItem { key: &item, value: "v", ttl_seconds: 600 }),
            Some(NewFamily { key: &family, value: "grant", current: "s1", ttl_seconds: 600 }),
        )
        .await?;
    expect("second use", stored, false)?;
    expect("take of the item", t.once.take(&item).await?, Taken::Missing)?;
    expect("the family", t.once.family_get(&family).await?, None)
}

async fn once_then_store_without_marker_always_stores(t: &Trial<'_>) -> Outcome {
    let key = t.key("item");
    for value in ["v1", "v2"] {
        let item = NewItem { key: &key, value, ttl_seconds: 600 };
        expect("once_then_store", t.once.once_then_store(None, Some(item), None).await?, true)?;
    }
    expect("take", t.once.take(&key).await?, fresh("v2"))
}

async fn once_then_store_refuses_keys_of_two_objects(t: &Trial<'_>) -> Outcome {
    let (marker, item) = (t.key("state"), t.elsewhere("code"));
    let used = Marker { key: &marker, ttl_seconds: 1200 };
    let stored = t.once.once_then_store(Some(used), Some(NewItem { key: &item, value: "v", ttl_seconds: 600 }), None);
    if let Ok(stored) = stored.await {
        return Err(Broken(format!("keys of two objects were accepted (stored: {stored})")));
    }
    expect("take of the item", t.once.take(&item).await?, Taken::Missing)?;
    expect("the marker, still unused", t.once.once_then_store(Some(used), None, None).await?, true)
}

async fn record_swap_with_none_only_creates(t: &Trial<'_>) -> Outcome {
    let key = t.key("record");
    expect("a record never written", t.once.record_get(&key).await?, None)?;
    expect("swap from a value that is not there", t.once.record_swap(&key, Some("v0"), "v1").await?, false)?;
    expect("the record", t.once.record_get(&key).await?, None)?;
    expect("creation", t.once.record_swap(&key, None, "v1").await?, true)?;
    expect("the record", t.once.record_get(&key).await?, some("v1"))?;
    expect("a second creation", t.once.record_swap(&key, None, "v2").await?, false)?;
    expect("the record", t.once.record_get(&key).await?, some("v1"))
}

async fn record_swap_needs_the_current_value(t: &Trial<'_>) -> Outcome {
    let key = t.key("record");
    expect("creation", t.once.record_swap(&key, None, "v1").await?, true)?;
    expect("swap from a stale value", t.once.record_swap(&key, Some("v0"), "v2").await?, false)?;
    expect("the record", t.once.record_get(&key).await?, some("v1"))?;
    expect("swap from the current value", t.once.record_swap(&key, Some("v1"), "v2").await?, true)?;
    expect("the record", t.once.record_get(&key).await?, some("v2"))?;
    expect("swap from the value before", t.once.record_swap(&key, Some("v1"), "v3").await?, false)?;
    expect("the record", t.once.record_get(&key).await?, some("v2"))
}

async fn count_use_stops_at_max(t: &Trial<'_>) -> Outcome {
    let key = t.alone("counter");
    for i in 1..=3 {
        expect(&format!("use {i} of 3"), t.once.count_use(&key, 3, 3600).await?, true)?;
    }
    expect("use 4 of 3", t.once.count_use(&key, 3, 3600).await?, false)?;
    expect("use 5 of 3", t.once.count_use(&key, 3, 3600).await?, false)
}

async fn count_use_counts_each_key_apart(t: &Trial<'_>) -> Outcome {
    let (a, b) = (t.alone("a"), t.alone("b"));
    expect("a's first use", t.once.count_use(&a, 1, 3600).await?, true)?;
    expect("a's second use", t.once.count_use(&a, 1, 3600).await?, false)?;
    expect("b's first use", t.once.count_use(&b, 1, 3600).await?, true)
}

async fn marks_are_seen_and_only_where_made(t: &Trial<'_>) -> Outcome {
    let (a, b) = (t.alone("mark-a"), t.alone("mark-b"));
    expect("a key never marked", t.once.marked(&a).await?, false)?;
    t.once.mark(&a, 3600).await?;
    expect("a marked key", t.once.marked(&a).await?, true)?;
    expect("another key", t.once.marked(&b).await?, false)?;
    t.once.mark(&a, 3600).await?;
    expect("marked twice", t.once.marked(&a).await?, true)
}

async fn kv_list_returns_each_keys_metadata(t: &Trial<'_>) -> Outcome {
    let (with, without) = (t.kv("listed/a"), t.kv("listed/b"));
    t.store.put_with_metadata(&with, "value", "{\"m\":1}", Some(3600)).await?;
    t.store.put(&without, "value", None).await?;
    let mut listed = t.store.list_metadata(&t.kv("listed/")).await?;
    listed.sort();
    let expected = vec![(with.clone(), Some("{\"m\":1}".to_owned())), (without.clone(), None)];
    expect("the listing", listed, expected)?;
    expect("the value beside its metadata", t.store.get(&with).await?, some("value"))?;
    t.store.put(&with, "value", None).await?;
    let listed = t.store.list_metadata(&with).await?;
    expect("after a put without metadata", listed, vec![(with.clone(), None)])
}

async fn kv_get_put_delete(t: &Trial<'_>) -> Outcome {
    let key = t.kv("entry");
    expect("an entry never written", t.store.get(&key).await?, None)?;
    t.store.put(&key, "v1", None).await?;
    expect("after put", t.store.get(&key).await?, some("v1"))?;
    t.store.put(&key, "v2", Some(3600)).await?;
    expect("after a second put", t.store.get(&key).await?, some("v2"))?;
    t.store.delete(&key).await?;
    expect("after delete", t.store.get(&key).await?, None)?;
    t.store.delete(&key).await?;
    Ok(())
}

/// Under `wrangler dev` a KV listing sees a write at once; deployed, KV lists are eventually
/// consistent, which is why keyedge lists only on pages and in the admin API.
async fn kv_list_finds_keys_by_prefix(t: &Trial<'_>) -> Outcome {
    let under = [t.kv("list/a"), t.kv("list/b"), t.kv("list/c/d")];
    let outside = t.kv("listing");
    for key in under.iter().chain([&outside]) {
        t.store.put(key, "v", None).await?;
    }
    let outcome = listings(t, &under).await;
    for key in under.iter().chain([&outside]) {
        t.store.delete(key).await?;
    }
    outcome
}

async fn listings(t: &Trial<'_>, under: &[String]) -> Outcome {
    let mut listed = t.store.list(&t.kv("list/")).await?;
    listed.sort();
    expect("keys under the prefix", listed, under.to_vec())?;
    expect("keys under a longer prefix", t.store.list(&t.kv("list/c/")).await?, vec![t.kv("list/c/d")])?;
    expect("keys under an unused prefix", t.store.list(&t.kv("none/")).await?, Vec::new())
}

async fn items_expire_after_their_ttl(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let (first, second) = (t.key("first"), t.key("second"));
    t.once.put(&first, "v", 60).await?;
    t.once.put(&second, "v", 60).await?;
    clock.pass(59);
    expect("take a second before expiry", t.once.take(&first).await?, fresh("v"))?;
    clock.pass(1);
    expect("take at expiry", t.once.take(&second).await?, Taken::Missing)
}

async fn redeemed_items_are_remembered_for_the_replay_window(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let key = t.key("item");
    t.once.put(&key, "v", 60).await?;
    expect("take", t.once.take(&key).await?, fresh("v"))?;
    clock.pass(REPLAY_WINDOW - 1);
    expect("take just inside the replay window", t.once.take(&key).await?, replayed("v"))?;
    clock.pass(1);
    expect("take after the replay window", t.once.take(&key).await?, Taken::Missing)
}

async fn marker_is_free_again_after_its_ttl(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let key = t.key("state");
    let marker = Marker { key: &key, ttl_seconds: 100 };
    expect("first use", t.once.once_then_store(Some(marker), None, None).await?, true)?;
    clock.pass(99);
    expect("use a second before expiry", t.once.once_then_store(Some(marker), None, None).await?, false)?;
    clock.pass(1);
    expect("use at expiry", t.once.once_then_store(Some(marker), None, None).await?, true)
}

async fn count_use_window_reopens(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let key = t.alone("counter");
    for i in 1..=2 {
        expect(&format!("use {i} of 2"), t.once.count_use(&key, 2, 100).await?, true)?;
    }
    clock.pass(99);
    expect("use 3 of 2, a second before the window ends", t.once.count_use(&key, 2, 100).await?, false)?;
    clock.pass(1);
    expect("first use of the next window", t.once.count_use(&key, 2, 100).await?, true)
}

async fn marks_expire_and_marking_again_extends(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let key = t.alone("mark");
    t.once.mark(&key, 100).await?;
    clock.pass(60);
    t.once.mark(&key, 100).await?;
    clock.pass(99);
    expect("a second before the second mark ends", t.once.marked(&key).await?, true)?;
    clock.pass(1);
    expect("when it ends", t.once.marked(&key).await?, false)
}

async fn kv_entries_expire_after_their_ttl(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let key = t.kv("entry");
    t.store.put(&key, "v", Some(120)).await?;
    clock.pass(119);
    expect("a second before expiry", t.store.get(&key).await?, some("v"))?;
    expect("listed a second before expiry", t.store.list(&key).await?, vec![key.clone()])?;
    clock.pass(1);
    expect("at expiry", t.store.get(&key).await?, None)?;
    expect("listed at expiry", t.store.list(&key).await?, Vec::new())
}

/// KV refuses expirations under 60 seconds; the port raises them to 60 instead.
async fn kv_ttl_is_at_least_a_minute(t: &Trial<'_>, clock: &dyn TimeTravel) -> Outcome {
    let key = t.kv("entry");
    t.store.put(&key, "v", Some(1)).await?;
    clock.pass(59);
    expect("59 seconds after a put for 1", t.store.get(&key).await?, some("v"))?;
    clock.pass(1);
    expect("a minute after", t.store.get(&key).await?, None)
}
