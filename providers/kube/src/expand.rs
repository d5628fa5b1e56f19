//! The stack's objects as resources of the plan: one per object, addressed
//! `manifest.COMPONENT.KIND.NAME`, with the object's fields as attributes, ordered so that
//! namespaces come before what lives in them, RBAC and config before the workloads using them.

use std::collections::BTreeMap;

use hoist_provider::{Address, EnvSpec, ResourceConfig, SpecProblem, StackTarget};
use serde_json::Value;

use crate::components::{render, short_hash};
use crate::fields;
use crate::{labels, NAME};

/// The address kind of every stack object.
pub const KIND: &str = "manifest";

/// Apply order: a kind waits for every kind of a lower tier in its component.
fn tier(kind: &str) -> u8 {
    match kind {
        "Namespace" | "CustomResourceDefinition" | "RuntimeClass" | "PriorityClass" => 0,
        "ServiceAccount" | "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding" => 1,
        "ConfigMap"
        | "Secret"
        | "PersistentVolumeClaim"
        | "Service"
        | "MutatingWebhookConfiguration"
        | "ValidatingWebhookConfiguration" => 2,
        "Deployment" | "DaemonSet" | "StatefulSet" | "Job" | "HorizontalPodAutoscaler" => 3,
        // Custom resources: their controller (a workload above) must be running to act on them.
        _ => 4,
    }
}

/// The resources of the environment's stack on the cluster `target` names.
pub fn expand(
    spec: &EnvSpec,
    target: &StackTarget,
) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>> {
    if spec.stack.is_empty() {
        return Ok(Vec::new());
    }
    let components = render(spec, target)?;
    let mut out: Vec<ResourceConfig> = Vec::new();
    let mut problems = Vec::new();
    let mut device_plugin = None;
    for c in &components {
        let mut by_tier: BTreeMap<u8, Vec<Address>> = BTreeMap::new();
        for object in &c.objects {
            match config_for(&spec.name, c.name, object) {
                Ok(mut config) => {
                    let kind = object["kind"].as_str().unwrap_or_default();
                    let t = tier(kind);
                    config.depends_on.push(target.cluster.clone());
                    for (_, lower) in by_tier.range(..t) {
                        config.depends_on.extend(lower.iter().cloned());
                    }
                    by_tier.entry(t).or_default().push(config.address.clone());
                    if c.name == "gpu" && advertises_gpus(kind, object) {
                        device_plugin = Some(config.address.clone());
                    }
                    if out.iter().any(|o| o.address == config.address) {
                        problems.push(SpecProblem::new(
                            format!("stack.{}", c.name),
                            format!("two objects of the stack are both {}", config.address),
                            None,
                        ));
                    }
                    out.push(config);
                }
                Err(p) => problems.push(p),
            }
        }
    }
    // Workloads that ask for GPUs start once the device plugin advertises them.
    if let Some(dp) = device_plugin {
        for config in out.iter_mut().filter(|c| asks_for_gpus(c)) {
            config.depends_on.push(dp.clone());
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The object after which nodes advertise `nvidia.com/gpu`: the device plugin's DaemonSet, or
/// the operator's ClusterPolicy (ready once the operator's own plugin runs).
fn advertises_gpus(kind: &str, object: &Value) -> bool {
    (kind == "DaemonSet" && object["metadata"]["name"] == "nvidia-device-plugin")
        || kind == "ClusterPolicy"
}

/// A workload (or custom resource making one) whose pods request GPUs.
fn asks_for_gpus(c: &ResourceConfig) -> bool {
    c.attrs.keys().any(|k| {
        k.starts_with(fields::PREFIX) && k.contains("nvidia.com/gpu") && k.contains("resources")
    })
}

/// One object as a resource: identity, content hash, and its fields.
fn config_for(env: &str, component: &str, object: &Value) -> Result<ResourceConfig, SpecProblem> {
    let text = |v: &Value| v.as_str().map(String::from);
    let (Some(api_version), Some(kind), Some(name)) = (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["name"]),
    ) else {
        return Err(SpecProblem::new(
            format!("stack.{component}"),
            "a template rendered an object without apiVersion, kind or metadata.name",
            None,
        ));
    };
    let mut object = object.clone();
    labels::stamp(&mut object, env, component);
    let address = Address::new(
        KIND,
        format!("{component}.{}.{name}", kind.to_ascii_lowercase()),
    );
    // The address alone must lead back to the object (recovery finds it by address).
    let namespace = object["metadata"]["namespace"].as_str().map(String::from);
    let found = crate::kinds::Identity::of(&address);
    let rendered = crate::kinds::Identity {
        api_version: api_version.clone(),
        kind: kind.clone(),
        namespace,
        name: name.clone(),
    };
    if found.as_ref() != Some(&rendered) {
        return Err(SpecProblem::new(format!("stack.{component}"), format!("a template rendered {kind} {name}, which hoist cannot place (an unknown kind, or a namespace other than its component's)"), None));
    }
    let mut attrs = hoist_provider::Attrs::new();
    attrs.insert("api_version".into(), Value::from(api_version));
    attrs.insert("kind".into(), Value::from(kind));
    attrs.insert(
        "namespace".into(),
        object["metadata"]
            .get("namespace")
            .cloned()
            .unwrap_or(Value::Null),
    );
    attrs.insert("name".into(), Value::from(name));
    attrs.insert("hash".into(), Value::from(short_hash(&object.to_string())));
    fields::flatten(&object, &mut attrs);
    let mut config = ResourceConfig::new(address, attrs, Vec::new());
    config.provider = NAME.to_string();
    Ok(config)
}
