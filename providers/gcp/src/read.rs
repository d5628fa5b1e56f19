//! Refresh: each kind read in as few calls as GCP allows, all kinds at once.

use hoist_provider::{batch_kind, per_resource, Observed, ProviderError, ResourceState};

use crate::compute::Part;
use crate::GcpProvider;

type Answers = Vec<Result<Option<Observed>, ProviderError>>;

impl GcpProvider {
    pub(crate) async fn read_all(&self, resources: &[&ResourceState]) -> Answers {
        let Some(kind) = batch_kind(resources) else {
            // A mixed batch is read resource by resource.
            let mut out = Vec::with_capacity(resources.len());
            for r in resources {
                out.extend(Box::pin(self.read_all(std::slice::from_ref(r))).await);
            }
            return out;
        };
        match kind {
            "node_pool" => self.read_node_pools(resources).await,
            "gke_cluster" => {
                futures::future::join_all(resources.iter().map(|r| self.read_cluster(r))).await
            }
            "gcs_bucket" => {
                futures::future::join_all(resources.iter().map(|r| self.read_bucket(r))).await
            }
            kind => match Part::of(kind) {
                Ok(part) => per_resource(self.read_parts(part, resources).await, resources.len()),
                Err(e) => vec![Err(e); resources.len()],
            },
        }
    }
}
