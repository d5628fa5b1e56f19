//! The controllers the stack installs, as a simulated cluster runs them once their own
//! Deployment is available: NVIDIA's GPU operator (a ClusterPolicy becomes the device plugin
//! and DCGM exporter DaemonSets on the nodes it recognises as GPU nodes), KServe (an
//! InferenceService becomes its predictor's Deployment, Service and HPA), the Job controller,
//! and the garbage collector that removes what an owner deleted leaves behind. They check what
//! the real ones would need, so a stack hoist renders wrong fails here as it would there: the
//! GPU operator finds no GPU node without the labels Node Feature Discovery would set, and
//! KServe does nothing without its `inferenceservice-config`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::controllers::{condition, is_deleting, new_object, save};
use super::handlers::rfc3339;
use super::status::ApiError;
use super::store::{self, Key, Stored};
use super::Ctx;

/// The label the GPU operator recognises NVIDIA PCI devices by, and the OS labels it reads.
const PCI_LABEL: &str = "feature.node.kubernetes.io/pci-10de.present";
const OS_LABELS: [&str; 2] = [
    "feature.node.kubernetes.io/system-os_release.ID",
    "feature.node.kubernetes.io/system-os_release.VERSION_ID",
];
/// What the simulated node image says of nodes that have GPUs.
const GPU_HARDWARE: &str = "nvidia.com/gpu.present";

/// Run every operator once, before the node and workload controllers compute status.
pub fn run(ctx: &Ctx) -> Result<(), ApiError> {
    jobs(ctx)?;
    gpu_operator(ctx)?;
    kserve(ctx)?;
    collect_garbage(ctx)
}

