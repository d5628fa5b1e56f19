//! The simulated cloud's tables and the row operations on them.

use std::collections::BTreeMap;
use std::path::Path;

use hoist_provider::{Attrs, Lifecycle};
use rusqlite::{params, Connection, OptionalExtension, Row};

pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    // Every statement hoist runs is prepared once per connection.
    conn.set_prepared_statement_cache_capacity(64);
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         CREATE TABLE IF NOT EXISTS resources(
            cloud_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, region TEXT NOT NULL,
            parent TEXT, status TEXT NOT NULL, ready_at INTEGER NOT NULL, gone_at INTEGER,
            attrs TEXT NOT NULL, outputs TEXT NOT NULL, tags TEXT NOT NULL, env TEXT, token TEXT,
            created_at INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS resources_env ON resources(env);
         CREATE INDEX IF NOT EXISTS resources_parent ON resources(parent);
         CREATE UNIQUE INDEX IF NOT EXISTS resources_token ON resources(token) WHERE token IS NOT NULL;
         CREATE TABLE IF NOT EXISTS capacity(zone TEXT NOT NULL, accelerator TEXT NOT NULL, available INTEGER NOT NULL, PRIMARY KEY(zone, accelerator));
         CREATE TABLE IF NOT EXISTS quotas(region TEXT NOT NULL, accelerator TEXT NOT NULL, max_gpus INTEGER NOT NULL, PRIMARY KEY(region, accelerator));
         CREATE TABLE IF NOT EXISTS faults(id INTEGER PRIMARY KEY CHECK (id = 1), transient REAL NOT NULL, throttle REAL NOT NULL);",
    )?;
    conn.execute_batch(crate::kube::SCHEMA)?;
    Ok(conn)
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One row of `resources`.
#[derive(Debug, Clone)]
pub struct Resource {
    pub cloud_id: String,
    pub kind: String,
    pub name: String,
    pub region: String,
    pub parent: Option<String>,
    pub status: String,
    pub ready_at: i64,
    pub gone_at: Option<i64>,
    pub attrs: Attrs,
    pub outputs: Attrs,
    pub tags: BTreeMap<String, String>,
    pub env: Option<String>,
    pub token: Option<String>,
}

pub const COLUMNS: &str = "cloud_id, kind, name, region, parent, status, ready_at, gone_at, attrs, outputs, tags, env, token";

fn json<T: serde::de::DeserializeOwned + Default>(text: String) -> T {
    serde_json::from_str(&text).unwrap_or_default()
}

pub fn from_row(row: &Row) -> rusqlite::Result<Resource> {
    Ok(Resource {
        cloud_id: row.get(0)?,
        kind: row.get(1)?,
        name: row.get(2)?,
        region: row.get(3)?,
        parent: row.get(4)?,
        status: row.get(5)?,
        ready_at: row.get(6)?,
        gone_at: row.get(7)?,
        attrs: json(row.get(8)?),
        outputs: json(row.get(9)?),
        tags: json(row.get(10)?),
        env: row.get(11)?,
        token: row.get(12)?,
    })
}

/// Spread `nodes` over `zones` round-robin: how a node pool places its nodes.
pub fn spread(nodes: i64, zones: &[String]) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = zones.iter().map(|z| (z.clone(), 0)).collect();
    for i in 0..nodes.max(0) as usize {
        if let Some(z) = zones.get(i % zones.len().max(1)) {
            *out.entry(z.clone()).or_default() += 1;
        }
    }
    out
}

