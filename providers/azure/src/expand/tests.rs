use std::collections::BTreeMap;

use hoist_provider::{
    AcceleratorInfo, AccessGrant, AccessRole, Addons, Capacity, CloudModel, ClusterSpec,
    EndpointAccess, EnvSpec, Ipv4Cidr, NatMode, NetworkSpec, PoolSpec, ResourceConfig, StackSpec,
};
use serde_json::json;

use super::AzureModel;

const GROUP: &str = "00000000-0000-0000-0000-0000000000aa";

fn pool(name: &str, instance_type: &str, gpu: bool, capacity: Capacity, min: u32) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        path: "node_pools[0]".into(),
        request: gpu.then(|| "A100".into()),
        instance_type: instance_type.into(),
        alternatives: vec![],
        accelerator: gpu.then(|| AcceleratorInfo {
            name: "A100".into(),
            count: 1,
            memory_gib: Some(80.0),
            tpu: None,
        }),
        capacity,
        min,
        max: 4,
        desired: min,
        labels: BTreeMap::new(),
        taints: vec![],
        zones: vec!["1".into(), "2".into()],
        placement_zones: None,
        disk_size_gib: None,
    }
}

fn system() -> PoolSpec {
    pool("system", "Standard_D4ds_v5", false, Capacity::OnDemand, 2)
}

fn spec(pools: Vec<PoolSpec>) -> EnvSpec {
    EnvSpec {
        name: "demo".into(),
        cloud: "azure".into(),
        region: "eastus".into(),
        zones: vec!["1".into(), "2".into()],
        network: NetworkSpec {
            cidr: cidr(10, 16),
            nat: NatMode::Single,
        },
        cluster: ClusterSpec {
            kubernetes_version: "1.32".into(),
            endpoint_access: EndpointAccess::Public,
            access: vec![AccessGrant {
                principal: GROUP.into(),
                role: AccessRole::ClusterAdmin,
                namespaces: vec![],
                path: "cluster.access[0]".into(),
            }],
            addons: Addons::Managed,
        },
        node_pools: pools,
        tags: BTreeMap::new(),
        stack: StackSpec::default(),
        provider_options: BTreeMap::new(),
    }
}

fn cidr(first: u8, prefix: u8) -> Ipv4Cidr {
    Ipv4Cidr {
        addr: std::net::Ipv4Addr::new(first, if first == 172 { 16 } else { 0 }, 0, 0),
        prefix,
    }
}

fn find<'a>(rs: &'a [ResourceConfig], address: &str) -> &'a ResourceConfig {
    rs.iter()
        .find(|r| r.address.to_string() == address)
        .unwrap_or_else(|| panic!("{address} is expanded"))
}

fn problems_of(spec: &EnvSpec) -> Vec<(String, String)> {
    AzureModel
        .expand(spec)
        .expect_err("the spec is refused")
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect()
}

#[test]
fn the_first_plain_pool_is_the_clusters_system_pool_and_the_rest_are_agent_pools() {
    let mut gpu = pool(
        "gpu-a100",
        "Standard_NC24ads_A100_v4",
        true,
        Capacity::Spot,
        0,
    );
    gpu.taints = vec![
        "nvidia.com/gpu=present:NoSchedule".into(),
        "kubernetes.azure.com/scalesetpriority=spot:NoSchedule".into(),
    ];
    gpu.labels.insert(
        "kubernetes.azure.com/scalesetpriority".into(),
        "spot".into(),
    );
    let rs = AzureModel.expand(&spec(vec![gpu, system()])).unwrap();
    let cluster = &find(&rs, "aks_cluster.demo").attrs;
    assert_eq!(cluster["system_name"], "system");
    assert_eq!(cluster["system_min"], 2);
    assert_eq!(cluster["admin_groups"], json!([GROUP]));
    assert!(rs
        .iter()
        .all(|r| r.address.to_string() != "node_pool.system"));
    let agent = find(&rs, "node_pool.gpu-a100");
    assert_eq!(agent.attrs["name"], "gpua100", "`-` is dropped");
    assert_eq!(agent.attrs["mode"], "User");
    assert_eq!(
        agent.attrs["taints"],
        json!(["nvidia.com/gpu=present:NoSchedule"]),
        "AKS adds the spot taint itself"
    );
    assert!(agent.attrs["labels"]
        .get("kubernetes.azure.com/scalesetpriority")
        .is_none());
    assert_eq!(agent.attrs["labels"]["hoist.dev/node-pool"], "gpu-a100");
    assert_eq!(agent.attrs["gpu_driver"], "Install");
    let deps: Vec<String> = agent.depends_on.iter().map(|d| d.to_string()).collect();
    assert_eq!(deps, ["aks_cluster.demo", "subnet.nodes"]);
    assert!(
        cluster["autoscaler_profile"].is_object(),
        "a pool autoscales from 0 to 4"
    );
}

