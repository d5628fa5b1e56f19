//! Nodes, workloads and the cloud resources a cluster makes; input a server refuses.

use hoist_provider::{Address, ClusterAccess, Provider, ResourceState};
use serde_json::{json, Value};

use super::{apply, call, cloud, get, names};
use crate::db;
use crate::LatencyProfile;

fn gpu_deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "train", "namespace": "default"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "train"}},
                    "template": {"metadata": {"labels": {"app": "train"}}, "spec": {
                        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                        "containers": [{"name": "c", "image": "trainer", "resources": {"limits": {"nvidia.com/gpu": 8}}}]}}}})
}

fn device_plugin(tolerate: bool) -> Value {
    let tolerations = if tolerate {
        json!([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}])
    } else {
        json!([])
    };
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "nvidia-device-plugin", "namespace": "kube-system"},
           "spec": {"selector": {"matchLabels": {"app": "dp"}},
                    "template": {"metadata": {"labels": {"app": "dp"}}, "spec": {
                        "nodeSelector": {"nvidia.com/gpu.present": "true"}, "tolerations": tolerations,
                        "containers": [{"name": "dp", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0"}]}}}})
}

fn gpus(nodes: &Value) -> Vec<Option<String>> {
    nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["status"]["allocatable"]["nvidia.com/gpu"]
                .as_str()
                .map(String::from)
        })
        .collect()
}

#[tokio::test]
async fn gpus_appear_once_the_device_plugin_runs() {
    let (_d, cloud, api) = cloud(LatencyProfile::Demo);
    let nodes = get(&api, "/api/v1/nodes").await.1;
    assert_eq!(
        names(&nodes),
        [
            "cpu-aaaaa-sim-east1-a-0",
            "cpu-aaaaa-sim-east1-b-0",
            "gpu-bbbbb-sim-east1-a-0"
        ]
    );
    let gpu = &nodes["items"][2];
    assert_eq!(
        gpu["metadata"]["labels"]["sim.hoist.dev/accelerator"],
        "a100"
    );
    assert_eq!(gpu["metadata"]["labels"]["hoist.dev/node-pool"], "gpu");
    assert_eq!(
        gpu["spec"]["taints"][0],
        json!({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"})
    );
    assert_eq!(gpus(&nodes), [None, None, None]);

    let dpath = "/apis/apps/v1/namespaces/default/deployments/train";
    apply(&api, dpath, "hoist", false, gpu_deployment()).await;
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    let d = get(&api, dpath).await.1;
    let avail = &d["status"]["conditions"][0];
    assert_eq!(
        (avail["type"].as_str(), avail["status"].as_str()),
        (Some("Available"), Some("False"))
    );
    assert!(
        avail["message"]
            .as_str()
            .unwrap()
            .contains("Insufficient nvidia.com/gpu"),
        "{avail}"
    );

    // Without the toleration the plugin never lands on the tainted GPU node.
    let dspath = "/apis/apps/v1/namespaces/kube-system/daemonsets/nvidia-device-plugin";
    apply(&api, dspath, "hoist", false, device_plugin(false)).await;
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    assert_eq!(
        get(&api, dspath).await.1["status"]["desiredNumberScheduled"],
        0
    );
    assert_eq!(
        gpus(&get(&api, "/api/v1/nodes").await.1),
        [None, None, None]
    );

    apply(&api, dspath, "hoist", false, device_plugin(true)).await;
    let ds = get(&api, dspath).await.1;
    assert_eq!(
        (
            ds["status"]["desiredNumberScheduled"].as_i64(),
            ds["status"]["numberReady"].as_i64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(
        gpus(&get(&api, "/api/v1/nodes").await.1),
        [None, None, None]
    );
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    assert_eq!(get(&api, dspath).await.1["status"]["numberReady"], 1);
    assert_eq!(
        gpus(&get(&api, "/api/v1/nodes").await.1),
        [None, None, Some("8".into())]
    );
    let d = get(&api, dpath).await.1;
    assert_eq!(d["status"]["conditions"][0]["status"], "True", "{d}");
    assert_eq!(d["status"]["availableReplicas"], 1);

    // Nodes follow the pools.
    cloud.scale("np-1", 1).unwrap();
    assert_eq!(
        get(&api, "/api/v1/nodes").await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn load_balancers_and_volumes_are_cloud_resources() {
    let (_d, cloud, api) = cloud(LatencyProfile::Instant);
    let svc = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                                  "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"app": "web"}}})
    };
    let spath = "/api/v1/namespaces/default/services/";
    assert_eq!(
        apply(&api, &format!("{spath}web"), "hoist", false, svc("web"))
            .await
            .0,
        201
    );
    let s = get(&api, &format!("{spath}web")).await.1;
    assert!(s["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .starts_with("10.100."));
    assert_eq!(
        s["metadata"]["finalizers"],
        json!(["service.kubernetes.io/load-balancer-cleanup"])
    );
    let host = s["status"]["loadBalancer"]["ingress"][0]["hostname"]
        .as_str()
        .unwrap()
        .to_string();
    let lbs: Vec<_> = cloud
        .list(Some("demo"))
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "load_balancer")
        .collect();
    assert_eq!(lbs.len(), 1);
    let lb = &lbs[0];
    assert!(host.starts_with(&lb.name));
    assert_eq!(
        lb.tags
            .get("kubernetes.io/service-name")
            .map(String::as_str),
        Some("default/web")
    );
    assert_eq!(
        lb.tags
            .get("kubernetes.io/cluster/demo")
            .map(String::as_str),
        Some("owned")
    );
    assert_eq!(
        lb.tags.get("hoist-lineage").map(String::as_str),
        Some("lin-1")
    );
    assert!(!lb.tags.contains_key("hoist-address"));
    assert_eq!(
        db::get(&cloud.conn(), &lb.cloud_id)
            .unwrap()
            .unwrap()
            .parent
            .as_deref(),
        Some("net-1")
    );

    // A second one goes when its Service is deleted.
    apply(&api, &format!("{spath}tmp"), "hoist", false, svc("tmp")).await;
    assert_eq!(
        cloud
            .list(Some("demo"))
            .unwrap()
            .iter()
            .filter(|r| r.kind == "load_balancer")
            .count(),
        2
    );
    assert_eq!(
        call(&api, "DELETE", &format!("{spath}tmp"), "", "").await.0,
        200
    );
    assert_eq!(get(&api, &format!("{spath}tmp")).await.0, 404);
    assert_eq!(
        cloud
            .list(Some("demo"))
            .unwrap()
            .iter()
            .filter(|r| r.kind == "load_balancer")
            .count(),
        1
    );

    // A PVC is bound to a tagged volume, deleted with it.
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}});
    apply(
        &api,
        "/api/v1/namespaces/default/persistentvolumeclaims/data",
        "hoist",
        false,
        pvc,
    )
    .await;
    assert_eq!(
        get(
            &api,
            "/api/v1/namespaces/default/persistentvolumeclaims/data"
        )
        .await
        .1["status"]["phase"],
        "Bound"
    );
    let vols: Vec<_> = cloud
        .list(Some("demo"))
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "volume")
        .collect();
    assert_eq!(
        vols[0]
            .tags
            .get("kubernetes.io/created-for/pvc/name")
            .map(String::as_str),
        Some("data")
    );
    call(
        &api,
        "DELETE",
        "/api/v1/namespaces/default/persistentvolumeclaims/data",
        "",
        "",
    )
    .await;
    assert!(!cloud
        .list(Some("demo"))
        .unwrap()
        .iter()
        .any(|r| r.kind == "volume"));

    // Tearing the cluster down without the stack leaks the load balancer: the network stays.
    for id in ["np-1", "np-2", "cls-1", "subnet-1"] {
        cloud.remove(id).unwrap();
    }
    let network = ResourceState {
        address: Address::new("network", "demo"),
        provider: "sim".into(),
        cloud_id: "net-1".into(),
        attrs: Default::default(),
        outputs: Default::default(),
        depends_on: vec![],
        unfinished: None,
    };
    let err = cloud.delete(&network).await.unwrap_err().to_string();
    assert!(
        err.contains("load_balancer") && err.contains("still depends on it"),
        "{err}"
    );
    assert_eq!(get(&api, "/api/v1/namespaces").await.0, 503);
    let left: i64 = cloud
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM kube_objects WHERE cluster = 'cls-1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn bad_input_is_a_status() {
    let (_d, cloud, api) = cloud(LatencyProfile::Instant);
    let cms = "/api/v1/namespaces/default/configmaps";
    let (code, e) = call(&api, "POST", cms, "application/json", "{not json").await;
    assert_eq!(
        (code, e["kind"].as_str(), e["reason"].as_str()),
        (400, Some("Status"), Some("BadRequest"))
    );
    let (code, e) = call(
        &api,
        "PATCH",
        &format!("{cms}/x?fieldManager=m"),
        "application/apply-patch+yaml",
        "kind: ConfigMap\n",
    )
    .await;
    assert_eq!(
        (code, e["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    let (code, e) = call(
        &api,
        "PATCH",
        &format!("{cms}/x"),
        "application/apply-patch+yaml",
        r#"{"apiVersion":"v1","kind":"ConfigMap"}"#,
    )
    .await;
    assert_eq!(
        (code, e["reason"].as_str()),
        (400, Some("BadRequest")),
        "{e}"
    );
    let (code, e) = get(&api, "/api/v1/namespaces/default/gizmos").await;
    assert_eq!(
        (code, e["reason"].as_str(), e["code"].as_i64()),
        (404, Some("NotFound"), Some(404))
    );
    assert_eq!(get(&api, "/nope").await.0, 404);
    assert_eq!(
        get(&api, "/apis/apps/v1/namespaces/default/deployments/missing")
            .await
            .1["details"]["kind"],
        "deployments"
    );
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}});
    let (code, e) = call(&api, "POST", cms, "application/json", &bad.to_string()).await;
    assert_eq!((code, e["reason"].as_str()), (422, Some("Invalid")));
    assert_eq!(e["details"]["causes"][0]["field"], "metadata.name");
    let noname = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
    assert_eq!(
        call(&api, "POST", cms, "application/json", &noname.to_string())
            .await
            .0,
        422
    );
    let wrong = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}});
    assert_eq!(
        call(&api, "POST", cms, "application/json", &wrong.to_string())
            .await
            .0,
        400
    );
    let ok = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    assert_eq!(
        call(&api, "POST", cms, "application/json", &ok.to_string())
            .await
            .0,
        201
    );
    let (code, e) = call(&api, "POST", cms, "application/json", &ok.to_string()).await;
    assert_eq!((code, e["reason"].as_str()), (409, Some("AlreadyExists")));
    assert_eq!(
        call(&api, "PATCH", &format!("{cms}/x"), "text/plain", "{}")
            .await
            .0,
        415
    );
    assert_eq!(
        call(&api, "POST", "/version", "application/json", "{}")
            .await
            .0,
        405
    );
    // A dry run changes nothing.
    let dry = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}});
    assert_eq!(
        call(
            &api,
            "POST",
            &format!("{cms}?dryRun=All"),
            "application/json",
            &dry.to_string()
        )
        .await
        .0,
        201
    );
    assert_eq!(get(&api, &format!("{cms}/dry")).await.0, 404);
    // The provider hands the API out for clusters only.
    let mut state = ResourceState {
        address: Address::new("cluster", "demo"),
        provider: "sim".into(),
        cloud_id: "cls-1".into(),
        attrs: Default::default(),
        outputs: Default::default(),
        depends_on: vec![],
        unfinished: None,
    };
    assert!(matches!(
        cloud.cluster_access(&state).await,
        Ok(ClusterAccess::InProcess(_))
    ));
    state.address = Address::new("network", "demo");
    assert!(cloud.cluster_access(&state).await.is_err());
    assert!(cloud.kube_api("cls-nope").is_err());
}
