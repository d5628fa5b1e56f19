//! Ids a resource refers to, turned back into the addresses the blueprint wrote, with the ids
//! its create recorded. A route table that lost an association, or whose default route now
//! points elsewhere, reads differently from what was applied, so the plan repairs it.

use hoist_provider::{Attrs, ResourceState};
use serde_json::{json, Value};

use super::Found;

/// `address → id` as recorded in `outputs[key]`, looked up backwards.
fn address_of<'a>(prior: &'a ResourceState, key: &str, id: &str) -> Option<&'a str> {
    prior
        .outputs
        .get(key)?
        .as_object()?
        .iter()
        .find(|(_, v)| v.as_str() == Some(id))
        .map(|(k, _)| k.as_str())
}

/// Map each id of `found.refs[from]` to an address (or keep the id), in the order of the
/// applied list `prior.attrs[from]`, unknown ones last.
fn mapped_list(found: &Found, prior: &ResourceState, from: &str, ids_key: &str) -> Value {
    let applied: Vec<&str> = prior
        .attrs
        .get(from)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut live: Vec<String> = found
        .refs
        .get(from)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|id| address_of(prior, ids_key, id).unwrap_or(id).to_string())
        .collect();
    live.sort_by_key(|a| applied.iter().position(|x| x == a).unwrap_or(usize::MAX));
    json!(live)
}

pub(crate) fn resolve(kind: &str, found: &Found, prior: &ResourceState) -> Attrs {
    let mut out = Attrs::new();
    match kind {
        "route_table" => {
            out.insert(
                "subnets".into(),
                mapped_list(found, prior, "subnets", "subnet_ids"),
            );
            let target = found.refs.get("default_route").and_then(Value::as_str);
            let route = target.map(|id| {
                address_of(prior, "route_target", id)
                    .unwrap_or(id)
                    .to_string()
            });
            out.insert("default_route".into(), json!(route));
        }
        "vpc_endpoint" if prior.attrs.contains_key("route_tables") => {
            out.insert(
                "route_tables".into(),
                mapped_list(found, prior, "route_tables", "route_table_ids"),
            );
        }
        _ => {}
    }
    out
}
