//! Reading GKE in few calls: one list of node pools per cluster for refresh, one list of
//! clusters (with their pools) for what an environment owns.

use std::collections::BTreeMap;

use google_cloud_container_v1::model::ListNodePoolsResponse;
use hoist_provider::{
    tags, Address, CloudResource, Observed, Ownership, ProviderError, ResourceState,
};
use serde_json::Value;

use super::{cluster_name, parent, SERVICE};
use crate::errors::{classify, is_not_found};
use crate::{labels, refreshed, GcpProvider};

fn pools_of(list: &ListNodePoolsResponse) -> Vec<Value> {
    Some(
        list.node_pools
            .iter()
            .map(super::pool_json)
            .collect::<Vec<_>>(),
    )
    .as_ref()
    .cloned()
    .unwrap_or_default()
}

impl GcpProvider {
    /// Every pool of one cluster, as GKE lists them (`None`: the cluster is gone).
    async fn list_pools(
        &self,
        loc: &str,
        cluster: &str,
    ) -> Result<Option<Vec<Value>>, ProviderError> {
        match self
            .gke
            .list_node_pools()
            .set_parent(cluster_name(&self.project, loc, cluster))
            .send()
            .await
        {
            Ok(list) => Ok(Some(pools_of(&list))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(
                SERVICE,
                &format!("list of node pools of GKE cluster {cluster}"),
                e,
            )),
        }
    }

    /// Refresh of node pools: one list per cluster, and for a pool of fixed size its
    /// instance groups' sizes (an autoscaled pool's size is the autoscaler's), in parallel.
    pub(crate) async fn read_node_pools(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>> {
        let mut clusters: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, r) in resources.iter().enumerate() {
            let key = (
                crate::text(&r.outputs, "location").to_string(),
                crate::text(&r.outputs, "cluster_name").to_string(),
            );
            clusters.entry(key).or_default().push(i);
        }
        let lists =
            futures::future::join_all(clusters.keys().map(|(l, c)| self.list_pools(l, c))).await;
        let mut found: Vec<Result<Option<Value>, ProviderError>> = vec![Ok(None); resources.len()];
        for ((_, members), list) in clusters.iter().zip(lists) {
            for &i in members {
                found[i] = match &list {
                    Err(e) => Err(e.clone()),
                    Ok(None) => Ok(None),
                    Ok(Some(pools)) => Ok(pools
                        .iter()
                        .find(|p| {
                            p.get("name").and_then(Value::as_str)
                                == Some(resources[i].cloud_id.as_str())
                        })
                        .cloned()),
                };
            }
        }
        let sizes = futures::future::join_all(found.iter().map(|f| async move {
            match f {
                Ok(Some(p)) if !autoscaled(p) => self.live_size(p).await.map(Some),
                _ => Ok(None),
            }
        }))
        .await;
        resources
            .iter()
            .zip(found)
            .zip(sizes)
            .map(|((r, f), size)| {
                let pool = f?;
                let size = size?;
                Ok(pool.map(|p| refreshed(r, super::pool::observed(&p, &r.attrs, size).0)))
            })
            .collect()
    }

