//! The simulated clusters' objects, kept in the sim's SQLite file next to the cloud's
//! resources, so that every process using the sim sees one API server state per cluster.
//!
//! An object is stored once per (group, kind), whatever version it was written at: the
//! simulated server has no conversion, every version of a kind shares one body.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

/// The tables; run by `db::open`, so every connection to the sim file has them.
pub const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS kube_objects(
        cluster TEXT NOT NULL, grp TEXT NOT NULL, kind TEXT NOT NULL, namespace TEXT NOT NULL,
        name TEXT NOT NULL, body TEXT NOT NULL, changed_at INTEGER NOT NULL,
        PRIMARY KEY(cluster, grp, kind, namespace, name));
    CREATE INDEX IF NOT EXISTS kube_objects_ns ON kube_objects(cluster, namespace);
    CREATE TABLE IF NOT EXISTS kube_clusters(cluster TEXT PRIMARY KEY, rv INTEGER NOT NULL, requests INTEGER NOT NULL DEFAULT 0);";

/// Where one object lives: its kind (by group) and its namespace (empty when cluster-scoped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub grp: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(grp: &str, kind: &str, namespace: &str, name: &str) -> Self {
        Self {
            grp: grp.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of a stored object, read from its body (`grp` and `kind` as stored).
    pub fn of(grp: &str, kind: &str, body: &Value) -> Self {
        let meta = &body["metadata"];
        Self::new(
            grp,
            kind,
            meta["namespace"].as_str().unwrap_or(""),
            meta["name"].as_str().unwrap_or(""),
        )
    }
}

/// One stored object and when its spec last changed (what controllers time readiness from).
#[derive(Clone, Debug)]
pub struct Stored {
    pub grp: String,
    pub kind: String,
    pub body: Value,
    pub changed_at: i64,
}

fn stored(row: &rusqlite::Row) -> rusqlite::Result<Stored> {
    let text: String = row.get(2)?;
    Ok(Stored {
        grp: row.get(0)?,
        kind: row.get(1)?,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        changed_at: row.get(3)?,
    })
}

/// Take the next resourceVersion of `cluster`: one counter per cluster, as etcd's revision.
pub fn next_rv(conn: &Connection, cluster: &str) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO kube_clusters(cluster, rv) VALUES (?1, 1)
         ON CONFLICT(cluster) DO UPDATE SET rv = rv + 1 RETURNING rv",
    )?
    .query_row([cluster], |r| r.get(0))
}

/// Count one request to `cluster`'s API (benchmarks report how many calls a plan makes).
pub fn count_request(conn: &Connection, cluster: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO kube_clusters(cluster, rv, requests) VALUES (?1, 0, 1)
         ON CONFLICT(cluster) DO UPDATE SET requests = requests + 1",
    )?
    .execute([cluster])?;
    Ok(())
}

/// How many requests `cluster`'s API has answered.
pub fn requests(conn: &Connection, cluster: &str) -> rusqlite::Result<u64> {
    Ok(conn
        .prepare_cached("SELECT requests FROM kube_clusters WHERE cluster = ?1")?
        .query_row([cluster], |r| r.get::<_, i64>(0))
        .optional()?
        .unwrap_or(0) as u64)
}

/// The resourceVersion lists answer with: the last one taken.
pub fn current_rv(conn: &Connection, cluster: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT rv FROM kube_clusters WHERE cluster = ?1")?
        .query_row([cluster], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

pub fn get(conn: &Connection, cluster: &str, key: &Key) -> rusqlite::Result<Option<Stored>> {
    conn.prepare_cached(
        "SELECT grp, kind, body, changed_at FROM kube_objects
         WHERE cluster = ?1 AND grp = ?2 AND kind = ?3 AND namespace = ?4 AND name = ?5",
    )?
    .query_row(
        params![cluster, key.grp, key.kind, key.namespace, key.name],
        stored,
    )
    .optional()
}

/// Objects of one kind, in one namespace or (None) all of them, by namespace and name.
pub fn list(
    conn: &Connection,
    cluster: &str,
    grp: &str,
    kind: &str,
    namespace: Option<&str>,
) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(
        "SELECT grp, kind, body, changed_at FROM kube_objects
         WHERE cluster = ?1 AND grp = ?2 AND kind = ?3 AND (?4 IS NULL OR namespace = ?4)
         ORDER BY namespace, name",
    )?;
    let rows = stmt.query_map(params![cluster, grp, kind, namespace], stored)?;
    rows.collect()
}

/// Every object in a namespace, of any kind: what a namespace delete removes.
pub fn in_namespace(conn: &Connection, cluster: &str, ns: &str) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(
        "SELECT grp, kind, body, changed_at FROM kube_objects
         WHERE cluster = ?1 AND namespace = ?2 ORDER BY grp, kind, name",
    )?;
    let rows = stmt.query_map(params![cluster, ns], stored)?;
    rows.collect()
}

/// Objects being deleted (they carry a deletionTimestamp), for the reaper.
pub fn deleting(conn: &Connection, cluster: &str) -> rusqlite::Result<Vec<Stored>> {
    let mut stmt = conn.prepare_cached(
        "SELECT grp, kind, body, changed_at FROM kube_objects
         WHERE cluster = ?1 AND json_extract(body, '$.metadata.deletionTimestamp') IS NOT NULL",
    )?;
    let rows = stmt.query_map([cluster], stored)?;
    rows.collect()
}

/// The (group, kind) pairs that have objects in `cluster`.
pub fn kinds(conn: &Connection, cluster: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT grp, kind FROM kube_objects WHERE cluster = ?1")?;
    let rows = stmt.query_map([cluster], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Write `body` under `key`, giving it the next resourceVersion. The spec-change time moves
/// when the object is new or its generation differs from the stored one.
pub fn put(
    conn: &Connection,
    cluster: &str,
    key: &Key,
    body: &mut Value,
    now: i64,
) -> rusqlite::Result<()> {
    let old = get(conn, cluster, key)?;
    let changed_at = match &old {
        Some(o) if o.body["metadata"]["generation"] == body["metadata"]["generation"] => {
            o.changed_at
        }
        _ => now,
    };
    let rv = next_rv(conn, cluster)?;
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    conn.prepare_cached(
        "INSERT INTO kube_objects(cluster, grp, kind, namespace, name, body, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(cluster, grp, kind, namespace, name) DO UPDATE SET body = ?6, changed_at = ?7",
    )?
    .execute(params![
        cluster,
        key.grp,
        key.kind,
        key.namespace,
        key.name,
        body.to_string(),
        changed_at
    ])?;
    Ok(())
}

pub fn delete(conn: &Connection, cluster: &str, key: &Key) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM kube_objects
         WHERE cluster = ?1 AND grp = ?2 AND kind = ?3 AND namespace = ?4 AND name = ?5",
    )?
    .execute(params![cluster, key.grp, key.kind, key.namespace, key.name])?;
    next_rv(conn, cluster)?;
    Ok(())
}

/// Drop every object of a kind: what removing its CustomResourceDefinition does.
pub fn delete_kind(
    conn: &Connection,
    cluster: &str,
    grp: &str,
    kind: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM kube_objects WHERE cluster = ?1 AND grp = ?2 AND kind = ?3")?
        .execute(params![cluster, grp, kind])?;
    Ok(())
}

/// Forget a cluster's API entirely: its cloud resource is gone.
pub fn drop_cluster(conn: &Connection, cluster: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM kube_objects WHERE cluster = ?1")?
        .execute([cluster])?;
    conn.prepare_cached("DELETE FROM kube_clusters WHERE cluster = ?1")?
        .execute([cluster])?;
    Ok(())
}
