//! Node pools. GKE counts nodes per zone: an autoscaled pool gets total limits over all its
//! zones; a fixed pool is spread over as many of its zones as divide its size evenly. A
//! multi-host TPU slice lives in one zone, placed compactly in its topology, and scales 0 ↔
//! the whole slice. A pool that a stockout left in ERROR is deleted before the engine retries
//! it in the zones left.

use google_cloud_container_v1::model::{
    CreateNodePoolRequest, NodePoolAutoscaling, UpdateNodePoolRequest,
};
use hoist_provider::{
    Attrs, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig, ResourceState,
    StepContext,
};
use serde_json::{json, Value};

use super::{cluster_name, is_stockout, op_error, zones_named, SERVICE};
use crate::body;
use crate::errors::{classify, is_conflict, is_not_found};
use crate::{claim, labels, text, GcpProvider};

const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

fn num(a: &Attrs, key: &str) -> u64 {
    a.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The list of names at `key`, empty when there is none.
fn names(a: &Attrs, key: &str) -> Vec<String> {
    a.get(key)
        .and_then(Value::as_array)
        .map(|z| {
            z.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// `a` with `zones` as the pool's zones.
fn with_zones(a: &Attrs, zones: Vec<String>) -> Attrs {
    let mut a = a.clone();
    a.insert("zones".into(), json!(zones));
    a
}

/// Where a pool's nodes go and how many, in GKE's per-zone terms.
#[derive(Debug, PartialEq)]
pub(crate) struct Sizing {
    pub locations: Vec<String>,
    pub per_zone: u64,
    /// `(total min, total max)` nodes when the pool autoscales.
    pub autoscaling: Option<(u64, u64)>,
}

/// VMs per unit of the pool's size: a multi-host slice's hosts, else 1.
fn hosts(a: &Attrs) -> u64 {
    num(a, "tpu_hosts").max(1)
}

pub(crate) fn sizing(a: &Attrs) -> Sizing {
    let (min, max, desired, hosts) = (num(a, "min"), num(a, "max"), num(a, "desired"), hosts(a));
    let zones = names(a, "zones");
    if hosts > 1 {
        // One slice, in the first zone that offers it.
        return Sizing {
            locations: zones.into_iter().take(1).collect(),
            per_zone: desired * hosts,
            autoscaling: (min < max).then_some((min * hosts, max * hosts)),
        };
    }
    let n = zones.len().max(1) as u64;
    if min < max {
        return Sizing {
            locations: zones,
            per_zone: desired / n,
            autoscaling: Some((min, max)),
        };
    }
    let k = (1..=n).rev().find(|k| desired % k == 0).unwrap_or(1);
    Sizing {
        locations: zones.into_iter().take(k as usize).collect(),
        per_zone: desired / k,
        autoscaling: None,
    }
}

fn taint(t: &str) -> Value {
    let (kv, effect) = t.rsplit_once(':').unwrap_or((t, "NoSchedule"));
    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
    let effect = match effect {
        "NoExecute" => "NO_EXECUTE",
        "PreferNoSchedule" => "PREFER_NO_SCHEDULE",
        _ => "NO_SCHEDULE",
    };
    json!({"key": key, "value": value, "effect": effect})
}

fn autoscaling_body(a: &Attrs, s: &Sizing) -> Value {
    match s.autoscaling {
        Some((min, max)) => {
            json!({"enabled": true, "totalMinNodeCount": min, "totalMaxNodeCount": max, "locationPolicy": text(a, "location_policy")})
        }
        None => json!({"enabled": false}),
    }
}

/// The cloud name of a new pool: the pool's name and the token's start, so a replacement
/// can run beside the pool it replaces.
fn cloud_name(name: &str, token: &str) -> String {
    format!("{name}-{}", &token[..8.min(token.len())])
}

fn pool_body(a: &Attrs, name: &str, ctx: &StepContext) -> Value {
    let s = sizing(a);
    let accelerated = !a.get("gpu_type").unwrap_or(&Value::Null).is_null()
        || !a.get("tpu_topology").unwrap_or(&Value::Null).is_null();
    let mut config = json!({
        "machineType": text(a, "machine_type"),
        "diskSizeGb": num(a, "disk_size_gib"),
        "diskType": text(a, "disk_type"),
        "imageType": text(a, "image_type"),
        "labels": a.get("labels").cloned().unwrap_or(json!({})),
        "resourceLabels": labels::to_labels(&ctx.tags, Some(&ctx.token)),
        "taints": a.get("taints").and_then(Value::as_array).map(|ts| ts.iter().filter_map(Value::as_str).map(taint).collect::<Vec<_>>()).unwrap_or_default(),
        "spot": text(a, "capacity") == "spot",
        "oauthScopes": [CLOUD_PLATFORM],
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "shieldedInstanceConfig": {"enableSecureBoot": true, "enableIntegrityMonitoring": true},
    });
    if let Some(t) = a.get("gpu_type").and_then(Value::as_str) {
        config["accelerators"] = json!([{
            "acceleratorType": t,
            "acceleratorCount": num(a, "gpu_count").to_string(),
            "gpuDriverInstallationConfig": {"gpuDriverVersion": text(a, "gpu_driver")},
        }]);
    }
    let mut pool = json!({
        "name": name,
        "config": config,
        "initialNodeCount": s.per_zone,
        "locations": s.locations,
        "autoscaling": autoscaling_body(a, &s),
        "management": {"autoRepair": true, "autoUpgrade": true},
        // Accelerators are scarce: replace a node before adding one.
        "upgradeSettings": if accelerated { json!({"maxSurge": 0, "maxUnavailable": 1}) } else { json!({"maxSurge": 1, "maxUnavailable": 0}) },
    });
    if hosts(a) > 1 {
        pool["placementPolicy"] =
            json!({"type": "COMPACT", "tpuTopology": text(a, "tpu_topology")});
    }
    pool
}

/// What hoist records of a live pool, and its owner.
/// `nodes` is the pool's live size (its instance groups' target sizes), when read: GKE's
/// `initialNodeCount` per zone stays what the pool was made with.
pub(crate) fn observed(
    p: &Value,
    recorded: &Attrs,
    nodes: Option<u64>,
) -> (Observed, std::collections::BTreeMap<String, String>) {
    let s = |ptr: &str| {
        p.pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let n = |ptr: &str| {
        p.pointer(ptr)
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0)
    };
    let hosts = hosts(recorded);
    let locations = p
        .get("locations")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(1)
        .max(1) as u64;
    let mut attrs = Attrs::new();
    attrs.insert("machine_type".into(), json!(s("/config/machineType")));
    attrs.insert(
        "capacity".into(),
        json!(if p
            .pointer("/config/spot")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        {
            "spot"
        } else {
            "on-demand"
        }),
    );
    let size = nodes.unwrap_or(n("/initialNodeCount") * locations) / hosts;
    attrs.insert("desired".into(), json!(size));
    if let Some(acc) = p.pointer("/config/accelerators/0") {
        attrs.insert(
            "gpu_type".into(),
            json!(acc.get("acceleratorType").and_then(Value::as_str)),
        );
        attrs.insert(
            "gpu_count".into(),
            json!(n("/config/accelerators/0/acceleratorCount")),
        );
    }
    if p.pointer("/autoscaling/enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        attrs.insert(
            "min".into(),
            json!(n("/autoscaling/totalMinNodeCount") / hosts),
        );
        attrs.insert(
            "max".into(),
            json!(n("/autoscaling/totalMaxNodeCount") / hosts),
        );
    } else {
        attrs.insert("min".into(), json!(size));
        attrs.insert("max".into(), json!(size));
    }
    if let Some(t) = p.pointer("/placementPolicy/tpuTopology") {
        attrs.insert("tpu_topology".into(), t.clone());
    }
    let status = s("/status");
    let lifecycle = match status.as_str() {
        "RUNNING" | "RUNNING_WITH_ERROR" => Lifecycle::Ready,
        "PROVISIONING" => Lifecycle::Provisioning,
        "RECONCILING" => Lifecycle::Updating,
        "STOPPING" => Lifecycle::Deleting,
        _ => Lifecycle::Failed {
            reason: format!("{status}: {}", s("/statusMessage")),
        },
    };
    let tags = labels::from_json(p.pointer("/config/resourceLabels"));
    (
        Observed {
            cloud_id: s("/name"),
            attrs,
            outputs: Attrs::new(),
            lifecycle,
        },
        tags,
    )
}

/// The cluster a pool belongs to: its location and name, from the pool's recorded outputs
/// or (at create) from the cluster's state.
fn home(prior_outputs: &Attrs) -> Result<(String, String), ProviderError> {
    match (
        prior_outputs.get("location").and_then(Value::as_str),
        prior_outputs.get("cluster_name").and_then(Value::as_str),
    ) {
        (Some(l), Some(c)) => Ok((l.into(), c.into())),
        _ => Err(ProviderError::Invalid(
            "the node pool's cluster is not recorded".into(),
        )),
    }
}

impl GcpProvider {
    fn home_of(&self, ctx: &StepContext, a: &Attrs) -> Result<(String, String), ProviderError> {
        let address: hoist_provider::Address = text(a, "cluster")
            .parse()
            .map_err(|_| ProviderError::Invalid("a node pool names no cluster".into()))?;
        let cluster = ctx
            .deps
            .get(&address)
            .ok_or_else(|| ProviderError::Invalid(format!("{address} must exist first")))?;
        Ok((
            text(&cluster.attrs, "location").to_string(),
            cluster.cloud_id.clone(),
        ))
    }

    pub(crate) async fn create_node_pool(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        // The zones it may use now: the engine narrows them after a stockout.
        let effective = with_zones(&config.attrs, config.zones());
        let a = &effective;
        let (loc, cluster) = self.home_of(ctx, a)?;
        let name = cloud_name(text(a, "name"), &ctx.token);
        let what = format!("creation of GKE node pool {name}");
        let parent = cluster_name(&self.project, &loc, &cluster);
        let request: CreateNodePoolRequest = body(
            &what,
            json!({"parent": parent, "nodePool": pool_body(a, &name, ctx)}),
        )?;
        let outputs = Attrs::from_iter([
            ("location".to_string(), json!(loc)),
            ("cluster_name".to_string(), json!(cluster)),
            ("locations".to_string(), json!(sizing(a).locations)),
        ]);
        match self
            .gke
            .create_node_pool()
            .with_request(request)
            .send()
            .await
        {
            Ok(op) => {
                let op = self.wait_done(op, &loc, &what).await?;
                if let Some(message) = op_error(&op) {
                    return Err(self.failed_pool(&loc, &cluster, &name, a, &message).await);
                }
            }
            Err(e) if is_conflict(&e) => {
                let owner = Ownership::from_tags(&ctx.tags);
                if let Some((_, tags)) = self.get_node_pool(&loc, &cluster, &name, a).await? {
                    claim(&owner, format!("GKE node pool {name}"), &tags)?;
                }
            }
            Err(e) => return Err(classify(SERVICE, &what, e)),
        }
        Ok(crate::made(&name, config, outputs))
    }

    /// A pool whose creation failed: a stockout is a capacity error naming the zones (after
    /// the pool GKE left in ERROR is deleted, so the retry can take its name); else fatal.
    async fn failed_pool(
        &self,
        loc: &str,
        cluster: &str,
        name: &str,
        a: &Attrs,
        message: &str,
    ) -> ProviderError {
        if !is_stockout(message) {
            return ProviderError::Fatal(format!(
                "GKE could not create node pool {name}: {message}"
            ));
        }
        if let Err(e) = self.remove_pool(loc, cluster, name).await {
            return e;
        }
        let locations = sizing(a).locations;
        let named: Vec<String> = zones_named(message, &self.region)
            .into_iter()
            .filter(|z| locations.contains(z))
            .collect();
        ProviderError::Capacity {
            accelerator: Some(text(a, "accelerator"))
                .filter(|s| !s.is_empty())
                .unwrap_or(text(a, "machine_type"))
                .to_string(),
            region: self.region.clone(),
            zones: if named.is_empty() { locations } else { named },
        }
    }

    async fn remove_pool(&self, loc: &str, cluster: &str, name: &str) -> Result<(), ProviderError> {
        let what = format!("deletion of GKE node pool {name}");
        let full = format!(
            "{}/nodePools/{name}",
            cluster_name(&self.project, loc, cluster)
        );
        match self.gke.delete_node_pool().set_name(full).send().await {
            Ok(op) => self.wait(op, loc, &what).await.map(|_| ()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(classify(SERVICE, &what, e)),
        }
    }

    pub(crate) async fn get_node_pool(
        &self,
        loc: &str,
        cluster: &str,
        name: &str,
        recorded: &Attrs,
    ) -> Result<Option<(Observed, std::collections::BTreeMap<String, String>)>, ProviderError> {
        let full = format!(
            "{}/nodePools/{name}",
            cluster_name(&self.project, loc, cluster)
        );
        match self.gke.get_node_pool().set_name(full).send().await {
            Ok(p) => Ok(Some(observed(&super::pool_json(&p), recorded, None))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(
                SERVICE,
                &format!("get of GKE node pool {name}"),
                e,
            )),
        }
    }

    /// Sizes and autoscaling limits, in place: where the nodes go, then autoscaling, then
    /// the size of a fixed pool.
    pub(crate) async fn update_node_pool(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        let (loc, cluster) = home(&prior.outputs)?;
        let name = &prior.cloud_id;
        let full = format!(
            "{}/nodePools/{name}",
            cluster_name(&self.project, &loc, &cluster)
        );
        let was = sizing(&prior.attrs);
        let mut was_locations = names(&prior.outputs, "locations");
        if was_locations.is_empty() {
            was_locations = was.locations.clone();
        }
        let want = sizing(&with_zones(&config.attrs, config.zones()));
        if was_locations != want.locations {
            let what = format!("zones of GKE node pool {name}");
            let request: UpdateNodePoolRequest = body(
                &what,
                json!({"name": full, "locations": want.locations, "nodeVersion": "-", "imageType": text(&config.attrs, "image_type")}),
            )?;
            let op = self
                .gke
                .update_node_pool()
                .with_request(request)
                .send()
                .await
                .map_err(|e| classify(SERVICE, &what, e))?;
            self.wait(op, &loc, &what).await?;
        }
        // The recorded values may be what was applied, not what is live (a drift being put
        // back): autoscaling and size are set whenever they apply, which is idempotent.
        if was.autoscaling.is_some() || want.autoscaling.is_some() {
            let what = format!("autoscaling of GKE node pool {name}");
            let autoscaling: NodePoolAutoscaling =
                body(&what, autoscaling_body(&config.attrs, &want))?;
            let op = self
                .gke
                .set_node_pool_autoscaling()
                .set_name(&full)
                .set_autoscaling(autoscaling)
                .send()
                .await
                .map_err(|e| classify(SERVICE, &what, e))?;
            self.wait(op, &loc, &what).await?;
        }
        if want.autoscaling.is_none() {
            let what = format!("resize of GKE node pool {name}");
            let op = self
                .gke
                .set_node_pool_size()
                .set_name(&full)
                .set_node_count(want.per_zone as i32)
                .send()
                .await
                .map_err(|e| classify(SERVICE, &what, e))?;
            self.wait(op, &loc, &what).await?;
        }
        let mut outputs = prior.outputs.clone();
        outputs.insert("locations".into(), json!(want.locations));
        Ok(crate::made(name, config, outputs))
    }

    pub(crate) async fn delete_node_pool(
        &self,
        prior: &ResourceState,
    ) -> Result<Vec<String>, ProviderError> {
        let (loc, cluster) = home(&prior.outputs)?;
        self.remove_pool(&loc, &cluster, &prior.cloud_id)
            .await
            .map(|_| Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: Value) -> Attrs {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    #[test]
    fn sizes_become_per_zone_counts() {
        let z = json!(["z-a", "z-b", "z-c"]);
        let fixed = sizing(&attrs(
            json!({"min": 2, "max": 2, "desired": 2, "zones": z}),
        ));
        assert_eq!(
            (fixed.locations.len(), fixed.per_zone, fixed.autoscaling),
            (2, 1, None)
        );
        let fixed = sizing(&attrs(
            json!({"min": 6, "max": 6, "desired": 6, "zones": z}),
        ));
        assert_eq!((fixed.locations.len(), fixed.per_zone), (3, 2));
        let auto = sizing(&attrs(
            json!({"min": 0, "max": 4, "desired": 1, "zones": z}),
        ));
        assert_eq!(
            (auto.locations.len(), auto.per_zone, auto.autoscaling),
            (3, 0, Some((0, 4)))
        );
        let slice = sizing(&attrs(
            json!({"min": 0, "max": 1, "desired": 1, "tpu_hosts": 4, "zones": z}),
        ));
        assert_eq!(
            (slice.locations, slice.per_zone, slice.autoscaling),
            (vec!["z-a".to_string()], 4, Some((0, 4)))
        );
    }

    #[test]
    fn taints_use_gke_effects() {
        assert_eq!(
            taint("dedicated=ml:NoExecute"),
            json!({"key": "dedicated", "value": "ml", "effect": "NO_EXECUTE"})
        );
        assert_eq!(taint("gpu:NoSchedule")["effect"], "NO_SCHEDULE");
    }
}
