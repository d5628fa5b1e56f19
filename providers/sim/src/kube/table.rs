//! `meta.k8s.io/v1` Tables: what `kubectl get` asks for (`Accept: ...;as=Table`) and prints,
//! with the columns a real server's printers give the common kinds.

use serde_json::{json, Value};

use super::catalog::ResourceType;

/// Whether the Accept header asks for a Table.
pub fn wants(accept: &str) -> bool {
    accept
        .split(',')
        .any(|m| m.split(';').any(|p| p.trim() == "as=Table"))
}

/// `5m`, `3h`, `2d`: how kubectl shows an age.
fn age(created: &Value, now: i64) -> String {
    let Some(t) = created
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    else {
        return "<unknown>".into();
    };
    let secs = ((now - t.timestamp_millis()) / 1000).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86_400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn text(v: &Value, default: &str) -> String {
    v.as_str().unwrap_or(default).to_string()
}

/// The columns between NAME and AGE, and their cells for one object.
fn columns(rt: &ResourceType) -> Vec<(&'static str, &'static str)> {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => vec![("Status", "string")],
        ("", "Node") => vec![
            ("Status", "string"),
            ("Roles", "string"),
            ("Version", "string"),
        ],
        ("", "Service") => vec![
            ("Type", "string"),
            ("Cluster-IP", "string"),
            ("External-IP", "string"),
            ("Port(s)", "string"),
        ],
        ("", "PersistentVolumeClaim") => vec![
            ("Status", "string"),
            ("Volume", "string"),
            ("Capacity", "string"),
        ],
        ("", "ConfigMap") => vec![("Data", "integer")],
        ("", "Secret") => vec![("Type", "string"), ("Data", "integer")],
        ("apps", "Deployment") => vec![
            ("Ready", "string"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
        ],
        ("apps", "StatefulSet") => vec![("Ready", "string")],
        ("apps", "DaemonSet") => vec![
            ("Desired", "integer"),
            ("Current", "integer"),
            ("Ready", "integer"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
        ],
        _ => vec![],
    }
}

fn cells(rt: &ResourceType, o: &Value) -> Vec<Value> {
    let (spec, status) = (&o["spec"], &o["status"]);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => vec![json!(text(&status["phase"], "Active"))],
        ("", "Node") => {
            let ready = status["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            vec![
                json!(if ready { "Ready" } else { "NotReady" }),
                json!("<none>"),
                json!(text(&status["nodeInfo"]["kubeletVersion"], "")),
            ]
        }
        ("", "Service") => {
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("{}/{}", int(&p["port"]), text(&p["protocol"], "TCP")))
                .collect();
            let external = status["loadBalancer"]["ingress"][0]["hostname"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| {
                    if spec["type"] == "LoadBalancer" {
                        "<pending>"
                    } else {
                        "<none>"
                    }
                    .into()
                });
            vec![
                json!(text(&spec["type"], "ClusterIP")),
                json!(text(&spec["clusterIP"], "<none>")),
                json!(external),
                json!(if ports.is_empty() {
                    "<none>".into()
                } else {
                    ports.join(",")
                }),
            ]
        }
        ("", "PersistentVolumeClaim") => vec![
            json!(text(&status["phase"], "Pending")),
            json!(text(&spec["volumeName"], "")),
            json!(text(&status["capacity"]["storage"], "")),
        ],
        ("", "ConfigMap") => {
            let n = o["data"].as_object().map_or(0, |m| m.len())
                + o["binaryData"].as_object().map_or(0, |m| m.len());
            vec![json!(n)]
        }
        ("", "Secret") => vec![
            json!(text(&o["type"], "Opaque")),
            json!(o["data"].as_object().map_or(0, |m| m.len())),
        ],
        ("apps", "Deployment") => vec![
            json!(format!(
                "{}/{}",
                int(&status["readyReplicas"]),
                spec["replicas"].as_i64().unwrap_or(1)
            )),
            json!(int(&status["updatedReplicas"])),
            json!(int(&status["availableReplicas"])),
        ],
        ("apps", "StatefulSet") => vec![json!(format!(
            "{}/{}",
            int(&status["readyReplicas"]),
            spec["replicas"].as_i64().unwrap_or(1)
        ))],
        ("apps", "DaemonSet") => [
            "desiredNumberScheduled",
            "currentNumberScheduled",
            "numberReady",
            "updatedNumberScheduled",
            "numberAvailable",
        ]
        .iter()
        .map(|k| json!(int(&status[*k])))
        .collect(),
        _ => vec![],
    }
}

/// The Table of `objects`; `include` is the request's `includeObject` (`None`, `Object`, or
/// the default `Metadata`, a PartialObjectMetadata).
pub fn render(
    rt: &ResourceType,
    objects: &[Value],
    rv: i64,
    include: Option<&str>,
    now: i64,
) -> Value {
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for (name, ty) in columns(rt) {
        defs.push(
            json!({"name": name, "type": ty, "format": "", "description": "", "priority": 0}),
        );
    }
    defs.push(json!({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is the time the object was created.", "priority": 0}));
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row_cells = vec![o["metadata"]["name"].clone()];
            row_cells.extend(cells(rt, o));
            row_cells.push(json!(age(&o["metadata"]["creationTimestamp"], now)));
            let object = match include {
                Some("None") => Value::Null,
                Some("Object") => o.clone(),
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}),
            };
            json!({"cells": row_cells, "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": defs,
        "rows": rows,
    })
}
