//! What every write is checked for before it is stored: the body agrees with the path, the
//! names are valid, the namespace exists, the resourceVersion precondition holds.

use serde_json::{json, Value};

use super::catalog::ResourceType;
use super::handlers::Target;
use super::status::ApiError;
use super::store::{self, Key, Stored};
use super::Ctx;

/// The body's apiVersion, kind, name and namespace agree with the path (filling in those it
/// leaves out, where a server would).
pub fn check_identity(t: &Target, body: &mut Value, require_type: bool) -> Result<(), ApiError> {
    let want = t.rt.api_version();
    for (field, expected) in [("apiVersion", want.as_str()), ("kind", t.rt.kind.as_str())] {
        match body[field].as_str() {
            Some(v) if v == expected => {}
            None if !require_type => body[field] = json!(expected),
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the {field} in the data ({v}) does not match the expected {field} ({expected}) of {}",
                    t.rt.qualified()
                )))
            }
            None => return Err(ApiError::bad_request(format!("{field} must be set (to {expected})"))),
        }
    }
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    let meta = &mut body["metadata"];
    if !t.name.is_empty() {
        match meta["name"].as_str() {
            Some(n) if n != t.name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({})",
                    t.name
                )))
            }
            Some(_) => {}
            None => meta["name"] = json!(t.name),
        }
    }
    if t.rt.namespaced {
        match meta["namespace"].as_str() {
            Some(n) if n != t.namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => meta["namespace"] = json!(t.namespace),
        }
    } else if let Some(m) = meta.as_object_mut() {
        m.remove("namespace");
    }
    Ok(())
}

pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Validation a real server would refuse with 422: names, and the parts of a CRD this
/// server reads.
pub fn validate(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let invalid = |field: &str, msg: String| Err(ApiError::invalid(&rt.kind, name, field, msg));
    if name.is_empty() {
        return invalid(
            "metadata.name",
            "\"\": name or generateName is required".into(),
        );
    }
    let ok = match (rt.group.as_str(), rt.kind.as_str()) {
        ("rbac.authorization.k8s.io", _) => {
            !matches!(name, "." | "..") && !name.contains(['/', '%'])
        }
        ("", "Namespace" | "Service") => is_dns_label(name),
        _ => is_dns_subdomain(name),
    };
    if !ok {
        return invalid(
            "metadata.name",
            format!("{name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"),
        );
    }
    if rt.kind == super::catalog::CRD_KIND {
        let spec = &obj["spec"];
        let (group, plural) = (
            spec["group"].as_str().unwrap_or(""),
            spec["names"]["plural"].as_str().unwrap_or(""),
        );
        for (field, v) in [
            ("spec.group", group),
            ("spec.names.plural", plural),
            (
                "spec.names.kind",
                spec["names"]["kind"].as_str().unwrap_or(""),
            ),
        ] {
            if v.is_empty() {
                return invalid(field, "\"\": Required value".into());
            }
        }
        if name != format!("{plural}.{group}") {
            return invalid(
                "metadata.name",
                format!("{name:?}: must be spec.names.plural+\".\"+spec.group"),
            );
        }
        if !matches!(spec["scope"].as_str(), Some("Namespaced" | "Cluster")) {
            return invalid(
                "spec.scope",
                format!("{}: must be Namespaced or Cluster", spec["scope"]),
            );
        }
        if spec["versions"].as_array().is_none_or(|v| v.is_empty()) {
            return invalid(
                "spec.versions",
                "[]: must have exactly one version marked as storage version".into(),
            );
        }
    }
    Ok(())
}

/// A namespaced object may only be made in a namespace that exists and is not terminating.
pub fn check_namespace(ctx: &Ctx, t: &Target) -> Result<(), ApiError> {
    if !t.rt.namespaced {
        return Ok(());
    }
    let ns = store::get(
        ctx.conn,
        &ctx.cluster.id,
        &Key::new("", "Namespace", "", &t.namespace),
    )?
    .ok_or_else(|| ApiError::not_found("", "namespaces", &t.namespace))?;
    if !ns.body["metadata"]["deletionTimestamp"].is_null() {
        return Err(ApiError::forbidden(format!(
            "unable to create new content in namespace {} because it is being terminated",
            t.namespace
        )));
    }
    Ok(())
}

/// A given metadata.resourceVersion must be the stored one (optimistic concurrency).
pub fn check_precondition(t: &Target, old: &Stored, body: &Value) -> Result<(), ApiError> {
    match body["metadata"]["resourceVersion"].as_str() {
        Some(rv) if !rv.is_empty() && Some(rv) != old.body["metadata"]["resourceVersion"].as_str() => {
            Err(ApiError::conflict(format!(
                "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                t.rt.qualified(),
                t.name
            ))
            .about(&t.name, &t.rt.group, &t.rt.plural))
        }
        _ => Ok(()),
    }
}

/// The object is a map whose metadata, spec and status are maps, and whose labels,
/// annotations and finalizers have the types the server and its controllers write into:
/// checked before anything indexes into a body a client sent.
pub fn shape(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let invalid = |field: &str, what: &str| {
        Err(ApiError::invalid(
            &rt.kind,
            name,
            field,
            format!("must be {what}"),
        ))
    };
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the object must be a JSON object, not {obj}"
        )));
    }
    for field in ["metadata", "spec", "status"] {
        if !(obj[field].is_null() || obj[field].is_object()) {
            return invalid(field, "an object");
        }
    }
    for field in ["labels", "annotations"] {
        let v = &obj["metadata"][field];
        let ok = v.is_null()
            || v.as_object()
                .is_some_and(|m| m.values().all(Value::is_string));
        if !ok {
            return invalid(&format!("metadata.{field}"), "a map of strings");
        }
    }
    let f = &obj["metadata"]["finalizers"];
    if !(f.is_null() || f.as_array().is_some_and(|a| a.iter().all(Value::is_string))) {
        return invalid("metadata.finalizers", "a list of strings");
    }
    Ok(())
}
