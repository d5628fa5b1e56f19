//! Reading the stack back: one list per kind (across namespaces, with the environment's label
//! selector) for a refresh, a GET when hoist waits on one object, and the ownership listing a
//! plan makes next answered from those same lists, so a no-op plan costs one call per kind.

use std::collections::BTreeMap;

use hoist_provider::{Attrs, CloudResource, Listing, Observed, ProviderError, ResourceState};
use kube::api::ListParams;
use serde_json::Value;

use crate::kinds::{Identity, KINDS};
use crate::labels;
use crate::provider::{error, identity, observe, ownership_of, to_value, KubeProvider};

type Found = Result<Option<Observed>, ProviderError>;

impl KubeProvider {
    /// Each resource as the cluster has it now.
    pub(crate) async fn refresh(&self, resources: &[&ResourceState]) -> Vec<Found> {
        let ids: Vec<Result<Identity, ProviderError>> =
            resources.iter().map(|r| identity(&r.address)).collect();
        if let [Ok(id)] = ids.as_slice() {
            // A wait polls one object: one GET.
            let live = self.get(id).await;
            return vec![live.map(|o| o.map(|live| observe(id, &live, &resources[0].attrs)))];
        }
        let mut kinds: BTreeMap<String, Identity> = BTreeMap::new();
        for id in ids.iter().flatten() {
            kinds.entry(id.kind.clone()).or_insert_with(|| id.clone());
        }
        let lists = futures::future::join_all(kinds.values().map(|id| self.list_kind(id))).await;
        let lists: BTreeMap<String, Result<Vec<Value>, ProviderError>> =
            kinds.into_keys().zip(lists).collect();
        ids.into_iter()
            .zip(resources)
            .map(|(id, r)| {
                let id = id?;
                let found = lists
                    .get(id.kind.as_str())
                    .cloned()
                    .unwrap_or(Ok(Vec::new()))?;
                Ok(found
                    .iter()
                    .find(|o| at(o) == (id.namespace.as_deref(), id.name.as_str()))
                    .map(|live| observe(&id, live, &r.attrs)))
            })
            .collect()
    }

    /// The environment's objects of one kind, in every namespace; kept for [`Self::owned`].
    async fn list_kind(&self, id: &Identity) -> Result<Vec<Value>, ProviderError> {
        let found = self.list_all(id, &self.env).await?;
        self.lists().insert(id.kind.clone(), found.clone());
        Ok(found)
    }

    async fn list_all(&self, id: &Identity, env: &str) -> Result<Vec<Value>, ProviderError> {
        let every = Identity {
            namespace: None,
            ..id.clone()
        };
        let params = ListParams::default().labels(&labels::selector(env));
        match self.api(&every).list(&params).await {
            Ok(list) => Ok(list.items.into_iter().map(to_value).collect()),
            // A kind of a CRD not yet applied (or already removed) has no objects.
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
            Err(e) => Err(error(&every, e)),
        }
    }

    fn lists(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<Value>>> {
        self.listed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write makes what was listed stale.
    pub(crate) fn forget_lists(&self) {
        self.lists().clear();
    }

    /// Everything of `env` in the cluster, of every kind the stack uses.
    pub(crate) async fn owned(&self, env: &str) -> Result<Listing, ProviderError> {
        let mut listing = Listing::default();
        for (_, api_version, kind, _) in KINDS {
            let listed = match env == self.env {
                true => self.lists().remove(*kind),
                false => None,
            };
            let found = match listed {
                Some(objects) => Ok(objects),
                None => {
                    let id = Identity {
                        api_version: api_version.to_string(),
                        kind: kind.to_string(),
                        namespace: None,
                        name: String::new(),
                    };
                    self.list_all(&id, env).await
                }
            };
            let found =
                found.map(|objects| objects.iter().map(|o| self.resource(kind, o)).collect());
            listing.extend(Listing::part(&format!("{kind} objects"), found)?);
        }
        Ok(listing)
    }

    fn resource(&self, kind: &str, o: &Value) -> CloudResource {
        let (namespace, name) = at(o);
        CloudResource {
            cloud_id: match namespace {
                Some(ns) => format!("{kind}/{ns}/{name}"),
                None => format!("{kind}/{name}"),
            },
            kind: kind.to_string(),
            name: name.to_string(),
            region: self.cluster.to_string(),
            status: "present".into(),
            tags: ownership_of(o),
            outputs: Attrs::new(),
        }
    }
}

/// Where a live object is: its namespace (none when cluster-scoped) and name.
fn at(o: &Value) -> (Option<&str>, &str) {
    let meta = &o["metadata"];
    (
        meta["namespace"].as_str(),
        meta["name"].as_str().unwrap_or_default(),
    )
}
