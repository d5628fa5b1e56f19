#![cfg(feature = "aws")]
//! What production GPU clusters on EKS need, against moto and the loopback layer: nodes that
//! boot (image by instance type, disks, EFA), access for the stack, pod identity, scale from
//! zero, add-on order, private networking, and a teardown that leaves nothing billing.

mod common;

use common::emulator::{eks_blueprint, Emulator};
use serde_json::{json, Value};

fn group<'a>(state: &'a Value, env: &str, pool: &str) -> &'a Value {
    state["clusters"][env]["nodegroups"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(name, _)| name.starts_with(&format!("{pool}-")))
        .map(|(_, g)| g)
        .unwrap_or_else(|| panic!("no node group of pool {pool}: {state}"))
}

fn template<'a>(state: &'a Value, g: &Value) -> &'a Value {
    &state["launch_templates"][g["launch_template"]["name"].as_str().unwrap()]
}

#[test]
fn nodes_get_the_image_of_their_type_a_real_disk_and_efa_on_multi_card_types() {
    let em = Emulator::start();
    let t = em.context();
    let text = eks_blueprint("gpu1", "instance_type: g5.xlarge", 1, 1, "    disk_size_gib: 500\n")
        .replace(
            "  - name: system\n",
            "  - name: train\n    instance_type: p5.48xlarge\n    min: 1\n    max: 1\n  - name: system\n",
        );
    t.write("hoist.yaml", &text);
    let plan = t.expect(&["plan"], 0);
    assert!(
        plan.stdout.contains("one cluster placement group"),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let s = em.state("gpu1");
    let gpu = group(&s, "gpu1", "gpu");
    assert_eq!(
        gpu["ami_type"], "AL2023_x86_64_NVIDIA",
        "g5 written as instance_type"
    );
    let disk = &template(&s, gpu)["block_device_mappings"][0]["Ebs"];
    assert_eq!(disk["VolumeSize"], 500);
    assert_eq!(disk["VolumeType"], "gp3");
    let system = group(&s, "gpu1", "system");
    assert_eq!(system["ami_type"], "AL2023_x86_64_STANDARD");
    assert!(
        template(&s, system)["block_device_mappings"][0]["Ebs"]["VolumeSize"]
            .as_i64()
            .unwrap()
            >= 80
    );

    let train = group(&s, "gpu1", "train");
    assert_eq!(train["ami_type"], "AL2023_x86_64_NVIDIA");
    assert_eq!(
        train["zones"].as_array().unwrap().len(),
        1,
        "one zone: {train}"
    );
    let lt = template(&s, train);
    let nics = lt["network_interfaces"].as_array().unwrap();
    assert_eq!(nics.len(), 32, "one EFA interface per network card");
    let cluster_sg = s["clusters"]["gpu1"]["cluster_security_group"]
        .as_str()
        .unwrap();
    for (i, nic) in nics.iter().enumerate() {
        assert_eq!(nic["InterfaceType"], "efa");
        assert_eq!(nic["NetworkCardIndex"], i);
        assert_eq!(nic["DeviceIndex"], if i == 0 { 0 } else { 1 });
        assert!(
            nic["Groups"]
                .as_array()
                .unwrap()
                .contains(&json!(cluster_sg)),
            "keeps the EKS cluster group: {nic}"
        );
    }
    let pg = lt["placement_group"].as_str().expect("a placement group");
    assert_eq!(s["placement_groups"][pg]["strategy"], "cluster");
    let efa = s["security_groups_in_vpc"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "gpu1-efa")
        .expect("the EFA security group");
    let efa_id = efa["id"].as_str().unwrap();
    assert!(nics[0]["Groups"]
        .as_array()
        .unwrap()
        .contains(&json!(efa_id)));
    let rules = em.boto(&format!(
        "g = c('ec2').describe_security_groups(GroupIds=['{efa_id}'])['SecurityGroups'][0]\nprint(json.dumps([[p['IpProtocol'], [x['GroupId'] for x in p['UserIdGroupPairs']]] for p in g['IpPermissions'] + g['IpPermissionsEgress']]))"
    ));
    let rules: Value = serde_json::from_str(&rules).unwrap();
    let self_rules = rules
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[0] == "-1" && r[1].as_array().unwrap().contains(&json!(efa_id)))
        .count();
    assert_eq!(self_rules, 2, "all traffic in and out to itself: {rules}");
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
    let s = em.state("gpu1");
    assert!(s["placement_groups"].as_object().unwrap().is_empty(), "{s}");
    assert!(s["launch_templates"].as_object().unwrap().is_empty(), "{s}");
}

