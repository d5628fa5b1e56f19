#![cfg(feature = "aws")]
//! The AWS provider against moto (an independent AWS emulator), with a thin loopback layer in
//! front for what moto lacks (tests/aws/fake_aws.py). Everything listens on 127.0.0.1.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::TestContext;
use serde_json::Value;

const LAYER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/fake_aws.py");
const STATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/emulator_state.py");

/// One emulator process, stopped on drop.
struct Emulator {
    child: Child,
    port: u16,
}

impl Emulator {
    fn start() -> Emulator {
        let mut child = Command::new("python3")
            .arg(LAYER)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the AWS emulator (pip install 'moto[server]')");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the emulator prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the emulator did not start: {line:?}"));
        Emulator { child, port }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn http(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }

    fn configure(&self, json: &str) {
        self.http("POST", "/_hoist/config", json);
    }

    fn reset_calls(&self) {
        self.http("POST", "/_hoist/calls/reset", "");
    }

    fn calls(&self) -> Vec<String> {
        serde_json::from_str(&self.http("GET", "/_hoist/calls", "")).unwrap()
    }

    /// What the emulator holds for `env`, read through boto3.
    fn state(&self, env: &str) -> Value {
        let out = Command::new("python3")
            .arg(STATE)
            .arg(self.endpoint())
            .arg(env)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    /// A boto3 call against the emulator, behind hoist's back.
    fn boto(&self, code: &str) {
        let script = format!("import boto3\nc = lambda s: boto3.client(s, endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n{code}\n", self.endpoint());
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn context(em: &Emulator) -> TestContext {
    let mut t = TestContext::new();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", em.endpoint().as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/dev/null"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
    ] {
        t.env.push((k.into(), v.into()));
    }
    t
}

/// An EKS blueprint with a fixed-size GPU pool and an autoscaled CPU pool.
fn blueprint(env: &str, accelerator: &str, gpu_nodes: u32, gpu_max: u32) -> String {
    format!(
        "apiVersion: hoist/v1\nname: {env}\nprovider:\n  cloud: aws\n  region: us-east-1\nnetwork:\n  cidr: 10.50.0.0/16\n  zones: [us-east-1a, us-east-1b, us-east-1c]\ncluster:\n  kubernetes_version: \"1.32\"\nnode_pools:\n  - name: gpu\n    accelerator: {accelerator}\n    min: {gpu_nodes}\n    desired: {gpu_nodes}\n    max: {gpu_max}\n    labels:\n      workload: training\n    taints:\n      - nvidia.com/gpu=present:NoSchedule\n  - name: system\n    instance_type: m5.large\n    min: 1\n    max: 3\n"
    )
}

fn gpu_group(state: &Value, env: &str) -> Value {
    let groups = state["clusters"][env]["nodegroups"].as_object().unwrap();
    groups
        .iter()
        .find(|(name, _)| name.starts_with("gpu-"))
        .map(|(_, g)| g.clone())
        .expect("a gpu node group")
}

#[test]
fn apply_builds_a_tagged_eks_environment_plans_empty_and_destroys_to_nothing() {
    let em = Emulator::start();
    let t = context(&em);
    t.write("hoist.yaml", &blueprint("eks1", "A100:8", 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    let s = em.state("eks1");
    assert_eq!(s["vpcs"].as_array().unwrap().len(), 1);
    let subnets = s["subnets"].as_array().unwrap();
    assert_eq!(subnets.iter().filter(|x| x["public"] == true).count(), 3);
    assert_eq!(subnets.iter().filter(|x| x["public"] == false).count(), 3);
    for kind in [
        "internet_gateways",
        "nat_gateways",
        "addresses",
        "security_groups",
    ] {
        assert_eq!(s[kind].as_array().unwrap().len(), 1, "{kind}: {s}");
    }
    assert_eq!(s["route_tables"].as_array().unwrap().len(), 2);
    assert_eq!(
        s["roles"]["eks1-eks-cluster"],
        serde_json::json!(["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"])
    );
    assert_eq!(s["roles"]["eks1-eks-node"].as_array().unwrap().len(), 3);
    let cluster = &s["clusters"]["eks1"];
    assert_eq!(cluster["version"], "1.32");
    assert_eq!(cluster["tags"]["hoist-address"], "eks_cluster.eks1");
    let gpu = gpu_group(&s, "eks1");
    assert_eq!(gpu["instance_types"], serde_json::json!(["p4d.24xlarge"]));
    assert_eq!(gpu["ami_type"], "AL2023_x86_64_NVIDIA");
    assert_eq!(gpu["capacity_type"], "ON_DEMAND");
    assert_eq!(gpu["labels"]["workload"], "training");
    assert_eq!(gpu["taints"][0]["key"], "nvidia.com/gpu");
    assert_eq!(gpu["scaling"]["desiredSize"], 1);
    t.expect(&["plan", "--detailed-exitcode"], 0);

    let destroy = t.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        destroy
            .all()
            .contains("Verified: nothing tagged hoist-env=eks1 remains in aws."),
        "{}",
        destroy.all()
    );
    let s = em.state("eks1");
    for kind in [
        "vpcs",
        "subnets",
        "internet_gateways",
        "nat_gateways",
        "addresses",
        "route_tables",
        "security_groups",
    ] {
        assert!(s[kind].as_array().unwrap().is_empty(), "{kind} left: {s}");
    }
    assert!(
        s["roles"].as_object().unwrap().is_empty() && s["clusters"].as_object().unwrap().is_empty(),
        "{s}"
    );
}

#[test]
fn size_change_updates_in_place_type_change_creates_first_and_drift_names_the_field() {
    let em = Emulator::start();
    let t = context(&em);
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
    assert_eq!(gpu["instance_types"], serde_json::json!(["p5.48xlarge"]));
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn throttling_is_retried_and_a_stocked_out_zone_is_failed_over() {
    let em = Emulator::start();
    let t = context(&em);
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
    let gpu = gpu_group(&em.state("eks3"), "eks3");
    assert_eq!(
        gpu["zones"],
        serde_json::json!(["us-east-1b", "us-east-1c"])
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_gpu_quota_below_the_request_fails_the_plan_before_any_create() {
    let em = Emulator::start();
    let t = context(&em);
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
    let t = context(&em);
    t.write("hoist.yaml", &blueprint("eks5", "A100:8", 1, 1));
    for point in [
        "after-create:vpc.eks5",
        "after-create:iam_role.node",
        "after-create:eks_cluster.eks5",
        "after-intent:node_pool.gpu",
    ] {
        let r = t
            .command(&["apply", "--auto-approve"])
            .env("HOIST_FAILPOINT", point)
            .output()
            .unwrap();
        assert_eq!(r.status.code(), None, "{point}: killed");
        t.expect(&["apply", "--auto-approve"], 0);
        let s = em.state("eks5");
        assert_eq!(s["vpcs"].as_array().unwrap().len(), 1, "{point}: {s}");
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
fn a_no_op_plan_reads_each_kind_in_one_call() {
    let em = Emulator::start();
    let t = context(&em);
    t.write("hoist.yaml", &blueprint("eks6", "A100:8", 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    em.reset_calls();
    t.expect(&["plan", "--detailed-exitcode"], 0);
    let calls = em.calls();
    let count = |c: &str| calls.iter().filter(|x| *x == c).count();
    for describe in [
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeInternetGateways",
        "DescribeAddresses",
        "DescribeNatGateways",
        "DescribeRouteTables",
        "DescribeSecurityGroups",
    ] {
        assert_eq!(
            count(&format!("ec2:{describe}")),
            1,
            "{describe} once for all: {calls:?}"
        );
    }
    assert_eq!(count("eks:DescribeCluster"), 1);
    assert_eq!(count("eks:DescribeAddon"), 3);
    assert_eq!(count("eks:DescribeNodegroup"), 2);
    assert_eq!(
        count("iam:GetAccountAuthorizationDetails"),
        1,
        "both roles in one call: {calls:?}"
    );
    // 8 kinds (7 EC2 + IAM roles) + 6 EKS objects (cluster, 3 add-ons, 2 node groups).
    assert_eq!(
        calls.len(),
        14,
        "21 resources refreshed in 14 calls: {calls:?}"
    );
}

#[test]
fn kubeconfig_uses_the_eks_token_command_and_state_holds_no_token() {
    let em = Emulator::start();
    let t = context(&em);
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
        serde_json::json!(["g6.xlarge"]),
        "L4:1 resolves to the cheapest L4 type"
    );
}
