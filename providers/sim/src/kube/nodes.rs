//! Nodes from the cluster's node pools, a scheduler's view of them, and the status of the
//! workloads (Deployments, StatefulSets, DaemonSets) that depends on it. A node advertises
//! `nvidia.com/gpu` only once a ready device-plugin DaemonSet runs on it, as on a real cluster.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::controllers::{condition, is_deleting, new_object, save};
use super::selector::{string_map, subset};
use super::status::ApiError;
use super::store::{self, Key, Stored};
use super::Ctx;
use crate::db;

const GPU: &str = "nvidia.com/gpu";
const POOL_LABEL: &str = "hoist.dev/node-pool";

/// A node as the scheduler sees it.
pub struct NodeView {
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Value>,
    pub gpus_allocatable: i64,
}

/// `key=value:Effect` or `key:Effect` as a taint object.
fn taint(text: &str) -> Option<Value> {
    let (kv, effect) = text.rsplit_once(':')?;
    let mut t = json!({"key": kv, "effect": effect});
    if let Some((k, v)) = kv.split_once('=') {
        t = json!({"key": k, "value": v, "effect": effect});
    }
    Some(t)
}

fn tolerates(tol: &Value, taint: &Value) -> bool {
    let effect_ok = tol["effect"]
        .as_str()
        .is_none_or(|e| e.is_empty() || Some(e) == taint["effect"].as_str());
    let key = tol["key"].as_str().unwrap_or("");
    let exists = tol["operator"].as_str() == Some("Exists");
    effect_ok
        && if key.is_empty() {
            exists
        } else {
            key == taint["key"].as_str().unwrap_or("")
                && (exists
                    || tol["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or(""))
        }
}

fn expression_matches(e: &Value, labels: &BTreeMap<String, String>) -> bool {
    let key = e["key"].as_str().unwrap_or("");
    let values: Vec<&str> = e["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let have = labels.get(key).map(String::as_str);
    let num = |s: &str| s.parse::<i64>().ok();
    match e["operator"].as_str().unwrap_or("") {
        "In" => have.is_some_and(|h| values.contains(&h)),
        "NotIn" => have.is_none_or(|h| !values.contains(&h)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        "Gt" => {
            matches!((have.and_then(num), values.first().and_then(|v| num(v))), (Some(h), Some(v)) if h > v)
        }
        "Lt" => {
            matches!((have.and_then(num), values.first().and_then(|v| num(v))), (Some(h), Some(v)) if h < v)
        }
        _ => false,
    }
}

/// Why a pod with `spec` cannot run on `node` (None: it can), in the scheduler's words.
fn misfit(spec: &Value, node: &NodeView) -> Option<String> {
    if !subset(&spec["nodeSelector"], &node.labels) {
        return Some("didn't match Pod's node affinity/selector".into());
    }
    let terms = &spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"];
    if let Some(terms) = terms.as_array().filter(|t| !t.is_empty()) {
        let any = terms.iter().any(|t| {
            t["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|e| expression_matches(e, &node.labels))
        });
        if !any {
            return Some("didn't match Pod's node affinity/selector".into());
        }
    }
    let tolerations = spec["tolerations"].as_array().cloned().unwrap_or_default();
    for t in node
        .taints
        .iter()
        .filter(|t| matches!(t["effect"].as_str(), Some("NoSchedule" | "NoExecute")))
    {
        if !tolerations.iter().any(|tol| tolerates(tol, t)) {
            return Some(format!(
                "had untolerated taint {{{}: {}}}",
                t["key"].as_str().unwrap_or(""),
                t["value"].as_str().unwrap_or("")
            ));
        }
    }
    None
}

fn quantity(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

/// The GPUs one pod of `spec` asks for (the larger of limit and request, per container).
fn gpu_request(spec: &Value) -> i64 {
    spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            quantity(&c["resources"]["limits"][GPU]).max(quantity(&c["resources"]["requests"][GPU]))
        })
        .sum()
}

/// None when some node can run a pod of `spec`, else the scheduler's message.
pub fn unschedulable(spec: &Value, nodes: &[NodeView]) -> Option<String> {
    let want = gpu_request(spec);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for n in nodes {
        match misfit(spec, n) {
            None if n.gpus_allocatable >= want => return None,
            None => *reasons.entry(format!("Insufficient {GPU}")).or_default() += 1,
            Some(r) => *reasons.entry(format!("node(s) {r}")).or_default() += 1,
        }
    }
    let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
    Some(format!(
        "0/{} nodes are available: {}",
        nodes.len(),
        if parts.is_empty() {
            "no nodes".into()
        } else {
            parts.join(", ")
        }
    ))
}

fn is_device_plugin(template: &Value) -> bool {
    ["containers", "initContainers"].iter().any(|k| {
        template[*k].as_array().into_iter().flatten().any(|c| {
            c["image"]
                .as_str()
                .is_some_and(|i| i.contains("k8s-device-plugin") || i.contains("gpu-operator"))
        })
    })
}

fn ready(ctx: &Ctx, o: &Stored) -> bool {
    !is_deleting(&o.body) && ctx.now >= o.changed_at + ctx.latency.workload_ready_ms()
}

/// One node a pool should have now.
struct Wanted {
    name: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Value>,
    gpus: i64,
    cpu: i64,
    zone: String,
}

fn wanted_nodes(ctx: &Ctx) -> Result<Vec<Wanted>, ApiError> {
    let pools = db::select(
        ctx.conn,
        "kind = 'node_pool' AND parent = ?1",
        &[&ctx.cluster.id],
    )?;
    let mut out = Vec::new();
    for p in pools
        .iter()
        .filter(|p| p.exists(ctx.now) && p.status != "deleting")
    {
        if p.lifecycle(ctx.now) == hoist_provider::Lifecycle::Provisioning {
            continue;
        }
        let pool_name = p
            .attrs
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&p.name)
            .to_string();
        let cloud_name = p
            .outputs
            .get("cloud_name")
            .and_then(Value::as_str)
            .unwrap_or(&p.name)
            .to_ascii_lowercase();
        let instance = p
            .attrs
            .get("instance_type")
            .and_then(Value::as_str)
            .or_else(|| p.outputs.get("instance_type").and_then(Value::as_str))
            .unwrap_or("sim-standard-4")
            .to_string();
        let accel =
            p.attrs
                .get("accelerator")
                .and_then(Value::as_str)
                .map(|a| match a.split_once(':') {
                    Some((n, c)) => (n.to_string(), c.parse::<i64>().unwrap_or(1)),
                    None => (a.to_string(), 1),
                });
        let taints: Vec<Value> = p
            .attrs
            .get("taints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().and_then(taint))
            .collect();
        let per_zone = p
            .outputs
            .get("nodes_per_zone")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (zone, n) in per_zone {
            for i in 0..n.as_i64().unwrap_or(0).max(0) {
                let name = format!("{cloud_name}-{zone}-{i}").to_ascii_lowercase();
                let mut labels = string_map(p.attrs.get("labels").unwrap_or(&Value::Null));
                for (k, v) in [
                    ("kubernetes.io/hostname", name.as_str()),
                    ("kubernetes.io/os", "linux"),
                    ("kubernetes.io/arch", "amd64"),
                    ("topology.kubernetes.io/zone", zone.as_str()),
                    ("topology.kubernetes.io/region", p.region.as_str()),
                    ("node.kubernetes.io/instance-type", instance.as_str()),
                    (POOL_LABEL, pool_name.as_str()),
                ] {
                    labels.insert(k.into(), v.into());
                }
                let mut gpus = 0;
                if let Some((a, c)) = accel
                    .as_ref()
                    .filter(|(a, _)| !a.to_ascii_lowercase().starts_with("tpu"))
                {
                    labels.insert("nvidia.com/gpu.present".into(), "true".into());
                    labels.insert("sim.hoist.dev/accelerator".into(), a.to_ascii_lowercase());
                    gpus = *c;
                }
                out.push(Wanted {
                    name,
                    labels,
                    taints: taints.clone(),
                    gpus,
                    cpu: if gpus > 0 { (12 * gpus).max(8) } else { 4 },
                    zone: zone.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Nodes follow the pools; then workload status follows the nodes.
pub fn run(ctx: &Ctx) -> Result<(), ApiError> {
    let id = &ctx.cluster.id;
    let wanted = wanted_nodes(ctx)?;
    let daemonsets = store::list(ctx.conn, id, "apps", "DaemonSet", None)?;
    let existing = store::list(ctx.conn, id, "", "Node", None)?;
    for old in existing
        .iter()
        .filter(|n| n.body["metadata"]["labels"].get(POOL_LABEL).is_some())
    {
        let name = old.body["metadata"]["name"].as_str().unwrap_or("");
        if !wanted.iter().any(|w| w.name == name) {
            store::delete(ctx.conn, id, &Key::of(&old.grp, &old.kind, &old.body))?;
        }
    }
    let mut views = Vec::new();
    for (i, w) in wanted.iter().enumerate() {
        let prior = existing
            .iter()
            .find(|n| n.body["metadata"]["name"].as_str() == Some(w.name.as_str()));
        let mut body = prior
            .map(|p| p.body.clone())
            .unwrap_or_else(|| new_object(ctx, "v1", "Node", "", &w.name));
        for (k, v) in &w.labels {
            body["metadata"]["labels"][k] = json!(v);
        }
        body["spec"]["providerID"] = json!(format!("sim://{}/{}", w.zone, w.name));
        if w.taints.is_empty() {
            if let Some(s) = body["spec"].as_object_mut() {
                s.remove("taints");
            }
        } else {
            body["spec"]["taints"] = json!(w.taints);
        }
        let view = NodeView {
            labels: string_map(&body["metadata"]["labels"]),
            taints: w.taints.clone(),
            gpus_allocatable: 0,
        };
        let plugged = w.gpus > 0
            && daemonsets.iter().any(|ds| {
                let t = &ds.body["spec"]["template"]["spec"];
                is_device_plugin(t) && ready(ctx, ds) && misfit(t, &view).is_none()
            });
        let mut capacity = json!({"cpu": w.cpu.to_string(), "memory": format!("{}Gi", w.cpu * 4), "pods": "110", "ephemeral-storage": "200Gi"});
        if plugged {
            capacity[GPU] = json!(w.gpus.to_string());
        }
        let since = body["metadata"]["creationTimestamp"].clone();
        body["status"] = json!({
            "capacity": capacity, "allocatable": capacity,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": since, "lastTransitionTime": since}],
            "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", i / 250, i % 250 + 4)}, {"type": "Hostname", "address": w.name}],
            "nodeInfo": {"kubeletVersion": ctx.cluster.git_version, "osImage": "Sim Linux", "operatingSystem": "linux",
                         "architecture": "amd64", "containerRuntimeVersion": "containerd://1.7.0"},
        });
        match prior {
            Some(p) => save(ctx, p, body)?,
            None => store::put(
                ctx.conn,
                id,
                &Key::new("", "Node", "", &w.name),
                &mut body,
                ctx.now,
            )?,
        }
        views.push(NodeView {
            gpus_allocatable: if plugged { w.gpus } else { 0 },
            ..view
        });
    }
    // Hand-made nodes (no pool label) count for scheduling too.
    for n in store::list(ctx.conn, id, "", "Node", None)?
        .iter()
        .filter(|n| n.body["metadata"]["labels"].get(POOL_LABEL).is_none())
    {
        views.push(NodeView {
            labels: string_map(&n.body["metadata"]["labels"]),
            taints: n.body["spec"]["taints"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
            gpus_allocatable: quantity(&n.body["status"]["allocatable"][GPU]),
        });
    }
    daemonset_status(ctx, &daemonsets, &views)?;
    for kind in ["Deployment", "StatefulSet"] {
        for o in store::list(ctx.conn, id, "apps", kind, None)? {
            workload_status(ctx, &o, &views)?;
        }
    }
    Ok(())
}

fn daemonset_status(ctx: &Ctx, daemonsets: &[Stored], nodes: &[NodeView]) -> Result<(), ApiError> {
    for ds in daemonsets.iter().filter(|d| !is_deleting(&d.body)) {
        let spec = &ds.body["spec"]["template"]["spec"];
        let desired = nodes.iter().filter(|n| misfit(spec, n).is_none()).count();
        let up = if ready(ctx, ds) { desired } else { 0 };
        let mut body = ds.body.clone();
        body["status"] = json!({
            "observedGeneration": body["metadata"]["generation"], "desiredNumberScheduled": desired,
            "currentNumberScheduled": desired, "numberMisscheduled": 0, "numberReady": up,
            "numberAvailable": up, "updatedNumberScheduled": up, "numberUnavailable": desired - up,
        });
        save(ctx, ds, body)?;
    }
    Ok(())
}

fn workload_status(ctx: &Ctx, o: &Stored, nodes: &[NodeView]) -> Result<(), ApiError> {
    if is_deleting(&o.body) {
        return Ok(());
    }
    let mut body = o.body.clone();
    let replicas = body["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
    let blocked = if replicas == 0 {
        None
    } else {
        unschedulable(&body["spec"]["template"]["spec"], nodes)
    };
    let up = blocked.is_none() && (replicas == 0 || ready(ctx, o));
    let prev = body["status"]["conditions"].clone();
    let (reason, message) = match (&blocked, up) {
        (_, true) => (
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".to_string(),
        ),
        (Some(why), _) => (
            "MinimumReplicasUnavailable",
            format!("Deployment does not have minimum availability: {why}."),
        ),
        (None, false) => (
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".to_string(),
        ),
    };
    let n = if up { replicas } else { 0 };
    let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
    let progressing = if up {
        condition(
            &prev,
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{name}\" has successfully progressed."),
            ctx.now,
        )
    } else {
        condition(
            &prev,
            "Progressing",
            true,
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{name}\" is progressing."),
            ctx.now,
        )
    };
    body["status"] = json!({
        "observedGeneration": body["metadata"]["generation"], "replicas": replicas,
        "updatedReplicas": if blocked.is_none() { replicas } else { 0 }, "readyReplicas": n, "availableReplicas": n,
        "currentReplicas": n, "unavailableReplicas": replicas - n,
        "conditions": [condition(&prev, "Available", up, reason, &message, ctx.now), progressing],
    });
    save(ctx, o, body)
}