/// The namespace of an available Deployment whose image contains `image`.
fn running(ctx: &Ctx, image: &str) -> Result<Option<String>, ApiError> {
    let found = store::list(ctx.conn, &ctx.cluster.id, "apps", "Deployment", None)?
        .into_iter()
        .find(|d| {
            let images = d.body["spec"]["template"]["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            !is_deleting(&d.body)
                && images
                    .iter()
                    .any(|c| c["image"].as_str().is_some_and(|i| i.contains(image)))
                && available(&d.body)
        });
    Ok(found.and_then(|d| d.body["metadata"]["namespace"].as_str().map(String::from)))
}

/// The objects of a kind a controller acts on, and the controller's namespace, when there
/// are some and the controller runs.
fn watched(
    ctx: &Ctx,
    grp: &str,
    kind: &str,
    controller_image: &str,
) -> Result<Option<(Vec<Stored>, String)>, ApiError> {
    let objects = store::list(ctx.conn, &ctx.cluster.id, grp, kind, None)?;
    if objects.is_empty() {
        return Ok(None);
    }
    Ok(running(ctx, controller_image)?.map(|ns| (objects, ns)))
}

fn available(o: &Value) -> bool {
    has_condition(&o["status"], "Available")
}

fn has_condition(status: &Value, kind: &str) -> bool {
    status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

/// Create or update an object `owner` controls; its status is left to the other controllers.
fn own(ctx: &Ctx, owner: &Stored, mut child: Value) -> Result<(), ApiError> {
    let (api_version, kind) = (
        child["apiVersion"].as_str().unwrap_or("").to_string(),
        child["kind"].as_str().unwrap_or("").to_string(),
    );
    let meta = &owner.body["metadata"];
    child["metadata"]["ownerReferences"] = json!([{
        "apiVersion": owner.body["apiVersion"], "kind": owner.body["kind"], "name": meta["name"],
        "uid": meta["uid"], "controller": true, "blockOwnerDeletion": true,
    }]);
    let grp = api_version.rsplit_once('/').map(|g| g.0).unwrap_or("");
    let key = Key::of(grp, &kind, &child);
    match store::get(ctx.conn, &ctx.cluster.id, &key)? {
        None => {
            let ns = child["metadata"]["namespace"].as_str().unwrap_or("");
            let name = child["metadata"]["name"].as_str().unwrap_or("");
            let mut body = new_object(ctx, &api_version, &kind, ns, name);
            merge_into(&mut body, &child);
            store::put(ctx.conn, &ctx.cluster.id, &key, &mut body, ctx.now)?;
        }
        Some(old) if old.body["spec"] != child["spec"] => {
            let mut body = old.body.clone();
            merge_into(&mut body, &child);
            let generation = old.body["metadata"]["generation"].as_i64().unwrap_or(1);
            body["metadata"]["generation"] = json!(generation + 1);
            save(ctx, &old, body)?;
        }
        Some(_) => {}
    }
    Ok(())
}

fn merge_into(body: &mut Value, child: &Value) {
    for (k, v) in child.as_object().into_iter().flatten() {
        if k == "metadata" {
            for (mk, mv) in v.as_object().into_iter().flatten() {
                body["metadata"][mk] = mv.clone();
            }
        } else {
            body[k] = v.clone();
        }
    }
}

/// The status of a stored object; null when it is absent or has none yet.
fn status_of(ctx: &Ctx, key: &Key) -> Result<Value, ApiError> {
    Ok(store::get(ctx.conn, &ctx.cluster.id, key)?
        .map(|o| o.body["status"].clone())
        .unwrap_or(Value::Null))
}

/// Write `status` on `o` when it changed.
fn set_status(ctx: &Ctx, o: &Stored, status: Value) -> Result<(), ApiError> {
    let mut body = o.body.clone();
    body["status"] = status;
    save(ctx, o, body)
}

/// Jobs finish after the latency profile's workload delay.
fn jobs(ctx: &Ctx) -> Result<(), ApiError> {
    for job in store::list(ctx.conn, &ctx.cluster.id, "batch", "Job", None)? {
        if is_deleting(&job.body) || has_condition(&job.body["status"], "Complete") {
            continue;
        }
        let started = json!(rfc3339(job.changed_at));
        let status = if ctx.now >= job.changed_at + ctx.latency.workload_ready_ms() {
            let prev = &job.body["status"]["conditions"];
            json!({"startTime": started, "completionTime": rfc3339(ctx.now), "succeeded": 1, "ready": 0,
                   "conditions": [
                       condition(prev, "SuccessCriteriaMet", true, "CompletionsReached", "Reached expected number of succeeded pods", ctx.now),
                       condition(prev, "Complete", true, "CompletionsReached", "Reached expected number of succeeded pods", ctx.now)]})
        } else {
            json!({"startTime": started, "active": 1, "ready": 0})
        };
        set_status(ctx, &job, status)?;
    }
    Ok(())
}

/// The GPU operator: its operands on the nodes labelled as NVIDIA PCI devices present, and
/// the ClusterPolicy `ready` once they run everywhere they should.
fn gpu_operator(ctx: &Ctx) -> Result<(), ApiError> {
    let Some((policies, ns)) = watched(ctx, "nvidia.com", "ClusterPolicy", "gpu-operator")? else {
        return Ok(());
    };
    let nodes = store::list(ctx.conn, &ctx.cluster.id, "", "Node", None)?;
    let problem = unrecognised_gpu_node(&nodes);
    for policy in policies.iter().filter(|p| !is_deleting(&p.body)) {
        let spec = &policy.body["spec"];
        let prev = policy.body["status"]["conditions"].clone();
        if let Some(why) = &problem {
            let status = json!({"state": "notReady", "namespace": ns, "conditions": [
                condition(&prev, "Ready", false, "NFDLabelsMissing", why, ctx.now),
                condition(&prev, "Error", true, "NFDLabelsMissing", why, ctx.now)]});
            set_status(ctx, policy, status)?;
            continue;
        }
        let mut operands = Vec::new();
        if spec["devicePlugin"]["enabled"] != false {
            operands.push(operand(
                &ns,
                spec,
                "nvidia-device-plugin-daemonset",
                "devicePlugin",
                None,
            ));
        }
        if spec["dcgmExporter"]["enabled"] != false {
            operands.push(operand(
                &ns,
                spec,
                "nvidia-dcgm-exporter",
                "dcgmExporter",
                Some(9400),
            ));
            own(
                ctx,
                policy,
                json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "nvidia-dcgm-exporter", "namespace": ns, "labels": {"app": "nvidia-dcgm-exporter"}},
                "spec": {"selector": {"app": "nvidia-dcgm-exporter"},
                         "ports": [{"name": "gpu-metrics", "port": 9400, "targetPort": 9400, "protocol": "TCP"}]}}),
            )?;
        }
        let mut pending = Vec::new();
        for ds in operands {
            let name = ds["metadata"]["name"].as_str().unwrap_or("").to_string();
            own(ctx, policy, ds)?;
            let s = status_of(ctx, &Key::new("apps", "DaemonSet", &ns, &name))?;
            let n = |k: &str| s[k].as_i64().unwrap_or(-1);
            if s.is_null() || n("numberReady") < n("desiredNumberScheduled") {
                pending.push(name);
            }
        }
        let ready = pending.is_empty();
        let message = if ready {
            "ClusterPolicy is ready as all resources have been successfully reconciled".to_string()
        } else {
            format!("waiting for {}", pending.join(", "))
        };
        let reason = if ready {
            "Reconciled"
        } else {
            "OperandNotReady"
        };
        let status = json!({"state": if ready { "ready" } else { "notReady" }, "namespace": ns, "conditions": [
            condition(&prev, "Ready", ready, reason, &message, ctx.now),
            condition(&prev, "Error", false, reason, &message, ctx.now)]});
        set_status(ctx, policy, status)?;
    }
    Ok(())
}

