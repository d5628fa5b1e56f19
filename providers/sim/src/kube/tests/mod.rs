//! The simulated API server driven through `KubeService::call`, as kube-rs and kubectl drive it.

use std::collections::BTreeMap;

use hoist_provider::KubeService;
use serde_json::{json, Value};

use crate::db::{self, Resource};
use crate::{LatencyProfile, SimCloud, SimKubeApi};

mod cluster;
mod objects;
mod operators;

fn row(id: &str, kind: &str, parent: Option<&str>, attrs: Value, outputs: Value) -> Resource {
    let map = |v: Value| {
        v.as_object()
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default()
    };
    let tags: BTreeMap<String, String> = [
        ("hoist-env", "demo"),
        ("hoist-lineage", "lin-1"),
        ("hoist-address", "x.y"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Resource {
        cloud_id: id.into(),
        kind: kind.into(),
        name: attrs["name"].as_str().unwrap_or(id).into(),
        region: "sim-east1".into(),
        parent: parent.map(String::from),
        status: "provisioning".into(),
        ready_at: 0,
        gone_at: None,
        attrs: map(attrs),
        outputs: map(outputs),
        tags,
        env: Some("demo".into()),
        token: None,
    }
}

/// A cloud with a network, a subnet, a cluster, a CPU pool of 2 and an A100:8 pool of 1.
fn cloud(latency: LatencyProfile) -> (tempfile::TempDir, SimCloud, SimKubeApi) {
    let dir = tempfile::tempdir().unwrap();
    let cloud = SimCloud::open(dir.path(), latency).unwrap();
    {
        let conn = cloud.conn();
        for r in [
            row("net-1", "network", None, json!({}), json!({})),
            row("subnet-1", "subnet", Some("net-1"), json!({}), json!({})),
            row(
                "cls-1",
                "cluster",
                Some("net-1"),
                json!({"name": "demo", "kubernetes_version": "1.32"}),
                json!({}),
            ),
            row(
                "np-1",
                "node_pool",
                Some("cls-1"),
                json!({"name": "cpu", "desired": 2, "labels": {"role": "general"}, "taints": []}),
                json!({"cloud_name": "cpu-aaaaa", "nodes_per_zone": {"sim-east1-a": 1, "sim-east1-b": 1}}),
            ),
            row(
                "np-2",
                "node_pool",
                Some("cls-1"),
                json!({"name": "gpu", "desired": 1, "accelerator": "A100:8",
                "taints": ["nvidia.com/gpu=present:NoSchedule"], "labels": {}}),
                json!({"cloud_name": "gpu-bbbbb", "nodes_per_zone": {"sim-east1-a": 1}}),
            ),
        ] {
            db::insert(&conn, &r).unwrap();
        }
    }
    let api = cloud.kube_api("cls-1").unwrap();
    (dir, cloud, api)
}

async fn call(
    api: &SimKubeApi,
    method: &str,
    uri: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap();
    let resp = api.call(req).await;
    let code = resp.status().as_u16();
    let v = serde_json::from_slice(resp.body())
        .unwrap_or_else(|_| json!(String::from_utf8_lossy(resp.body())));
    (code, v)
}

async fn get(api: &SimKubeApi, uri: &str) -> (u16, Value) {
    call(api, "GET", uri, "", "").await
}

async fn apply(
    api: &SimKubeApi,
    uri: &str,
    manager: &str,
    force: bool,
    body: Value,
) -> (u16, Value) {
    let uri = format!(
        "{uri}?fieldManager={manager}{}",
        if force { "&force=true" } else { "" }
    );
    call(
        api,
        "PATCH",
        &uri,
        "application/apply-patch+yaml",
        &body.to_string(),
    )
    .await
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn discovery_documents() {
    let (_d, _c, api) = cloud(LatencyProfile::Instant);
    let (code, v) = get(&api, "/version").await;
    assert_eq!((code, v["gitVersion"].as_str()), (200, Some("v1.32.0")));
    assert_eq!(get(&api, "/api").await.1["versions"], json!(["v1"]));
    let core = get(&api, "/api/v1").await.1;
    let ns = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap();
    assert_eq!(
        (ns["kind"].as_str(), ns["namespaced"].as_bool()),
        (Some("Namespace"), Some(false))
    );
    let groups = get(&api, "/apis").await.1;
    assert!(groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "apps"));
    let apps = get(&api, "/apis/apps/v1").await.1;
    let d = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "deployments")
        .unwrap();
    assert_eq!(d["shortNames"], json!(["deploy"]));
    // kubectl's aggregated-discovery Accept gets the legacy document, as JSON.
    let req = http::Request::builder()
        .uri("/apis")
        .header(
            "accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )
        .body(Vec::new())
        .unwrap();
    let resp = api.call(req).await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(get(&api, "/openapi/v2").await.0, 404);
    // kubectl get asks for a Table.
    let req = http::Request::builder()
        .uri("/api/v1/namespaces")
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())
        .unwrap();
    let table: Value = serde_json::from_slice(api.call(req).await.body()).unwrap();
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][0]["name"], "Name");
    assert_eq!(table["rows"].as_array().unwrap().len(), 4);
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

fn deployment(replicas: i64, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default", "labels": labels},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
}

