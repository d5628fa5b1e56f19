//! The write verbs: create, replace, the patches and server-side apply, the `/scale`
//! subresource, and the validation every write goes through.

use serde_json::{json, Map, Value};

use super::apply::{self, Part, Writer};
use super::handlers::{rfc3339, served, Target};
use super::patch;
use super::status::ApiError;
use super::store::{self, Key, Stored};
use super::validate::{check_identity, check_namespace, check_precondition, shape, validate};
use super::{Answer, Ctx, Req};

/// Metadata a client may write; the rest is the server's.
const CLIENT_METADATA: [&str; 7] = [
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "finalizers",
    "ownerReferences",
];

/// Metadata the server keeps across writes.
const SERVER_METADATA: [&str; 6] = [
    "uid",
    "creationTimestamp",
    "generation",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
];

fn parse_json(req: &Req) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    }
    Ok(v)
}

fn part_of(t: &Target) -> Part {
    match t.sub.as_deref() {
        Some("status") => Part::Status,
        _ => Part::Main {
            keeps_status: t.rt.status,
        },
    }
}

fn manager(req: &Req) -> &str {
    req.param("fieldManager")
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
}

fn keep_metadata(body: &mut Value, keys: &[&str]) {
    if let Some(m) = body["metadata"].as_object_mut() {
        m.retain(|k, _| keys.contains(&k.as_str()));
    }
}

/// Everything but metadata and status: what bumps `generation` when it changes.
fn spec_part(v: &Value) -> Value {
    let mut m: Map<String, Value> = v.as_object().cloned().unwrap_or_default();
    for k in ["metadata", "status", "apiVersion", "kind"] {
        m.remove(k);
    }
    Value::Object(m)
}

/// Finish a write of `new` over `old` (None: a create): server metadata, generation,
/// managedFields (unless `applied`, where apply set them), validation, then store it.
fn finish(
    ctx: &Ctx,
    t: &Target,
    old: Option<&Stored>,
    mut new: Value,
    writer: &Writer,
    applied: bool,
) -> Result<Value, ApiError> {
    new["apiVersion"] = json!(t.rt.api_version());
    new["kind"] = json!(t.rt.kind);
    match old {
        Some(o) => {
            for k in SERVER_METADATA
                .iter()
                .filter(|k| !applied || **k != "managedFields")
            {
                match o.body["metadata"].get(*k) {
                    Some(v) => new["metadata"][*k] = v.clone(),
                    None => {
                        if let Some(m) = new["metadata"].as_object_mut() {
                            m.remove(*k);
                        }
                    }
                }
            }
            if spec_part(&o.body) != spec_part(&new) {
                let g = o.body["metadata"]["generation"].as_i64().unwrap_or(1);
                new["metadata"]["generation"] = json!(g + 1);
            }
        }
        None => {
            new["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
            new["metadata"]["creationTimestamp"] = json!(rfc3339(ctx.now));
            new["metadata"]["generation"] = json!(1);
        }
    }
    if !applied {
        apply::record_update(old.map(|o| &o.body), &mut new, writer);
    }
    validate(&t.rt, &new)?;
    let key = Key::new(
        &t.rt.group,
        &t.rt.kind,
        &t.namespace,
        new["metadata"]["name"].as_str().unwrap_or(""),
    );
    store::put(ctx.conn, &ctx.cluster.id, &key, &mut new, ctx.now)?;
    Ok(served(&t.rt, new))
}

fn writer<'a>(req: &'a Req, t: &Target, api_version: &'a str, time: &'a str) -> Writer<'a> {
    Writer {
        manager: manager(req),
        api_version,
        time,
        part: part_of(t),
    }
}

