//! What a cluster's controllers make in the cloud: a load balancer per `LoadBalancer`
//! Service and a volume per PersistentVolumeClaim, as rows of the sim's `resources` table,
//! tagged like the cloud controllers tag them. A load balancer's parent is the cluster's
//! network, so a network cannot be deleted while one is left: the leak hoist must avoid by
//! deleting the stack before the cluster.

use std::collections::{BTreeMap, BTreeSet};

use hoist_provider::Attrs;
use serde_json::{json, Value};

use super::controllers::{is_deleting, save};
use super::status::ApiError;
use super::store;
use super::Ctx;
use crate::db::{self, Resource};

const LB_FINALIZER: &str = "service.kubernetes.io/load-balancer-cleanup";

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

/// The live rows of `kind` this cluster's controllers made, by the object they are for.
fn rows(ctx: &Ctx, kind: &str) -> Result<BTreeMap<String, Resource>, ApiError> {
    let found = db::select(
        ctx.conn,
        "kind = ?1 AND json_extract(attrs, '$.cluster_id') = ?2",
        &[&kind, &ctx.cluster.id],
    )?;
    Ok(found
        .into_iter()
        .filter(|r| r.exists(ctx.now) && r.status != "deleting")
        .filter_map(|r| Some((r.attrs.get("for")?.as_str()?.to_string(), r)))
        .collect())
}

fn tags(ctx: &Ctx, extra: &[(String, String)]) -> BTreeMap<String, String> {
    let mut t = ctx.cluster.tags.clone();
    t.insert(
        format!("kubernetes.io/cluster/{}", ctx.cluster.name),
        "owned".into(),
    );
    t.extend(extra.iter().cloned());
    t
}

/// Add a row; its cloud id is `outputs.id`, as the sim's other resources report it.
fn insert(
    ctx: &Ctx,
    kind: &str,
    name: String,
    parent: Option<String>,
    attrs: Value,
    outputs: Value,
    tags: BTreeMap<String, String>,
) -> Result<Resource, ApiError> {
    let to_attrs = |v: Value| -> Attrs {
        v.as_object()
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default()
    };
    let row = Resource {
        cloud_id: outputs["id"].as_str().unwrap_or_default().to_string(),
        kind: kind.into(),
        name,
        region: ctx.cluster.region.clone(),
        parent,
        status: "running".into(),
        ready_at: ctx.now,
        gone_at: None,
        attrs: to_attrs(attrs),
        outputs: to_attrs(outputs),
        tags,
        env: ctx.cluster.env.clone(),
        token: None,
    };
    db::insert(ctx.conn, &row)?;
    Ok(row)
}

/// Start deleting rows whose object is gone (they finish after the kind's delete time).
fn retire(
    ctx: &Ctx,
    rows: BTreeMap<String, Resource>,
    keep: &BTreeSet<String>,
) -> Result<(), ApiError> {
    for (owner, mut row) in rows {
        if !keep.contains(&owner) {
            row.status = "deleting".into();
            row.gone_at = Some(ctx.now + ctx.latency.delete_ms(&row.kind));
            db::update(ctx.conn, &row)?;
        }
    }
    db::purge_gone(ctx.conn, ctx.now)?;
    Ok(())
}

/// A stable cluster IP from the Service's uid: 10.100.x.y.
fn cluster_ip(uid: &str) -> String {
    let h = uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.100.{}.{}", (h >> 8) % 256, h % 254 + 1)
}

