use std::collections::BTreeMap;

use hoist_provider::{
    AcceleratorInfo, Addons, Capacity, CloudModel, ClusterSpec, EndpointAccess, EnvSpec, Ipv4Cidr,
    NatMode, NetworkSpec, PoolSpec, ResourceConfig, StackSpec, TpuShape,
};
use serde_json::Value;

use super::GcpModel;

fn pool(
    name: &str,
    instance_type: &str,
    accelerator: Option<AcceleratorInfo>,
    zones: &[&str],
) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        path: "node_pools[0]".into(),
        request: accelerator.as_ref().map(|a| a.name.clone()),
        instance_type: instance_type.into(),
        alternatives: vec![],
        accelerator,
        capacity: Capacity::Spot,
        min: 0,
        max: 1,
        desired: 1,
        labels: BTreeMap::new(),
        taints: vec!["nvidia.com/gpu=present:NoSchedule".into()],
        zones: zones.iter().map(|z| z.to_string()).collect(),
        placement_zones: None,
        disk_size_gib: None,
    }
}

fn spec(pools: Vec<PoolSpec>, zones: &[&str]) -> EnvSpec {
    EnvSpec {
        name: "demo".into(),
        cloud: "gcp".into(),
        region: "us-central1".into(),
        zones: zones.iter().map(|z| z.to_string()).collect(),
        network: NetworkSpec {
            cidr: cidr(16),
            nat: NatMode::Single,
        },
        cluster: ClusterSpec {
            kubernetes_version: "1.32".into(),
            endpoint_access: EndpointAccess::Public,
            access: vec![],
            addons: Addons::Managed,
        },
        node_pools: pools,
        tags: BTreeMap::new(),
        stack: StackSpec::default(),
        provider_options: BTreeMap::new(),
    }
}

fn cidr(prefix: u8) -> Ipv4Cidr {
    Ipv4Cidr {
        addr: std::net::Ipv4Addr::new(10, 0, 0, 0),
        prefix,
    }
}

fn find<'a>(rs: &'a [ResourceConfig], address: &str) -> &'a ResourceConfig {
    rs.iter()
        .find(|r| r.address.to_string() == address)
        .unwrap_or_else(|| panic!("{address} is expanded"))
}

fn l4() -> AcceleratorInfo {
    AcceleratorInfo {
        name: "L4".into(),
        count: 1,
        memory_gib: Some(24.0),
        tpu: None,
    }
}

fn v5e16() -> AcceleratorInfo {
    AcceleratorInfo {
        name: "tpu-v5litepod-16".into(),
        count: 1,
        memory_gib: None,
        tpu: Some(TpuShape {
            machine_type: "ct5lp-hightpu-4t".into(),
            chips: 16,
            chips_per_host: 4,
            hosts: 4,
            topology: "4x4".into(),
            node_accelerator: "tpu-v5-lite-podslice".into(),
        }),
    }
}

#[test]
fn an_environment_is_a_vpc_native_regional_cluster_behind_cloud_nat() {
    let zones = ["us-central1-a", "us-central1-b"];
    let rs = GcpModel
        .expand(&spec(
            vec![pool("gpu", "g2-standard-8", Some(l4()), &zones)],
            &zones,
        ))
        .unwrap();
    let subnet = &find(&rs, "gcp_subnetwork.nodes").attrs;
    assert_eq!(
        (
            subnet["cidr"].as_str(),
            subnet["pods_cidr"].as_str(),
            subnet["services_cidr"].as_str()
        ),
        (
            Some("10.0.0.0/20"),
            Some("10.0.128.0/17"),
            Some("10.0.16.0/20")
        )
    );
    let cluster = find(&rs, "gke_cluster.demo");
    assert_eq!(
        cluster.attrs["location"], "us-central1",
        "two zones make a regional cluster"
    );
    assert_eq!(cluster.attrs["private_nodes"], true);
    assert!(cluster
        .depends_on
        .iter()
        .any(|d| d.to_string() == "gcp_router.nat"));
    let gpu = &find(&rs, "node_pool.gpu").attrs;
    assert_eq!(
        (
            gpu["gpu_type"].as_str(),
            gpu["gpu_count"].as_u64(),
            gpu["gpu_driver"].as_str()
        ),
        (Some("nvidia-l4"), Some(1), Some("LATEST"))
    );
    assert_eq!(
        gpu["taints"],
        serde_json::json!([]),
        "GKE taints GPU nodes itself"
    );
    assert_eq!(gpu["labels"]["hoist.dev/node-pool"], "gpu");
}

#[test]
fn one_zone_makes_a_zonal_cluster_and_no_nat_makes_public_nodes() {
    let mut s = spec(vec![], &["us-central1-a"]);
    s.network.nat = NatMode::None;
    let rs = GcpModel.expand(&s).unwrap();
    assert_eq!(
        find(&rs, "gke_cluster.demo").attrs["location"],
        "us-central1-a"
    );
    assert_eq!(find(&rs, "gke_cluster.demo").attrs["private_nodes"], false);
    assert!(rs.iter().all(|r| r.address.kind() != "gcp_router"));
}

#[test]
fn a_multi_host_slice_gets_its_machine_type_topology_and_hosts() {
    let mut p = pool("tpu", "tpu-v5litepod-16", Some(v5e16()), &["us-central1-a"]);
    p.taints.clear();
    let rs = GcpModel.expand(&spec(vec![p], &["us-central1-a"])).unwrap();
    let tpu = &find(&rs, "node_pool.tpu").attrs;
    assert_eq!(
        (
            tpu["machine_type"].as_str(),
            tpu["tpu_topology"].as_str(),
            tpu["tpu_hosts"].as_u64()
        ),
        (Some("ct5lp-hightpu-4t"), Some("4x4"), Some(4))
    );
    assert_eq!(tpu["gpu_type"], Value::Null);
    assert!(
        !tpu["labels"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("cloud.google.com/gke-tpu")),
        "GKE sets its TPU labels itself"
    );
}

#[test]
fn gke_refuses_what_it_cannot_make() {
    let mut p = pool("tpu", "tpu-v5litepod-16", Some(v5e16()), &["us-central1-a"]);
    p.max = 2;
    let problems = GcpModel
        .expand(&spec(vec![p], &["us-central1-a"]))
        .unwrap_err();
    assert!(
        problems
            .iter()
            .any(|p| p.path == "node_pools[0].max" && p.message.contains("one such slice")),
        "{problems:?}"
    );
    let mut s = spec(vec![], &["us-central1-a"]);
    s.network.cidr = cidr(24);
    assert!(GcpModel
        .expand(&s)
        .unwrap_err()
        .iter()
        .any(|p| p.path == "network.cidr"));
}

#[test]
fn the_gpu_operator_is_refused_where_gke_owns_the_gpu_nodes() {
    let mut s = spec(vec![], &["us-central1-a"]);
    s.stack.gpu = Some(hoist_provider::GpuStack {
        variant: hoist_provider::GpuVariant::GpuOperator,
        version: None,
    });
    let problems = GcpModel.expand(&s).unwrap_err();
    assert!(
        problems.iter().any(|p| p.path == "stack.gpu.variant"),
        "{problems:?}"
    );
}
