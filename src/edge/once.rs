//! The `Once` Durable Object (SQLite-backed): single-use items and unique claims. A Durable
//! Object runs one request at a time and its SQL calls are synchronous, so each operation
//! below is atomic.

use serde::Deserialize;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue,
    State,
};

use crate::core::ports::REPLAY_WINDOW;

#[durable_object]
pub struct OnceStore {
    sql: SqlStorage,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Put {
        key: String,
        value: String,
        ttl: u64,
    },
    Take {
        key: String,
    },
    Claim {
        key: String,
        owner: String,
    },
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

fn now() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

impl DurableObject for OnceStore {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        for ddl in [
            "CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, consumed INTEGER NOT NULL DEFAULT 0)",
            "CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at)",
            "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL)",
        ] {
            if let Err(e) = sql.exec(ddl, None) {
                worker::console_error!("once store schema: {e}");
            }
        }
        Self { sql }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let op: Op = req.json().await?;
        let now = now();
        match op {
            Op::Put { key, value, ttl } => {
                self.sql.exec(
                    "DELETE FROM items WHERE expires_at <= ?",
                    vec![SqlStorageValue::Integer(now)],
                )?;
                self.sql.exec(
                    "INSERT OR REPLACE INTO items (key, value, expires_at, consumed) VALUES (?, ?, ?, 0)",
                    vec![key.into(), value.into(), SqlStorageValue::Integer(now + ttl as i64)],
                )?;
                Response::from_json(&serde_json::json!({}))
            }
            Op::Take { key } => {
                let rows: Vec<Row> = self
                    .sql
                    .exec(
                        "SELECT value, consumed FROM items WHERE key = ? AND expires_at > ?",
                        vec![key.clone().into(), SqlStorageValue::Integer(now)],
                    )?
                    .to_array()?;
                let Some(row) = rows.into_iter().next() else {
                    return Response::from_json(&serde_json::json!({ "state": "missing" }));
                };
                if row.consumed != 0 {
                    return Response::from_json(
                        &serde_json::json!({ "state": "replayed", "value": row.value }),
                    );
                }
                self.sql.exec(
                    "UPDATE items SET consumed = 1, expires_at = ? WHERE key = ?",
                    vec![
                        SqlStorageValue::Integer(now + REPLAY_WINDOW as i64),
                        key.into(),
                    ],
                )?;
                Response::from_json(&serde_json::json!({ "state": "fresh", "value": row.value }))
            }
            Op::Claim { key, owner } => {
                let existing: Vec<Owner> = self
                    .sql
                    .exec(
                        "SELECT owner FROM claims WHERE key = ?",
                        vec![key.clone().into()],
                    )?
                    .to_array()?;
                if let Some(o) = existing.into_iter().next() {
                    return Response::from_json(&serde_json::json!({ "existing": o.owner }));
                }
                self.sql.exec(
                    "INSERT INTO claims (key, owner) VALUES (?, ?)",
                    vec![key.into(), owner.into()],
                )?;
                Response::from_json(&serde_json::json!({}))
            }
        }
    }
}
