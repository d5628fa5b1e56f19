//! The MLOps stack: the blueprint's `stack` rendered into Kubernetes objects from handlebars
//! templates kept beside this code, and a provider that applies them to the environment's
//! cluster with kube-rs. The cluster's cloud says how to reach it ([`ClusterAccess`]); this
//! crate knows nothing else about clouds.

mod client;
mod components;
mod expand;
mod fields;
mod kinds;
mod labels;
mod pins;
mod provider;
mod ready;
mod refresh;
mod render;

use std::sync::Arc;

use async_trait::async_trait;
use hoist_provider::{Address, Provider, ProviderError, ProviderFactory, ResourceState};

pub use client::client;
pub use components::{render, Component};
pub use expand::{expand, KIND};
pub use provider::{KubeProvider, FIELD_MANAGER};
pub use render::RenderError;

/// The object whose fields `attrs` holds (a resource's configuration or record).
pub fn object_of(attrs: &hoist_provider::Attrs) -> Option<serde_json::Value> {
    fields::unflatten(attrs)
}

/// The provider name stack objects record.
pub const NAME: &str = "kube";

/// Makes the stack's provider once the cluster exists, from what its cloud says about
/// reaching it (asked of the cloud's provider, which made the cluster).
pub struct KubeFactory {
    cloud: Arc<dyn Provider>,
    cluster: Address,
    env: String,
}

impl KubeFactory {
    pub fn new(cloud: Arc<dyn Provider>, cluster: Address, env: &str) -> Self {
        Self {
            cloud,
            cluster,
            env: env.to_string(),
        }
    }
}

#[async_trait]
impl ProviderFactory for KubeFactory {
    fn name(&self) -> &str {
        NAME
    }

    fn source(&self) -> &Address {
        &self.cluster
    }

    async fn configure(&self, source: &ResourceState) -> Result<Arc<dyn Provider>, ProviderError> {
        let access = self.cloud.cluster_access(source).await?;
        Ok(Arc::new(KubeProvider::new(
            client(&access).await?,
            &self.env,
            self.cluster.clone(),
        )))
    }
}
