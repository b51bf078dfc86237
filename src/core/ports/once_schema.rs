//! The tables of the `OnceStore` Durable Object (`src/edge/once.rs`) and how an object brings
//! its SQLite database to them when it starts. Plain SQL text, so the native tests run it
//! against a real SQLite.
//!
//! An object starts whenever it was not in memory (its first use, or after being evicted for
//! idleness: on a quiet site, nearly every call), so an object already on the current schema
//! starts with one call and no error: the tables' `CREATE … IF NOT EXISTS` as one batch,
//! ending with a probe of the newest columns.

/// Every table and index, then a probe that fails where `families` predates
/// [`FAMILY_COLUMNS`]. One `sql.exec` call runs the whole batch (Durable Object SQL runs
/// `;`-separated statements in order).
pub const SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS items (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, consumed INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS items_expiry ON items (expires_at);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS families (key TEXT PRIMARY KEY, value TEXT NOT NULL, current TEXT NOT NULL, previous TEXT NOT NULL DEFAULT '[]', revoked INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL, rotated_at INTEGER NOT NULL DEFAULT 0, late_repeats INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, uses INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS counters_expiry ON counters (expires_at);
CREATE TABLE IF NOT EXISTS marks (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS marks_expiry ON marks (expires_at);
SELECT rotated_at, late_repeats FROM families LIMIT 0";
// What the tables hold: `items`, single-use items and markers (`consumed` once taken);
// `claims`, unique claims; `records`, records changed by concurrent requests (user records,
// compare-and-swap); `families`, refresh-token families (`previous` a JSON array of
// rotated-out secret hashes; `rotated_at`, `late_repeats`: `RotationGrace`); `counters`, uses
// in the window that ends at `expires_at` (`count_use`); `marks`, ended sessions and revoked
// grants until `expires_at`.

/// Columns added to `families` after it first shipped (for `RotationGrace`): an object
/// created before gets them with these defaults. A rotation made meanwhile by an object of the
/// previous version leaves them stale, which only ever narrows the grace (an earlier
/// `rotated_at`, more late repeats).
pub const FAMILY_COLUMNS: [&str; 2] = [
    "ALTER TABLE families ADD COLUMN rotated_at INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE families ADD COLUMN late_repeats INTEGER NOT NULL DEFAULT 0",
];

/// Brings a database to the current schema with `exec` (one call per statement batch): the
/// [`SCHEMA`] batch alone where it is current; else, where the probe failed, the migrations,
/// each allowed to fail (a column that exists), and the batch again, whose failure is then
/// returned. The second batch also completes whatever the first left undone, however the
/// store treats the statements before a failing one.
pub fn ensure<E>(exec: impl Fn(&str) -> Result<(), E>) -> Result<(), E> {
    if exec(SCHEMA).is_ok() {
        return Ok(());
    }
    for column in FAMILY_COLUMNS {
        let _ = exec(column);
    }
    exec(SCHEMA)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::cell::RefCell;

    /// `exec` on `db`, counting the calls.
    fn run<'a>(db: &'a Connection, calls: &'a RefCell<Vec<String>>) -> impl Fn(&str) -> rusqlite::Result<()> + 'a {
        move |sql| {
            calls.borrow_mut().push(sql.to_owned());
            db.execute_batch(sql)
        }
    }

    fn columns(db: &Connection, table: &str) -> Vec<String> {
        let mut stmt = db.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    fn tables(db: &Connection) -> Vec<String> {
        let mut stmt = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn a_new_object_gets_every_table_in_one_call() {
        let db = Connection::open_in_memory().unwrap();
        let calls = RefCell::new(vec![]);
        ensure(run(&db, &calls)).unwrap();
        assert_eq!(calls.borrow().len(), 1);
        assert_eq!(tables(&db), ["claims", "counters", "families", "items", "marks", "records"]);
        let mut stmt = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            .unwrap();
        let indexes: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(indexes, ["counters_expiry", "items_expiry", "marks_expiry"]);
        assert!(columns(&db, "families").ends_with(&["rotated_at".into(), "late_repeats".into()]));
    }

    #[test]
    fn an_object_on_the_current_schema_starts_with_one_call_and_keeps_its_rows() {
        let db = Connection::open_in_memory().unwrap();
        let calls = RefCell::new(vec![]);
        ensure(run(&db, &calls)).unwrap();
        db.execute("INSERT INTO items (key, value, expires_at) VALUES ('k', 'v', 9)", []).unwrap();
        calls.borrow_mut().clear();
        ensure(run(&db, &calls)).unwrap();
        assert_eq!(*calls.borrow(), [SCHEMA]);
        let value: String = db.query_row("SELECT value FROM items WHERE key = 'k'", [], |r| r.get(0)).unwrap();
        assert_eq!(value, "v");
    }

    /// An object created before `rotated_at`, `late_repeats` and the `marks` table: its
    /// families get the columns with their defaults, its rows are kept, the missing table is
    /// made, and its next start is the one call.
    #[test]
    fn an_object_of_an_earlier_schema_is_migrated_once() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE items (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER NOT NULL, consumed INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE families (key TEXT PRIMARY KEY, value TEXT NOT NULL, current TEXT NOT NULL, previous TEXT NOT NULL DEFAULT '[]', revoked INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL);
             INSERT INTO families (key, value, current, expires_at) VALUES ('f', 'v', 'c', 9);",
        )
        .unwrap();
        let calls = RefCell::new(vec![]);
        ensure(run(&db, &calls)).unwrap();
        assert_eq!(*calls.borrow(), [SCHEMA, FAMILY_COLUMNS[0], FAMILY_COLUMNS[1], SCHEMA]);
        assert!(tables(&db).contains(&"marks".to_owned()));
        let row: (String, i64, i64) = db
            .query_row("SELECT current, rotated_at, late_repeats FROM families WHERE key = 'f'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(row, ("c".into(), 0, 0));
        calls.borrow_mut().clear();
        ensure(run(&db, &calls)).unwrap();
        assert_eq!(*calls.borrow(), [SCHEMA]);
    }

    /// Half migrated (a start stopped between the two migrations): the other column is added.
    #[test]
    fn an_object_with_one_of_the_new_columns_gets_the_other() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE families (key TEXT PRIMARY KEY, value TEXT NOT NULL, current TEXT NOT NULL, previous TEXT NOT NULL DEFAULT '[]', revoked INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL, rotated_at INTEGER NOT NULL DEFAULT 0)",
        )
        .unwrap();
        let calls = RefCell::new(vec![]);
        ensure(run(&db, &calls)).unwrap();
        assert!(columns(&db, "families").ends_with(&["rotated_at".into(), "late_repeats".into()]));
    }

    /// A store that undoes a failed batch's earlier statements ends on the same schema: the
    /// batch runs again after the migrations.
    #[test]
    fn a_store_that_rolls_a_failed_batch_back_is_migrated_too() {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE families (key TEXT PRIMARY KEY, value TEXT NOT NULL, current TEXT NOT NULL, previous TEXT NOT NULL DEFAULT '[]', revoked INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL);
             INSERT INTO families (key, value, current, expires_at) VALUES ('f', 'v', 'c', 9);",
        )
        .unwrap();
        let all_or_nothing = |sql: &str| {
            db.execute_batch("SAVEPOINT batch")?;
            match db.execute_batch(sql) {
                Ok(()) => db.execute_batch("RELEASE batch"),
                Err(e) => {
                    db.execute_batch("ROLLBACK TO batch; RELEASE batch")?;
                    Err(e)
                }
            }
        };
        ensure(all_or_nothing).unwrap();
        assert_eq!(tables(&db), ["claims", "counters", "families", "items", "marks", "records"]);
        let current: String = db.query_row("SELECT current FROM families WHERE key = 'f'", [], |r| r.get(0)).unwrap();
        assert_eq!(current, "c");
    }

    #[test]
    fn a_database_that_cannot_be_brought_to_the_schema_is_an_error() {
        let db = Connection::open_in_memory().unwrap();
        // `families` is a view: no column can be added to it, so the probe keeps failing.
        db.execute_batch("CREATE VIEW families AS SELECT 1 AS key").unwrap();
        let calls = RefCell::new(vec![]);
        assert!(ensure(run(&db, &calls)).is_err());
    }
}