#[tokio::test]
async fn server_side_apply_owns_fields_and_conflicts() {
    let (_d, _c, api) = cloud(LatencyProfile::Instant);
    let path = "/apis/apps/v1/namespaces/default/deployments/web";
    let (code, d) = apply(
        &api,
        path,
        "hoist",
        false,
        deployment(2, json!({"app": "web", "team": "a"})),
    )
    .await;
    assert_eq!(code, 201, "{d}");
    assert_eq!(d["metadata"]["generation"], 1);
    assert!(d["metadata"]["uid"].is_string() && d["metadata"]["creationTimestamp"].is_string());
    let mf = &d["metadata"]["managedFields"][0];
    assert_eq!(
        (mf["manager"].as_str(), mf["operation"].as_str()),
        (Some("hoist"), Some("Apply"))
    );
    assert_eq!(mf["fieldsV1"]["f:metadata"]["f:labels"]["f:app"], json!({}));
    assert_eq!(mf["fieldsV1"]["f:spec"]["f:replicas"], json!({}));

    // kubectl edit changes replicas: an Update by kubectl-edit.
    let (code, d) = call(
        &api,
        "PATCH",
        &format!("{path}?fieldManager=kubectl-edit"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":5}}"#,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(d["metadata"]["generation"], 2);
    let edit = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "kubectl-edit")
        .unwrap()
        .clone();
    assert_eq!(edit["operation"], "Update");
    assert_eq!(edit["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));

    // Re-applying the old replicas conflicts with kubectl-edit...
    let (code, e) = apply(
        &api,
        path,
        "hoist",
        false,
        deployment(2, json!({"app": "web", "team": "a"})),
    )
    .await;
    assert_eq!(code, 409);
    assert_eq!(e["reason"], "Conflict");
    let cause = &e["details"]["causes"][0];
    assert_eq!(cause["type"], "FieldManagerConflict");
    assert_eq!(cause["field"], ".spec.replicas");
    assert!(cause["message"]
        .as_str()
        .unwrap()
        .contains("conflict with \"kubectl-edit\""));
    // ...the same value does not.
    assert_eq!(
        apply(
            &api,
            path,
            "hoist",
            false,
            deployment(5, json!({"app": "web", "team": "a"}))
        )
        .await
        .0,
        200
    );

    // force takes ownership; a label no longer applied is removed.
    let (code, d) = apply(
        &api,
        path,
        "hoist",
        true,
        deployment(3, json!({"app": "web"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["metadata"]["labels"], json!({"app": "web"}));
    assert!(!d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["manager"] == "kubectl-edit"));

    // Status: the controller made it available; a /status write touches only status.
    let d = get(&api, path).await.1;
    assert_eq!(d["status"]["availableReplicas"], 3);
    let mut put = d.clone();
    put["spec"]["replicas"] = json!(9);
    put["status"]["replicas"] = json!(42);
    let (code, s) = call(
        &api,
        "PUT",
        &format!("{path}/status"),
        "application/json",
        &put.to_string(),
    )
    .await;
    assert_eq!((code, s["spec"]["replicas"].as_i64()), (200, Some(3)));
    // A PUT with a stale resourceVersion is a conflict.
    let (code, e) = call(&api, "PUT", path, "application/json", &d.to_string()).await;
    assert_eq!((code, e["reason"].as_str()), (409, Some("Conflict")));
    // kubectl scale.
    let (code, s) = call(
        &api,
        "PATCH",
        &format!("{path}/scale"),
        "application/merge-patch+json",
        r#"{"spec":{"replicas":1}}"#,
    )
    .await;
    assert_eq!((code, s["spec"]["replicas"].as_i64()), (200, Some(1)));
}

#[tokio::test]
async fn lists_by_label_and_field_and_watches() {
    let (_d, _c, api) = cloud(LatencyProfile::Instant);
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "db"})),
        ("c", json!({"app": "web", "x": "1"})),
    ] {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}});
        assert_eq!(
            call(
                &api,
                "POST",
                "/api/v1/namespaces/default/configmaps",
                "application/json",
                &body.to_string()
            )
            .await
            .0,
            201
        );
    }
    let q = |s: &str| {
        format!(
            "/api/v1/namespaces/default/configmaps?labelSelector={}",
            s.replace(' ', "+").replace(',', "%2C")
        )
    };
    assert_eq!(names(&get(&api, &q("app=web")).await.1), ["a", "c"]);
    assert_eq!(names(&get(&api, &q("app!=web")).await.1), ["b"]);
    assert_eq!(names(&get(&api, &q("app in (db,x)")).await.1), ["b"]);
    assert_eq!(names(&get(&api, &q("app=web,!x")).await.1), ["a"]);
    assert_eq!(names(&get(&api, &q("tier")).await.1), ["a"]);
    let all = get(&api, "/api/v1/configmaps?fieldSelector=metadata.name%3Db")
        .await
        .1;
    assert_eq!(
        (all["kind"].as_str(), names(&all)),
        (Some("ConfigMapList"), vec!["b".to_string()])
    );
    assert!(all["metadata"]["resourceVersion"].is_string());
    let (code, text) = get(&api, "/api/v1/namespaces/default/configmaps?watch=true").await;
    assert_eq!(code, 200);
    let lines: Vec<Value> = text
        .as_str()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["type"], "ADDED");
    assert_eq!(get(&api, &q("a in b")).await.0, 400);
}
