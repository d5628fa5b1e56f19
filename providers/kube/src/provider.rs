//! The stack's provider: every object applied with server-side apply (field manager `hoist`,
//! forced), read back by one list per kind and namespace, and deleted only when its
//! ownership annotations say this environment made it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use hoist_provider::{
    Address, Attrs, KindRules, Listing, Observed, Ownership, Provider, ProviderError,
    ResourceConfig, ResourceState, StepContext,
};
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::Api;
use serde_json::Value;

use crate::kinds::Identity;
use crate::{fields, labels, ready, NAME};

/// The field manager hoist applies as.
pub const FIELD_MANAGER: &str = "hoist";

/// A cluster's Kubernetes API, for one environment's stack.
pub struct KubeProvider {
    pub(crate) client: kube::Client,
    pub(crate) env: String,
    /// The cluster, for messages.
    pub(crate) cluster: Address,
    /// What the last refresh listed, by kind, for the ownership listing that follows it in
    /// the same plan (it asks for the same objects); any write empties it.
    pub(crate) listed: std::sync::Mutex<BTreeMap<String, Vec<Value>>>,
}

impl KubeProvider {
    pub fn new(client: kube::Client, env: &str, cluster: Address) -> Self {
        Self {
            client,
            env: env.to_string(),
            cluster,
            listed: Default::default(),
        }
    }

    pub(crate) fn api(&self, id: &Identity) -> Api<DynamicObject> {
        let (group, version) = id
            .api_version
            .rsplit_once('/')
            .unwrap_or(("", &id.api_version));
        let gvk = GroupVersionKind::gvk(group, version, &id.kind);
        let resource = ApiResource::from_gvk(&gvk);
        match &id.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        }
    }

    pub(crate) async fn get(&self, id: &Identity) -> Result<Option<Value>, ProviderError> {
        let found = self
            .api(id)
            .get_opt(&id.name)
            .await
            .map_err(|e| error(id, e))?;
        Ok(found.map(to_value))
    }

    /// Apply `config` as this environment's object, refusing one someone else made.
    async fn apply(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
        token: Option<&str>,
    ) -> Result<Observed, ProviderError> {
        let id = identity(&config.address)?;
        self.forget_lists();
        let owner = Ownership::from_tags(&ctx.tags);
        if let Some(live) = self.get(&id).await? {
            owner
                .claims(&ownership_of(&live))
                .map_err(|why| ProviderError::NotOwned {
                    resource: format!("{} ({})", config.address, id.cloud_id()),
                    why,
                })?;
        }
        let mut object = fields::unflatten(&config.attrs).ok_or_else(|| {
            ProviderError::Invalid(format!(
                "{}: its fields cannot be read back into an object",
                config.address
            ))
        })?;
        let hash = config
            .attrs
            .get("hash")
            .and_then(Value::as_str)
            .unwrap_or_default();
        labels::annotate(&mut object, &ctx.tags, hash, token);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = self
            .api(&id)
            .patch(&id.name, &params, &Patch::Apply(&object))
            .await
            .map_err(|e| error(&id, e))?;
        Ok(observe(&id, &to_value(applied), &config.attrs))
    }
}

pub(crate) fn identity(address: &Address) -> Result<Identity, ProviderError> {
    Identity::of(address).ok_or_else(|| {
        ProviderError::Invalid(format!("{address} is not an address of a stack object"))
    })
}

pub(crate) fn to_value(o: DynamicObject) -> Value {
    serde_json::to_value(o).unwrap_or(Value::Null)
}

/// The ownership tags an object carries: the environment label, the lineage annotation.
pub(crate) fn ownership_of(live: &Value) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for which in ["labels", "annotations"] {
        if let Some(m) = live["metadata"][which].as_object() {
            for (k, v) in m.iter().filter(|(k, _)| k.starts_with("hoist-")) {
                tags.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
            }
        }
    }
    tags
}

