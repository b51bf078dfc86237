//! The `Once` Durable Object (SQLite-backed): single-use items and unique claims. A Durable
//! Object runs one request at a time and its SQL calls are synchronous, so each operation
//! below is atomic.

use serde::Deserialize;
use std::cell::Cell;
use wasm_bindgen::prelude::{wasm_bindgen, JsError};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue, State};

use crate::core::ports::once_protocol::{
    Claimed, Counted, Done, FamilyReply, FamilySpec, FamilyWire, Marked, OnceOp as Op, RecordReply, RotateReply,
    RotateState, Stored, Swapped, TakeReply, TakeState,
};
use crate::core::ports::{once_schema, OnceKey, RotationGrace, REPLAY_WINDOW, ROTATED_OUT_KEPT};

#[durable_object]
pub struct OnceStore {
    sql: SqlStorage,
    /// When this object last deleted the expired rows of each table (see [`OnceStore::sweep`]).
    swept_at: [Cell<i64>; 4],
    /// Seconds this operation's clock runs ahead of the real one: non-zero only for an
    /// operation of a storage conformance run in a development build (`OnceStore::call`).
    skew: Cell<i64>,
}

/// The tables whose expired rows are swept, in the order of [`OnceStore::swept_at`]. Every
/// read of items, families and marks asks for `expires_at > now`, so an expired row waiting
/// for its sweep is never used; deleting them is housekeeping. `count_use` reads its counter
/// unfiltered, so it deletes that counter's own expired window first; the other counters'
/// are swept.
#[derive(Clone, Copy)]
enum Swept {
    Items = 0,
    Families = 1,
    Marks = 2,
    Counters = 3,
}

/// A table's expired rows are deleted on a write to it, at most this often (seconds) per
/// object: before, every write deleted them (up to three statements per operation, ~1 ms of a
/// login under `wrangler dev`). An object's first write to a table still sweeps it, so an
/// object that lives for a few operations (a quiet site) does what it did before.
const SWEEP_EVERY: i64 = 60;

/// The most a conformance run may move an operation's clock (seconds, a year): a larger
/// offset is taken as this one, so the clock can never wrap round to the past.
#[cfg(keyedge_storage_conformance)]
const MAX_SKEW: i64 = 366 * 24 * 3600;

#[derive(Deserialize)]
struct FamilyRow {
    value: String,
    current: String,
    previous: String,
    revoked: i64,
    rotated_at: i64,
    late_repeats: i64,
}

/// A rotation in one statement: the current secret joins the rotated-out list (the oldest
/// dropped once it holds [`ROTATED_OUT_KEPT`]) and the next one takes its place.
const ROTATE: &str = "UPDATE families SET current = ?, \
     previous = json_insert(CASE WHEN json_array_length(previous) >= ? THEN json_remove(previous, '$[0]') ELSE previous END, '$[#]', current), \
     rotated_at = ?, late_repeats = 0 \
     WHERE key = ? AND current = ? AND revoked = 0 AND expires_at > ? RETURNING value";

#[derive(Deserialize)]
struct ValueRow {
    value: String,
}

#[derive(Deserialize)]
struct Row {
    value: String,
    consumed: i64,
}

#[derive(Deserialize)]
struct Owner {
    owner: String,
}

