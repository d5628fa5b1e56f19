#![cfg(feature = "aws")]
//! The AWS provider's lifecycle against moto (an independent AWS emulator) with the loopback
//! layer in tests/aws/fake_aws.py: what an apply makes, in-place and replacing changes, drift,
//! retries, stockouts, quotas, crashes and the calls a no-op plan costs. Inspected with boto3.

mod common;

use common::emulator::{eks_blueprint, Emulator};
use serde_json::{json, Value};

fn blueprint(env: &str, accelerator: &str, nodes: u32, max: u32) -> String {
    eks_blueprint(env, &format!("accelerator: {accelerator}"), nodes, max, "")
}

fn gpu_group(state: &Value, env: &str) -> Value {
    let groups = state["clusters"][env]["nodegroups"].as_object().unwrap();
    groups
        .iter()
        .find(|(name, _)| name.starts_with("gpu-"))
        .map(|(_, g)| g.clone())
        .expect("a gpu node group")
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}"))
}

#[test]
fn apply_builds_a_tagged_eks_environment_plans_empty_and_destroys_to_nothing() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks1", "A100:8", 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    let s = em.state("eks1");
    assert_eq!(list(&s["vpcs"]).len(), 1);
    let vpc = s["vpcs"][0].as_str().unwrap();
    assert_eq!(s["vpc_attributes"][vpc]["dns_hostnames"], true);
    let subnets = list(&s["subnets"]);
    for sn in subnets {
        let public = sn["public"] == true;
        let role = if public {
            "kubernetes.io/role/elb"
        } else {
            "kubernetes.io/role/internal-elb"
        };
        assert_eq!(sn["tags"][role], "1", "{sn}");
        assert!(
            sn["route_table"].is_string() && sn["default_route"].is_string(),
            "routed: {sn}"
        );
        let target = sn["default_route"].as_str().unwrap();
        assert!(
            target.starts_with(if public { "igw-" } else { "nat-" }),
            "{sn}"
        );
    }
    assert_eq!(subnets.iter().filter(|x| x["public"] == true).count(), 3);
    assert_eq!(subnets.iter().filter(|x| x["public"] == false).count(), 3);
    for kind in [
        "internet_gateways",
        "nat_gateways",
        "addresses",
        "vpc_endpoints",
    ] {
        assert_eq!(list(&s[kind]).len(), 1, "{kind}: {s}");
    }
    assert_eq!(
        s["vpc_endpoints"][0]["service"],
        "com.amazonaws.us-east-1.s3"
    );
    assert_eq!(list(&s["vpc_endpoints"][0]["route_tables"]).len(), 2);
    // The cluster's own group, and the EFA group for the p4d pool.
    assert_eq!(list(&s["security_groups"]).len(), 2);
    assert_eq!(list(&s["route_tables"]).len(), 2);
    assert_eq!(
        s["roles"]["eks1-eks-cluster"],
        json!(["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"])
    );
    assert_eq!(list(&s["roles"]["eks1-eks-node"]).len(), 4);
    assert_eq!(s["log_groups"]["/aws/eks/eks1/cluster"]["retention"], 90);
    assert_eq!(
        s["log_groups"]["/aws/eks/eks1/cluster"]["tags"]["hoist-env"],
        "eks1"
    );
    let cluster = &s["clusters"]["eks1"];
    assert_eq!(cluster["version"], "1.32");
    assert_eq!(cluster["tags"]["hoist-address"], "eks_cluster.eks1");
    assert_eq!(
        cluster["access_config"]["authenticationMode"],
        "API_AND_CONFIG_MAP"
    );
    for addon in ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent"] {
        assert_eq!(
            cluster["addons"][addon]["status"], "ACTIVE",
            "{addon}: {cluster}"
        );
    }
    let gpu = gpu_group(&s, "eks1");
    assert_eq!(gpu["instance_types"], json!(["p4d.24xlarge"]));
    assert_eq!(gpu["ami_type"], "AL2023_x86_64_NVIDIA");
    assert_eq!(gpu["capacity_type"], "ON_DEMAND");
    assert_eq!(gpu["labels"]["workload"], "training");
    assert_eq!(
        gpu["labels"]["k8s.amazonaws.com/accelerator"],
        "nvidia-a100"
    );
    assert_eq!(gpu["taints"][0]["key"], "nvidia.com/gpu");
    assert_eq!(gpu["scaling"]["desiredSize"], 1);
    assert_eq!(gpu["update_config"]["maxUnavailable"], 1);
    let lt = &s["launch_templates"][gpu["launch_template"]["name"].as_str().unwrap()];
    assert_eq!(lt["block_device_mappings"][0]["Ebs"]["VolumeType"], "gp3");
    assert_eq!(lt["block_device_mappings"][0]["Ebs"]["VolumeSize"], 200);
    assert_eq!(lt["metadata_options"]["HttpTokens"], "required");
    t.expect(&["plan", "--detailed-exitcode"], 0);

    let destroy = t.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        destroy
            .all()
            .contains("Verified: nothing tagged hoist-env=eks1 remains in aws."),
        "{}",
        destroy.all()
    );
    assert_nothing_left(&em, "eks1");
}

