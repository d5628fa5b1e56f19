//! Create, update and delete of each Azure kind, and finding a create's result by its token.

mod access;
mod aks;
mod group;
mod network;
mod pool;
mod profile;
mod storage;

use hoist_provider::{Address, Lifecycle, Observed, Ownership};
use serde_json::Value;

use crate::arm::{api, ArmError};
use crate::AzureProvider;

/// The api-version of `kind`'s resource provider.
pub(crate) fn api_of(kind: &str) -> &'static str {
    match kind {
        "resource_group" => api::RESOURCES,
        "virtual_network" | "subnet" => api::NETWORK,
        "aks_cluster" | "node_pool" => api::AKS,
        "storage_account" => api::STORAGE,
        _ => api::RESOURCES,
    }
}

/// Where a resource is in its life, from its `provisioningState`.
pub(crate) fn lifecycle(r: &Value) -> Lifecycle {
    match crate::arm::state(r) {
        "Succeeded" | "" => Lifecycle::Ready,
        "Creating" | "Accepted" | "Provisioning" | "ResolvingDNS" => Lifecycle::Provisioning,
        "Deleting" => Lifecycle::Deleting,
        "Failed" | "Canceled" => Lifecycle::Failed {
            reason: format!("provisioningState {}", crate::arm::state(r)),
        },
        _ => Lifecycle::Updating,
    }
}

/// The ARM id of `resource` (its `id`), else `fallback`.
pub(crate) fn id_of(resource: &Value, fallback: &str) -> String {
    resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(fallback)
        .to_string()
}

impl AzureProvider {
    /// The cluster of environment `env` (AKS names it after the environment).
    pub(crate) fn cluster_id(&self, env: &str) -> String {
        format!(
            "{}/providers/Microsoft.ContainerService/managedClusters/{env}",
            self.group_id(env)
        )
    }

    /// What an interrupted create with `token` made, if its tags say so.
    pub(crate) async fn find(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ArmError> {
        let group = self.group_id(&owner.env);
        let (list, api) = match address.kind() {
            "resource_group" => {
                let found = self.arm.get(&group, api::RESOURCES).await?;
                let mine = found.filter(|g| {
                    crate::tags_of(g)
                        .get(crate::TOKEN_TAG)
                        .is_some_and(|t| t == token)
                });
                return Ok(mine.map(|g| group::observed(&g, true)));
            }
            "virtual_network" => (
                format!("{group}/providers/Microsoft.Network/virtualNetworks"),
                api::NETWORK,
            ),
            "aks_cluster" => (
                format!("{group}/providers/Microsoft.ContainerService/managedClusters"),
                api::AKS,
            ),
            "node_pool" => (
                format!("{}/agentPools", self.cluster_id(&owner.env)),
                api::AKS,
            ),
            "storage_account" => (
                format!("{group}/providers/Microsoft.Storage/storageAccounts"),
                api::STORAGE,
            ),
            // A subnet's PUT is idempotent: the retried create puts the same one.
            _ => return Ok(None),
        };
        let items = match self.arm.list(&list, api, &[]).await {
            Ok(items) => items,
            Err(e) if e.status == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        let found = items.into_iter().find(|r| {
            let tags = if address.kind() == "node_pool" {
                crate::tags_of(&r["properties"])
            } else {
                crate::tags_of(r)
            };
            tags.get(crate::TOKEN_TAG).is_some_and(|t| t == token)
        });
        Ok(found.map(|r| self.observe(address.kind(), &r)))
    }

    /// What hoist records of a resource of `kind` as ARM answers it.
    pub(crate) fn observe(&self, kind: &str, r: &Value) -> Observed {
        match kind {
            "virtual_network" => network::observed_vnet(r),
            "aks_cluster" => aks::observed(r),
            "node_pool" => pool::observed(r),
            "storage_account" => storage::observed(r),
            "subnet" => network::observed_subnet(r),
            _ => group::observed(r, true),
        }
    }
}
