//! Object paths: which kind, namespace and name a path names, and the read and delete verbs
//! on them (writes are in `writes`).

use serde_json::{json, Value};

use super::catalog::ResourceType;
use super::selector;
use super::status::{self, ApiError};
use super::store::{self, Key, Stored};
use super::{table, writes, Answer, Ctx, Req};

/// The namespaces every cluster has and that cannot be deleted.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// What an object path names.
pub(crate) struct Target {
    pub rt: ResourceType,
    /// Empty for cluster-scoped kinds, and for lists across all namespaces.
    pub namespace: String,
    pub name: String,
    pub sub: Option<String>,
}

impl Target {
    pub fn key(&self) -> Key {
        Key::new(&self.rt.group, &self.rt.kind, &self.namespace, &self.name)
    }

    pub fn not_found(&self) -> ApiError {
        ApiError::not_found(&self.rt.group, &self.rt.plural, &self.name)
    }

    pub fn load(&self, ctx: &Ctx) -> Result<Stored, ApiError> {
        store::get(ctx.conn, &ctx.cluster.id, &self.key())?.ok_or_else(|| self.not_found())
    }
}

/// RFC 3339 at second precision, as Kubernetes timestamps are written.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Serve a path under `/api/v1` or `/apis/{group}/{version}`.
pub fn resource(
    ctx: &Ctx,
    req: &Req,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<Answer, ApiError> {
    let no_route = || ApiError::no_route(&req.path);
    let (ns, tail) = match rest {
        ["namespaces", ns, kind, tail @ ..] if !matches!(*kind, "status" | "finalize") => {
            (Some(*ns), [&[*kind][..], tail].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, sub) = match tail.as_slice() {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] => (*p, Some(*n), Some(*s)),
        _ => return Err(no_route()),
    };
    let rt = ctx
        .catalog()?
        .find(group, version, plural)
        .cloned()
        .ok_or_else(no_route)?;
    if (rt.namespaced && ns.is_none() && name.is_some()) || (!rt.namespaced && ns.is_some()) {
        return Err(no_route());
    }
    match sub {
        None => {}
        Some("status") if rt.status => {}
        Some("scale") if rt.scale => {}
        Some(_) => return Err(no_route()),
    }
    let target = Target {
        rt,
        namespace: ns.unwrap_or("").to_string(),
        name: name.unwrap_or("").to_string(),
        sub: sub.map(String::from),
    };
    use http::Method;
    let m = &req.method;
    let not_allowed = || Err(ApiError::method_not_allowed(m.as_str(), &req.path));
    match (name, sub) {
        (None, _) => match *m {
            Method::GET if req.flag("watch") => list(ctx, req, &target, true),
            Method::GET => list(ctx, req, &target, false),
            Method::POST if target.rt.namespaced && ns.is_none() => not_allowed(),
            Method::POST => writes::create(ctx, req, &target),
            Method::DELETE => delete_collection(ctx, req, &target),
            _ => not_allowed(),
        },
        (Some(_), Some("scale")) => match *m {
            Method::GET => Ok(Answer::json(
                200,
                &writes::scale_doc(&target.load(ctx)?.body),
            )),
            Method::PUT | Method::PATCH => writes::scale(ctx, req, &target),
            _ => not_allowed(),
        },
        (Some(_), _) => match *m {
            Method::GET => get(ctx, req, &target),
            Method::PUT => writes::replace(ctx, req, &target),
            Method::PATCH => writes::patch(ctx, req, &target),
            Method::DELETE if sub.is_none() => delete(ctx, &target).map(|v| Answer::json(200, &v)),
            _ => not_allowed(),
        },
    }
}

/// The object as served at the requested version.
pub fn served(rt: &ResourceType, mut body: Value) -> Value {
    body["apiVersion"] = json!(rt.api_version());
    body["kind"] = json!(rt.kind);
    body
}

fn get(ctx: &Ctx, req: &Req, t: &Target) -> Result<Answer, ApiError> {
    let body = served(&t.rt, t.load(ctx)?.body);
    if table::wants(&req.accept) {
        let rv = store::current_rv(ctx.conn, &ctx.cluster.id)?;
        return Ok(Answer::json(
            200,
            &table::render(&t.rt, &[body], rv, req.param("includeObject"), ctx.now),
        ));
    }
    Ok(Answer::json(200, &body))
}

/// The objects a list or delete-collection selects.
fn selected(ctx: &Ctx, req: &Req, t: &Target) -> Result<Vec<Value>, ApiError> {
    let labels = selector::parse_labels(req.param("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("unable to parse labelSelector: {e}")))?;
    let fields = selector::parse_fields(req.param("fieldSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("unable to parse fieldSelector: {e}")))?;
    let ns = (!t.namespace.is_empty()).then_some(t.namespace.as_str());
    Ok(
        store::list(ctx.conn, &ctx.cluster.id, &t.rt.group, &t.rt.kind, ns)?
            .into_iter()
            .map(|s| served(&t.rt, s.body))
            .filter(|o| {
                selector::matches(&labels, &selector::string_map(&o["metadata"]["labels"]))
                    && selector::fields_match(&fields, o)
            })
            .collect(),
    )
}

fn rv_of(o: &Value) -> i64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn list(ctx: &Ctx, req: &Req, t: &Target, watch: bool) -> Result<Answer, ApiError> {
    let items = selected(ctx, req, t)?;
    let rv = store::current_rv(ctx.conn, &ctx.cluster.id)?;
    let as_table = table::wants(&req.accept);
    if watch {
        // The objects now, then the end of the stream: clients that re-watch pick up later
        // changes on their next watch. A watch from a resourceVersion gets what is newer.
        let since: Option<i64> = req
            .param("resourceVersion")
            .and_then(|v| v.parse().ok())
            .filter(|v| *v > 0);
        let mut out = Vec::new();
        for o in items
            .into_iter()
            .filter(|o| since.is_none_or(|s| rv_of(o) > s))
        {
            let kind = if since.is_some() { "MODIFIED" } else { "ADDED" };
            let object = if as_table {
                table::render(
                    &t.rt,
                    std::slice::from_ref(&o),
                    rv_of(&o),
                    req.param("includeObject"),
                    ctx.now,
                )
            } else {
                o
            };
            out.extend(
                json!({"type": kind, "object": object})
                    .to_string()
                    .into_bytes(),
            );
            out.push(b'\n');
        }
        if req.flag("allowWatchBookmarks") {
            let bookmark = json!({"type": "BOOKMARK", "object": {"kind": t.rt.kind, "apiVersion": t.rt.api_version(),
                                  "metadata": {"resourceVersion": rv.to_string()}}});
            out.extend(bookmark.to_string().into_bytes());
            out.push(b'\n');
        }
        return Ok(Answer {
            code: 200,
            content_type: "application/json",
            body: out,
        });
    }
    if as_table {
        return Ok(Answer::json(
            200,
            &table::render(&t.rt, &items, rv, req.param("includeObject"), ctx.now),
        ));
    }
    Ok(Answer::json(
        200,
        &json!({"kind": format!("{}List", t.rt.kind), "apiVersion": t.rt.api_version(),
                "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
    ))
}

/// Delete one object: at once when nothing holds it, else mark it (deletionTimestamp) and
/// keep it until its finalizers are gone. Namespaces always go through the mark, so that the
/// controllers delete what they hold first. Answers what a server answers.
pub fn delete(ctx: &Ctx, t: &Target) -> Result<Value, ApiError> {
    let old = t.load(ctx)?;
    if t.rt.kind == "Namespace"
        && t.rt.group.is_empty()
        && SYSTEM_NAMESPACES.contains(&t.name.as_str())
    {
        return Err(ApiError::forbidden(format!(
            "namespaces \"{}\" is forbidden: this namespace may not be deleted",
            t.name
        ))
        .about(&t.name, "", "namespaces"));
    }
    let mut body = old.body;
    let held = body["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| !f.is_empty());
    let is_namespace = t.rt.kind == "Namespace" && t.rt.group.is_empty();
    if held || is_namespace {
        if body["metadata"]["deletionTimestamp"].is_null() {
            body["metadata"]["deletionTimestamp"] = json!(rfc3339(ctx.now));
            body["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if is_namespace {
                body["status"]["phase"] = json!("Terminating");
            }
            store::put(ctx.conn, &ctx.cluster.id, &t.key(), &mut body, ctx.now)?;
        }
        return Ok(served(&t.rt, body));
    }
    store::delete(ctx.conn, &ctx.cluster.id, &t.key())?;
    let uid = body["metadata"]["uid"].as_str().unwrap_or("");
    Ok(status::success(&t.name, &t.rt.group, &t.rt.plural, uid))
}

fn delete_collection(ctx: &Ctx, req: &Req, t: &Target) -> Result<Answer, ApiError> {
    let items = selected(ctx, req, t)?;
    for o in &items {
        let one = Target {
            rt: t.rt.clone(),
            namespace: o["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            name: o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            sub: None,
        };
        match delete(ctx, &one) {
            Ok(_) => {}
            // System namespaces stay, as on a real server's collection delete.
            Err(e) if e.code == 403 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Answer::json(
        200,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    ))
}
