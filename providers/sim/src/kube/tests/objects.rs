//! Kinds a CRD adds, and namespace deletion; malformed bodies that must not panic.

use serde_json::json;

use super::{apply, call, cloud, get, names};
use crate::LatencyProfile;

#[tokio::test]
async fn crd_makes_a_kind_servable() {
    let (_d, _c, api) = cloud(LatencyProfile::Instant);
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                 "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object"}}}]}});
    let (code, _) = apply(
        &api,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
        "hoist",
        false,
        crd,
    )
    .await;
    assert_eq!(code, 201);
    let c = get(
        &api,
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
    )
    .await
    .1;
    let conds = c["status"]["conditions"].as_array().unwrap();
    assert!(conds
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True"));
    assert_eq!(c["status"]["acceptedNames"]["kind"], "Widget");
    assert!(get(&api, "/apis").await.1["groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["name"] == "example.com"));
    let rl = get(&api, "/apis/example.com/v1").await.1;
    assert_eq!(rl["resources"][0]["name"], "widgets");
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"size": 3}});
    assert_eq!(
        apply(
            &api,
            "/apis/example.com/v1/namespaces/default/widgets/w1",
            "hoist",
            false,
            w
        )
        .await
        .0,
        201
    );
    let list = get(&api, "/apis/example.com/v1/widgets").await.1;
    assert_eq!(
        (list["kind"].as_str(), names(&list)),
        (Some("WidgetList"), vec!["w1".to_string()])
    );
    // Removing the CRD removes its kind and objects.
    assert_eq!(
        call(
            &api,
            "DELETE",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            "",
            ""
        )
        .await
        .0,
        200
    );
    assert_eq!(
        get(&api, "/apis/example.com/v1/namespaces/default/widgets/w1")
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn namespace_delete_cascades() {
    let (_d, _c, api) = cloud(LatencyProfile::Instant);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    assert_eq!(
        call(
            &api,
            "POST",
            "/api/v1/namespaces/team/configmaps",
            "application/json",
            &cm.to_string()
        )
        .await
        .0,
        404
    );
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}});
    assert_eq!(
        call(
            &api,
            "POST",
            "/api/v1/namespaces",
            "application/json",
            &ns.to_string()
        )
        .await
        .0,
        201
    );
    assert_eq!(
        get(&api, "/api/v1/namespaces/team").await.1["status"]["phase"],
        "Active"
    );
    assert_eq!(
        call(
            &api,
            "POST",
            "/api/v1/namespaces/team/configmaps",
            "application/json",
            &cm.to_string()
        )
        .await
        .0,
        201
    );
    let held = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "held", "finalizers": ["example.com/hold"]}});
    assert_eq!(
        call(
            &api,
            "POST",
            "/api/v1/namespaces/team/secrets",
            "application/json",
            &held.to_string()
        )
        .await
        .0,
        201
    );
    assert_eq!(
        call(&api, "DELETE", "/api/v1/namespaces/team", "", "")
            .await
            .0,
        200
    );
    assert_eq!(
        get(&api, "/api/v1/namespaces/team/configmaps/c").await.0,
        404
    );
    // The finalizer holds the secret, and the secret the namespace.
    let s = get(&api, "/api/v1/namespaces/team/secrets/held").await.1;
    assert!(s["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        get(&api, "/api/v1/namespaces/team").await.1["status"]["phase"],
        "Terminating"
    );
    let (code, _) = call(
        &api,
        "PATCH",
        "/api/v1/namespaces/team/secrets/held",
        "application/json-patch+json",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        get(&api, "/api/v1/namespaces/team/secrets/held").await.0,
        404
    );
    assert_eq!(get(&api, "/api/v1/namespaces/team").await.0, 404);
    assert_eq!(
        call(&api, "DELETE", "/api/v1/namespaces/default", "", "")
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn malformed_shapes_are_refused_not_panicked_on() {
    let (_d, _c, api) = cloud(LatencyProfile::Instant);
    let svc = "/api/v1/namespaces/default/services/s";
    let body = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
    assert_eq!(apply(&api, svc, "m", false, body).await.0, 201);
    for (ct, patch) in [
        ("application/merge-patch+json", r#"{"spec": 5}"#),
        (
            "application/merge-patch+json",
            r#"{"metadata": {"labels": {"a": 1}}}"#,
        ),
        ("application/merge-patch+json", "7"),
        (
            "application/json-patch+json",
            r#"[{"op": "replace", "path": "", "value": "x"}]"#,
        ),
        (
            "application/json-patch+json",
            r#"[{"op": "add", "path": "/metadata", "value": []}]"#,
        ),
    ] {
        let (code, e) = call(&api, "PATCH", svc, ct, patch).await;
        assert!(code == 400 || code == 422, "{patch}: {code} {e}");
        assert_eq!(e["kind"], "Status");
    }
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "finalizers": "f"}});
    let (code, _) = call(
        &api,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        &bad.to_string(),
    )
    .await;
    assert_eq!(code, 422);
    let (code, _) = call(
        &api,
        "PUT",
        &format!("{svc}/status"),
        "application/json",
        &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "status": "up"})
            .to_string(),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(get(&api, svc).await.0, 200);
}