/// POST: make a new object; 409 when the name is taken.
pub fn create(ctx: &Ctx, req: &Req, t: &Target) -> Result<Answer, ApiError> {
    let mut body = parse_json(req)?;
    shape(&t.rt, &body)?;
    check_identity(t, &mut body, true)?;
    if body["metadata"]["name"].as_str().is_none_or(str::is_empty) {
        if let Some(prefix) = body["metadata"]["generateName"].as_str() {
            let suffix = &uuid::Uuid::new_v4().simple().to_string()[..5];
            body["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
        }
    }
    let name = body["metadata"]["name"].as_str().unwrap_or("").to_string();
    let t = Target {
        name,
        sub: None,
        ..t.clone_target()
    };
    validate(&t.rt, &body)?;
    check_namespace(ctx, &t)?;
    if store::get(ctx.conn, &ctx.cluster.id, &t.key())?.is_some() {
        return Err(ApiError::already_exists(&t.rt.group, &t.rt.plural, &t.name));
    }
    keep_metadata(&mut body, &CLIENT_METADATA);
    if t.rt.status {
        if let Some(m) = body.as_object_mut() {
            m.remove("status");
        }
    }
    let (api_version, time) = (t.rt.api_version(), rfc3339(ctx.now));
    let new = finish(
        ctx,
        &t,
        None,
        body,
        &writer(req, &t, &api_version, &time),
        false,
    )?;
    Ok(Answer::json(201, &new))
}

/// Keep the part of `new` this write may change, the rest from `old`.
fn confine(t: &Target, old: &Value, mut new: Value) -> Value {
    match part_of(t) {
        Part::Status => {
            let mut out = old.clone();
            out["status"] = new.get("status").cloned().unwrap_or(json!({}));
            out
        }
        Part::Main { keeps_status: true } => {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            new
        }
        Part::Main { .. } => new,
    }
}

/// PUT: replace an object (or its status).
pub fn replace(ctx: &Ctx, req: &Req, t: &Target) -> Result<Answer, ApiError> {
    let mut body = parse_json(req)?;
    shape(&t.rt, &body)?;
    check_identity(t, &mut body, false)?;
    let old = t.load(ctx)?;
    check_precondition(t, &old, &body)?;
    update_existing(ctx, req, t, &old, body)
}

/// The end of every write to an existing object that is not an apply: the server's own
/// metadata kept, the write confined (to status, or to all but status), recorded as an Update
/// by its manager.
fn update_existing(
    ctx: &Ctx,
    req: &Req,
    t: &Target,
    old: &Stored,
    mut body: Value,
) -> Result<Answer, ApiError> {
    keep_metadata(&mut body, &CLIENT_METADATA);
    let new = confine(t, &old.body, body);
    let (api_version, time) = (t.rt.api_version(), rfc3339(ctx.now));
    let new = finish(
        ctx,
        t,
        Some(old),
        new,
        &writer(req, t, &api_version, &time),
        false,
    )?;
    Ok(Answer::json(200, &new))
}

fn media_type(req: &Req) -> String {
    req.content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// PATCH: server-side apply, or a merge / strategic merge / JSON patch.
pub fn patch(ctx: &Ctx, req: &Req, t: &Target) -> Result<Answer, ApiError> {
    let media = media_type(req);
    if media == "application/apply-patch+yaml" {
        return server_side_apply(ctx, req, t);
    }
    let patch: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?;
    let old = t.load(ctx)?;
    let mut new = old.body.clone();
    match media.as_str() {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            check_precondition(t, &old, &patch)?;
            patch::merge_patch(&mut new, &patch);
        }
        "application/json-patch+json" => {
            patch::json_patch(&mut new, &patch).map_err(|e| ApiError::bad_request(format!("the JSON patch cannot be applied: {e}")))?
        }
        other => {
            return Err(ApiError::unsupported_media(format!(
                "the body of the request was in an unknown format ({other:?}); accepted media types are application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
            )))
        }
    }
    shape(&t.rt, &new)?;
    if new["metadata"]["name"].as_str() != Some(t.name.as_str()) {
        return Err(ApiError::bad_request("a patch cannot change metadata.name"));
    }
    update_existing(ctx, req, t, &old, new)
}

/// Server-side apply: the body is the applier's whole intent for the fields it manages.
fn server_side_apply(ctx: &Ctx, req: &Req, t: &Target) -> Result<Answer, ApiError> {
    if req.param("fieldManager").is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "PATCH requests with the apply content type need the fieldManager query parameter",
        ));
    }
    let mut applied: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::unsupported_media(format!(
            "the simulated API server reads apply patches as JSON (which is valid YAML) and this body is not JSON: {e}"
        ))
    })?;
    if !applied.is_object() {
        return Err(ApiError::bad_request("an apply patch must be an object"));
    }
    shape(&t.rt, &applied)?;
    check_identity(t, &mut applied, true)?;
    let old = store::get(ctx.conn, &ctx.cluster.id, &t.key())?;
    match &old {
        Some(o) => check_precondition(t, o, &applied)?,
        None if part_of(t) == Part::Status => return Err(t.not_found()),
        None => {
            validate(&t.rt, &applied)?;
            check_namespace(ctx, t)?;
        }
    }
    keep_metadata(&mut applied, &CLIENT_METADATA);
    match part_of(t) {
        Part::Status => {
            if let Some(m) = applied.as_object_mut() {
                m.retain(|k, _| {
                    matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                });
            }
            keep_metadata(&mut applied, &["name", "namespace"]);
        }
        Part::Main { keeps_status: true } => {
            if let Some(m) = applied.as_object_mut() {
                m.remove("status");
            }
        }
        Part::Main { .. } => {}
    }
    let (api_version, time) = (t.rt.api_version(), rfc3339(ctx.now));
    let w = writer(req, t, &api_version, &time);
    let new = apply::apply(
        old.as_ref().map(|o| &o.body),
        &applied,
        &w,
        req.flag("force"),
    )
    .map_err(|c| apply::conflict_error(&c, &t.name, &t.rt.group, &t.rt.plural))?;
    let created = old.is_none();
    let new = finish(ctx, t, old.as_ref(), new, &w, true)?;
    Ok(Answer::json(if created { 201 } else { 200 }, &new))
}

