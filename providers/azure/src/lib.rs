//! The Azure provider: what a blueprint's `cloud: azure` becomes. Credentials come from
//! `azure_identity` (service principal, workload identity, Azure CLI, managed identity);
//! resource SKUs and vCPU usages from `azure_mgmt_compute`; resource groups, networks, AKS
//! and storage accounts through a small typed ARM client on `azure_core` ([`arm`]), since no
//! maintained crate covers them.
//!
//! Ownership: everything taggable carries hoist's tags (`hoist-env`, `hoist-lineage`,
//! `hoist-address`, `hoist-expires-at`, and `hoist-token` for the create that made it).
//! Subnets take no tags and belong to their network. A resource found by name is adopted
//! only when its tags name this environment and lineage; a resource group the blueprint names
//! that hoist did not make is used as it is and never tagged, changed or deleted.

mod arm;
mod capacity;
mod connect;
mod credentials;
mod expand;
mod list;
mod read;
mod resources;
mod rules;

use std::collections::BTreeMap;

use async_trait::async_trait;
use hoist_provider::{
    Address, ClusterAccess, KindRules, Listing, Observed, Ownership, Provider, ProviderError,
    ResourceConfig, ResourceState, StepContext,
};
use serde_json::Value;

pub use connect::AzureProvider;
pub use expand::AzureModel;
pub(crate) use hoist_provider::{claim, dep, made, refreshed, text};

/// The tag that names the create which made a resource, to find it after a crash.
pub(crate) const TOKEN_TAG: &str = "hoist-token";

/// The strings of a JSON array (empty for anything else).
pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// A resource's `tags` as a map.
pub(crate) fn tags_of(resource: &Value) -> BTreeMap<String, String> {
    resource
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The tags a create writes: the step's ownership and user tags, and its token.
pub(crate) fn create_tags(ctx: &StepContext) -> BTreeMap<String, String> {
    let mut t = ctx.tags.clone();
    t.insert(TOKEN_TAG.into(), ctx.token.clone());
    t
}

#[async_trait]
impl Provider for AzureProvider {
    fn name(&self) -> &str {
        "azure"
    }

    fn rules(&self, kind: &str) -> KindRules {
        rules::of(kind)
    }

    /// ARM throttles per subscription and resource provider.
    fn api(&self, kind: &str) -> &'static str {
        match kind {
            "aks_cluster" | "node_pool" => "containerservice",
            "storage_account" => "storage",
            _ => "network",
        }
    }

    /// AKS runs one operation per cluster at a time; ARM allows about 1,200 writes an hour
    /// per subscription.
    fn concurrency(&self, api: &str) -> hoist_provider::Concurrency {
        let (initial, max) = match api {
            "containerservice" => (4, 12),
            _ => (8, 32),
        };
        hoist_provider::Concurrency { initial, max }
    }

    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>> {
        self.read_all(resources).await
    }

    async fn place(
        &self,
        config: &mut ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        match config.address.kind() {
            "node_pool" => {
                self.place_pool(config, ["instance_type", "max", "zones", "capacity"])
                    .await
            }
            "aks_cluster" => {
                let mut notes = self.check_cluster_name(config, owner).await?;
                notes.extend(
                    self.place_pool(
                        config,
                        [
                            "system_instance_type",
                            "system_max",
                            "system_zones",
                            "system_capacity",
                        ],
                    )
                    .await?,
                );
                Ok(notes)
            }
            "resource_group" => self.check_group(config, owner).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        match config.address.kind() {
            "resource_group" => self.create_group(config, ctx).await,
            "virtual_network" => self.create_vnet(config, ctx).await,
            "subnet" => self.put_subnet(config, ctx).await,
            "aks_cluster" => self.create_cluster(config, ctx).await,
            "node_pool" => self.create_pool(config, ctx).await,
            "storage_account" => self.create_account(config, ctx).await,
            kind => Err(unknown(kind)),
        }
    }

    async fn update(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        match prior.address.kind() {
            "resource_group" => self.update_group(prior, config, ctx).await,
            "virtual_network" => self.update_vnet(prior, config, ctx).await,
            "subnet" => self.put_subnet(config, ctx).await,
            "aks_cluster" => self.update_cluster(prior, config, ctx).await,
            "node_pool" => self.update_pool(prior, config, ctx).await,
            "storage_account" => self.update_account(prior, config, ctx).await,
            kind => Err(unknown(kind)),
        }
    }

    async fn delete(&self, prior: &ResourceState) -> Result<Vec<String>, ProviderError> {
        match prior.address.kind() {
            "resource_group" => self.delete_group(prior).await,
            kind => {
                let api = resources::api_of(kind);
                self.arm
                    .delete(&prior.cloud_id, api)
                    .await
                    .map_err(|e| e.for_resource(&prior.address.to_string(), &self.location))?;
                Ok(Vec::new())
            }
        }
    }

    async fn find_by_token(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        self.find(address, token, owner)
            .await
            .map_err(|e| e.for_resource(&address.to_string(), &self.location))
    }

    async fn cluster_access(
        &self,
        cluster: &ResourceState,
    ) -> Result<ClusterAccess, ProviderError> {
        if cluster.address.kind() != "aks_cluster" {
            return Err(ProviderError::Fatal(format!(
                "{} has no Kubernetes API that hoist can reach",
                cluster.address
            )));
        }
        self.aks_access(cluster).await
    }

    async fn list_owned(&self, env: &str) -> Result<Listing, ProviderError> {
        self.list_env(env).await
    }
}

fn unknown(kind: &str) -> ProviderError {
    ProviderError::Fatal(format!("the azure provider makes no `{kind}`"))
}

#[async_trait]
impl hoist_provider::Cloud for AzureModel {
    fn name(&self) -> &'static str {
        "azure"
    }

    /// Azure in the blueprint's location and subscription (else `AZURE_SUBSCRIPTION_ID`).
    async fn connect(
        &self,
        settings: &hoist_provider::ProviderSettings,
    ) -> Result<std::sync::Arc<dyn Provider>, ProviderError> {
        let option = |k: &str| settings.options.get(k).map(String::as_str);
        Ok(std::sync::Arc::new(
            AzureProvider::connect(
                &settings.region,
                option("subscription_id"),
                option("resource_group"),
            )
            .await?,
        ))
    }

    /// What `az aks get-credentials` then `kubelogin convert-kubeconfig -l azurecli` write:
    /// kubelogin gets Entra ID tokens from the person's own Azure CLI login.
    fn kubeconfig(
        &self,
        env: &str,
        cluster: &ResourceState,
        _settings: &hoist_provider::ProviderSettings,
    ) -> Option<String> {
        let out = |k: &str| text(&cluster.outputs, k).to_string();
        let server = out("server");
        if server.is_empty() {
            return None;
        }
        Some(hoist_provider::exec_kubeconfig(
            env,
            text(&cluster.attrs, "name"),
            &server,
            &out("certificate_authority"),
            "kubelogin",
            &[
                format!(
                    "args: [get-token, --login, azurecli, --server-id, {}]",
                    credentials::AKS_SERVER_ID
                ),
                "installHint: Install kubelogin (`az aks install-cli`, or https://azure.github.io/kubelogin)".into(),
            ],
        ))
    }
}
