use std::net::Ipv4Addr;

use hoist_provider::*;
use serde_json::json;

use super::AwsModel;

fn pool(name: &str, instance_type: &str, accelerator: Option<(&str, u32)>) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        path: "node_pools[0]".into(),
        request: None,
        instance_type: instance_type.into(),
        alternatives: vec![],
        accelerator: accelerator.map(|(n, c)| AcceleratorInfo {
            name: n.into(),
            count: c,
            memory_gib: None,
            tpu: None,
        }),
        capacity: Capacity::OnDemand,
        min: 1,
        max: 1,
        desired: 1,
        labels: Default::default(),
        taints: vec![],
        zones: vec![
            "us-east-1a".into(),
            "us-east-1b".into(),
            "us-east-1c".into(),
        ],
        placement_zones: None,
        disk_size_gib: None,
    }
}

fn spec(pools: Vec<PoolSpec>) -> EnvSpec {
    EnvSpec {
        name: "dev".into(),
        cloud: "aws".into(),
        region: "us-east-1".into(),
        zones: vec![
            "us-east-1a".into(),
            "us-east-1b".into(),
            "us-east-1c".into(),
        ],
        network: NetworkSpec {
            cidr: Ipv4Cidr {
                addr: Ipv4Addr::new(10, 40, 0, 0),
                prefix: 16,
            },
            nat: NatMode::Single,
        },
        cluster: ClusterSpec {
            kubernetes_version: "1.32".into(),
            endpoint_access: EndpointAccess::Public,
            access: vec![],
            addons: Default::default(),
        },
        node_pools: pools,
        tags: Default::default(),
        stack: Default::default(),
        provider_options: Default::default(),
    }
}

fn find<'a>(rs: &'a [ResourceConfig], address: &str) -> &'a ResourceConfig {
    rs.iter()
        .find(|r| r.address.to_string() == address)
        .unwrap_or_else(|| panic!("no {address}"))
}

fn deps(r: &ResourceConfig) -> Vec<String> {
    r.depends_on.iter().map(|a| a.to_string()).collect()
}

#[test]
fn private_subnets_are_large_and_public_ones_small() {
    let rs = AwsModel.expand(&spec(vec![])).unwrap();
    for (address, key, want) in [
        ("subnet.private-us-east-1a", "cidr", "10.40.0.0/18"),
        ("subnet.private-us-east-1c", "cidr", "10.40.128.0/18"),
        ("subnet.public-us-east-1a", "cidr", "10.40.192.0/20"),
        ("subnet.public-us-east-1c", "cidr", "10.40.224.0/20"),
        ("subnet.public-us-east-1b", "lb_role", "elb"),
        ("subnet.private-us-east-1b", "lb_role", "internal-elb"),
    ] {
        assert_eq!(find(&rs, address).attrs[key], want, "{address}.{key}");
    }
}

#[test]
fn a_network_too_small_for_its_zones_is_a_located_problem() {
    let mut s = spec(vec![]);
    s.network.cidr.prefix = 24;
    s.network.cidr.addr = Ipv4Addr::new(10, 40, 0, 0);
    s.zones.push("us-east-1d".into());
    let problems = AwsModel.expand(&s).unwrap_err();
    assert_eq!(problems[0].path, "network.cidr");
    assert!(problems[0].message.contains("/29"), "{problems:?}");
}

#[test]
fn with_the_gpu_operator_nvidia_pools_carry_the_labels_it_finds_gpu_nodes_by() {
    let mut s = spec(vec![
        pool("infer", "g5.xlarge", Some(("A10G", 1))),
        pool("sys", "m7i.large", None),
    ]);
    s.stack.gpu = Some(hoist_provider::GpuStack {
        variant: hoist_provider::GpuVariant::GpuOperator,
        version: None,
    });
    let rs = AwsModel.expand(&s).unwrap();
    let gpu = &find(&rs, "node_pool.infer").attrs["labels"];
    assert_eq!(gpu["feature.node.kubernetes.io/pci-10de.present"], "true");
    assert_eq!(
        gpu["feature.node.kubernetes.io/system-os_release.ID"],
        "amzn"
    );
    assert_eq!(
        gpu["feature.node.kubernetes.io/system-os_release.VERSION_ID"],
        "2023"
    );
    let cpu = &find(&rs, "node_pool.sys").attrs["labels"];
    assert!(cpu
        .get("feature.node.kubernetes.io/pci-10de.present")
        .is_none());
}

#[test]
fn a_gpu_type_written_as_instance_type_gets_the_nvidia_image_and_a_big_disk() {
    let rs = AwsModel
        .expand(&spec(vec![pool("infer", "g5.xlarge", Some(("A10G", 1)))]))
        .unwrap();
    let np = find(&rs, "node_pool.infer");
    assert_eq!(np.attrs["ami_type"], "AL2023_x86_64_NVIDIA");
    assert_eq!(np.attrs["disk_size_gib"], 200);
    assert_eq!(
        np.attrs["labels"]["k8s.amazonaws.com/accelerator"],
        "nvidia-a10g"
    );
    let lt = find(&rs, "launch_template.infer");
    assert_eq!(lt.attrs["volume_type"], "gp3");
    assert!(!lt.attrs.contains_key("efa_interfaces"));
    let cpu = AwsModel
        .expand(&spec(vec![pool("sys", "m7g.large", None)]))
        .unwrap();
    let np = find(&cpu, "node_pool.sys");
    assert_eq!(np.attrs["ami_type"], "AL2023_ARM_64_STANDARD");
    assert_eq!(np.attrs["disk_size_gib"], 80);
}

