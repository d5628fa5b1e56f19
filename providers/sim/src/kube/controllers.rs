//! The small controllers of a simulated cluster. They run before each request (and after each
//! write) in its transaction, and compute everything from the stored objects, the sim's cloud
//! rows and the time, so that they are deterministic and any process may run them.
//!
//! Here: system namespaces, namespace deletion, CRD status, the reaper of objects whose
//! finalizers are gone. Nodes and workload status are in `nodes`, the cloud resources a
//! cluster makes (load balancers, volumes) in `cloud_rows`.

use serde_json::{json, Value};

use super::catalog::{crd_types, Catalog, CRD_GROUP, CRD_KIND};
use super::handlers::{rfc3339, SYSTEM_NAMESPACES};
use super::status::ApiError;
use super::store::{self, Key, Stored};
use super::{cloud_rows, nodes, operators, Ctx};

/// Run every controller once.
pub fn run(ctx: &Ctx) -> Result<(), ApiError> {
    namespaces(ctx)?;
    crds(ctx)?;
    cascade(ctx)?;
    cloud_rows::services(ctx)?;
    cloud_rows::volumes(ctx)?;
    reap(ctx)?;
    operators::run(ctx)?;
    nodes::run(ctx)?;
    Ok(())
}

/// Write `new` over `old` if a controller changed it (each write takes a resourceVersion).
pub fn save(ctx: &Ctx, old: &Stored, mut new: Value) -> Result<(), ApiError> {
    if new != old.body {
        let key = Key::of(&old.grp, &old.kind, &old.body);
        store::put(ctx.conn, &ctx.cluster.id, &key, &mut new, ctx.now)?;
    }
    Ok(())
}

/// A new object as the server would store it (uid, creation time, generation 1).
pub fn new_object(ctx: &Ctx, api_version: &str, kind: &str, namespace: &str, name: &str) -> Value {
    let mut meta = json!({"name": name, "uid": uuid::Uuid::new_v4().to_string(),
                          "creationTimestamp": rfc3339(ctx.now), "generation": 1});
    if !namespace.is_empty() {
        meta["namespace"] = json!(namespace);
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": meta})
}

pub fn is_deleting(o: &Value) -> bool {
    !o["metadata"]["deletionTimestamp"].is_null()
}

fn has_finalizers(o: &Value) -> bool {
    o["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty())
}

/// A condition, keeping its lastTransitionTime while its status does not change.
pub fn condition(
    previous: &Value,
    kind: &str,
    status: bool,
    reason: &str,
    message: &str,
    now: i64,
) -> Value {
    let status = if status { "True" } else { "False" };
    let prev = previous
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == kind);
    let since = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(rfc3339(now)),
    };
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastTransitionTime": since, "lastUpdateTime": since})
}

/// The system namespaces exist; every namespace is Active (or Terminating) and carries its
/// `kubernetes.io/metadata.name` label, as a real server sets them.
fn namespaces(ctx: &Ctx) -> Result<(), ApiError> {
    let id = &ctx.cluster.id;
    for name in SYSTEM_NAMESPACES {
        let key = Key::new("", "Namespace", "", name);
        if store::get(ctx.conn, id, &key)?.is_none() {
            let mut ns = new_object(ctx, "v1", "Namespace", "", name);
            ns["spec"] = json!({"finalizers": ["kubernetes"]});
            store::put(ctx.conn, id, &key, &mut ns, ctx.now)?;
        }
    }
    for ns in store::list(ctx.conn, id, "", "Namespace", None)? {
        let mut body = ns.body.clone();
        let name = body["metadata"]["name"].clone();
        body["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        body["status"]["phase"] = json!(if is_deleting(&body) {
            "Terminating"
        } else {
            "Active"
        });
        save(ctx, &ns, body)?;
    }
    Ok(())
}

/// CRDs are accepted and established at once; objects of kinds no CRD serves any more go.
fn crds(ctx: &Ctx) -> Result<(), ApiError> {
    let id = &ctx.cluster.id;
    let all = store::list(ctx.conn, id, CRD_GROUP, CRD_KIND, None)?;
    for crd in &all {
        let mut body = crd.body.clone();
        if crd_types(&body).is_empty() {
            continue;
        }
        let names = &body["spec"]["names"];
        let kind = names["kind"].as_str().unwrap_or("");
        let mut accepted = names.clone();
        if accepted["singular"].is_null() {
            accepted["singular"] = json!(kind.to_ascii_lowercase());
        }
        if accepted["listKind"].is_null() {
            accepted["listKind"] = json!(format!("{kind}List"));
        }
        let prev = body["status"]["conditions"].clone();
        let stored: Vec<Value> = body["spec"]["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["storage"].as_bool().unwrap_or(false))
            .map(|v| v["name"].clone())
            .collect();
        body["status"] = json!({
            "conditions": [
                condition(&prev, "NamesAccepted", true, "NoConflicts", "no conflicts found", ctx.now),
                condition(&prev, "Established", true, "InitialNamesAccepted", "the initial names have been accepted", ctx.now),
            ],
            "acceptedNames": accepted,
            "storedVersions": stored,
        });
        for c in body["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if let Some(m) = c.as_object_mut() {
                m.remove("lastUpdateTime");
            }
        }
        save(ctx, crd, body)?;
    }
    let catalog = Catalog::new(&all);
    for (grp, kind) in store::kinds(ctx.conn, id)? {
        if !catalog.knows_kind(&grp, &kind) {
            store::delete_kind(ctx.conn, id, &grp, &kind)?;
        }
    }
    Ok(())
}

/// A terminating namespace deletes what is in it (marking what finalizers hold).
fn cascade(ctx: &Ctx) -> Result<(), ApiError> {
    let id = &ctx.cluster.id;
    for ns in store::list(ctx.conn, id, "", "Namespace", None)?
        .into_iter()
        .filter(|n| is_deleting(&n.body))
    {
        let name = ns.body["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        for o in store::in_namespace(ctx.conn, id, &name)? {
            if is_deleting(&o.body) {
                continue;
            }
            if has_finalizers(&o.body) {
                let mut body = o.body.clone();
                body["metadata"]["deletionTimestamp"] = json!(rfc3339(ctx.now));
                save(ctx, &o, body)?;
            } else {
                store::delete(ctx.conn, id, &Key::of(&o.grp, &o.kind, &o.body))?;
            }
        }
    }
    Ok(())
}

/// Objects marked for deletion go once their finalizers are empty; a namespace once it is
/// also empty.
fn reap(ctx: &Ctx) -> Result<(), ApiError> {
    let id = &ctx.cluster.id;
    let (namespaces, others): (Vec<Stored>, Vec<Stored>) = store::deleting(ctx.conn, id)?
        .into_iter()
        .filter(|o| !has_finalizers(&o.body))
        .partition(|o| o.grp.is_empty() && o.kind == "Namespace");
    for o in others {
        store::delete(ctx.conn, id, &Key::of(&o.grp, &o.kind, &o.body))?;
    }
    for ns in namespaces {
        let name = ns.body["metadata"]["name"].as_str().unwrap_or("");
        if store::in_namespace(ctx.conn, id, name)?.is_empty() {
            store::delete(ctx.conn, id, &Key::of(&ns.grp, &ns.kind, &ns.body))?;
        }
    }
    Ok(())
}
