//! Node pools: GPU pools on a2/a3/g2 machine types (or N1 with attached GPUs) with GKE's
//! driver installation, TPU pools on the slice's machine type and topology, CPU pools.

use std::collections::BTreeMap;

use hoist_provider::{Address, Capacity, EnvSpec, PoolSpec, SpecProblem};
use serde_json::json;

use super::Graph;

/// The label naming a node's pool, which the stack selects pools by. GKE's own
/// `cloud.google.com/gke-nodepool` carries the cloud name, which changes on replacement.
pub(crate) const POOL_LABEL: &str = "hoist.dev/node-pool";
/// The label GKE itself puts on GPU nodes, naming the GPU type.
pub(crate) const GPU_LABEL: &str = "cloud.google.com/gke-accelerator";
/// Root disks: CUDA images and model caches fill GKE's 100 GB default on GPU and TPU nodes.
const ACCELERATOR_DISK_GIB: u32 = 200;
const DISK_GIB: u32 = 100;
/// GKE's own taints on accelerator nodes; hoist does not write them again.
const GKE_TAINTS: &[&str] = &[
    "nvidia.com/gpu=present:NoSchedule",
    "google.com/tpu=present:NoSchedule",
];

/// GKE's accelerator type names for the catalog's GPU names.
pub(crate) fn gpu_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "A100" => "nvidia-tesla-a100",
        "A100-80GB" => "nvidia-a100-80gb",
        "H100" => "nvidia-h100-80gb",
        "H100-MEGA" => "nvidia-h100-mega-80gb",
        "H200" => "nvidia-h200-141gb",
        "B200" => "nvidia-b200",
        "L4" => "nvidia-l4",
        "T4" => "nvidia-tesla-t4",
        "V100" => "nvidia-tesla-v100",
        "P100" => "nvidia-tesla-p100",
        "P4" => "nvidia-tesla-p4",
        _ => return None,
    })
}

/// Problems with pools that only GKE has.
pub(super) fn check(spec: &EnvSpec) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    for pool in &spec.node_pools {
        if pool.name.len() > 30 {
            problems.push(SpecProblem::new(
                format!("{}.name", pool.path),
                format!("{:?} is too long for a GKE node pool name (hoist adds a suffix to stay within 40)", pool.name),
                Some("use at most 30 characters".into()),
            ));
        }
        let Some(acc) = &pool.accelerator else {
            continue;
        };
        match &acc.tpu {
            Some(tpu) if tpu.hosts > 1 && pool.max > 1 => problems.push(SpecProblem::new(
                format!("{}.max", pool.path),
                format!("{} is a multi-host slice ({} VMs in a {} topology): a GKE node pool holds one such slice, so `max` is 0 or 1 slices", acc.name, tpu.hosts, tpu.topology),
                Some("add another node pool for each further slice".into()),
            )),
            None if pool.request.is_some() && gpu_type(&acc.name).is_none() => problems.push(SpecProblem::new(
                format!("{}.accelerator", pool.path),
                format!("GKE has no accelerator type for {}", acc.name),
                Some("`hoist catalog gpus --cloud gcp` lists what GKE offers".into()),
            )),
            _ => {}
        }
        if acc.name.starts_with("tpu-") && acc.tpu.is_none() {
            problems.push(SpecProblem::new(
                format!("{}.accelerator", pool.path),
                format!("GKE cannot make {} slices (no GKE topology for that size)", acc.name),
                Some("GKE runs TPU v4, v5e, v5p and v6e slices; `hoist catalog gpus --cloud gcp` lists them".into()),
            ));
        }
    }
    problems
}

/// Adds every pool after the cluster.
pub(super) fn add(g: &mut Graph, spec: &EnvSpec, cluster: &Address) {
    for pool in &spec.node_pools {
        add_pool(g, spec, cluster, pool);
    }
}

fn add_pool(g: &mut Graph, spec: &EnvSpec, cluster: &Address, pool: &PoolSpec) {
    let mut labels: BTreeMap<String, String> = pool.labels.clone();
    labels.insert(POOL_LABEL.into(), pool.name.clone());
    let accelerator = pool.accelerator.as_ref();
    let tpu = accelerator.and_then(|a| a.tpu.as_ref());
    let gpu = accelerator
        .filter(|a| a.tpu.is_none())
        .and_then(|a| gpu_type(&a.name).map(|t| (t, a.count)));
    if gpu.is_some() {
        // GKE's GPU nodes run Container-Optimized OS.
        labels.extend(hoist_provider::gpu_operator_node_labels(
            spec, "cos", "stable",
        ));
    }
    let taints: Vec<&String> = pool
        .taints
        .iter()
        .filter(|t| !GKE_TAINTS.contains(&t.as_str()))
        .collect();
    let machine_type = tpu
        .map(|t| t.machine_type.clone())
        .unwrap_or_else(|| pool.instance_type.clone());
    let disk = pool.disk_size_gib.unwrap_or(if pool.has_accelerator() {
        ACCELERATOR_DISK_GIB
    } else {
        DISK_GIB
    });
    let attrs = json!({
        "name": pool.name,
        "cluster": cluster.to_string(),
        "instance_type": pool.instance_type,
        "machine_type": machine_type,
        "accelerator": pool.request,
        "gpu_type": gpu.map(|g| g.0),
        "gpu_count": gpu.map(|g| g.1),
        // GKE installs the NVIDIA driver matching its node image itself.
        "gpu_driver": gpu.map(|_| "LATEST"),
        "tpu_topology": tpu.map(|t| t.topology.clone()),
        "tpu_hosts": tpu.map(|t| t.hosts),
        "tpu_chips_per_host": tpu.map(|t| t.chips_per_host),
        "capacity": pool.capacity.as_str(),
        "min": pool.min,
        "max": pool.max,
        "desired": pool.desired,
        "labels": labels,
        "taints": taints,
        "zones": pool.zones,
        "disk_size_gib": disk,
        "disk_type": "pd-balanced",
        "image_type": "COS_CONTAINERD",
        // Spot and accelerator pools take capacity wherever it is; others spread evenly.
        "location_policy": if pool.capacity == Capacity::Spot || pool.has_accelerator() { "ANY" } else { "BALANCED" },
    });
    let address = Address::new("node_pool", pool.name.as_str());
    let mut config =
        hoist_provider::ResourceConfig::from_json(address, attrs, vec![cluster.clone()]);
    if let Some(zones) = &pool.placement_zones {
        config.placement.insert("zones".into(), json!(zones));
    }
    g.0.push(config);
}
