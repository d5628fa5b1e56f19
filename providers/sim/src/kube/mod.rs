//! A Kubernetes API server for each simulated cluster, answering HTTP messages in process and
//! keeping its objects in the sim's SQLite file.
//!
//! It serves what kube-rs and kubectl need to apply and inspect a stack: discovery, the
//! built-in kinds and CRD-defined ones, get/list/watch/create/update/patch/delete with
//! server-side apply, and a few small controllers (nodes from the node pools, workload status,
//! load balancers and volumes as sim cloud resources). Controllers run before each request,
//! inside its transaction, so every process sees one consistent, time-driven cluster.

mod apply;
mod catalog;
mod cloud_rows;
mod controllers;
mod faults;
mod handlers;
mod nodes;
mod operators;
mod patch;
mod selector;
mod status;
mod store;
mod table;
#[cfg(test)]
mod tests;
mod validate;
mod writes;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hoist_provider::{tags, KubeService};
use rusqlite::{Connection, TransactionBehavior};
use serde_json::{json, Value};

use crate::db::{self, now_ms};
use crate::{LatencyProfile, SimCloud, SimError};
use catalog::Catalog;
pub(crate) use status::ApiError;
pub use store::SCHEMA;

/// The Kubernetes API of one simulated cluster. Cheap to clone and to make: it holds its own
/// connection to the sim's database, so it does not contend with the cloud handle's.
#[derive(Clone)]
pub struct SimKubeApi {
    conn: Arc<Mutex<Connection>>,
    cluster_id: String,
    latency: LatencyProfile,
}

impl std::fmt::Debug for SimKubeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimKubeApi({})", self.cluster_id)
    }
}

/// What a request needs to know about the cluster it is served for.
pub(crate) struct ClusterInfo {
    pub id: String,
    pub name: String,
    pub region: String,
    /// `v1.32.0`.
    pub git_version: String,
    pub env: Option<String>,
    /// The ownership tags things the cluster's controllers make carry.
    pub tags: BTreeMap<String, String>,
    /// The network the cluster is in: load balancers hang off it.
    pub network: Option<String>,
}

/// One request being served: the connection (inside its transaction), the cluster, the time.
pub(crate) struct Ctx<'a> {
    pub conn: &'a Connection,
    pub cluster: &'a ClusterInfo,
    pub now: i64,
    pub latency: LatencyProfile,
}

impl Ctx<'_> {
    /// The kinds served now (built-in and from the stored CRDs).
    pub fn catalog(&self) -> Result<Catalog, ApiError> {
        let crds = store::list(
            self.conn,
            &self.cluster.id,
            catalog::CRD_GROUP,
            catalog::CRD_KIND,
            None,
        )?;
        Ok(Catalog::new(&crds))
    }
}

fn git_version(attrs: &hoist_provider::Attrs) -> String {
    let raw = match attrs.get("kubernetes_version") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "1.32".into(),
    };
    let v = raw.trim().trim_start_matches('v');
    match v.split('.').count() {
        1 => format!("v{v}.0.0"),
        2 => format!("v{v}.0"),
        _ => format!("v{v}"),
    }
}

/// The live cluster row `cluster_id`, as a request sees it; None once it is gone.
fn cluster_info(
    conn: &Connection,
    cluster_id: &str,
    now: i64,
) -> rusqlite::Result<Option<ClusterInfo>> {
    let Some(row) = db::get(conn, cluster_id)?.filter(|r| r.kind == "cluster" && r.exists(now))
    else {
        return Ok(None);
    };
    let mut network = row.parent.clone();
    for _ in 0..4 {
        match network
            .as_deref()
            .map(|id| db::get(conn, id))
            .transpose()?
            .flatten()
        {
            Some(p) if p.kind != "network" => network = p.parent,
            _ => break,
        }
    }
    let tags = row
        .tags
        .iter()
        .filter(|(k, _)| k.as_str() == tags::ENV || k.as_str() == tags::LINEAGE)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Some(ClusterInfo {
        id: row.cloud_id.clone(),
        name: row.name.clone(),
        region: row.region.clone(),
        git_version: git_version(&row.attrs),
        env: row.env.clone(),
        tags,
        network,
    }))
}

impl SimCloud {
    /// The Kubernetes API of the live cluster `cluster_id` (a cloud id of a `cluster` row).
    pub fn kube_api(&self, cluster_id: &str) -> Result<SimKubeApi, SimError> {
        let now = now_ms();
        let exists = cluster_info(&self.conn(), cluster_id, now)?.is_some();
        if !exists {
            return Err(SimError::NotFound {
                what: format!("cluster {cluster_id:?}"),
                hint: "name a live cluster's cloud id from `hoist sim list`".into(),
            });
        }
        SimKubeApi::open(self.path(), cluster_id, self.latency)
    }
}

/// A request, parsed once.
pub(crate) struct Req {
    pub method: http::Method,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub accept: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Req {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("true" | "1" | ""))
    }
}

