//! A JSON Schema check for exactly the keywords the strict Kubernetes schemas use: `type`,
//! `properties`, `additionalProperties`, `required`, `items`, `enum`, `oneOf`, and for CRDs'
//! schemas `anyOf` (`format` and
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
    if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array) {
        if !alternatives.iter().any(|s| validate(s, v).is_empty()) {
            errors.push(format!("{path}: matches none of anyOf's alternatives"));
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

/// A CRD's `openAPIV3Schema` for `version`, made strict for hoist's own documents: every
/// field hoist writes must be one the schema declares and types. (The API server would keep an
/// undeclared field under `x-kubernetes-preserve-unknown-fields`, and prune it elsewhere; here
/// both are errors, except inside a node that declares no fields at all.)
pub fn crd_schema(crd: &Value, version: &str) -> Option<Value> {
    let v = crd["spec"]["versions"]
        .as_array()?
        .iter()
        .find(|v| v["name"] == version)?;
    let mut schema = v["schema"]["openAPIV3Schema"].clone();
    strict(&mut schema);
    // The server checks apiVersion, kind and metadata itself.
    schema["properties"]["metadata"] = serde_json::json!({"type": "object"});
    Some(schema)
}

fn strict(schema: &mut Value) {
    let Some(m) = schema.as_object_mut() else {
        return;
    };
    if m.contains_key("properties") && !m.contains_key("additionalProperties") {
        m.insert("additionalProperties".into(), Value::Bool(false));
    }
    for key in ["properties"] {
        if let Some(Value::Object(props)) = m.get_mut(key) {
            props.values_mut().for_each(strict);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = m.get_mut(key) {
            strict(child);
        }
    }
}

/// Whether a CRD's schema is structural in the way the API server requires: every node says
/// its type (or preserves unknown fields), so that defaulting and pruning are well defined.
pub fn structural_problems(schema: &Value, path: &str, out: &mut Vec<String>) {
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    if schema.get("type").is_none() && !preserve && !int_or_string {
        out.push(format!("{path}: no type"));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, child) in props {
            structural_problems(child, &format!("{path}.{k}"), out);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child @ Value::Object(_)) = schema.get(key) {
            structural_problems(child, &format!("{path}[]"), out);
        }
    }
}

/// For kinds with no published strict schema here (CRDs, webhook configurations): the
/// document read into k8s-openapi's type and written back must be unchanged, so a misspelt
/// or misplaced field (dropped on reading) or a wrong type (refused) is caught.
pub fn round_trip<T>(doc: &Value) -> Vec<String>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T = match serde_json::from_value(doc.clone()) {
        Ok(t) => t,
        Err(e) => return vec![format!("$: {e}")],
    };
    let back = serde_json::to_value(&typed).unwrap_or(Value::Null);
    let mut out = Vec::new();
    diff(doc, &back, "$", &mut out);
    out
}

fn diff(want: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => diff(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: unknown field")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        (a, b) => out.push(format!("{path}: {a} read back as {b}")),
    }
}