fn expired_sweep() -> [&'static str; 6] {
    [
        "sweep",
        "--cloud",
        "aws",
        "--region",
        "us-east-1",
        "--expired",
    ]
}

/// The emulator holds nothing tagged for `env`.
fn assert_nothing_left(em: &Emulator, env: &str) {
    let s = em.state(env);
    for kind in [
        "vpcs",
        "subnets",
        "internet_gateways",
        "nat_gateways",
        "addresses",
        "route_tables",
        "security_groups",
        "vpc_endpoints",
    ] {
        assert!(list(&s[kind]).is_empty(), "{kind} left: {s}");
    }
    for kind in [
        "roles",
        "clusters",
        "launch_templates",
        "placement_groups",
        "log_groups",
    ] {
        assert!(s[kind].as_object().unwrap().is_empty(), "{kind} left: {s}");
    }
}

#[test]
fn sweep_deletes_an_environment_whose_state_object_was_lost() {
    let em = Emulator::start();
    em.boto("c('s3').create_bucket(Bucket='hoist-state')");
    let mut t = em.context();
    t.env
        .push(("HOIST_BACKEND".into(), "s3://hoist-state/team".into()));
    t.write("hoist.yaml", &blueprint("eks9", "A100:8", 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    em.boto("c('s3').delete_object(Bucket='hoist-state', Key='team/eks9.state.json')");
    let sweep = [
        "sweep",
        "--cloud",
        "aws",
        "--region",
        "us-east-1",
        "--env",
        "eks9",
    ];
    let r = t.expect(&[&sweep[..], &["--dry-run"]].concat(), 0);
    assert!(
        r.stdout
            .contains("carry hoist-env=eks9 and no state in s3://hoist-state/team records them")
            && r.stdout.contains("eks_cluster.eks9")
            && r.stdout.contains("eks9/gpu-"),
        "{}",
        r.stdout
    );
    assert_eq!(
        list(&em.state("eks9")["vpcs"]).len(),
        1,
        "a dry run deletes nothing"
    );
    let r = t.expect(&[&sweep[..], &["--auto-approve"]].concat(), 0);
    assert!(r.stdout.contains("nothing of them is left"), "{}", r.all());
    assert_nothing_left(&em, "eks9");

    // Two hours on, an environment with a one-hour ttl has expired: --expired takes it,
    // known to state or not, by its hoist-expires-at tags.
    let mut job = em.context();
    job.write(
        "hoist.yaml",
        &blueprint("eks10", "A100:8", 1, 1).replace("provider:", "ttl: 1h\nprovider:"),
    );
    job.expect(&["apply", "--auto-approve"], 0);
    // A longer ttl moves the expiry tags of everything in place: nothing expires at 2h.
    let ttl = |t: &str| {
        blueprint("eks10", "A100:8", 1, 1).replace("provider:", &format!("ttl: {t}\nprovider:"))
    };
    job.write("hoist.yaml", &ttl("8h"));
    job.expect(&["apply", "--auto-approve"], 0);
    let mut early = em.context();
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    early.env.push(("HOIST_NOW".into(), later));
    let r = early.expect(&[&expired_sweep()[..], &["--dry-run"]].concat(), 0);
    assert!(
        r.stdout.contains("Nothing to sweep"),
        "every tag moved to 8h: {}",
        r.stdout
    );
    job.write("hoist.yaml", &ttl("1h"));
    job.expect(&["apply", "--auto-approve"], 0);
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    job.env.push(("HOIST_NOW".into(), later));
    let expired = [
        "sweep",
        "--cloud",
        "aws",
        "--region",
        "us-east-1",
        "--expired",
    ];
    let r = job.expect(&[&expired[..], &["--auto-approve"]].concat(), 0);
    assert!(
        r.stdout.contains("have passed their hoist-expires-at") && r.stdout.contains("env eks10"),
        "{}",
        r.all()
    );
    assert_nothing_left(&em, "eks10");
}

#[test]
fn size_change_updates_in_place_type_change_creates_first_and_drift_names_the_field() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks2", "A100:8", 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);

    t.write("hoist.yaml", &blueprint("eks2", "A100:8", 2, 2));
    em.reset_calls();
    t.expect(&["apply", "--auto-approve"], 0);
    let calls = em.calls();
    assert!(
        calls.contains(&"eks:UpdateNodegroupConfig".to_string()),
        "{calls:?}"
    );
    assert!(
        !calls.contains(&"eks:CreateNodegroup".to_string()),
        "{calls:?}"
    );
    assert_eq!(
        gpu_group(&em.state("eks2"), "eks2")["scaling"]["desiredSize"],
        2
    );

    // Behind hoist's back: the fixed-size pool is resized.
    let group = em.state("eks2")["clusters"]["eks2"]["nodegroups"]
        .as_object()
        .unwrap()
        .keys()
        .find(|k| k.starts_with("gpu-"))
        .unwrap()
        .clone();
    em.boto(&format!("c('eks').update_nodegroup_config(clusterName='eks2', nodegroupName='{group}', scalingConfig={{'minSize': 2, 'maxSize': 5, 'desiredSize': 5}})"));
    let drift = t.expect(&["drift", "--exit-code"], 2);
    assert!(
        drift.stdout.contains("node_pool.gpu")
            && drift.stdout.contains("desired: 2 (applied) → 5 (live)"),
        "{}",
        drift.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    t.expect(&["drift", "--exit-code"], 0);

    t.write("hoist.yaml", &blueprint("eks2", "H100:8", 2, 2));
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("+/- node_pool.gpu")
            && plan.stdout.contains("\"p4d.24xlarge\" → \"p5.48xlarge\""),
        "{}",
        plan.stdout
    );
    em.reset_calls();
    t.expect(&["apply", "--auto-approve"], 0);
    let calls = em.calls();
    let created = calls
        .iter()
        .position(|c| c == "eks:CreateNodegroup")
        .expect("a new node group");
    let deleted = calls
        .iter()
        .position(|c| c == "eks:DeleteNodegroup")
        .expect("the old one deleted");
    assert!(created < deleted, "create before destroy: {calls:?}");
    let gpu = gpu_group(&em.state("eks2"), "eks2");
    assert_eq!(gpu["instance_types"], json!(["p5.48xlarge"]));
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn throttling_is_retried_and_a_stocked_out_zone_is_failed_over() {
    let em = Emulator::start();
    let t = em.context();
    em.configure(r#"{"throttle": 6, "stockout": {"us-east-1a": ["p4d.24xlarge"]}}"#);
    t.write("hoist.yaml", &blueprint("eks3", "A100:8", 1, 1));
    let r = t.expect(&["apply", "--auto-approve"], 0);
    assert!(
        r.stdout.contains("rate exceeded")
            || r.stdout.contains("Rate exceeded")
            || r.stdout.contains("RequestLimitExceeded"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("out of p4d.24xlarge capacity; retrying in us-east-1b, us-east-1c"),
        "{}",
        r.stdout
    );
    // A p4d pool lives in one placement group, so in one zone: the next one after 1a.
    let gpu = gpu_group(&em.state("eks3"), "eks3");
    assert_eq!(gpu["zones"], json!(["us-east-1b"]));
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_gpu_quota_below_the_request_fails_the_plan_before_any_create() {
    let em = Emulator::start();
    let t = em.context();
    em.configure(r#"{"quotas": {"L-417A185B": 96}}"#);
    t.write("hoist.yaml", &blueprint("eks4", "A100:8", 1, 2));
    let r = t.expect(&["apply", "--auto-approve"], 1);
    assert!(
        r.stderr
            .contains("quota L-417A185B \"Running On-Demand P instances\" is 96"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("192 vCPUs"), "{}", r.stderr);
    assert!(
        em.calls().iter().all(|c| !c.contains(":Create")),
        "nothing created: {:?}",
        em.calls()
    );
}

#[test]
fn killed_during_apply_then_apply_again_makes_no_duplicates() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks5", "A100:8", 1, 1));
    for point in [
        "after-create:vpc.eks5",
        "after-create:iam_role.node",
        "after-create:eks_cluster.eks5",
        "after-intent:node_pool.gpu",
    ] {
        t.apply_killed_at(point);
        t.expect(&["apply", "--auto-approve"], 0);
        let s = em.state("eks5");
        assert_eq!(list(&s["vpcs"]).len(), 1, "{point}: {s}");
        assert_eq!(s["roles"].as_object().unwrap().len(), 2, "{point}: {s}");
        assert_eq!(s["clusters"].as_object().unwrap().len(), 1, "{point}: {s}");
        assert_eq!(
            s["clusters"]["eks5"]["nodegroups"]
                .as_object()
                .unwrap()
                .len(),
            2,
            "{point}: {s}"
        );
        t.expect(&["plan", "--detailed-exitcode"], 0);
        t.expect(&["destroy", "--auto-approve"], 0);
    }
}

#[test]
fn a_no_op_plan_reads_each_kind_in_one_call_and_lists_each_once_to_reconcile() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks6", "A100:8", 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    em.reset_calls();
    t.expect(&["plan", "--detailed-exitcode"], 0);
    let calls = em.calls();
    let count = |c: &str| calls.iter().filter(|x| *x == c).count();
    // Each EC2 kind: one describe by the ids state records, one by the environment's tag (to
    // find what state lacks).
    for describe in [
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeInternetGateways",
        "DescribeAddresses",
        "DescribeNatGateways",
        "DescribeRouteTables",
        "DescribeSecurityGroups",
        "DescribeVpcEndpoints",
        "DescribeLaunchTemplates",
        "DescribePlacementGroups",
    ] {
        assert_eq!(
            count(&format!("ec2:{describe}")),
            2,
            "{describe}: {calls:?}"
        );
    }
    assert_eq!(
        count("iam:GetAccountAuthorizationDetails"),
        1,
        "both roles in one call: {calls:?}"
    );
    assert_eq!(count("iam:ListRoles"), 1);
    assert_eq!(count("logs:DescribeLogGroups"), 2, "{calls:?}");
    // The cluster, the leftovers record (it lives as long as the cluster), and the listing.
    assert_eq!(count("eks:DescribeCluster"), 3);
    assert_eq!(count("eks:DescribeAddon"), 4);
    assert_eq!(count("eks:DescribeNodegroup"), 2);
    assert_eq!(count("eks:ListAddons"), 1);
    // The ownership listing also looks for the stack's OIDC provider and bucket.
    assert_eq!(count("iam:ListOpenIDConnectProviders"), 1);
    assert_eq!(count("s3:ListBuckets"), 1);
    // Reads: 12 kinds in one call each + 8 EKS objects; the ownership listing: 23 more.
    assert_eq!(
        calls.len(),
        43,
        "30 resources refreshed and reconciled in 43 calls: {calls:?}"
    );
}

#[test]
fn kubeconfig_uses_the_eks_token_command_and_state_holds_no_token() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks7", "L4:1", 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    t.expect(&["kubeconfig", "--out", "kube.yaml"], 0);
    let kc = std::fs::read_to_string(t.path("kube.yaml")).unwrap();
    assert!(kc.contains("server: https://"), "{kc}");
    assert!(
        kc.contains(
            "args: [eks, get-token, --cluster-name, eks7, --region, us-east-1, --output, json]"
        ),
        "{kc}"
    );
    assert!(!kc.contains("token:"), "no token is written: {kc}");
    let state = std::fs::read_to_string(t.state_path("eks7")).unwrap();
    assert!(
        !state.contains("k8s-aws-v1"),
        "no EKS token is stored in state"
    );
    let gpu = gpu_group(&em.state("eks7"), "eks7");
    assert_eq!(
        gpu["instance_types"],
        json!(["g6.xlarge"]),
        "L4:1 resolves to the cheapest L4 type"
    );
}

#[test]
fn cluster_version_and_endpoint_access_change_in_place_one_update_at_a_time() {
    let em = Emulator::start();
    let t = em.context();
    let text = blueprint("eks9", "L4:1", 1, 1);
    t.write("hoist.yaml", &text);
    t.expect(&["apply", "--auto-approve"], 0);
    let changed = text.replace(
        "  kubernetes_version: \"1.32\"\n",
        "  kubernetes_version: \"1.33\"\n  endpoint_access: public-and-private\n",
    );
    t.write("hoist.yaml", &changed);
    em.reset_calls();
    let r = t.expect(&["apply", "--auto-approve"], 0);
    assert!(r.stdout.contains("~ eks_cluster.eks9"), "{}", r.stdout);
    let calls = em.calls();
    let version = calls
        .iter()
        .position(|c| c == "eks:UpdateClusterVersion")
        .expect("version update");
    let config = calls
        .iter()
        .position(|c| c == "eks:UpdateClusterConfig")
        .expect("endpoint update");
    assert!(version < config, "{calls:?}");
    assert!(
        !calls
            .iter()
            .any(|c| c == "eks:DeleteCluster" || c == "eks:CreateCluster"),
        "{calls:?}"
    );
    assert_eq!(em.state("eks9")["clusters"]["eks9"]["version"], "1.33");
    t.expect(&["plan", "--detailed-exitcode"], 0);
}
