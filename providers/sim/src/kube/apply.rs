//! Writes that merge into an object: server-side apply with field ownership (managedFields),
//! and the three patch formats (JSON merge patch, strategic merge patch treated as a merge
//! patch, JSON patch).
//!
//! Ownership is tracked per leaf field: a scalar, an empty map, or a whole list (lists are
//! owned atomically, as `+listType=atomic` lists are; list items keyed by merge keys are not
//! tracked one by one). Only the fields a user writes are tracked: apiVersion, kind, the
//! server-set metadata, and (for kinds with a `/status` subresource) status are not.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::patch::merge_patch;
use super::status::ApiError;

/// A field path: map keys from the object's root.
pub type FieldPath = Vec<String>;
pub type FieldSet = BTreeSet<FieldPath>;

/// The metadata fields that can be owned; the rest are the server's.
const OWNED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

/// Which part of an object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Everything but status (the main resource of a kind with a `/status` subresource).
    Main { keeps_status: bool },
    /// Only status (the `/status` subresource).
    Status,
}

impl Part {
    fn tracks(self, path: &[String]) -> bool {
        let first = path.first().map(String::as_str);
        match self {
            Part::Status => first == Some("status") && path.len() > 1,
            Part::Main { keeps_status } => match first {
                None | Some("apiVersion") | Some("kind") => false,
                Some("status") => !keeps_status,
                Some("metadata") => path
                    .get(1)
                    .is_some_and(|k| OWNED_METADATA.contains(&k.as_str())),
                Some(_) => true,
            },
        }
    }

    fn subresource(self) -> Option<&'static str> {
        match self {
            Part::Status => Some("status"),
            Part::Main { .. } => None,
        }
    }
}

fn collect(v: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                prefix.push(k.clone());
                collect(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// The tracked leaf fields of `v`.
pub fn fields(v: &Value, part: Part) -> FieldSet {
    let mut out = FieldSet::new();
    collect(v, &mut Vec::new(), &mut out);
    out.retain(|p| part.tracks(p));
    out
}

pub fn value_at<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, k| cur.as_object()?.get(k))
}

/// Remove a field, and the maps it leaves empty below the top level.
fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = &mut *v;
    for k in parents {
        match cur.as_object_mut().and_then(|m| m.get_mut(k)) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(m) = cur.as_object_mut() {
        m.remove(last);
        if m.is_empty() && parents.len() > 1 {
            remove_path(v, parents);
        }
    }
}

fn overlaps(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// `.spec.replicas`, as conflict messages name a field.
pub fn display(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// The FieldsV1 document of a set: `{"f:spec": {"f:replicas": {}}}`.
fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for k in path {
            let next = cur
                .entry(format!("f:{k}"))
                .or_insert_with(|| Value::Object(Map::new()));
            match next {
                Value::Object(m) => cur = m,
                _ => break,
            }
        }
    }
    Value::Object(root)
}

fn from_fields_v1(v: &Value, prefix: &mut FieldPath, out: &mut FieldSet) {
    let children: Vec<(&String, &Value)> = v
        .as_object()
        .map(|m| m.iter().filter(|(k, _)| k.starts_with("f:")).collect())
        .unwrap_or_default();
    if children.is_empty() {
        // A leaf, or a list whose items are keyed (`k:`/`v:`/`i:`): owned as a whole.
        if !prefix.is_empty() {
            out.insert(prefix.clone());
        }
        return;
    }
    for (k, child) in children {
        prefix.push(k[2..].to_string());
        from_fields_v1(child, prefix, out);
        prefix.pop();
    }
}

/// One `metadata.managedFields` entry.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: FieldSet,
}

fn read_entries(obj: &Value) -> Vec<Entry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let mut fields = FieldSet::new();
                    from_fields_v1(&e["fieldsV1"], &mut Vec::new(), &mut fields);
                    Entry {
                        manager: e["manager"].as_str().unwrap_or("unknown").to_string(),
                        operation: e["operation"].as_str().unwrap_or("Update").to_string(),
                        api_version: e["apiVersion"].as_str().unwrap_or("").to_string(),
                        time: e["time"].as_str().unwrap_or("").to_string(),
                        subresource: e["subresource"].as_str().map(String::from),
                        fields,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.fields.is_empty());
    let docs: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut d = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": to_fields_v1(&e.fields),
            });
            if let Some(s) = &e.subresource {
                d["subresource"] = json!(s);
            }
            d
        })
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if docs.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(docs));
        }
    }
}

/// Who a write is by: the field manager, the apiVersion it used, and the time it is made.
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub time: &'a str,
    pub part: Part,
}

impl Writer<'_> {
    fn is_mine(&self, e: &Entry, operation: &str) -> bool {
        e.manager == self.manager
            && e.operation == operation
            && e.subresource.as_deref() == self.part.subresource()
    }

    fn entry(&self, operation: &str) -> Entry {
        Entry {
            manager: self.manager.to_string(),
            operation: operation.to_string(),
            api_version: self.api_version.to_string(),
            time: self.time.to_string(),
            subresource: self.part.subresource().map(String::from),
            fields: FieldSet::new(),
        }
    }
}