/// The live object as state records it: identity, hash, and the fields that `recorded` has
/// (fields the server or a controller added are not hoist's to compare).
pub(crate) fn observe(id: &Identity, live: &Value, recorded: &Attrs) -> Observed {
    let mut all = Attrs::new();
    fields::flatten(live, &mut all);
    let mut attrs: Attrs = recorded
        .keys()
        .filter(|k| k.starts_with(fields::PREFIX))
        .filter_map(|k| all.remove(k).map(|v| (k.clone(), v)))
        .collect();
    attrs.insert("api_version".into(), id.api_version.clone().into());
    attrs.insert("kind".into(), id.kind.clone().into());
    attrs.insert(
        "namespace".into(),
        id.namespace.clone().map(Value::from).unwrap_or(Value::Null),
    );
    attrs.insert("name".into(), id.name.clone().into());
    if let Some(h) = labels::annotation(live, labels::HASH) {
        attrs.insert("hash".into(), h.into());
    }
    let mut outputs = Attrs::new();
    if let Some(ingress) = live["status"]["loadBalancer"]["ingress"].get(0) {
        outputs.insert(
            "address".into(),
            ingress
                .get("hostname")
                .or(ingress.get("ip"))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    Observed {
        cloud_id: id.cloud_id(),
        attrs,
        outputs,
        lifecycle: ready::lifecycle(live),
    }
}

/// The fields of an object adopted after an interrupted create, as its record: what a client
/// writes (not status, nor the metadata the server keeps), so the record holds no value that
/// changes by itself and would read as drift. The next apply records exactly hoist's fields.
fn adopted_fields(live: &Value) -> Attrs {
    let mut object = live.clone();
    if let Some(m) = object.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.retain(|k, _| matches!(k.as_str(), "name" | "namespace" | "labels" | "annotations"));
    }
    let mut recorded = Attrs::new();
    fields::flatten(&object, &mut recorded);
    recorded
}

/// kube-rs errors as the engine's: throttling and server trouble are retried, a conflict is
/// retried (another writer moved the object), the rest stop this object.
pub(crate) fn error(id: &Identity, e: kube::Error) -> ProviderError {
    let service = format!("Kubernetes API ({})", id.cloud_id());
    match e {
        kube::Error::Api(s) => match s.code {
            429 => ProviderError::Throttled {
                service,
                message: s.message,
            },
            409 | 500 | 502 | 503 | 504 => ProviderError::Transient {
                service,
                message: format!("{} ({})", s.message, s.reason),
            },
            404 => ProviderError::NotFound(id.cloud_id()),
            _ => ProviderError::Invalid(format!(
                "{}: {} ({}, {})",
                id.cloud_id(),
                s.message,
                s.reason,
                s.code
            )),
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => ProviderError::Transient {
            service,
            message: e.to_string(),
        },
        other => ProviderError::Fatal(format!("{}: {other}", id.cloud_id())),
    }
}

#[async_trait]
impl Provider for KubeProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn rules(&self, kind: &str) -> KindRules {
        let _ = kind;
        KindRules {
            force_new: &["api_version", "kind", "namespace", "name"],
            timeout_secs: 600,
            ..Default::default()
        }
    }

    fn api(&self, _kind: &str) -> &'static str {
        "kubernetes"
    }

    fn concurrency(&self, _api: &str) -> hoist_provider::Concurrency {
        // kube-apiserver's default max-requests-inflight is 400 for reads, 200 for writes.
        hoist_provider::Concurrency {
            initial: 16,
            max: 64,
        }
    }

    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>> {
        self.refresh(resources).await
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        self.apply(config, ctx, Some(&ctx.token)).await
    }

    async fn update(
        &self,
        _prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        self.apply(config, ctx, None).await
    }

    async fn delete(&self, prior: &ResourceState) -> Result<Vec<String>, ProviderError> {
        let id = identity(&prior.address)?;
        self.forget_lists();
        let Some(live) = self.get(&id).await? else {
            return Ok(Vec::new());
        };
        let tags = ownership_of(&live);
        if tags.get(hoist_provider::tags::ENV) != Some(&self.env) {
            return Ok(vec![format!(
                "left {} in place: it is no longer this environment's",
                id.cloud_id()
            )]);
        }
        match self
            .api(&id)
            .delete(&id.name, &DeleteParams::background())
            .await
        {
            Ok(_) => Ok(Vec::new()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
            Err(e) => Err(error(&id, e)),
        }
    }

    async fn find_by_token(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let id = identity(address)?;
        let Some(live) = self.get(&id).await? else {
            return Ok(None);
        };
        if labels::annotation(&live, labels::TOKEN) != Some(token)
            || owner.claims(&ownership_of(&live)).is_err()
        {
            return Ok(None);
        }
        Ok(Some(observe(&id, &live, &adopted_fields(&live))))
    }

    async fn list_owned(&self, env: &str) -> Result<Listing, ProviderError> {
        self.owned(env).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_adopted_object_records_what_a_client_writes_and_nothing_that_moves() {
        let live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "n", "labels": {"a": "b"},
                         "resourceVersion": "7", "uid": "u", "managedFields": [{"manager": "hoist"}]},
            "data": {"k": "v"},
            "status": {"x": 1},
        });
        let recorded = adopted_fields(&live);
        let keys: Vec<&str> = recorded.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "field:apiVersion",
                "field:data.k",
                "field:kind",
                "field:metadata.labels.a",
                "field:metadata.name",
                "field:metadata.namespace"
            ]
        );
    }
}
