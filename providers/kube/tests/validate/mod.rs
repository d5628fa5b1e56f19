//! A JSON Schema check for exactly the keywords the strict Kubernetes schemas use: `type`,
//! `properties`, `additionalProperties`, `required`, `items`, `enum`, `oneOf` (`format` and
//! the `x-kubernetes-*` keywords carry no constraint a document can break here).

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

/// The schema for `apiVersion`/`kind`, from `tests/schemas/KIND-GROUP-VERSION.json.gz`.
pub fn schema_for(api_version: &str, kind: &str) -> Value {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let group = group.split('.').next().unwrap_or_default();
    let file = match group {
        "" => format!("{}-{version}", kind.to_lowercase()),
        g => format!("{}-{g}-{version}", kind.to_lowercase()),
    };
    // This module is also included (by `#[path]`) from the workspace's own tests, whose
    // manifest directory is the workspace root.
    let own = format!("{}/tests/schemas", env!("CARGO_MANIFEST_DIR"));
    let dir = if std::path::Path::new(&own).is_dir() {
        own
    } else {
        format!(
            "{}/providers/kube/tests/schemas",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    let path = format!("{dir}/{file}.json.gz");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("no schema {path}: {e}"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every way `doc` breaks `schema`, as `path: problem`.
pub fn validate(schema: &Value, doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, doc, "$", &mut errors);
    errors
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    }
}

fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.iter().any(|t| type_ok(t, v)) {
            errors.push(format!("{path}: expected {types:?}, found {v}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            errors.push(format!("{path}: {v} is not one of {options:?}"));
        }
    }
    if let Some(alternatives) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = alternatives
            .iter()
            .filter(|s| validate(s, v).is_empty())
            .count();
        if passing != 1 {
            errors.push(format!(
                "{path}: matches {passing} of oneOf's alternatives, not one"
            ));
        }
    }
    if let Value::Object(m) = v {
        let props = schema.get("properties").and_then(Value::as_object);
        for key in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = key.as_str() {
                if !m.contains_key(k) {
                    errors.push(format!("{path}: missing required `{k}`"));
                }
            }
        }
        for (k, child) in m {
            let at = format!("{path}.{k}");
            match (
                props.and_then(|p| p.get(k)),
                schema.get("additionalProperties"),
            ) {
                (Some(s), _) => check(s, child, &at, errors),
                (None, Some(Value::Bool(false))) => errors.push(format!("{at}: unknown field")),
                (None, Some(s @ Value::Object(_))) => check(s, child, &at, errors),
                (None, _) => {}
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            check(s, item, &format!("{path}[{i}]"), errors);
        }
    }
}

/// Counts by kind, for a readable assertion of what was covered.
pub fn kinds(docs: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for d in docs {
        *out.entry(d["kind"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    out
}