impl Resource {
    /// The zones a node pool was placed in.
    pub fn pool_zones(&self) -> Vec<String> {
        self.outputs
            .get("nodes_per_zone")
            .and_then(serde_json::Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether the resource still exists at `now` (a finished delete is gone).
    pub fn exists(&self, now: i64) -> bool {
        self.gone_at.is_none_or(|g| g > now)
    }

    pub fn lifecycle(&self, now: i64) -> Lifecycle {
        match self.status.as_str() {
            "deleting" => Lifecycle::Deleting,
            s if s.starts_with("failed:") => Lifecycle::Failed {
                reason: s[7..].to_string(),
            },
            _ if self.ready_at > now => {
                if self.status == "updating" {
                    Lifecycle::Updating
                } else {
                    Lifecycle::Provisioning
                }
            }
            _ => Lifecycle::Ready,
        }
    }

    /// The status word shown by `hoist sim list`.
    pub fn status_at(&self, now: i64) -> &'static str {
        match self.lifecycle(now) {
            Lifecycle::Provisioning => "provisioning",
            Lifecycle::Updating => "updating",
            Lifecycle::Ready => "running",
            Lifecycle::Deleting => "deleting",
            Lifecycle::Failed { .. } => "failed",
        }
    }
}

pub fn insert(conn: &Connection, r: &Resource) -> rusqlite::Result<()> {
    let sql = format!("INSERT INTO resources({COLUMNS}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    conn.prepare_cached(&sql)?.execute(params![
        r.cloud_id,
        r.kind,
        r.name,
        r.region,
        r.parent,
        r.status,
        r.ready_at,
        r.gone_at,
        serde_json::to_string(&r.attrs).unwrap_or_default(),
        serde_json::to_string(&r.outputs).unwrap_or_default(),
        serde_json::to_string(&r.tags).unwrap_or_default(),
        r.env,
        r.token,
        now_ms()
    ])?;
    Ok(())
}

pub fn update(conn: &Connection, r: &Resource) -> rusqlite::Result<()> {
    let sql = "UPDATE resources SET status = ?2, ready_at = ?3, gone_at = ?4, attrs = ?5, outputs = ?6 WHERE cloud_id = ?1";
    conn.prepare_cached(sql)?.execute(params![
        r.cloud_id,
        r.status,
        r.ready_at,
        r.gone_at,
        serde_json::to_string(&r.attrs).unwrap_or_default(),
        serde_json::to_string(&r.outputs).unwrap_or_default()
    ])?;
    Ok(())
}

/// Replace a resource's tags; `false` when there is no such resource.
pub fn set_tags(
    conn: &Connection,
    cloud_id: &str,
    tags: &BTreeMap<String, String>,
) -> rusqlite::Result<bool> {
    let sql = "UPDATE resources SET tags = ?2 WHERE cloud_id = ?1";
    let text = serde_json::to_string(tags).unwrap_or_default();
    Ok(conn.prepare_cached(sql)?.execute(params![cloud_id, text])? > 0)
}

pub fn get(conn: &Connection, cloud_id: &str) -> rusqlite::Result<Option<Resource>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM resources WHERE cloud_id = ?1"
    ))?
    .query_row([cloud_id], from_row)
    .optional()
}

pub fn by_token(conn: &Connection, token: &str) -> rusqlite::Result<Option<Resource>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM resources WHERE token = ?1"))?
        .query_row([token], from_row)
        .optional()
}

/// Reads answer with attributes and outputs; tags are not part of an answer, so not parsed.
const READ_COLUMNS: &str =
    "cloud_id, kind, name, region, parent, status, ready_at, gone_at, attrs, outputs, '{}', env, token";

/// Many resources by cloud id, one query per chunk, as reads need them (without their tags).
pub fn get_many(
    conn: &Connection,
    ids: &[&str],
) -> rusqlite::Result<std::collections::HashMap<String, Resource>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {READ_COLUMNS} FROM resources WHERE cloud_id IN ({marks})"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), from_row)?;
        for r in rows {
            let r = r?;
            out.insert(r.cloud_id.clone(), r);
        }
    }
    Ok(out)
}

