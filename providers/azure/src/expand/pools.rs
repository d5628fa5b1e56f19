//! Agent pools: one per blueprint pool but the system pool (which the cluster carries).
//! AKS names pools with at most 12 lowercase letters and digits, starting with a letter:
//! hoist lowercases the blueprint's name and drops `-` and `_`; a name that is then too
//! long, or that two pools share, is an error at the pool. A replacement pool is named with
//! the first 8 characters and 4 of the create's token, so old and new can exist together.

use std::collections::BTreeMap;

use hoist_provider::{Address, Capacity, EnvSpec, GpuVariant, PoolSpec, SpecProblem};
use serde_json::{json, Value};

use super::Graph;

/// The label naming a node's pool, which the stack selects pools by (AKS's own `agentpool`
/// label carries the cloud name, which changes on replacement).
pub(crate) const POOL_LABEL: &str = "hoist.dev/node-pool";
/// The label AKS puts on GPU nodes.
pub(crate) const GPU_LABEL: &str = "kubernetes.azure.com/accelerator";
/// What AKS adds to spot pools itself; hoist neither writes nor compares them.
pub(crate) const SPOT_LABEL: (&str, &str) = ("kubernetes.azure.com/scalesetpriority", "spot");
pub(crate) const SPOT_TAINT: &str = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule";
const MAX_NAME: usize = 12;
/// OS disks: CUDA images and model caches fill AKS's 128 GB default on GPU nodes.
const GPU_DISK_GIB: u32 = 256;
const DISK_GIB: u32 = 128;

/// AKS pool names by blueprint pool name.
pub(crate) type PoolNames = BTreeMap<String, String>;

/// The AKS name of a blueprint pool name, or why there is none.
pub(crate) fn aks_name(name: &str) -> Result<String, String> {
    let mapped: String = name
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let ok_chars = mapped
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if mapped.is_empty() || !ok_chars || !mapped.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("AKS pool names are lowercase letters and digits starting with a letter; {name:?} maps to {mapped:?}"));
    }
    if mapped.len() > MAX_NAME {
        return Err(format!("AKS pool names are at most {MAX_NAME} characters; {name:?} maps to {mapped:?} ({} characters)", mapped.len()));
    }
    Ok(mapped)
}

pub(super) fn names(spec: &EnvSpec) -> Result<PoolNames, Vec<SpecProblem>> {
    let mut names = PoolNames::new();
    let mut problems = Vec::new();
    for pool in &spec.node_pools {
        match aks_name(&pool.name) {
            Ok(n) if names.values().any(|v| *v == n) => problems.push(SpecProblem::new(
                format!("{}.name", pool.path),
                format!(
                    "{:?} maps to the AKS pool name {n:?}, as another pool does",
                    pool.name
                ),
                Some("give the pools names that differ in letters or digits".into()),
            )),
            Ok(n) => {
                names.insert(pool.name.clone(), n);
            }
            Err(why) => problems.push(SpecProblem::new(
                format!("{}.name", pool.path),
                why,
                Some("rename the pool: hoist drops `-` and `_` and lowercases the rest".into()),
            )),
        }
    }
    if problems.is_empty() {
        Ok(names)
    } else {
        Err(problems)
    }
}

/// The pool AKS runs its own components on: the first on-demand pool without accelerators
/// or taints that always has a node.
pub(super) fn system_pool(spec: &EnvSpec) -> Result<&PoolSpec, SpecProblem> {
    spec.node_pools
        .iter()
        .find(|p| {
            !p.has_accelerator() && !p.repels_pods() && p.min >= 1 && p.capacity == Capacity::OnDemand
        })
        .ok_or_else(|| SpecProblem::new(
            "node_pools",
            "AKS needs a system pool: an on-demand pool without accelerators or NoSchedule taints, with min of at least 1",
            Some("add e.g. `- {name: system, instance_type: Standard_D4ds_v5, min: 2, max: 3}`".into()),
        ))
}

/// Whether hoist leaves the NVIDIA driver to the GPU operator.
fn operator(spec: &EnvSpec) -> bool {
    spec.stack
        .gpu
        .as_ref()
        .is_some_and(|g| g.variant == GpuVariant::GpuOperator)
}

/// What a pool is, in the attributes the cluster's system pool and an agent pool share.
pub(super) fn profile_attrs(spec: &EnvSpec, pool: &PoolSpec, names: &PoolNames) -> Value {
    let mut labels = pool.labels.clone();
    labels.insert(POOL_LABEL.into(), pool.name.clone());
    let gpu = pool.has_accelerator();
    if gpu {
        // AKS's GPU images are Ubuntu 22.04.
        labels.extend(hoist_provider::gpu_operator_node_labels(
            spec, "ubuntu", "22.04",
        ));
    }
    labels.remove(SPOT_LABEL.0);
    let taints: Vec<&String> = pool.taints.iter().filter(|t| *t != SPOT_TAINT).collect();
    json!({
        "name": names.get(&pool.name).cloned().unwrap_or_default(),
        "pool": pool.name,
        "instance_type": pool.instance_type,
        "accelerator": pool.request,
        "capacity": pool.capacity.as_str(),
        "min": pool.min,
        "max": pool.max,
        "desired": pool.desired,
        "zones": pool.zones,
        "labels": labels,
        "taints": taints,
        "disk_size_gib": pool.disk_size_gib.unwrap_or(if gpu { GPU_DISK_GIB } else { DISK_GIB }),
        "os_sku": "Ubuntu",
        // AKS installs the NVIDIA driver on GPU sizes unless the GPU operator will.
        "gpu_driver": gpu.then(|| if operator(spec) { "None" } else { "Install" }),
    })
}

pub(super) fn add(
    g: &mut Graph,
    spec: &EnvSpec,
    cluster: &Address,
    subnet: &Address,
    names: &PoolNames,
    system: Option<&PoolSpec>,
) {
    for pool in &spec.node_pools {
        if system.is_some_and(|s| s.name == pool.name) {
            continue;
        }
        let mut attrs = profile_attrs(spec, pool, names);
        attrs["cluster"] = json!(cluster.to_string());
        attrs["subnet"] = json!(subnet.to_string());
        attrs["mode"] = json!("User");
        let address = Address::new("node_pool", pool.name.as_str());
        let mut config = hoist_provider::ResourceConfig::from_json(
            address,
            attrs,
            vec![cluster.clone(), subnet.clone()],
        );
        if let Some(zones) = &pool.placement_zones {
            config.placement.insert("zones".into(), json!(zones));
        }
        g.0.push(config);
    }
}