/// Services get a cluster IP; LoadBalancer ones a load balancer, held by a finalizer until
/// it is deleted.
pub fn services(ctx: &Ctx) -> Result<(), ApiError> {
    let mut lbs = rows(ctx, "load_balancer")?;
    let mut keep = BTreeSet::new();
    for svc in store::list(ctx.conn, &ctx.cluster.id, "", "Service", None)? {
        let mut body = svc.body.clone();
        let meta = &svc.body["metadata"];
        let owner = format!(
            "{}/{}",
            meta["namespace"].as_str().unwrap_or(""),
            meta["name"].as_str().unwrap_or("")
        );
        let deleting = is_deleting(&body);
        if !deleting {
            if body["spec"]["type"].is_null() {
                body["spec"]["type"] = json!("ClusterIP");
            }
            if body["spec"]["clusterIP"].as_str().is_none_or(str::is_empty) {
                let ip = cluster_ip(meta["uid"].as_str().unwrap_or(&owner));
                body["spec"]["clusterIP"] = json!(ip);
                body["spec"]["clusterIPs"] = json!([ip]);
            }
        }
        let mut finalizers: Vec<Value> = body["metadata"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        finalizers.retain(|f| f != LB_FINALIZER);
        if !deleting && body["spec"]["type"] == "LoadBalancer" {
            let row = match lbs.remove(&owner) {
                Some(r) => r,
                None => {
                    let cloud_id = format!("lb-{}", short_id());
                    let base: String = format!("k8s-{}", owner.replace('/', "-"))
                        .chars()
                        .take(24)
                        .collect();
                    let name = format!("{}-{}", base.trim_end_matches('-'), &cloud_id[3..9]);
                    let hostname = format!("{name}.{}.elb.sim.hoist.local", ctx.cluster.region);
                    let extra = [("kubernetes.io/service-name".to_string(), owner.clone())];
                    insert(
                        ctx,
                        "load_balancer",
                        name,
                        ctx.cluster.network.clone(),
                        json!({"cluster_id": ctx.cluster.id, "for": owner, "scheme": "internet-facing"}),
                        json!({"id": cloud_id, "hostname": hostname}),
                        tags(ctx, &extra),
                    )?
                }
            };
            keep.insert(owner.clone());
            let hostname = row.outputs.get("hostname").cloned().unwrap_or(Value::Null);
            lbs.insert(owner, row);
            finalizers.push(json!(LB_FINALIZER));
            body["status"]["loadBalancer"] = json!({"ingress": [{"hostname": hostname}]});
        } else if !deleting {
            body["status"]["loadBalancer"] = json!({});
        }
        if finalizers.is_empty() {
            if let Some(m) = body["metadata"].as_object_mut() {
                m.remove("finalizers");
            }
        } else {
            body["metadata"]["finalizers"] = json!(finalizers);
        }
        save(ctx, &svc, body)?;
    }
    retire(ctx, lbs, &keep)
}

/// PersistentVolumeClaims are bound at once to a volume made for them.
pub fn volumes(ctx: &Ctx) -> Result<(), ApiError> {
    let mut vols = rows(ctx, "volume")?;
    let mut keep = BTreeSet::new();
    for pvc in store::list(ctx.conn, &ctx.cluster.id, "", "PersistentVolumeClaim", None)? {
        if is_deleting(&pvc.body) {
            continue;
        }
        let meta = &pvc.body["metadata"];
        let (ns, name) = (
            meta["namespace"].as_str().unwrap_or(""),
            meta["name"].as_str().unwrap_or(""),
        );
        let owner = format!("{ns}/{name}");
        let size = pvc.body["spec"]["resources"]["requests"]["storage"]
            .as_str()
            .unwrap_or("1Gi")
            .to_string();
        let volume = format!("pvc-{}", meta["uid"].as_str().unwrap_or(name));
        if !vols.contains_key(&owner) {
            let extra = [
                (
                    "kubernetes.io/created-for/pvc/name".to_string(),
                    name.to_string(),
                ),
                (
                    "kubernetes.io/created-for/pvc/namespace".to_string(),
                    ns.to_string(),
                ),
                (
                    "kubernetes.io/created-for/pv/name".to_string(),
                    volume.clone(),
                ),
            ];
            let cloud_id = format!("vol-{}", short_id());
            let row = insert(
                ctx,
                "volume",
                volume.clone(),
                None,
                json!({"cluster_id": ctx.cluster.id, "for": owner, "size": size}),
                json!({"id": cloud_id}),
                tags(ctx, &extra),
            )?;
            vols.insert(owner.clone(), row);
        }
        keep.insert(owner);
        let mut body = pvc.body.clone();
        body["spec"]["volumeName"] = json!(volume);
        let modes = body["spec"]["accessModes"].clone();
        body["status"] =
            json!({"phase": "Bound", "capacity": {"storage": size}, "accessModes": modes});
        save(ctx, &pvc, body)?;
    }
    retire(ctx, vols, &keep)
}