/// Decode `%XX` escapes and `+` (a space in a query).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// An answer: its code, content type and body.
pub(crate) struct Answer {
    pub code: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(code: u16, v: &Value) -> Self {
        Self {
            code,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }
}

fn respond(a: Answer) -> http::Response<Vec<u8>> {
    let mut resp = http::Response::new(a.body);
    *resp.status_mut() =
        http::StatusCode::from_u16(a.code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(a.content_type),
    );
    resp
}

impl SimKubeApi {
    /// Open a connection of its own to the sim database at `path` (WAL, with a busy timeout).
    fn open(path: &Path, cluster_id: &str, latency: LatencyProfile) -> Result<Self, SimError> {
        let conn = db::open(path).map_err(|e| SimError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            cluster_id: cluster_id.to_string(),
            latency,
        })
    }

    /// How many requests this cluster's API has answered, in every process.
    pub fn requests(&self) -> Result<u64, SimError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        store::requests(&conn, &self.cluster_id).map_err(SimError::from)
    }

    /// The sim cloud id of the cluster this API serves.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Serve one request inside one transaction: controllers, the request, controllers again
    /// after a write; a dry run is rolled back.
    fn serve(&self, conn: &mut Connection, req: &Req) -> Result<Answer, ApiError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now_ms();
        let Some(cluster) = cluster_info(&tx, &self.cluster_id, now)? else {
            store::drop_cluster(&tx, &self.cluster_id)?;
            tx.commit()?;
            return Err(ApiError::unavailable(format!(
                "cluster {} no longer exists in the simulated cloud",
                self.cluster_id
            )));
        };
        let ctx = Ctx {
            conn: &tx,
            cluster: &cluster,
            now,
            latency: self.latency,
        };
        controllers::run(&ctx)?;
        let write = !matches!(req.method, http::Method::GET | http::Method::HEAD);
        let answer = route(&ctx, req)?;
        if write && answer.code < 300 {
            controllers::run(&ctx)?;
        }
        if write && req.param("dryRun").is_some() {
            tx.rollback()?;
        } else {
            tx.commit()?;
        }
        Ok(answer)
    }
}

fn discovery(req: &Req, doc: Option<Value>) -> Result<Answer, ApiError> {
    if req.method != http::Method::GET {
        return Err(ApiError::method_not_allowed(req.method.as_str(), &req.path));
    }
    doc.map(|d| Answer::json(200, &d))
        .ok_or_else(|| ApiError::no_route(&req.path))
}

fn route(ctx: &Ctx, req: &Req) -> Result<Answer, ApiError> {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => {
            let v = &ctx.cluster.git_version;
            let mut parts = v.trim_start_matches('v').split('.');
            let (major, minor) = (parts.next().unwrap_or("1"), parts.next().unwrap_or("0"));
            discovery(
                req,
                Some(
                    json!({"major": major, "minor": minor, "gitVersion": v, "gitCommit": "sim",
                            "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                            "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}),
                ),
            )
        }
        ["healthz" | "livez" | "readyz"] => Ok(Answer {
            code: 200,
            content_type: "text/plain",
            body: b"ok".to_vec(),
        }),
        ["api"] => discovery(req, Some(Catalog::api_versions())),
        ["apis"] => discovery(req, Some(ctx.catalog()?.group_list())),
        ["api", "v1"] => discovery(req, ctx.catalog()?.resource_list("", "v1")),
        ["apis", group] => discovery(req, ctx.catalog()?.group(group)),
        ["apis", group, version] => discovery(req, ctx.catalog()?.resource_list(group, version)),
        ["api", "v1", rest @ ..] => handlers::resource(ctx, req, "", "v1", rest),
        ["apis", group, version, rest @ ..] => handlers::resource(ctx, req, group, version, rest),
        _ => Err(ApiError::no_route(&req.path)),
    }
}

#[async_trait]
impl KubeService for SimKubeApi {
    /// Requests are served synchronously on the caller's task: each is one short SQLite
    /// transaction on this API's own connection.
    async fn call(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let (parts, body) = request.into_parts();
        let header = |name: http::header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let req = Req {
            method: parts.method.clone(),
            path: percent_decode(parts.uri.path()),
            query: parse_query(parts.uri.query()),
            accept: header(http::header::ACCEPT),
            content_type: header(http::header::CONTENT_TYPE),
            body,
        };
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let _ = store::count_request(&conn, &self.cluster_id);
        let fault = faults::roll(&conn);
        if let faults::Fault::Before(e) = fault {
            return respond(Answer::json(e.code, &e.body()));
        }
        let answer = match self.serve(&mut conn, &req) {
            Ok(answer) => answer,
            Err(e) => Answer::json(e.code, &e.body()),
        };
        match fault {
            faults::Fault::After(e) => respond(Answer::json(e.code, &e.body())),
            _ => respond(answer),
        }
    }
}