#[test]
fn service_and_pod_ranges_avoid_the_network() {
    let mut s = spec(vec![system()]);
    let rs = AzureModel.expand(&s).unwrap();
    let cluster = &find(&rs, "aks_cluster.demo").attrs;
    assert_eq!(
        (
            &cluster["service_cidr"],
            &cluster["pod_cidr"],
            &cluster["dns_service_ip"]
        ),
        (
            &json!("172.16.0.0/16"),
            &json!("192.168.0.0/16"),
            &json!("172.16.0.10")
        )
    );
    assert_eq!(find(&rs, "subnet.nodes").attrs["cidr"], "10.0.0.0/17");
    s.network.cidr = cidr(172, 12);
    let rs = AzureModel.expand(&s).unwrap();
    let cluster = &find(&rs, "aks_cluster.demo").attrs;
    assert_eq!(cluster["service_cidr"], "10.255.0.0/16");
    assert_eq!(cluster["pod_cidr"], "192.168.0.0/16");
}

#[test]
fn pool_names_aks_cannot_take_are_located_errors() {
    let long = pool(
        "inference-gpus-l4",
        "Standard_NC8as_T4_v3",
        true,
        Capacity::Spot,
        0,
    );
    let mut clash = pool("gpu_a", "Standard_NC8as_T4_v3", true, Capacity::Spot, 0);
    clash.path = "node_pools[2]".into();
    let mut twin = pool("gpu-a", "Standard_NC8as_T4_v3", true, Capacity::Spot, 0);
    twin.path = "node_pools[3]".into();
    let mut digit = pool("4gpu", "Standard_NC8as_T4_v3", true, Capacity::Spot, 0);
    digit.path = "node_pools[4]".into();
    let mut sys = system();
    sys.path = "node_pools[1]".into();
    let problems = problems_of(&spec(vec![long, sys, clash, twin, digit]));
    assert!(problems.contains(&(
        "node_pools[0].name".into(),
        "AKS pool names are at most 12 characters; \"inference-gpus-l4\" maps to \"inferencegpusl4\" (15 characters)".into()
    )), "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|(p, m)| p == "node_pools[3].name" && m.contains("as another pool does")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|(p, m)| p == "node_pools[4].name" && m.contains("starting with a letter")),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[test]
fn aks_refuses_what_it_cannot_make() {
    let gpu_only = spec(vec![pool(
        "gpu",
        "Standard_NC8as_T4_v3",
        true,
        Capacity::Spot,
        0,
    )]);
    assert!(problems_of(&gpu_only)
        .iter()
        .any(|(p, m)| p == "node_pools" && m.contains("system pool")));
    let mut s = spec(vec![system()]);
    s.network.nat = NatMode::None;
    s.network.cidr = cidr(10, 26);
    s.cluster.access[0].principal = "ml-admins".into();
    s.cluster.access[0].role = AccessRole::View;
    let paths: Vec<String> = problems_of(&s).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "network.cidr",
            "network.nat",
            "cluster.access[0].principal",
            "cluster.access[0].role"
        ]
    );
}

#[test]
fn a_named_resource_group_is_used_as_found_and_a_default_one_is_owned() {
    let mut s = spec(vec![system()]);
    let rs = AzureModel.expand(&s).unwrap();
    let group = &find(&rs, "resource_group.main").attrs;
    assert_eq!(
        (&group["name"], &group["use_existing"]),
        (&json!("demo-rg"), &json!(false))
    );
    s.provider_options
        .insert("resource_group".into(), "ml-platform".into());
    let rs = AzureModel.expand(&s).unwrap();
    let group = &find(&rs, "resource_group.main").attrs;
    assert_eq!(
        (&group["name"], &group["use_existing"]),
        (&json!("ml-platform"), &json!(true))
    );
}