/// Rows matching a WHERE clause with the given parameters.
pub fn select(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Resource>> {
    select_columns(conn, COLUMNS, filter, args)
}

/// Rows as `select` gives them, without their attributes and outputs (empty): for listings,
/// which need only names, states and tags, at a fraction of the parsing.
pub fn select_listed(
    conn: &Connection,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Resource>> {
    let columns = "cloud_id, kind, name, region, parent, status, ready_at, gone_at, '{}', '{}', tags, env, token";
    select_columns(conn, columns, filter, args)
}

fn select_columns(
    conn: &Connection,
    columns: &str,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Vec<Resource>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {columns} FROM resources WHERE {filter} ORDER BY created_at, cloud_id"
    ))?;
    let rows = stmt.query_map(args, from_row)?;
    rows.collect()
}

/// Remove rows whose delete has finished, so they vanish like deleted cloud resources do.
/// A cluster's Kubernetes objects go with it.
pub fn purge_gone(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    for table in ["kube_objects", "kube_clusters"] {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE cluster IN (SELECT cloud_id FROM resources
             WHERE kind = 'cluster' AND gone_at IS NOT NULL AND gone_at <= ?1)"
        ))?
        .execute([now])?;
    }
    conn.prepare_cached("DELETE FROM resources WHERE gone_at IS NOT NULL AND gone_at <= ?1")?
        .execute([now])?;
    Ok(())
}

pub fn capacity(conn: &Connection, zone: &str, accelerator: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT available FROM capacity WHERE zone = ?1 AND accelerator = ?2")?
        .query_row(params![zone, accelerator], |r| r.get(0))
        .optional()
}

pub fn set_capacity(
    conn: &Connection,
    zone: &str,
    accelerator: &str,
    available: Option<i64>,
) -> rusqlite::Result<()> {
    match available {
        Some(n) => conn.prepare_cached("INSERT INTO capacity(zone, accelerator, available) VALUES (?1, ?2, ?3) ON CONFLICT(zone, accelerator) DO UPDATE SET available = ?3")?.execute(params![zone, accelerator, n])?,
        None => conn.prepare_cached("DELETE FROM capacity WHERE zone = ?1 AND accelerator = ?2")?.execute(params![zone, accelerator])?,
    };
    Ok(())
}

/// Take (`delta` > 0) or give back (`delta` < 0) nodes of a zone's limited capacity.
pub fn consume_capacity(
    conn: &Connection,
    zone: &str,
    accelerator: &str,
    delta: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE capacity SET available = MAX(available - ?3, 0) WHERE zone = ?1 AND accelerator = ?2")?.execute(params![zone, accelerator, delta])?;
    Ok(())
}

pub fn quota(conn: &Connection, region: &str, accelerator: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT max_gpus FROM quotas WHERE region = ?1 AND accelerator = ?2")?
        .query_row(params![region, accelerator], |r| r.get(0))
        .optional()
}

pub fn set_quota(
    conn: &Connection,
    region: &str,
    accelerator: &str,
    max_gpus: Option<i64>,
) -> rusqlite::Result<()> {
    match max_gpus {
        Some(n) => conn.prepare_cached("INSERT INTO quotas(region, accelerator, max_gpus) VALUES (?1, ?2, ?3) ON CONFLICT(region, accelerator) DO UPDATE SET max_gpus = ?3")?.execute(params![region, accelerator, n])?,
        None => conn.prepare_cached("DELETE FROM quotas WHERE region = ?1 AND accelerator = ?2")?.execute(params![region, accelerator])?,
    };
    Ok(())
}

pub fn faults(conn: &Connection) -> rusqlite::Result<(f64, f64)> {
    Ok(conn
        .query_row(
            "SELECT transient, throttle FROM faults WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .unwrap_or((0.0, 0.0)))
}

pub fn set_faults(conn: &Connection, transient: f64, throttle: f64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO faults(id, transient, throttle) VALUES (1, ?1, ?2) ON CONFLICT(id) DO UPDATE SET transient = ?1, throttle = ?2")?.execute(params![transient, throttle])?;
    Ok(())
}