    /// A pool's nodes now: the sum of its zonal instance groups' target sizes.
    async fn live_size(&self, pool: &Value) -> Result<u64, ProviderError> {
        let urls: Vec<&str> = pool
            .get("instanceGroupUrls")
            .and_then(Value::as_array)
            .map(|u| u.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let gets = urls
            .iter()
            .filter_map(|u| zone_and_name(u))
            .map(|(zone, name)| async move {
                let what = format!("get of instance group {name} in {zone}");
                self.instance_groups
                    .get()
                    .set_project(self.project.clone())
                    .set_zone(zone)
                    .set_instance_group_manager(name)
                    .send()
                    .await
                    .map(|g| g.target_size.unwrap_or(0).max(0) as u64)
                    .map_err(|e| classify("Compute Engine", &what, e))
            });
        let sizes = futures::future::try_join_all(gets).await?;
        Ok(sizes.into_iter().sum())
    }

    /// The region's clusters (regional and zonal) as GKE lists them.
    async fn list_clusters(&self) -> Result<Vec<Value>, ProviderError> {
        let list = self
            .gke
            .list_clusters()
            .set_parent(parent(&self.project, "-"))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "list of GKE clusters", e))?;
        let region = self.region.as_str();
        Ok(Some(
            list.clusters
                .iter()
                .map(super::cluster_json)
                .collect::<Vec<_>>(),
        )
        .as_ref()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            c.get("location")
                .and_then(Value::as_str)
                .is_some_and(|l| l == region || l.starts_with(&format!("{region}-")))
        })
        .collect())
    }

    /// Clusters and pools labelled for `env`.
    pub(crate) async fn list_gke(&self, env: &str) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = Vec::new();
        for c in self.list_clusters().await? {
            let (cluster, tags) = super::cluster::observed(&c);
            let loc = crate::text(&cluster.attrs, "location").to_string();
            if tags.get(tags::ENV).map(String::as_str) == Some(env) {
                out.push(resource(
                    "gke_cluster",
                    &cluster.cloud_id,
                    &loc,
                    &c,
                    tags,
                    cluster.outputs.clone(),
                ));
            }
            for p in c
                .get("nodePools")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (pool, tags) = super::pool::observed(p, &Default::default(), None);
                if tags.get(tags::ENV).map(String::as_str) == Some(env) {
                    let outputs = hoist_provider::Attrs::from_iter([
                        ("location".to_string(), serde_json::json!(loc)),
                        (
                            "cluster_name".to_string(),
                            serde_json::json!(cluster.cloud_id),
                        ),
                    ]);
                    out.push(resource(
                        "node_pool",
                        &pool.cloud_id,
                        &loc,
                        p,
                        tags,
                        outputs,
                    ));
                }
            }
        }
        Ok(out)
    }

    /// What an interrupted create with `token` made: the cluster or pool whose token label
    /// is `token`, when its labels name this environment.
    pub(crate) async fn find_gke(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let found = self.list_gke(&owner.env).await?;
        Ok(found
            .into_iter()
            .find(|r| {
                r.kind == address.kind()
                    && r.tags.get(labels::TOKEN).map(String::as_str) == Some(token)
                    && owner.claims(&r.tags).is_ok()
            })
            .map(|r| Observed {
                cloud_id: r.cloud_id,
                attrs: Default::default(),
                outputs: r.outputs,
                lifecycle: hoist_provider::Lifecycle::Ready,
            }))
    }
}

fn resource(
    kind: &str,
    name: &str,
    loc: &str,
    v: &Value,
    tags: BTreeMap<String, String>,
    outputs: hoist_provider::Attrs,
) -> CloudResource {
    CloudResource {
        cloud_id: name.into(),
        kind: kind.into(),
        name: name.into(),
        region: loc.into(),
        status: v
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into(),
        tags,
        outputs,
    }
}

fn autoscaled(pool: &Value) -> bool {
    pool.pointer("/autoscaling/enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// `…/zones/Z/instanceGroupManagers/NAME` (or `instanceGroups`) → `(Z, NAME)`.
fn zone_and_name(url: &str) -> Option<(String, String)> {
    let rest = url.split("/zones/").nth(1)?;
    let mut parts = rest.split('/');
    let zone = parts.next()?.to_string();
    let _kind = parts.next()?;
    Some((zone, parts.next()?.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn instance_group_urls_name_their_zone_and_group() {
        let url = "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-b/instanceGroupManagers/gke-c-system-1a2b-grp";
        assert_eq!(
            super::zone_and_name(url),
            Some(("us-central1-b".into(), "gke-c-system-1a2b-grp".into()))
        );
        assert_eq!(super::zone_and_name("not a url"), None);
    }
}