/// A key as the text it is stored under.
fn text(key: &OnceKey) -> SqlStorageValue {
    key.as_str().to_owned().into()
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

impl OnceStore {
    /// Deletes `table`'s expired rows unless this object did in the last [`SWEEP_EVERY`]
    /// seconds; called on each write to it.
    fn sweep(&self, table: Swept, now: i64) -> Result<()> {
        let swept_at = &self.swept_at[table as usize];
        // A conformance run's moved clock reads rows as it sees them but deletes none: the
        // object's rows of other callers are alive on the real clock.
        if now < swept_at.get() + SWEEP_EVERY || self.skew.get() != 0 {
            return Ok(());
        }
        let delete = match table {
            Swept::Items => "DELETE FROM items WHERE expires_at <= ?",
            Swept::Families => "DELETE FROM families WHERE expires_at <= ?",
            Swept::Marks => "DELETE FROM marks WHERE expires_at <= ?",
            Swept::Counters => "DELETE FROM counters WHERE expires_at <= ?",
        };
        self.sql.exec(delete, vec![SqlStorageValue::Integer(now)])?;
        swept_at.set(now);
        Ok(())
    }

    fn put(&self, key: OnceKey, value: String, ttl: u64, now: i64) -> Result<()> {
        self.sweep(Swept::Items, now)?;
        self.sql.exec(
            "INSERT OR REPLACE INTO items (key, value, expires_at, consumed) VALUES (?, ?, ?, 0)",
            vec![text(&key), value.into(), SqlStorageValue::Integer(now + ttl as i64)],
        )?;
        Ok(())
    }

    fn create_family(&self, f: FamilySpec, now: i64) -> Result<()> {
        self.sweep(Swept::Families, now)?;
        self.sql.exec(
            "INSERT OR REPLACE INTO families (key, value, current, previous, revoked, expires_at, rotated_at, late_repeats) VALUES (?, ?, ?, '[]', 0, ?, ?, 0)",
            vec![
                text(&f.key),
                f.value.into(),
                f.current.into(),
                SqlStorageValue::Integer(now + f.ttl as i64),
                SqlStorageValue::Integer(now),
            ],
        )?;
        Ok(())
    }

    fn family(&self, key: &OnceKey, now: i64) -> Result<Option<FamilyRow>> {
        let rows: Vec<FamilyRow> = self
            .sql
            .exec(
                "SELECT value, current, previous, revoked, rotated_at, late_repeats FROM families WHERE key = ? AND expires_at > ?",
                vec![text(key), SqlStorageValue::Integer(now)],
            )?
            .to_array()?;
        Ok(rows.into_iter().next())
    }
}

impl DurableObject for OnceStore {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        if let Err(e) = once_schema::ensure(|batch| sql.exec(batch, None).map(|_| ())) {
            worker::console_error!("once store schema: {e}");
        }
        let never = || Cell::new(i64::MIN / 2);
        Self { sql, swept_at: [never(), never(), never(), never()], skew: Cell::new(0) }
    }

    /// Kept for callers that still use `fetch` (a Worker version deployed before RPC, during a
    /// rollout): the same operations, JSON in and out.
    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: Op = serde_json::from_str(&req.text().await?)?;
        Response::from_json(&self.execute(op)?)
    }
}

#[wasm_bindgen]
impl OnceStore {
    /// One operation, called over Durable Object RPC from the Worker (`src/edge/worker.mjs`
    /// makes the class RPC-capable): JSON in, JSON out. Cheaper than `fetch`: no Request or
    /// Response objects on either side.
    ///
    /// `skew`: seconds to move this operation's clock forward, sent by a storage conformance
    /// run (`POST /dev/conformance`) to check expiry against the real object. Honoured only
    /// by a development build (`[dev] storage_conformance`, never with an https issuer);
    /// every other build reads its clock as it is.
    pub fn call(&self, op: String, skew: Option<f64>) -> std::result::Result<String, JsError> {
        let op: Op = serde_json::from_str(&op).map_err(|e| JsError::new(&format!("once store: {e}")))?;
        #[cfg(keyedge_storage_conformance)]
        self.skew.set(skew.filter(|s| s.is_finite() && *s > 0.0).map_or(0, |s| s.min(MAX_SKEW as f64) as i64));
        #[cfg(not(keyedge_storage_conformance))]
        let _ = skew;
        let answer = self.execute(op);
        self.skew.set(0);
        let answer = answer.map_err(|e| JsError::new(&format!("once store: {e}")))?;
        Ok(answer.to_string())
    }
}

