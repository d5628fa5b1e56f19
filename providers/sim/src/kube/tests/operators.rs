//! The stack's operators as the simulated cluster runs them: the GPU operator recognises GPU
//! nodes only by the labels Node Feature Discovery would set, and what it makes goes with its
//! ClusterPolicy; KServe turns an InferenceService into its predictor's objects.

use serde_json::{json, Value};

use super::{apply, call, cloud, get, names};
use crate::{db, LatencyProfile};

fn operator() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gpu-operator", "namespace": "gpu"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gpu-operator"}},
                    "template": {"metadata": {"labels": {"app": "gpu-operator"}}, "spec": {
                        "containers": [{"name": "o", "image": "nvcr.io/nvidia/gpu-operator:v26.7.0"}]}}}})
}

fn crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "clusterpolicies.nvidia.com"},
           "spec": {"group": "nvidia.com", "scope": "Cluster",
                    "names": {"kind": "ClusterPolicy", "plural": "clusterpolicies", "singular": "clusterpolicy"},
                    "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

fn policy() -> Value {
    let image = |i: &str, v: &str| json!({"enabled": true, "repository": "nvcr.io/nvidia", "image": i, "version": v});
    json!({"apiVersion": "nvidia.com/v1", "kind": "ClusterPolicy", "metadata": {"name": "cluster-policy"},
           "spec": {"daemonsets": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]},
                    "devicePlugin": image("k8s-device-plugin", "v0.20.0"),
                    "dcgmExporter": image("dcgm-exporter", "4.6.0-4.8.3-distroless")}})
}

const POLICY: &str = "/apis/nvidia.com/v1/clusterpolicies/cluster-policy";

async fn install(api: &crate::SimKubeApi) {
    call(
        api,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gpu"}}).to_string(),
    )
    .await;
    apply(
        api,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/clusterpolicies.nvidia.com",
        "hoist",
        true,
        crd(),
    )
    .await;
    apply(
        api,
        "/apis/apps/v1/namespaces/gpu/deployments/gpu-operator",
        "hoist",
        true,
        operator(),
    )
    .await;
    let (code, body) = apply(api, POLICY, "hoist", true, policy()).await;
    assert_eq!(code, 201, "{body}");
}

#[tokio::test]
async fn the_gpu_operator_finds_no_gpu_node_without_the_labels_nfd_would_set() {
    let (_d, _cloud, api) = cloud(LatencyProfile::Instant);
    install(&api).await;
    let p = get(&api, POLICY).await.1;
    assert_eq!(p["status"]["state"], "notReady", "{p}");
    let message = p["status"]["conditions"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("feature.node.kubernetes.io/pci-10de.present"),
        "{message}"
    );
    let ds = get(&api, "/apis/apps/v1/namespaces/gpu/daemonsets").await.1;
    assert!(names(&ds).is_empty());
}

#[tokio::test]
async fn with_the_labels_its_operands_run_gpus_appear_and_go_with_the_policy() {
    let (_d, cloud, api) = cloud(LatencyProfile::Instant);
    {
        let conn = cloud.conn();
        let mut pool = db::get(&conn, "np-2").unwrap().unwrap();
        pool.attrs.insert(
            "labels".into(),
            json!({
            "feature.node.kubernetes.io/pci-10de.present": "true",
            "feature.node.kubernetes.io/system-os_release.ID": "sim",
            "feature.node.kubernetes.io/system-os_release.VERSION_ID": "1"}),
        );
        db::update(&conn, &pool).unwrap();
    }
    install(&api).await;
    let p = get(&api, POLICY).await.1;
    assert_eq!(p["status"]["state"], "ready", "{p}");
    let ds = get(&api, "/apis/apps/v1/namespaces/gpu/daemonsets").await.1;
    assert_eq!(
        names(&ds),
        ["nvidia-dcgm-exporter", "nvidia-device-plugin-daemonset"]
    );
    assert_eq!(
        ds["items"][0]["status"]["desiredNumberScheduled"], 1,
        "GPU node only"
    );
    let nodes = get(&api, "/api/v1/nodes").await.1;
    let gpus: Vec<&Value> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["status"]["allocatable"]["nvidia.com/gpu"])
        .collect();
    assert_eq!(gpus, [&Value::Null, &Value::Null, &json!("8")]);

    let (code, _) = call(&api, "DELETE", POLICY, "", "").await;
    assert_eq!(code, 200);
    let ds = get(&api, "/apis/apps/v1/namespaces/gpu/daemonsets").await.1;
    assert!(
        names(&ds).is_empty(),
        "the operands went with their owner: {ds}"
    );
}
