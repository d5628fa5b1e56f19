//! What marks an object as hoist's: labels (selectable, so refresh lists only hoist's objects
//! of an environment) and annotations (the lineage and address, which may be longer than a
//! label value may be).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const COMPONENT: &str = "hoist.dev/component";
pub const ENV: &str = "hoist-env";
/// Annotations: the content hash, and the idempotency token of the create that made it.
pub const HASH: &str = "hoist.dev/hash";
pub const TOKEN: &str = "hoist.dev/token";

/// The label selector of an environment's objects.
pub fn selector(env: &str) -> String {
    format!("{MANAGED_BY}=hoist,{ENV}={env}")
}

/// Put the environment's labels on a rendered object.
pub fn stamp(object: &mut Value, env: &str, component: &str) {
    let labels = entry(object, "labels");
    labels.insert(MANAGED_BY.into(), "hoist".into());
    labels.insert(ENV.into(), env.into());
    labels.insert(COMPONENT.into(), component.into());
}

/// `metadata.<which>` as a map, made if missing.
pub fn entry<'a>(object: &'a mut Value, which: &str) -> &'a mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = Value::Object(Map::new());
    }
    let meta = object["metadata"].as_object_mut().expect("made above");
    let slot = meta
        .entry(which.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("made above")
}

/// Ownership annotations from the step's tags (hoist-lineage, hoist-address, hoist-expires-at).
pub fn annotate(
    object: &mut Value,
    tags: &BTreeMap<String, String>,
    hash: &str,
    token: Option<&str>,
) {
    let notes = entry(object, "annotations");
    for (k, v) in tags
        .iter()
        .filter(|(k, _)| k.starts_with("hoist-") && k.as_str() != ENV)
    {
        notes.insert(k.clone(), v.clone().into());
    }
    notes.insert(HASH.into(), hash.into());
    if let Some(t) = token {
        notes.insert(TOKEN.into(), t.into());
    }
}

/// The value of annotation `key` on a live object.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}