impl OnceStore {
    /// Runs `op`; one Durable Object request at a time, its SQL synchronous: atomic. (Long on
    /// purpose: one short arm per operation of the protocol, side by side.)
    fn execute(&self, op: Op) -> Result<serde_json::Value> {
        let now = now().saturating_add(self.skew.get());
        match op {
            Op::Put { key, value, ttl } => {
                self.put(key, value, ttl, now)?;
                reply(Done {})
            }
            Op::OnceThenStore { marker, item, family } => {
                // One request: a Durable Object runs it without interleaving.
                if let Some(m) = marker {
                    let used: Vec<Owner> = self
                        .sql
                        .exec(
                            "SELECT key AS owner FROM items WHERE key = ? AND expires_at > ?",
                            vec![text(&m.key), SqlStorageValue::Integer(now)],
                        )?
                        .to_array()?;
                    if !used.is_empty() {
                        return reply(Stored { stored: false });
                    }
                    self.put(m.key, String::new(), m.ttl, now)?;
                }
                if let Some(i) = item {
                    self.put(i.key, i.value, i.ttl, now)?;
                }
                if let Some(f) = family {
                    self.create_family(f, now)?;
                }
                reply(Stored { stored: true })
            }
            Op::Take { key } => {
                let rows: Vec<Row> = self
                    .sql
                    .exec(
                        "SELECT value, consumed FROM items WHERE key = ? AND expires_at > ?",
                        vec![text(&key), SqlStorageValue::Integer(now)],
                    )?
                    .to_array()?;
                let Some(row) = rows.into_iter().next() else {
                    return reply(TakeReply { state: TakeState::Missing, value: None });
                };
                if row.consumed != 0 {
                    return reply(TakeReply { state: TakeState::Replayed, value: Some(row.value) });
                }
                self.sql.exec(
                    "UPDATE items SET consumed = 1, expires_at = ? WHERE key = ?",
                    vec![SqlStorageValue::Integer(now + REPLAY_WINDOW as i64), text(&key)],
                )?;
                reply(TakeReply { state: TakeState::Fresh, value: Some(row.value) })
            }
            Op::Claim { key, owner } => {
                let existing: Vec<Owner> =
                    self.sql.exec("SELECT owner FROM claims WHERE key = ?", vec![text(&key)])?.to_array()?;
                if let Some(o) = existing.into_iter().next() {
                    return reply(Claimed { existing: Some(o.owner) });
                }
                self.sql.exec("INSERT INTO claims (key, owner) VALUES (?, ?)", vec![text(&key), owner.into()])?;
                reply(Claimed::default())
            }
            Op::Unclaim { key, owner } => {
                self.sql.exec("DELETE FROM claims WHERE key = ? AND owner = ?", vec![text(&key), owner.into()])?;
                reply(Done {})
            }
            Op::FamilyRotate { key, presented, next, grace, max_reuse } => {
                // The usual case: the presented secret is the current one.
                let kept = SqlStorageValue::Integer(ROTATED_OUT_KEPT as i64);
                let bindings = vec![
                    next.clone().into(),
                    kept,
                    SqlStorageValue::Integer(now),
                    text(&key),
                    presented.clone().into(),
                    SqlStorageValue::Integer(now),
                ];
                let rotated: Vec<ValueRow> = self.sql.exec(ROTATE, bindings)?.to_array()?;
                if let Some(row) = rotated.into_iter().next() {
                    return reply(RotateReply { state: RotateState::Rotated, value: Some(row.value) });
                }
                let Some(row) = self.family(&key, now)? else {
                    return reply(RotateReply { state: RotateState::Missing, value: None });
                };
                if row.revoked != 0 {
                    return reply(RotateReply { state: RotateState::Refused, value: None });
                }
                let previous: Vec<String> = serde_json::from_str(&row.previous).unwrap_or_default();
                let grace = RotationGrace { seconds: grace, max_reuse };
                let late = u32::try_from(row.late_repeats).unwrap_or(u32::MAX);
                let repeat = (previous.last() == Some(&presented) && row.current == next)
                    .then(|| grace.allows(now - row.rotated_at, late))
                    .flatten();
                if let Some(late) = repeat {
                    if late {
                        self.sql.exec(
                            "UPDATE families SET late_repeats = late_repeats + 1 WHERE key = ?",
                            vec![text(&key)],
                        )?;
                    }
                    return reply(RotateReply { state: RotateState::Repeated, value: Some(row.value) });
                }
                if previous.contains(&presented) {
                    self.sql.exec("UPDATE families SET revoked = 1 WHERE key = ?", vec![text(&key)])?;
                    return reply(RotateReply { state: RotateState::Reused, value: Some(row.value) });
                }
                reply(RotateReply { state: RotateState::Refused, value: None })
            }
            Op::FamilyRevoke { key } => {
                self.sql.exec("UPDATE families SET revoked = 1 WHERE key = ?", vec![text(&key)])?;
                reply(Done {})
            }
            Op::FamilyGet { key } => {
                let family = self.family(&key, now)?.map(|row| FamilyWire {
                    value: row.value,
                    current: row.current,
                    revoked: row.revoked != 0,
                });
                reply(FamilyReply { family })
            }
            Op::RecordGet { key } => {
                let rows: Vec<ValueRow> =
                    self.sql.exec("SELECT value FROM records WHERE key = ?", vec![text(&key)])?.to_array()?;
                reply(RecordReply { value: rows.into_iter().next().map(|r| r.value) })
            }
            Op::RecordSwap { key, expected, value } => {
                let rows: Vec<ValueRow> =
                    self.sql.exec("SELECT value FROM records WHERE key = ?", vec![text(&key)])?.to_array()?;
                if rows.into_iter().next().map(|r| r.value) != expected {
                    return reply(Swapped { swapped: false });
                }
                self.sql.exec(
                    "INSERT OR REPLACE INTO records (key, value) VALUES (?, ?)",
                    vec![text(&key), value.into()],
                )?;
                reply(Swapped { swapped: true })
            }
            Op::CountUse { key, max, window } => {
                self.sweep(Swept::Counters, now)?;
                self.sql.exec(
                    "DELETE FROM counters WHERE key = ? AND expires_at <= ?",
                    vec![text(&key), SqlStorageValue::Integer(now)],
                )?;
                let rows: Vec<Uses> =
                    self.sql.exec("SELECT uses FROM counters WHERE key = ?", vec![text(&key)])?.to_array()?;
                if rows.first().is_some_and(|r| r.uses >= max as i64) {
                    return reply(Counted { counted: false });
                }
                self.sql.exec(
                    "INSERT INTO counters (key, uses, expires_at) VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE SET uses = uses + 1",
                    vec![text(&key), SqlStorageValue::Integer(now + window as i64)],
                )?;
                reply(Counted { counted: true })
            }
            Op::Mark { key, ttl } => {
                self.sweep(Swept::Marks, now)?;
                self.sql.exec(
                    "INSERT OR REPLACE INTO marks (key, expires_at) VALUES (?, ?)",
                    vec![text(&key), SqlStorageValue::Integer(now + ttl as i64)],
                )?;
                reply(Done {})
            }
            Op::Marked { key } => {
                let rows: Vec<Owner> = self
                    .sql
                    .exec(
                        "SELECT key AS owner FROM marks WHERE key = ? AND expires_at > ?",
                        vec![text(&key), SqlStorageValue::Integer(now)],
                    )?
                    .to_array()?;
                reply(Marked { marked: !rows.is_empty() })
            }
        }
    }
}

/// An operation's typed answer, as the JSON it travels as.
fn reply<T: serde::Serialize>(answer: T) -> Result<serde_json::Value> {
    serde_json::to_value(answer).map_err(|e| worker::Error::RustError(format!("once store reply: {e}")))
}

#[derive(Deserialize)]
struct Uses {
    uses: i64,
}
