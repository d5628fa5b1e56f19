//! The GCP provider: what a blueprint's `cloud: gcp` becomes, through Google's official Rust
//! SDK (`google-cloud-container-v1`, `google-cloud-compute-v1`, `google-cloud-auth`), and the
//! Cloud Storage JSON API for buckets (the storage crate makes buckets over gRPC only).
//!
//! Credentials are Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's
//! file, the metadata server); every service's endpoint can be pointed at an emulator, so the
//! same code talks to Google and to the loopback fake the tests run.
//!
//! Ownership: clusters, node pools and buckets carry hoist's labels (mapped to GCP's label
//! rules, see [`labels`]); networks, subnetworks and routers have no labels, so hoist writes
//! the same keys into their description. A resource found by name is adopted only when those
//! name this environment and its lineage.

mod compute;
mod connect;
mod errors;
mod expand;
mod gke;
mod labels;
mod quota;
mod read;
mod rules;
mod storage;

use async_trait::async_trait;
use hoist_provider::{
    Address, ClusterAccess, KindRules, Listing, Observed, Ownership, Provider, ProviderError,
    ResourceConfig, ResourceState, StepContext,
};
use serde_json::Value;

pub use connect::GcpProvider;
pub use expand::GcpModel;

/// JSON in the API's own shape (as Google documents each call) as the SDK's type: request
/// bodies read like the API reference.
pub(crate) fn body<T: serde::de::DeserializeOwned>(
    what: &str,
    v: Value,
) -> Result<T, ProviderError> {
    serde_json::from_value(v)
        .map_err(|e| ProviderError::Fatal(format!("cannot build the {what} request: {e}")))
}

/// The SDK's type in the API's own JSON shape, to read fields by name.
pub(crate) fn as_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

pub(crate) use hoist_provider::{claim, dep_id, made, refreshed, text};

#[async_trait]
impl Provider for GcpProvider {
    fn name(&self) -> &str {
        "gcp"
    }

    fn rules(&self, kind: &str) -> KindRules {
        rules::of(kind)
    }

    /// GKE, Compute Engine and Cloud Storage each have their own rate limits.
    fn api(&self, kind: &str) -> &'static str {
        match kind {
            "gke_cluster" | "node_pool" => "container",
            "gcs_bucket" => "storage",
            _ => "compute",
        }
    }

    /// GKE allows one operation per cluster at a time and a few hundred reads a minute;
    /// Compute Engine's mutation quota is per project and region.
    fn concurrency(&self, api: &str) -> hoist_provider::Concurrency {
        let (initial, max) = match api {
            "container" => (4, 16),
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
            "node_pool" => self.check_quota(config).await,
            "gke_cluster" => self.check_cluster_name(config, owner).await,
            "gcp_network" | "gcp_subnetwork" | "gcp_router" => {
                self.check_network_name(config, owner).await
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        match config.address.kind() {
            "gke_cluster" => self.create_cluster(config, ctx).await,
            "node_pool" => self.create_node_pool(config, ctx).await,
            "gcs_bucket" => self.create_bucket(config, ctx).await,
            kind => self.create_network_part(kind, config, ctx).await,
        }
    }

    async fn update(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        match prior.address.kind() {
            "gke_cluster" => self.update_cluster(prior, config, ctx).await,
            "node_pool" => self.update_node_pool(prior, config).await,
            "gcs_bucket" => self.update_bucket(prior, config, ctx).await,
            kind => self.update_network_part(kind, prior, config).await,
        }
    }

    async fn delete(&self, prior: &ResourceState) -> Result<Vec<String>, ProviderError> {
        match prior.address.kind() {
            "gke_cluster" => self.delete_cluster(prior).await,
            "node_pool" => self.delete_node_pool(prior).await,
            "gcs_bucket" => self.delete_bucket(prior).await,
            kind => self.delete_network_part(kind, prior).await,
        }
    }

    async fn find_by_token(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        match address.kind() {
            "gke_cluster" | "node_pool" => self.find_gke(address, token, owner).await,
            "gcs_bucket" => self.find_bucket(address, token, owner).await,
            kind => self.find_network_part(kind, address, token, owner).await,
        }
    }

    async fn cluster_access(
        &self,
        cluster: &ResourceState,
    ) -> Result<ClusterAccess, ProviderError> {
        if cluster.address.kind() != "gke_cluster" {
            return Err(ProviderError::Fatal(format!(
                "{} has no Kubernetes API that hoist can reach",
                cluster.address
            )));
        }
        self.gke_cluster_access(cluster).await
    }

    async fn list_owned(&self, env: &str) -> Result<Listing, ProviderError> {
        let (network, gke, buckets) = futures::join!(
            self.list_network_parts(env),
            self.list_gke(env),
            self.list_buckets(env)
        );
        let mut out = Listing::part("VPC networks, subnetworks and routers", network)?;
        out.extend(Listing::part("GKE clusters and node pools", gke)?);
        out.extend(Listing::part("Cloud Storage buckets", buckets)?);
        Ok(out)
    }
}

#[async_trait]
impl hoist_provider::Cloud for GcpModel {
    fn name(&self) -> &'static str {
        "gcp"
    }

    /// Google Cloud in the blueprint's region and `project` (else the credentials' project).
    async fn connect(
        &self,
        settings: &hoist_provider::ProviderSettings,
    ) -> Result<std::sync::Arc<dyn Provider>, ProviderError> {
        let project = settings.options.get("project").map(String::as_str);
        Ok(std::sync::Arc::new(
            GcpProvider::connect(&settings.region, project).await?,
        ))
    }

    /// What `gcloud container clusters get-credentials` writes: tokens from
    /// gke-gcloud-auth-plugin, which uses the person's own gcloud login.
    fn kubeconfig(
        &self,
        env: &str,
        cluster: &ResourceState,
        settings: &hoist_provider::ProviderSettings,
    ) -> Option<String> {
        let out = |k: &str| text(&cluster.outputs, k).to_string();
        let project = Some(out("project"))
            .filter(|p| !p.is_empty())
            .or_else(|| settings.options.get("project").cloned())?;
        let name = format!(
            "gke_{project}_{}_{}",
            text(&cluster.attrs, "location"),
            cluster.cloud_id
        );
        Some(hoist_provider::exec_kubeconfig(
            env,
            &name,
            &format!("https://{}", out("endpoint")),
            &out("certificate_authority"),
            "gke-gcloud-auth-plugin",
            &[
                "installHint: Install gke-gcloud-auth-plugin (`gcloud components install gke-gcloud-auth-plugin`, or the google-cloud-cli-gke-gcloud-auth-plugin package)".into(),
                "provideClusterInfo: true".into(),
            ],
        ))
    }
}
