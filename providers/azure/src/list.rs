//! Everything tagged for an environment: its resource group, and the networks, clusters,
//! agent pools and storage accounts in it.

use hoist_provider::{CloudResource, Listing, ProviderError};
use serde_json::Value;

use crate::arm::{api, ArmError};
use crate::AzureProvider;

fn listed(
    kind: &str,
    r: &Value,
    tags: std::collections::BTreeMap<String, String>,
) -> CloudResource {
    CloudResource {
        cloud_id: crate::resources::id_of(r, ""),
        kind: kind.into(),
        name: r["name"].as_str().unwrap_or_default().into(),
        region: r["location"].as_str().unwrap_or_default().into(),
        status: crate::arm::state(r).to_string(),
        tags,
        outputs: Default::default(),
    }
}

impl AzureProvider {
    async fn tagged(
        &self,
        kind: &str,
        path: &str,
        api: &str,
        env: &str,
    ) -> Result<Vec<CloudResource>, ArmError> {
        let items = match self.arm.list(path, api, &[]).await {
            Ok(items) => items,
            Err(e) if e.status == 404 => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(items
            .iter()
            .filter_map(|r| {
                let tags = crate::tags_of(if kind == "node_pool" {
                    &r["properties"]
                } else {
                    r
                });
                // The system pool is part of its cluster (made, changed and deleted with it).
                let inline = kind == "node_pool" && r["properties"]["mode"] == "System";
                (!inline && tags.get(hoist_provider::tags::ENV).map(String::as_str) == Some(env))
                    .then(|| listed(kind, r, tags))
            })
            .collect())
    }

    pub(crate) async fn list_env(&self, env: &str) -> Result<Listing, ProviderError> {
        let group = self.group_id(env);
        let fail = |e: ArmError| e.for_resource("the environment's resources", &self.location);
        let mut out = Listing::default();
        let g = self.arm.get(&group, api::RESOURCES).await.map_err(fail)?;
        if let Some(g) = g.filter(|g| {
            crate::tags_of(g)
                .get(hoist_provider::tags::ENV)
                .map(String::as_str)
                == Some(env)
        }) {
            out.resources
                .push(listed("resource_group", &g, crate::tags_of(&g)));
        }
        let at = |rest: &str| format!("{group}/providers/{rest}");
        let (vnet_list, cluster_list, account_list) = (
            at("Microsoft.Network/virtualNetworks"),
            at("Microsoft.ContainerService/managedClusters"),
            at("Microsoft.Storage/storageAccounts"),
        );
        let (vnets, clusters, accounts) = futures::join!(
            self.tagged("virtual_network", &vnet_list, api::NETWORK, env),
            self.tagged("aks_cluster", &cluster_list, api::AKS, env),
            self.tagged("storage_account", &account_list, api::STORAGE, env),
        );
        out.extend(Listing::part(
            "virtual networks",
            vnets.map_err(|e| e.for_resource("virtual networks", &self.location)),
        )?);
        let clusters = clusters.map_err(|e| e.for_resource("AKS clusters", &self.location));
        if let Ok(cs) = &clusters {
            for c in cs {
                let pools = self
                    .tagged(
                        "node_pool",
                        &format!("{}/agentPools", c.cloud_id),
                        api::AKS,
                        env,
                    )
                    .await;
                out.extend(Listing::part(
                    "agent pools",
                    pools.map_err(|e| e.for_resource("agent pools", &self.location)),
                )?);
            }
        }
        out.extend(Listing::part("AKS clusters", clusters)?);
        out.extend(Listing::part(
            "storage accounts",
            accounts.map_err(|e| e.for_resource("storage accounts", &self.location)),
        )?);
        Ok(out)
    }
}