/// A field another manager owns with a different value than the one applied.
pub struct Conflict {
    pub manager: String,
    pub api_version: String,
    pub field: String,
}

/// The 409 a conflicting apply answers, as the API server words it.
pub fn conflict_error(conflicts: &[Conflict], name: &str, group: &str, plural: &str) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({"type": "FieldManagerConflict",
                   "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version),
                   "field": c.field})
        })
        .collect();
    let listed: Vec<String> = conflicts
        .iter()
        .map(|c| {
            format!(
                "conflict with \"{}\" using {}: {}",
                c.manager, c.api_version, c.field
            )
        })
        .collect();
    let plural_s = if conflicts.len() == 1 { "" } else { "s" };
    let mut e = ApiError::conflict(format!(
        "Apply failed with {} conflict{plural_s}: {}",
        conflicts.len(),
        listed.join("\n")
    ))
    .about(name, group, plural);
    e.details["causes"] = Value::Array(causes);
    e
}

/// Server-side apply of `applied` (already stripped of server-set metadata, and of the part
/// this write may not change) onto `live` (None: the object is created). Returns the new
/// object with its managedFields, or the conflicts when `force` is false.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    writer: &Writer,
    force: bool,
) -> Result<Value, Vec<Conflict>> {
    let empty = json!({});
    let live_v = live.unwrap_or(&empty);
    let applied_set = fields(applied, writer.part);
    let mut entries = read_entries(live_v);
    let differs = |p: &[String]| value_at(live_v, p) != value_at(applied, p);
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| e.manager != writer.manager) {
        for p in &applied_set {
            for q in e.fields.iter().filter(|q| overlaps(p, q)) {
                let longer = if p.len() >= q.len() { p } else { q };
                if differs(longer)
                    && !conflicts
                        .iter()
                        .any(|c: &Conflict| c.manager == e.manager && c.field == display(p))
                {
                    conflicts.push(Conflict {
                        manager: e.manager.clone(),
                        api_version: e.api_version.clone(),
                        field: display(p),
                    });
                }
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    // Forced: the applier takes the fields it changes from everyone else.
    for e in entries.iter_mut().filter(|e| e.manager != writer.manager) {
        e.fields.retain(|q| {
            !applied_set
                .iter()
                .any(|p| overlaps(p, q) && differs(if p.len() >= q.len() { p } else { q }))
        });
    }
    let previous: FieldSet = entries
        .iter()
        .find(|e| writer.is_mine(e, "Apply"))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut out = live_v.clone();
    for r in previous
        .iter()
        .filter(|r| !applied_set.iter().any(|p| overlaps(p, r)))
    {
        let owned_elsewhere = entries
            .iter()
            .filter(|e| !writer.is_mine(e, "Apply"))
            .any(|e| e.fields.iter().any(|q| overlaps(q, r)));
        if !owned_elsewhere {
            remove_path(&mut out, r);
        }
    }
    merge_patch(&mut out, applied);
    let mut mine = entries
        .iter()
        .position(|e| writer.is_mine(e, "Apply"))
        .map(|i| entries.remove(i))
        .unwrap_or_else(|| writer.entry("Apply"));
    mine.fields = applied_set;
    mine.time = writer.time.to_string();
    mine.api_version = writer.api_version.to_string();
    entries.push(mine);
    write_entries(&mut out, entries);
    Ok(out)
}

/// Record a non-apply write (create, update, patch) of `new` over `old`: the writer takes the
/// fields it changed (operation Update), others lose them, and fields gone are owned by no one.
pub fn record_update(old: Option<&Value>, new: &mut Value, writer: &Writer) {
    let empty = json!({});
    let old_v = old.unwrap_or(&empty);
    let changed: FieldSet = fields(new, writer.part)
        .into_iter()
        .filter(|p| value_at(old_v, p) != value_at(new, p))
        .collect();
    let mut entries = read_entries(old_v);
    for e in entries.iter_mut() {
        e.fields
            .retain(|q| value_at(new, q).is_some() && !changed.iter().any(|p| overlaps(p, q)));
    }
    if !changed.is_empty() {
        let mut mine = entries
            .iter()
            .position(|e| writer.is_mine(e, "Update"))
            .map(|i| entries.remove(i))
            .unwrap_or_else(|| writer.entry("Update"));
        mine.fields.extend(changed);
        mine.time = writer.time.to_string();
        mine.api_version = writer.api_version.to_string();
        entries.push(mine);
    }
    write_entries(new, entries);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_v1_round_trips() {
        let obj = json!({"metadata": {"name": "x", "labels": {"app": "a"}}, "spec": {"replicas": 1, "ports": [1]}});
        let set = fields(&obj, Part::Main { keeps_status: true });
        let doc = to_fields_v1(&set);
        assert_eq!(
            doc,
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:replicas": {}, "f:ports": {}}})
        );
        let mut back = FieldSet::new();
        from_fields_v1(&doc, &mut Vec::new(), &mut back);
        assert_eq!(back, set);
    }
}