/// The `autoscaling/v1` Scale of a Deployment or StatefulSet.
pub fn scale_doc(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = super::selector::string_map(&obj["spec"]["selector"]["matchLabels"])
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                     "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

/// PUT or PATCH of `/scale`: changes only spec.replicas (what `kubectl scale` sends).
pub fn scale(ctx: &Ctx, req: &Req, t: &Target) -> Result<Answer, ApiError> {
    let old = t.load(ctx)?;
    let mut doc = scale_doc(&old.body);
    let body: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    if req.method == http::Method::PUT {
        doc = body;
    } else if media_type(req) == "application/json-patch+json" {
        patch::json_patch(&mut doc, &body).map_err(ApiError::bad_request)?;
    } else {
        patch::merge_patch(&mut doc, &body);
    }
    let replicas = doc["spec"]["replicas"]
        .as_i64()
        .filter(|r| *r >= 0)
        .ok_or_else(|| {
            ApiError::invalid(
                "Scale",
                &t.name,
                "spec.replicas",
                format!(
                    "{}: must be a non-negative integer",
                    doc["spec"]["replicas"]
                ),
            )
        })?;
    let mut new = old.body.clone();
    new["spec"]["replicas"] = json!(replicas);
    let main = Target {
        sub: None,
        ..t.clone_target()
    };
    let (api_version, time) = (t.rt.api_version(), rfc3339(ctx.now));
    let new = finish(
        ctx,
        &main,
        Some(&old),
        new,
        &writer(req, &main, &api_version, &time),
        false,
    )?;
    Ok(Answer::json(200, &scale_doc(&new)))
}

impl Target {
    fn clone_target(&self) -> Target {
        Target {
            rt: self.rt.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            sub: self.sub.clone(),
        }
    }
}
