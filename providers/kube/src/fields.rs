//! An object as one attribute per field: `spec.replicas`, `spec.template.spec.containers[0].args`,
//! `metadata.labels["app.kubernetes.io/name"]`. A plan then shows exactly which fields change,
//! drift names the field someone edited, and fields the server adds are never compared.
//! Lists of scalars, empty lists and empty objects are single fields.

use serde_json::{Map, Value};

use hoist_provider::Attrs;

/// The prefix that marks an attribute as a field of the object.
pub const PREFIX: &str = "field:";

/// Every field of `object` into `out`, keyed `field:PATH`.
pub fn flatten(object: &Value, out: &mut Attrs) {
    walk(object, &mut String::new(), out);
}

/// A reference to another resource's output (see `hoist_provider::output_ref`) is one value.
fn is_reference(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.contains_key("$output"))
}

fn nested(value: &Value) -> bool {
    (value.is_object() && !is_reference(value)) || value.is_array()
}

fn walk(value: &Value, path: &mut String, out: &mut Attrs) {
    match value {
        Value::Object(m) if !m.is_empty() && !is_reference(value) => {
            for (k, v) in m {
                let len = path.len();
                push_key(path, k);
                walk(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) if items.iter().any(nested) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(v, path, out);
                path.truncate(len);
            }
        }
        leaf => {
            out.insert(format!("{PREFIX}{path}"), leaf.clone());
        }
    }
}

fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::String(key.to_string()).to_string());
        path.push(']');
    }
}

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        }
        if let Some(r) = rest.strip_prefix("[\"") {
            // A quoted key: find the closing quote that is not escaped.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in r.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end?;
            let key: String = serde_json::from_str(&format!("\"{}\"", &r[..end])).ok()?;
            steps.push(Step::Key(key));
            rest = r[end + 1..].strip_prefix(']')?;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            steps.push(Step::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Key(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    Some(steps)
}

/// The object whose fields `attrs` holds (other attributes are ignored); `None` when a path
/// cannot be read, which only a hand-edited state can cause.
pub fn unflatten(attrs: &Attrs) -> Option<Value> {
    let mut root = Value::Object(Map::new());
    for (k, v) in attrs {
        let Some(path) = k.strip_prefix(PREFIX) else {
            continue;
        };
        let steps = parse(path)?;
        place(&mut root, &steps, v.clone())?;
    }
    Some(root)
}

fn place(at: &mut Value, steps: &[Step], value: Value) -> Option<()> {
    let Some((first, rest)) = steps.split_first() else {
        *at = value;
        return Some(());
    };
    match first {
        Step::Key(k) => {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            let slot = at.as_object_mut()?.entry(k.clone()).or_insert(Value::Null);
            place(slot, rest, value)
        }
        Step::Index(i) => {
            if !at.is_array() {
                *at = Value::Array(Vec::new());
            }
            let items = at.as_array_mut()?;
            while items.len() <= *i {
                items.push(Value::Null);
            }
            place(&mut items[*i], rest, value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_round_trip() {
        let object = json!({
            "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "p", "a[\"b": "c"}},
            "spec": {"replicas": 2, "empty": {}, "none": [],
                     "containers": [{"name": "c", "args": ["--a", "--b"], "ports": [{"containerPort": 1}]}]},
        });
        let mut attrs = Attrs::new();
        flatten(&object, &mut attrs);
        assert_eq!(attrs["field:spec.replicas"], json!(2));
        assert_eq!(
            attrs["field:spec.containers[0].args"],
            json!(["--a", "--b"])
        );
        assert!(attrs.contains_key("field:metadata.labels[\"app.kubernetes.io/name\"]"));
        assert_eq!(unflatten(&attrs).unwrap(), object);
    }
}
