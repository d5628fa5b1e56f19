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
            tpu: None,
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
        provider_options: BTreeMap::new(),
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
            env: BTreeMap::from([("AWS_REGION".into(), "us-east-1".into())]),
        }),
        artifacts: Some(ArtifactStore {
            bucket: Address::new("s3_bucket", "mlflow"),
            uri_output: "uri".into(),
            service_account_annotations: BTreeMap::new(),
            env: BTreeMap::from([("AWS_REGION".into(), "us-east-1".into())]),
        }),
        storage_class: Some("gp3".into()),
        gpu_driver_preinstalled: true,
        gpu_plugin_managed: false,
        gpu_driver_host_dir: None,
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

/// Every document against what judges its kind: the strict schema when Kubernetes publishes
/// one, k8s-openapi's type for CRDs and webhook configurations, and for a custom resource the
/// schema of the CRD among `docs` that defines it (which must itself be structural).
fn assert_valid(docs: &[Value]) {
    use k8s_openapi::api::admissionregistration::v1 as admission;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    let mut failures = Vec::new();
    for d in docs {
        let (api_version, kind) = (
            d["apiVersion"].as_str().unwrap(),
            d["kind"].as_str().unwrap(),
        );
        let errors = match kind {
            "CustomResourceDefinition" => {
                let mut e = validate::round_trip::<ext::CustomResourceDefinition>(d);
                for v in d["spec"]["versions"].as_array().into_iter().flatten() {
                    validate::structural_problems(
                        &v["schema"]["openAPIV3Schema"],
                        "$schema",
                        &mut e,
                    );
                }
                e
            }
            "MutatingWebhookConfiguration" => {
                validate::round_trip::<admission::MutatingWebhookConfiguration>(d)
            }
            "ValidatingWebhookConfiguration" => {
                validate::round_trip::<admission::ValidatingWebhookConfiguration>(d)
            }
            _ => match crd_for(docs, api_version, kind) {
                Some(crd) => {
                    let version = api_version.rsplit_once('/').unwrap().1;
                    let schema = validate::crd_schema(crd, version)
                        .unwrap_or_else(|| panic!("{kind}: its CRD serves no {version}"));
                    validate::validate(&schema, d)
                }
                None => validate::validate(&validate::schema_for(api_version, kind), d),
            },
        };
        for e in errors {
            failures.push(format!("{kind} {}: {e}", d["metadata"]["name"]));
        }
    }
    assert!(
        failures.is_empty(),
        "schema violations:\n{}",
        failures.join("\n")
    );
}

/// The CRD among `docs` that defines `kind` in the group of `api_version`.
fn crd_for<'a>(docs: &'a [Value], api_version: &str, kind: &str) -> Option<&'a Value> {
    let group = api_version.rsplit_once('/')?.0;
    docs.iter().find(|d| {
        d["kind"] == "CustomResourceDefinition"
            && d["spec"]["group"] == group
            && d["spec"]["names"]["kind"] == kind
    })
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
fn where_the_cloud_runs_the_device_plugin_only_the_exporter_is_hoists() {
    let gke = StackTarget {
        gpu_plugin_managed: true,
        gpu_driver_host_dir: Some("/home/kubernetes/bin/nvidia".into()),
        ..target(false)
    };
    let docs = documents(&spec("train", 1), &gke);
    assert_valid(&docs);
    let kinds = validate::kinds(&docs);
    assert_eq!(kinds["DaemonSet"], 1, "{kinds:?}");
    assert!(!kinds.contains_key("RuntimeClass"), "{kinds:?}");
    let dcgm = docs
        .iter()
        .find(|d| d["kind"] == "DaemonSet" && d["metadata"]["name"] == "dcgm-exporter")
        .expect("the exporter");
    let pod = &dcgm["spec"]["template"]["spec"];
    assert!(
        pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["hostPath"]["path"] == "/home/kubernetes/bin/nvidia"),
        "the node image's driver is mounted: {pod}"
    );
    assert_eq!(pod["containers"][0]["securityContext"]["privileged"], true);
}

fn with_variants(mut spec: EnvSpec, gpu: GpuVariant, serving: ServingVariant) -> EnvSpec {
    spec.stack.gpu.as_mut().unwrap().variant = gpu;
    spec.stack.serving.as_mut().unwrap().variant = serving;
    spec
}

#[test]
fn the_operator_and_kserve_variants_validate_against_their_schemas_and_crds() {
    let spec = with_variants(
        spec("train", 1),
        GpuVariant::GpuOperator,
        ServingVariant::Kserve,
    );
    let docs = documents(&spec, &target(true));
    assert_valid(&docs);
    let kinds = validate::kinds(&docs);
    for (kind, n) in [
        ("ClusterPolicy", 1),
        ("InferenceService", 1),
        ("Job", 1),
        ("MutatingWebhookConfiguration", 1),
        ("ValidatingWebhookConfiguration", 5),
        ("CustomResourceDefinition", 8),
    ] {
        assert_eq!(kinds.get(kind), Some(&n), "{kind}: {kinds:?}");
    }
    // The operator replaces hoist's own plugin and exporter DaemonSets.
    assert_eq!(kinds.get("DaemonSet"), None, "{kinds:?}");
    let isvc = docs
        .iter()
        .find(|d| d["kind"] == "InferenceService")
        .unwrap();
    let predictor = &isvc["spec"]["predictor"];
    assert_eq!(
        predictor["containers"][0]["resources"]["limits"]["nvidia.com/gpu"],
        1
    );
    assert_eq!(predictor["nodeSelector"]["hoist.dev/node-pool"], "train");
}

#[test]
fn a_custom_resource_is_checked_against_the_crd_hoist_applies() {
    let spec = with_variants(
        spec("train", 1),
        GpuVariant::GpuOperator,
        ServingVariant::Kserve,
    );
    let mut docs = documents(&spec, &target(true));
    let isvc = docs
        .iter_mut()
        .find(|d| d["kind"] == "InferenceService")
        .unwrap();
    isvc["spec"]["predictor"]["minReplica"] = Value::from(1);
    isvc["spec"]["predictor"]["maxReplicas"] = Value::from("3");
    let isvc = isvc.clone();
    let crd = crd_for(&docs, "serving.kserve.io/v1beta1", "InferenceService").unwrap();
    let mut errors = validate::validate(&validate::crd_schema(crd, "v1beta1").unwrap(), &isvc);
    errors.sort();
    assert_eq!(
        errors,
        [
            "$.spec.predictor.maxReplicas: expected [\"integer\"], found \"3\"",
            "$.spec.predictor.minReplica: unknown field",
        ]
    );
    let mut hook = docs
        .iter()
        .find(|d| d["kind"] == "MutatingWebhookConfiguration")
        .unwrap()
        .clone();
    hook["webhooks"][0]["sideEffect"] = Value::from("None");
    assert_eq!(
        validate::round_trip::<
            k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
        >(&hook),
        ["$.webhooks[0].sideEffect: unknown field"]
    );
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
