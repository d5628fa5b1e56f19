//! What an environment is on the simulated cloud: a network, a subnet per zone, a cluster,
//! its node pools, and the bucket the stack keeps MLflow artifacts in.

use std::collections::BTreeMap;

use hoist_provider::{Address, ArtifactStore, EnvSpec, ResourceConfig, StackTarget};
use serde_json::json;

pub(crate) fn expand(spec: &EnvSpec) -> Vec<ResourceConfig> {
    let network = Address::new("network", &spec.name);
    let cluster = Address::new("cluster", &spec.name);
    let mut out = Vec::with_capacity(spec.node_pools.len() + spec.zones.len() + 2);
    out.push(ResourceConfig::from_json(
        network.clone(),
        json!({"cidr": spec.network.cidr.to_string(), "region": spec.region}),
        vec![],
    ));
    let mut subnets = Vec::new();
    for (i, zone) in spec.zones.iter().enumerate() {
        let address = Address::new("subnet", zone);
        out.push(ResourceConfig::from_json(
            address.clone(),
            json!({"cidr": spec.network.cidr.nth_of(spec.zones.len(), i).to_string(), "zone": zone}),
            vec![network.clone()],
        ));
        subnets.push(address);
    }
    out.push(ResourceConfig::from_json(
        cluster.clone(),
        json!({"name": spec.name, "region": spec.region, "kubernetes_version": spec.cluster.kubernetes_version, "endpoint_access": spec.cluster.endpoint_access.as_str()}),
        subnets,
    ));
    for pool in &spec.node_pools {
        let mut config = ResourceConfig::from_json(
            Address::new("node_pool", &pool.name),
            json!({
                "name": pool.name,
                "accelerator": pool.request,
                "instance_type": (!pool.instance_type.is_empty()).then_some(&pool.instance_type),
                "capacity": pool.capacity.as_str(),
                "min": pool.min,
                "max": pool.max,
                "desired": pool.desired,
                "labels": pool_labels(spec, pool),
                "taints": pool.taints,
                "zones": pool.zones,
            }),
            vec![cluster.clone()],
        );
        if let Some(zones) = &pool.placement_zones {
            config.placement.insert("zones".into(), json!(zones));
        }
        out.push(config);
    }
    if spec.stack.mlflow.is_some() {
        out.push(ResourceConfig::from_json(
            Address::new("bucket", MLFLOW_BUCKET),
            json!({"name": format!("{}-mlflow", spec.name), "region": spec.region}),
            vec![],
        ));
    }
    out
}

/// The pool's labels, and on GPU pools those the stack's GPU operator looks for (the sim's
/// node image is "sim" version 1, with the driver in it).
fn pool_labels(spec: &EnvSpec, pool: &hoist_provider::PoolSpec) -> BTreeMap<String, String> {
    let mut labels = pool.labels.clone();
    let gpu = pool
        .request
        .as_deref()
        .is_some_and(|r| !r.to_ascii_lowercase().starts_with("tpu"));
    if gpu {
        labels.extend(hoist_provider::gpu_operator_node_labels(spec, "sim", "1"));
    }
    labels
}

/// The bucket MLflow keeps artifacts in.
const MLFLOW_BUCKET: &str = "mlflow";

/// The simulated cluster as the stack sees it: its nodes carry the pool and accelerator as
/// labels, its pools scale themselves (no autoscaler deployment), and its buckets are the
/// artifact store.
pub(crate) fn stack_target(spec: &EnvSpec) -> StackTarget {
    StackTarget {
        cluster: Address::new("cluster", &spec.name),
        cluster_name: spec.name.clone(),
        accelerator_label: "sim.hoist.dev/accelerator".into(),
        pool_label: "hoist.dev/node-pool".into(),
        autoscaler: None,
        artifacts: Some(ArtifactStore {
            bucket: Address::new("bucket", MLFLOW_BUCKET),
            uri_output: "uri".into(),
            service_account_annotations: Default::default(),
            env: Default::default(),
        }),
        storage_class: None,
        gpu_driver_preinstalled: true,
        gpu_plugin_managed: false,
        gpu_driver_host_dir: None,
    }
}