/// A node with GPUs the operator would not recognise (no NFD labels), or a recognised one whose
/// OS it cannot tell: either stops the operator from deploying anything.
fn unrecognised_gpu_node(nodes: &[Stored]) -> Option<String> {
    for node in nodes {
        let labels = &node.body["metadata"]["labels"];
        let name = node.body["metadata"]["name"].as_str().unwrap_or("");
        let has_gpus = labels[GPU_HARDWARE] == "true";
        if has_gpus && labels[PCI_LABEL] != "true" {
            return Some(format!("node {name} has NVIDIA GPUs but no {PCI_LABEL} label (Node Feature Discovery is not running)"));
        }
        if labels[PCI_LABEL] == "true" {
            if let Some(missing) = OS_LABELS.iter().find(|l| !labels[**l].is_string()) {
                return Some(format!("GPU node {name} has no {missing} label"));
            }
        }
    }
    None
}

/// One operand DaemonSet, from the ClusterPolicy section that names its image.
fn operand(ns: &str, spec: &Value, name: &str, section: &str, port: Option<u16>) -> Value {
    let s = &spec[section];
    let text = |k: &str| s[k].as_str().unwrap_or("").to_string();
    let image = format!(
        "{}/{}:{}",
        text("repository"),
        text("image"),
        text("version")
    );
    let mut container = json!({"name": name, "image": image});
    if let Some(p) = port {
        container["ports"] = json!([{"name": "metrics", "containerPort": p}]);
    }
    let daemonsets = &spec["daemonsets"];
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"nodeSelector": {PCI_LABEL: "true"},
                         "priorityClassName": daemonsets["priorityClassName"].as_str().unwrap_or("system-node-critical"),
                         "tolerations": daemonsets["tolerations"].as_array().cloned().unwrap_or_default(),
                         "containers": [container]}}}})
}

