//! Refresh: one list of agent pools per cluster, one GET for everything else, all at once.

use std::collections::BTreeMap;

use futures::future::join_all;
use hoist_provider::{Observed, ProviderError, ResourceState};
use serde_json::Value;

use crate::arm::api;
use crate::resources::api_of;
use crate::AzureProvider;

type Answer = Result<Option<Observed>, ProviderError>;

/// The cluster an agent pool's id is under.
fn cluster_of(pool_id: &str) -> &str {
    let lower = pool_id.to_ascii_lowercase();
    let at = lower.find("/agentpools/").unwrap_or(pool_id.len());
    &pool_id[..at]
}

impl AzureProvider {
    pub(crate) async fn read_all(&self, resources: &[&ResourceState]) -> Vec<Answer> {
        let (pools, others): (Vec<_>, Vec<_>) = resources
            .iter()
            .enumerate()
            .partition(|(_, r)| r.address.kind() == "node_pool");
        let mut answers: Vec<Option<Answer>> = vec![None; resources.len()];
        let pool_reads = self.read_pools(pools.iter().map(|(i, r)| (*i, **r)).collect());
        let other_reads = join_all(
            others
                .iter()
                .map(|(i, r)| async move { (*i, self.read_one(r).await) }),
        );
        let (pool_answers, other_answers) = futures::join!(pool_reads, other_reads);
        for (i, a) in pool_answers.into_iter().chain(other_answers) {
            answers[i] = Some(a);
        }
        answers.into_iter().map(|a| a.unwrap_or(Ok(None))).collect()
    }

    async fn read_one(&self, prior: &ResourceState) -> Answer {
        let kind = prior.address.kind();
        let found = self
            .arm
            .get(&prior.cloud_id, api_of(kind))
            .await
            .map_err(|e| e.for_resource(&prior.address.to_string(), &self.location))?;
        Ok(found.map(|live| {
            let mut o = crate::refreshed(prior, self.observe(kind, &live));
            if kind == "resource_group" {
                o.outputs.insert(
                    "managed".into(),
                    prior
                        .outputs
                        .get("managed")
                        .cloned()
                        .unwrap_or(Value::Bool(true)),
                );
            }
            o
        }))
    }

    /// Pools, one list per cluster.
    async fn read_pools(&self, pools: Vec<(usize, &ResourceState)>) -> Vec<(usize, Answer)> {
        let mut by_cluster: BTreeMap<String, Vec<(usize, &ResourceState)>> = BTreeMap::new();
        for (i, p) in pools {
            by_cluster
                .entry(cluster_of(&p.cloud_id).to_string())
                .or_default()
                .push((i, p));
        }
        let lists = join_all(by_cluster.into_iter().map(|(cluster, members)| async move {
            let listed = self
                .arm
                .list(&format!("{cluster}/agentPools"), api::AKS, &[])
                .await;
            (members, listed)
        }))
        .await;
        let mut out = Vec::new();
        for (members, listed) in lists {
            let live: BTreeMap<String, Value> = match listed {
                Ok(items) => items
                    .into_iter()
                    .map(|p| (crate::resources::id_of(&p, "").to_ascii_lowercase(), p))
                    .collect(),
                Err(e) if e.status == 404 => BTreeMap::new(),
                Err(e) => {
                    let err = e.for_resource("agent pools", &self.location);
                    out.extend(members.iter().map(|(i, _)| (*i, Err(err.clone()))));
                    continue;
                }
            };
            for (i, prior) in members {
                let found = live.get(&prior.cloud_id.to_ascii_lowercase());
                out.push((
                    i,
                    Ok(found.map(|p| crate::refreshed(prior, self.observe("node_pool", p)))),
                ));
            }
        }
        out
    }
}
