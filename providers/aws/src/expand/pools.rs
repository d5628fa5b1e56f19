//! Node pools: a launch template and a managed node group each, and for multi-card training
//! types a cluster placement group and EFA interfaces.

use std::collections::BTreeMap;

use hoist_provider::{Address, EnvSpec, PoolSpec};
use serde_json::{json, Value};

use super::network::Network;
use super::Graph;
use crate::families;

/// Root disk defaults: CUDA images and model weights fill the 20 GiB EKS gives by default.
const ACCELERATOR_DISK_GIB: u32 = 200;
/// eksctl's default for every node group.
const DISK_GIB: u32 = 80;
/// The label the cluster autoscaler reads as "this node has a GPU".
pub(crate) const GPU_LABEL: &str = "k8s.amazonaws.com/accelerator";
/// The label naming a node's pool, which the stack selects pools by (on every node group).
pub(crate) const POOL_LABEL: &str = "hoist.dev/node-pool";
const TEMPLATE_TAG: &str = "k8s.io/cluster-autoscaler/node-template";

/// Adds every pool; returns the pools that can host coredns (nodes without repelling taints).
pub(super) fn add(
    g: &mut Graph,
    spec: &EnvSpec,
    net: &Network,
    cluster: &Address,
    role: &Address,
    node_addons: &[Address],
) -> Vec<Address> {
    let mut hosts = Vec::new();
    let mut any_nodes = Vec::new();
    for pool in &spec.node_pools {
        let address = add_pool(g, spec, net, cluster, role, node_addons, pool);
        if pool.desired > 0 {
            any_nodes.push(address.clone());
            if !pool.repels_pods() {
                hosts.push(address);
            }
        }
    }
    if hosts.is_empty() {
        any_nodes
    } else {
        hosts
    }
}

fn add_pool(
    g: &mut Graph,
    spec: &EnvSpec,
    net: &Network,
    cluster: &Address,
    role: &Address,
    node_addons: &[Address],
    pool: &PoolSpec,
) -> Address {
    let env = &spec.name;
    let efa = families::efa_interfaces(&pool.instance_type);
    let disk = pool.disk_size_gib.unwrap_or(if pool.has_accelerator() {
        ACCELERATOR_DISK_GIB
    } else {
        DISK_GIB
    });
    let template = Address::new("launch_template", pool.name.as_str());
    let mut template_deps = Vec::new();
    let mut template_attrs = json!({
        "name_prefix": format!("{env}-{}", pool.name),
        "disk_size_gib": disk,
        "volume_type": "gp3",
        "imds": "required",
    });
    let placement = efa.map(|_| Address::new("placement_group", pool.name.as_str()));
    if let (Some(cards), Some(pg), Some(efa_sg)) = (efa, &placement, &net.efa_sg) {
        g.add(
            pg,
            json!({"name_prefix": format!("{env}-{}", pool.name), "strategy": "cluster"}),
            vec![],
        );
        // Interfaces set in a template replace EKS's defaults, so they carry the cluster's own
        // security group (its `cluster_security_group_id`) besides the EFA group.
        template_attrs["efa_interfaces"] = json!(cards);
        template_attrs["placement_group"] = json!(pg.to_string());
        template_attrs["security_groups"] = json!([cluster.to_string(), efa_sg.to_string()]);
        template_deps.extend([cluster.clone(), efa_sg.clone(), pg.clone()]);
    }
    g.add(&template, template_attrs, template_deps);

    let mut labels: BTreeMap<String, String> = pool.labels.clone();
    labels.insert(POOL_LABEL.into(), pool.name.clone());
    if let Some(acc) = &pool.accelerator {
        if families::accelerator(&pool.instance_type) == families::Accelerator::Nvidia {
            labels
                .entry(GPU_LABEL.into())
                .or_insert_with(|| families::gpu_label(&acc.name));
            // The node image is Amazon Linux 2023 (EKS's NVIDIA AMI).
            labels.extend(hoist_provider::gpu_operator_node_labels(
                spec, "amzn", "2023",
            ));
        }
    }
    let zones = &pool.zones;
    let mut deps = vec![cluster.clone(), role.clone(), template.clone()];
    deps.extend(placement.iter().cloned());
    deps.extend(net.private_subnets_in(zones));
    deps.extend(net.egress_for(zones));
    deps.extend(node_addons.iter().cloned());
    let mut types = vec![pool.instance_type.clone()];
    types.extend(pool.alternatives.iter().cloned());
    let mut attrs = json!({
        "name": pool.name,
        "accelerator": pool.request,
        "instance_type": pool.instance_type,
        "capacity": pool.capacity.as_str(),
        "min": pool.min,
        "max": pool.max,
        "desired": pool.desired,
        "labels": labels,
        "taints": pool.taints,
        "zones": zones,
        "ami_type": families::ami_type(&pool.instance_type),
        "disk_size_gib": disk,
        "cluster": cluster.to_string(),
        "role": role.to_string(),
        "launch_template": template.to_string(),
        // GPU nodes run long jobs: replace one at a time; CPU pools a third at a time.
        "update": if pool.has_accelerator() { json!({"max_unavailable": 1}) } else { json!({"max_unavailable_percentage": 33}) },
    });
    if types.len() > 1 {
        attrs["instance_types"] = json!(types);
    }
    if efa.is_some() {
        // One placement group lives in one zone: the first zone offering the type is used.
        attrs["single_zone"] = json!(true);
    }
    if pool.autoscaled() {
        attrs["node_template"] = json!(node_template(pool, &labels, disk));
    }
    let address = Address::new("node_pool", pool.name.as_str());
    let mut config = hoist_provider::ResourceConfig::from_json(address.clone(), attrs, deps);
    if let Some(zones) = &pool.placement_zones {
        config.placement.insert("zones".into(), json!(zones));
    }
    g.0.push(config);
    address
}

/// The Auto Scaling group tags that tell the cluster autoscaler what a node of this pool
/// would offer before one exists, so a pool at zero can scale up for a pending GPU pod.
fn node_template(pool: &PoolSpec, labels: &BTreeMap<String, String>, disk: u32) -> Value {
    let mut tags = BTreeMap::new();
    for (k, v) in labels {
        tags.insert(format!("{TEMPLATE_TAG}/label/{k}"), v.clone());
    }
    for t in &pool.taints {
        let (kv, effect) = t.rsplit_once(':').unwrap_or((t, "NoSchedule"));
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        tags.insert(format!("{TEMPLATE_TAG}/taint/{k}"), format!("{v}:{effect}"));
    }
    if let Some(acc) = &pool.accelerator {
        let resource = match families::accelerator(&pool.instance_type) {
            families::Accelerator::Neuron => "aws.amazon.com/neuron",
            _ => "nvidia.com/gpu",
        };
        tags.insert(
            format!("{TEMPLATE_TAG}/resources/{resource}"),
            acc.count.to_string(),
        );
    }
    tags.insert(
        format!("{TEMPLATE_TAG}/resources/ephemeral-storage"),
        format!("{disk}Gi"),
    );
    json!(tags)
}