#[test]
fn the_stack_gets_access_pod_identity_and_gpu_pools_scale_from_zero() {
    let em = Emulator::start();
    let t = em.context();
    let text = eks_blueprint("gpu2", "accelerator: A100:8", 0, 4, "")
        .replace(
            "  kubernetes_version: \"1.32\"\n",
            "  kubernetes_version: \"1.32\"\n  access:\n    - principal: arn:aws:iam::123456789012:role/ml-admins\n      role: admin\n      namespaces: [ml, serving]\n    - principal: arn:aws:iam::123456789012:role/auditors\n      role: view\n",
        )
        .replace(
            "  - name: system\n",
            "  - name: spot\n    accelerator: A10G:1\n    capacity: spot\n    min: 0\n    max: 2\n  - name: system\n",
        );
    t.write("hoist.yaml", &text);
    t.expect(&["apply", "--auto-approve"], 0);
    let create = &em.requests("eks:CreateCluster")[0];
    assert_eq!(
        create["accessConfig"],
        json!({"authenticationMode": "API_AND_CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": true})
    );
    assert_eq!(create["bootstrapSelfManagedAddons"], false);
    let s = em.state("gpu2");
    let cluster = &s["clusters"]["gpu2"];
    assert_eq!(
        cluster["addons"]["eks-pod-identity-agent"]["status"],
        "ACTIVE"
    );
    let cni: Value = serde_json::from_str(
        cluster["addons"]["vpc-cni"]["configuration_values"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(cni["env"]["ENABLE_PREFIX_DELEGATION"], "true");
    let admins = &cluster["access_entries"]["arn:aws:iam::123456789012:role/ml-admins"][0];
    assert_eq!(
        admins["policy"],
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
    );
    assert_eq!(
        admins["scope"],
        json!({"type": "namespace", "namespaces": ["ml", "serving"]})
    );
    let auditors = &cluster["access_entries"]["arn:aws:iam::123456789012:role/auditors"][0];
    assert_eq!(
        auditors["policy"],
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
    );

    let gpu = group(&s, "gpu2", "gpu");
    let tag =
        |k: &str| gpu["asg_tags"][format!("k8s.io/cluster-autoscaler/node-template/{k}")].clone();
    assert_eq!(tag("resources/nvidia.com/gpu"), "8", "{gpu}");
    assert_eq!(tag("label/workload"), "training");
    assert_eq!(tag("label/k8s.amazonaws.com/accelerator"), "nvidia-a100");
    assert_eq!(tag("taint/nvidia.com/gpu"), "present:NoSchedule");
    let spot = group(&s, "gpu2", "spot");
    let types = spot["instance_types"].as_array().unwrap();
    assert!(
        types.len() >= 2 && types.iter().all(|t| t.as_str().unwrap().starts_with("g5.")),
        "{spot}"
    );
    assert_eq!(spot["capacity_type"], "SPOT");

    // coredns waits for a node that can host it: the untainted system pool.
    let calls = em.calls();
    let addons: Vec<String> = em
        .requests("eks:CreateAddon")
        .iter()
        .map(|r| r["addonName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        addons.last().map(String::as_str),
        Some("coredns"),
        "{addons:?}"
    );
    let order: Vec<&String> = calls
        .iter()
        .filter(|c| *c == "eks:CreateAddon" || *c == "eks:CreateNodegroup")
        .collect();
    assert_eq!(
        order.last().map(|s| s.as_str()),
        Some("eks:CreateAddon"),
        "{order:?}"
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);

    // Access changes in place.
    t.write("hoist.yaml", &text.replace("role: view", "role: edit"));
    t.expect(&["apply", "--auto-approve"], 0);
    let s = em.state("gpu2");
    let auditors =
        &s["clusters"]["gpu2"]["access_entries"]["arn:aws:iam::123456789012:role/auditors"];
    assert_eq!(auditors.as_array().unwrap().len(), 1, "{auditors}");
    assert_eq!(
        auditors[0]["policy"],
        "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
    );
    t.expect(&["destroy", "--auto-approve"], 0);
    assert!(em.state("gpu2")["clusters"].as_object().unwrap().is_empty());
}

#[test]
fn destroy_removes_what_controllers_left_in_the_vpc_and_the_log_group() {
    let em = Emulator::start();
    let t = em.context();
    t.write(
        "hoist.yaml",
        &eks_blueprint("gpu3", "accelerator: L4:1", 1, 1, ""),
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let s = em.state("gpu3");
    let subnet = |public: bool, n: usize| {
        s["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["public"] == public)
            .nth(n)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (pub_a, pub_b, private) = (subnet(true, 0), subnet(true, 1), subnet(false, 0));
    let vpc = s["vpcs"][0].as_str().unwrap().to_string();
    // Stand-ins for the load balancer controller, the cloud controller and the VPC CNI.
    em.boto(&format!(
        r#"
ec2, elb, elbv2 = c('ec2'), c('elb'), c('elbv2')
sg = ec2.create_security_group(GroupName='k8s-elb-web', Description='made by a controller', VpcId='{vpc}', TagSpecifications=[{{'ResourceType': 'security-group', 'Tags': [{{'Key': 'elbv2.k8s.aws/cluster', 'Value': 'gpu3'}}]}}])['GroupId']
elbv2.create_load_balancer(Name='k8s-default-web', Subnets=['{pub_a}', '{pub_b}'], SecurityGroups=[sg], Tags=[{{'Key': 'elbv2.k8s.aws/cluster', 'Value': 'gpu3'}}])
elb.create_load_balancer(LoadBalancerName='a1b2c3', Listeners=[{{'Protocol': 'TCP', 'LoadBalancerPort': 80, 'InstancePort': 30080}}], Subnets=['{pub_a}'], Tags=[{{'Key': 'kubernetes.io/cluster/gpu3', 'Value': 'owned'}}])
ec2.create_network_interface(SubnetId='{private}', TagSpecifications=[{{'ResourceType': 'network-interface', 'Tags': [{{'Key': 'cluster.k8s.amazonaws.com/name', 'Value': 'gpu3'}}]}}])
# Another team's load balancer, tagged for a cluster of the same name but in its own VPC.
v = ec2.create_vpc(CidrBlock='10.8.0.0/16')['Vpc']['VpcId']
x = ec2.create_subnet(VpcId=v, CidrBlock='10.8.0.0/24', AvailabilityZone='us-east-1a')['Subnet']['SubnetId']
y = ec2.create_subnet(VpcId=v, CidrBlock='10.8.1.0/24', AvailabilityZone='us-east-1b')['Subnet']['SubnetId']
elbv2.create_load_balancer(Name='theirs', Subnets=[x, y], Tags=[{{'Key': 'elbv2.k8s.aws/cluster', 'Value': 'gpu3'}}])
"#
    ));
    let r = t.expect(&["destroy", "--auto-approve"], 0);
    for note in [
        "deleted load balancer k8s-default-web",
        "deleted classic load balancer a1b2c3",
        "deleted network interface",
        "deleted security group",
    ] {
        assert!(r.all().contains(note), "{note}:\n{}", r.all());
    }
    assert!(
        r.all()
            .contains("Verified: nothing tagged hoist-env=gpu3 remains in aws."),
        "{}",
        r.all()
    );
    let s = em.state("gpu3");
    assert!(s["vpcs"].as_array().unwrap().is_empty(), "{s}");
    assert!(
        s["log_groups"].get("/aws/eks/gpu3/cluster").is_none(),
        "{s}"
    );
    let left = em.boto("print(json.dumps([l['LoadBalancerName'] for l in c('elbv2').describe_load_balancers()['LoadBalancers']]))");
    assert_eq!(
        left.trim(),
        r#"["theirs"]"#,
        "only the other VPC's load balancer is left"
    );
}

#[test]
fn without_nat_private_nodes_use_interface_endpoints() {
    let em = Emulator::start();
    let t = em.context();
    let text = eks_blueprint("gpu4", "accelerator: L4:1", 1, 1, "").replace(
        "  zones: [us-east-1a, us-east-1b, us-east-1c]\n",
        "  zones: [us-east-1a, us-east-1b, us-east-1c]\n  nat: none\n",
    );
    t.write(
        "hoist.yaml",
        &text.replace(
            "  kubernetes_version: \"1.32\"\n",
            "  kubernetes_version: \"1.32\"\n  endpoint_access: public\n",
        ),
    );
    let r = t.expect(&["validate"], 1);
    assert!(
        r.stderr.contains("hoist.yaml:")
            && r.stderr.contains(
                "with `network.nat: none` the nodes cannot reach a public-only API endpoint"
            ),
        "{}",
        r.stderr
    );
    t.write(
        "hoist.yaml",
        &text.replace(
            "  kubernetes_version: \"1.32\"\n",
            "  kubernetes_version: \"1.32\"\n  endpoint_access: public-and-private\n",
        ),
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let s = em.state("gpu4");
    assert!(s["nat_gateways"].as_array().unwrap().is_empty());
    let endpoints = s["vpc_endpoints"].as_array().unwrap();
    let interface: Vec<&str> = endpoints
        .iter()
        .filter(|e| e["type"] == "Interface")
        .map(|e| e["service"].as_str().unwrap())
        .collect();
    for svc in ["ec2", "ecr.api", "ecr.dkr", "sts", "eks-auth"] {
        assert!(
            interface.contains(&format!("com.amazonaws.us-east-1.{svc}").as_str()),
            "{svc}: {interface:?}"
        );
    }
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
    assert!(em.state("gpu4")["vpc_endpoints"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn aws_only_problems_are_located_in_the_blueprint_before_any_call() {
    let t = common::TestContext::new();
    let text = eks_blueprint("gpu5", "accelerator: L4:1", 1, 1, "").replace(
        "  kubernetes_version: \"1.32\"\n",
        "  kubernetes_version: \"1.32\"\n  access:\n    - principal: alice\n      role: view\n",
    );
    t.write("hoist.yaml", &text);
    let r = t.expect(&["plan"], 1);
    assert!(
        r.stderr.contains("hoist.yaml:12:18")
            && r.stderr
                .contains("\"alice\" is not an IAM role or user ARN"),
        "{}",
        r.stderr
    );
    assert!(!t.exists(".hoist"), "no state was touched");
}
