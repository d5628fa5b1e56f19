//! References from one resource's attributes to another's outputs, such as a Kubernetes
//! object that names the bucket made in the same run. Expansions write them with
//! [`output_ref`]; the engine fills them in from state before a diff or a create, and a plan
//! shows the ones whose resource does not exist yet as `(known after apply)`.

use serde_json::{json, Map, Value};

use crate::{Address, Attrs};

/// How a plan shows a value that only the apply will know.
pub const UNKNOWN: &str = "(known after apply)";

const MARKER: &str = "$output";

/// A value standing for output `key` of `of`, filled in once `of` exists.
pub fn output_ref(of: &Address, key: &str) -> Value {
    json!({ MARKER: { "of": of.to_string(), "key": key } })
}

/// The resource and output key that `value` stands for, when it is a reference.
fn as_ref(value: &Value) -> Option<(Address, String)> {
    let target = value.as_object().filter(|m| m.len() == 1)?.get(MARKER)?;
    let of = target.get("of")?.as_str()?.parse().ok()?;
    Some((of, target.get("key")?.as_str()?.to_string()))
}

/// Every reference in `attrs`, in order of appearance.
pub fn references(attrs: &Attrs) -> Vec<(Address, String)> {
    let mut out = Vec::new();
    for v in attrs.values() {
        walk(v, &mut |r| out.push(r));
    }
    out
}

fn walk(value: &Value, found: &mut dyn FnMut((Address, String))) {
    if let Some(r) = as_ref(value) {
        return found(r);
    }
    match value {
        Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
        Value::Object(m) => m.values().for_each(|v| walk(v, found)),
        _ => {}
    }
}

/// Replace every reference that `lookup` can answer with its value; the ones it cannot stay
/// in place and are returned, so a caller can show them as unknown or refuse to go on.
pub fn resolve_refs(
    attrs: &mut Attrs,
    lookup: &dyn Fn(&Address, &str) -> Option<Value>,
) -> Vec<(Address, String)> {
    let mut missing = Vec::new();
    for v in attrs.values_mut() {
        resolve(v, lookup, &mut missing);
    }
    missing
}

fn resolve(
    value: &mut Value,
    lookup: &dyn Fn(&Address, &str) -> Option<Value>,
    missing: &mut Vec<(Address, String)>,
) {
    if let Some((of, key)) = as_ref(value) {
        match lookup(&of, &key) {
            Some(v) => *value = v,
            None => missing.push((of, key)),
        }
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| resolve(v, lookup, missing)),
        Value::Object(m) => m.values_mut().for_each(|v| resolve(v, lookup, missing)),
        _ => {}
    }
}

/// `value` with every reference shown as [`UNKNOWN`], for display.
pub fn display_unknown(value: &Value) -> Value {
    if as_ref(value).is_some() {
        return Value::String(UNKNOWN.into());
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(display_unknown).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), display_unknown(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_where_known_and_stay_where_not() {
        let cluster = Address::new("cluster", "main");
        let bucket = Address::new("bucket", "models");
        let mut attrs = Attrs::new();
        attrs.insert("server".into(), output_ref(&cluster, "endpoint"));
        attrs.insert(
            "env".into(),
            json!([{"value": output_ref(&bucket, "name")}]),
        );
        assert_eq!(references(&attrs).len(), 2);
        let missing = resolve_refs(&mut attrs, &|of, key| {
            (of == &cluster && key == "endpoint").then(|| json!("https://k"))
        });
        assert_eq!(missing, vec![(bucket, "name".to_string())]);
        assert_eq!(attrs["server"], json!("https://k"));
        assert_eq!(display_unknown(&attrs["env"]), json!([{"value": UNKNOWN}]));
    }
}