/// KServe in Standard mode: each InferenceService's predictor as a Deployment, Service and
/// HPA named `NAME-predictor`, and the InferenceService `Ready` once the Deployment is.
fn kserve(ctx: &Ctx) -> Result<(), ApiError> {
    let Some((services, ns)) = watched(
        ctx,
        "serving.kserve.io",
        "InferenceService",
        "kserve-controller",
    )?
    else {
        return Ok(());
    };
    // The real controller exits without its configuration.
    let config = store::get(
        ctx.conn,
        &ctx.cluster.id,
        &Key::new("", "ConfigMap", &ns, "inferenceservice-config"),
    )?;
    let Some(config) = config else {
        return Ok(());
    };
    let deploy: Value = config.body["data"]["deploy"]
        .as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let default_mode = deploy["defaultDeploymentMode"]
        .as_str()
        .unwrap_or("Knative")
        .to_string();
    for isvc in services.iter().filter(|s| !is_deleting(&s.body)) {
        let annotations = &isvc.body["metadata"]["annotations"];
        let mode = annotations["serving.kserve.io/deploymentMode"]
            .as_str()
            .unwrap_or(&default_mode);
        let prev = isvc.body["status"]["conditions"].clone();
        if !matches!(mode, "Standard" | "RawDeployment") {
            let why = format!(
                "deployment mode {mode} needs Knative Serving, which this cluster does not run"
            );
            let status = json!({"conditions": [condition(&prev, "Ready", false, "NoKnative", &why, ctx.now)]});
            set_status(ctx, isvc, status)?;
            continue;
        }
        let predictor = predictor_objects(isvc);
        let name = predictor[0]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let ns_of = isvc.body["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        for o in predictor {
            own(ctx, isvc, o)?;
        }
        let dstatus = status_of(ctx, &Key::new("apps", "Deployment", &ns_of, &name))?;
        let ready = has_condition(&dstatus, "Available");
        let message = dstatus["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Available")
            .and_then(|c| c["message"].as_str())
            .unwrap_or("the predictor has no status yet")
            .to_string();
        let url = format!("http://{name}.{ns_of}.svc.cluster.local");
        let status = json!({
        "observedGeneration": isvc.body["metadata"]["generation"], "deploymentMode": "Standard",
        "url": url, "address": {"url": url},
        "components": {"predictor": {"url": url}},
        "conditions": [
            condition(&prev, "IngressReady", true, "NoIngress", "ingress creation is disabled", ctx.now),
            condition(&prev, "PredictorReady", ready, if ready { "PredictorReady" } else { "PredictorNotReady" }, &message, ctx.now),
            condition(&prev, "Ready", ready, if ready { "Ready" } else { "PredictorNotReady" }, &message, ctx.now),
        ]});
        set_status(ctx, isvc, status)?;
    }
    Ok(())
}

/// The predictor's Deployment, Service and HPA, as KServe names and labels them.
fn predictor_objects(isvc: &Stored) -> Vec<Value> {
    let meta = &isvc.body["metadata"];
    let (isvc_name, ns) = (
        meta["name"].as_str().unwrap_or(""),
        meta["namespace"].as_str().unwrap_or(""),
    );
    let p = &isvc.body["spec"]["predictor"];
    let name = format!("{isvc_name}-predictor");
    let app = format!("isvc.{name}");
    let labels = json!({"app": app, "serving.kserve.io/inferenceservice": isvc_name, "component": "predictor"});
    let mut pod = json!({"containers": p["containers"]});
    for k in ["nodeSelector", "tolerations"] {
        if !p[k].is_null() {
            pod[k] = p[k].clone();
        }
    }
    let min = p["minReplicas"].as_i64().unwrap_or(1).max(1);
    let max = p["maxReplicas"].as_i64().unwrap_or(min).max(min);
    let port = p["containers"][0]["ports"][0]["containerPort"]
        .as_i64()
        .unwrap_or(8080);
    vec![
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"replicas": min, "selector": {"matchLabels": {"app": app}},
                        "template": {"metadata": {"labels": labels}, "spec": pod}}}),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": port, "protocol": "TCP"}]}}),
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"minReplicas": min, "maxReplicas": max,
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}}),
    ]
}

/// Objects whose every owner is gone are deleted, as the garbage collector does.
fn collect_garbage(ctx: &Ctx) -> Result<(), ApiError> {
    let id = &ctx.cluster.id;
    let mut all = Vec::new();
    for (grp, kind) in store::kinds(ctx.conn, id)? {
        all.extend(store::list(ctx.conn, id, &grp, &kind, None)?);
    }
    let uids: BTreeSet<&str> = all
        .iter()
        .filter_map(|o| o.body["metadata"]["uid"].as_str())
        .collect();
    for o in &all {
        let Some(owners) = o.body["metadata"]["ownerReferences"].as_array() else {
            continue;
        };
        let orphaned = !owners.is_empty()
            && owners
                .iter()
                .all(|r| !r["uid"].as_str().is_some_and(|u| uids.contains(u)));
        if orphaned && !is_deleting(&o.body) {
            store::delete(ctx.conn, id, &Key::of(&o.grp, &o.kind, &o.body))?;
        }
    }
    Ok(())
}
