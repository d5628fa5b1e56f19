//! Every component and variant of the stack renders, and every document it renders passes the
//! strict Kubernetes 1.32 schema of its kind.

mod validate;

use std::collections::BTreeMap;

use hoist_provider::{
    display_unknown, AcceleratorInfo, Addons, Address, ArtifactStore, AutoscalerStack,
    AutoscalerTarget, Capacity, ClusterSpec, EndpointAccess, EnvSpec, GpuStack, GpuVariant,
    Ipv4Cidr, MlflowStack, MonitoringStack, NatMode, NetworkSpec, PoolSpec, ServingStack,
    ServingVariant, StackSpec, StackTarget,
};
use serde_json::Value;

fn pool(name: &str, gpu: bool) -> PoolSpec {
    PoolSpec {
        name: name.into(),
        path: "node_pools[0]".into(),
        request: gpu.then(|| "A100:8".into()),
        instance_type: if gpu {
            "p4d.24xlarge".into()
        } else {
            "m6i.large".into()
        },
        alternatives: vec![],
        accelerator: gpu.then(|| AcceleratorInfo {
            name: "A100".into(),
            count: 8,
            memory_gib: Some(40.0),
        }),
        capacity: Capacity::OnDemand,
        min: 0,
        max: 2,
        desired: 1,
        labels: BTreeMap::new(),
        taints: if gpu {
            vec![
                "nvidia.com/gpu=present:NoSchedule".into(),
                "team=ml:NoExecute".into(),
            ]
        } else {
            vec![]
        },
        zones: vec!["z1".into()],
        placement_zones: None,
        disk_size_gib: None,
    }
}

fn spec(serving_pool: &str, gpus: u32) -> EnvSpec {
    EnvSpec {
        name: "demo".into(),
        cloud: "aws".into(),
        region: "us-east-1".into(),
        zones: vec!["z1".into()],
        network: NetworkSpec {
            cidr: Ipv4Cidr {
                addr: "10.0.0.0".parse().unwrap(),
                prefix: 16,
            },
            nat: NatMode::Single,
        },
        cluster: ClusterSpec {
            kubernetes_version: "1.32".into(),
            endpoint_access: EndpointAccess::Public,
            access: vec![],
            addons: Addons::Managed,
        },
        node_pools: vec![pool("system", false), pool("train", true)],
        tags: BTreeMap::new(),
        stack: StackSpec {
            gpu: Some(GpuStack {
                variant: GpuVariant::DevicePlugin,
                version: None,
            }),
            autoscaler: Some(AutoscalerStack { version: None }),
            monitoring: Some(MonitoringStack {
                version: None,
                retention: "30d".into(),
                storage_gib: 100,
            }),
            mlflow: Some(MlflowStack {
                version: None,
                storage_gib: 10,
            }),
            serving: Some(ServingStack {
                variant: ServingVariant::ModelServer,
                version: None,
                image: "vllm/vllm-openai:v0.10.1".into(),
                pool: Some(serving_pool.into()),
                gpus,
                min_replicas: 1,
                max_replicas: 3,
                port: 8000,
            }),
        },
    }
}

fn target(self_hosted_autoscaler: bool) -> StackTarget {
    StackTarget {
        cluster: Address::new("eks_cluster", "demo"),
        cluster_name: "demo".into(),
        accelerator_label: "k8s.amazonaws.com/accelerator".into(),
        pool_label: "hoist.dev/node-pool".into(),
        autoscaler: self_hosted_autoscaler.then(|| AutoscalerTarget {
            cloud_provider: "aws".into(),
            args: vec!["--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/demo".into()],
            service_account_annotations: BTreeMap::from([("eks.amazonaws.com/role-arn".into(), "arn:aws:iam::1:role/x".into())]),
        }),
        artifacts: Some(ArtifactStore {
            bucket: Address::new("s3_bucket", "mlflow"),
            uri_output: "uri".into(),
            service_account_annotations: BTreeMap::new(),
            env: BTreeMap::from([("AWS_REGION".into(), "us-east-1".into())]),
        }),
        storage_class: Some("gp3".into()),
    }
}

/// The rendered objects as they will be applied (references shown as their placeholder).
fn documents(spec: &EnvSpec, target: &StackTarget) -> Vec<Value> {
    let configs = hoist_kube::expand(spec, target).expect("the stack expands");
    configs
        .iter()
        .map(|c| {
            let mut fields = hoist_provider::Attrs::new();
            for (k, v) in &c.attrs {
                fields.insert(k.clone(), display_unknown(v));
            }
            hoist_kube::object_of(&fields).expect("fields make an object")
        })
        .collect()
}

fn assert_valid(docs: &[Value]) {
    let mut failures = Vec::new();
    for d in docs {
        let schema = validate::schema_for(
            d["apiVersion"].as_str().unwrap(),
            d["kind"].as_str().unwrap(),
        );
        for e in validate::validate(&schema, d) {
            failures.push(format!("{} {}: {e}", d["kind"], d["metadata"]["name"]));
        }
    }
    assert!(
        failures.is_empty(),
        "schema violations:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_component_and_variant_validates_against_the_strict_schemas() {
    let variants = [
        (
            "self-hosted autoscaler, GPU serving",
            spec("train", 1),
            target(true),
        ),
        (
            "managed autoscaler, CPU serving",
            spec("system", 0),
            target(false),
        ),
    ];
    for (what, spec, target) in variants {
        let docs = documents(&spec, &target);
        assert_valid(&docs);
        let kinds = validate::kinds(&docs);
        assert_eq!(
            kinds.get("Namespace"),
            Some(&(4 + usize::from(target.autoscaler.is_some()))),
            "{what}: {kinds:?}"
        );
        assert!(
            kinds["DaemonSet"] == 2 && kinds["HorizontalPodAutoscaler"] == 1,
            "{what}: {kinds:?}"
        );
    }
}

#[test]
fn the_validator_catches_a_misspelt_field() {
    let mut docs = documents(&spec("train", 1), &target(true));
    let d = docs.iter_mut().find(|d| d["kind"] == "Deployment").unwrap();
    d["spec"]["replica"] = Value::from(2);
    let schema = validate::schema_for("apps/v1", "Deployment");
    let errors = validate::validate(&schema, d);
    assert_eq!(errors, vec!["$.spec.replica: unknown field".to_string()]);
}

#[test]
fn gpu_workloads_tolerate_the_pools_taints_and_ask_for_gpus() {
    let docs = documents(&spec("train", 2), &target(true));
    let ms = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "model-server" && d["kind"] == "Deployment")
        .unwrap();
    let pod = &ms["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
        2
    );
    assert_eq!(pod["nodeSelector"]["hoist.dev/node-pool"], "train");
    let keys: Vec<&str> = pod["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["nvidia.com/gpu", "team"]);
    let dp = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "nvidia-device-plugin")
        .unwrap();
    let dp_keys: Vec<&str> = dp["spec"]["template"]["spec"]["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(dp_keys, ["nvidia.com/gpu", "team"]);
    let prom = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "prometheus" && d["kind"] == "Deployment")
        .unwrap();
    let args = prom["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert!(
        args.contains(&Value::from("--storage.tsdb.retention.time=30d")),
        "{args:?}"
    );
}