#[test]
fn multi_card_training_types_get_efa_a_placement_group_and_one_zone() {
    let rs = AwsModel
        .expand(&spec(vec![pool("train", "p5.48xlarge", Some(("H100", 8)))]))
        .unwrap();
    let lt = find(&rs, "launch_template.train");
    assert_eq!(lt.attrs["efa_interfaces"], 32);
    assert_eq!(lt.attrs["placement_group"], "placement_group.train");
    assert_eq!(
        lt.attrs["security_groups"],
        json!(["eks_cluster.dev", "security_group.efa"])
    );
    assert_eq!(
        find(&rs, "placement_group.train").attrs["strategy"],
        "cluster"
    );
    let efa = find(&rs, "security_group.efa");
    assert!(efa.attrs["rules"]
        .as_array()
        .unwrap()
        .contains(&json!("ingress:-1:self")));
    assert_eq!(find(&rs, "node_pool.train").attrs["single_zone"], true);
}

#[test]
fn nodes_wait_for_their_routes_nat_and_cni_and_coredns_waits_for_nodes() {
    let mut gpu = pool("gpu", "p4d.24xlarge", Some(("A100", 8)));
    gpu.taints = vec!["nvidia.com/gpu=present:NoSchedule".into()];
    let rs = AwsModel
        .expand(&spec(vec![gpu, pool("system", "m5.large", None)]))
        .unwrap();
    let d = deps(find(&rs, "node_pool.gpu"));
    for dep in [
        "route_table.private",
        "nat_gateway.us-east-1a",
        "vpc_endpoint.s3",
        "eks_addon.vpc-cni",
        "launch_template.gpu",
    ] {
        assert!(d.contains(&dep.to_string()), "{dep} in {d:?}");
    }
    let coredns = deps(find(&rs, "eks_addon.coredns"));
    assert!(
        coredns.contains(&"node_pool.system".to_string()),
        "{coredns:?}"
    );
    assert!(
        !coredns.contains(&"node_pool.gpu".to_string()),
        "{coredns:?}"
    );
    let cluster = deps(find(&rs, "eks_cluster.dev"));
    assert!(cluster.contains(&"log_group.cluster".to_string()));
    assert!(cluster.contains(&"controller_leftovers.dev".to_string()));
    let leftovers = deps(find(&rs, "controller_leftovers.dev"));
    assert!(leftovers.contains(&"subnet.private-us-east-1a".to_string()));
}

#[test]
fn autoscaled_pools_carry_node_template_tags() {
    let mut gpu = pool("gpu", "p4d.24xlarge", Some(("A100", 8)));
    gpu.min = 0;
    gpu.max = 4;
    gpu.desired = 0;
    gpu.taints = vec!["nvidia.com/gpu=present:NoSchedule".into()];
    gpu.labels.insert("workload".into(), "training".into());
    let rs = AwsModel.expand(&spec(vec![gpu])).unwrap();
    let t = &find(&rs, "node_pool.gpu").attrs["node_template"];
    let p = "k8s.io/cluster-autoscaler/node-template";
    assert_eq!(t[format!("{p}/resources/nvidia.com/gpu")], "8");
    assert_eq!(t[format!("{p}/label/workload")], "training");
    assert_eq!(
        t[format!("{p}/label/k8s.amazonaws.com/accelerator")],
        "nvidia-a100"
    );
    assert_eq!(t[format!("{p}/taint/nvidia.com/gpu")], "present:NoSchedule");
}

#[test]
fn no_nat_means_interface_endpoints_and_a_private_api_endpoint() {
    let mut s = spec(vec![]);
    s.network.nat = NatMode::None;
    let problems = AwsModel.expand(&s).unwrap_err();
    assert_eq!(problems[0].path, "cluster.endpoint_access");
    s.cluster.endpoint_access = EndpointAccess::PublicAndPrivate;
    let rs = AwsModel.expand(&s).unwrap();
    let ecr = find(&rs, "vpc_endpoint.ecr-dkr");
    assert_eq!(ecr.attrs["service"], "com.amazonaws.us-east-1.ecr.dkr");
    assert_eq!(ecr.attrs["private_dns"], true);
    assert!(rs.iter().all(|r| r.address.kind() != "nat_gateway"));
}

#[test]
fn access_principals_must_be_iam_arns() {
    let mut s = spec(vec![]);
    s.cluster.access = vec![
        AccessGrant {
            principal: "arn:aws:iam::111122223333:role/ml-admins".into(),
            role: AccessRole::Admin,
            namespaces: vec!["ml".into()],
            path: "cluster.access[0]".into(),
        },
        AccessGrant {
            principal: "alice".into(),
            role: AccessRole::View,
            namespaces: vec![],
            path: "cluster.access[1]".into(),
        },
    ];
    let problems = AwsModel.expand(&s).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "cluster.access[1].principal");
    s.cluster.access.pop();
    let rs = AwsModel.expand(&s).unwrap();
    let entry = find(&rs, "eks_access_entry.ml-admins");
    assert_eq!(
        entry.attrs["policy"],
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
    );
}

#[test]
fn self_managed_addons_leave_the_defaults_to_eks() {
    let mut s = spec(vec![pool("system", "m5.large", None)]);
    let managed = AwsModel.expand(&s).unwrap();
    assert!(!find(&managed, "eks_cluster.dev")
        .attrs
        .contains_key("self_managed_addons"));
    s.cluster.addons = Addons::SelfManaged;
    let rs = AwsModel.expand(&s).unwrap();
    assert_eq!(
        find(&rs, "eks_cluster.dev").attrs["self_managed_addons"],
        json!(true)
    );
    assert!(
        !rs.iter().any(|r| r.address.kind() == "eks_addon"),
        "no managed add-ons"
    );
    assert!(!deps(find(&rs, "node_pool.system"))
        .iter()
        .any(|d| d.starts_with("eks_addon")));
}
