//! GKE: the cluster, its node pools, and the operations GKE answers every change with.
//!
//! GKE returns an `Operation` for each change and runs one at a time per cluster; hoist polls
//! it (by its full name, from project and location) until DONE and reads its error. A node
//! pool operation that ran out of capacity becomes a capacity error naming the zones, so the
//! engine moves the pool to the zones left.

mod access;
mod cluster;
mod list;
mod pool;

use std::time::Duration;

use google_cloud_container_v1::model::operation::Status;
use google_cloud_container_v1::model::{Cluster, NodePool, Operation};
use serde_json::{json, Value};

use crate::as_json;
use hoist_provider::ProviderError;

use crate::errors::classify;
use crate::GcpProvider;

pub(crate) const SERVICE: &str = "GKE";
/// GKE's words for a zone out of the machines asked for.
const STOCKOUT: &[&str] = &[
    "GCE_STOCKOUT",
    "ZONE_RESOURCE_POOL_EXHAUSTED",
    "does not have enough resources available",
];

/// A node pool in the API's JSON shape, its status by name (the SDK asks GKE for enums as
/// numbers, and writes them back as numbers).
pub(crate) fn pool_json(p: &NodePool) -> Value {
    let mut v = as_json(p);
    v["status"] = json!(p.status.name().unwrap_or_default());
    v
}

/// A cluster in the API's JSON shape, its and its pools' status by name.
pub(crate) fn cluster_json(c: &Cluster) -> Value {
    let mut v = as_json(c);
    v["status"] = json!(c.status.name().unwrap_or_default());
    v["nodePools"] = Value::Array(c.node_pools.iter().map(pool_json).collect());
    v
}

/// `projects/P/locations/L`.
pub(crate) fn parent(project: &str, location: &str) -> String {
    format!("projects/{project}/locations/{location}")
}

/// `projects/P/locations/L/clusters/C`.
pub(crate) fn cluster_name(project: &str, location: &str, cluster: &str) -> String {
    format!("{}/clusters/{cluster}", parent(project, location))
}

/// The zones of `region` that `message` names.
pub(crate) fn zones_named(message: &str, region: &str) -> Vec<String> {
    let mut zones: Vec<String> = message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| {
            w.len() == region.len() + 2
                && w.starts_with(region)
                && w.as_bytes()[region.len()] == b'-'
        })
        .map(String::from)
        .collect();
    zones.sort();
    zones.dedup();
    zones
}

/// Why a finished operation failed, when it did.
pub(crate) fn op_error(op: &Operation) -> Option<String> {
    let error = op.error.as_ref()?;
    Some(error.message.clone())
        .filter(|m| !m.is_empty())
        .or_else(|| Some(format!("error code {}", error.code)))
}

/// Whether a failed operation's message says the zones ran out of machines.
pub(crate) fn is_stockout(message: &str) -> bool {
    STOCKOUT.iter().any(|s| message.contains(s))
}

impl GcpProvider {
    /// Poll `op` until GKE says it is DONE; an operation that failed is an error.
    pub(crate) async fn wait(
        &self,
        op: Operation,
        location: &str,
        what: &str,
    ) -> Result<Operation, ProviderError> {
        let op = self.wait_done(op, location, what).await?;
        match op_error(&op) {
            Some(message) => Err(ProviderError::Fatal(format!("{what} failed: {message}"))),
            None => Ok(op),
        }
    }

    /// Poll `op` until GKE says it is DONE, failed or not.
    pub(crate) async fn wait_done(
        &self,
        mut op: Operation,
        location: &str,
        what: &str,
    ) -> Result<Operation, ProviderError> {
        let name = format!("{}/operations/{}", parent(&self.project, location), op.name);
        let mut pause = Duration::from_millis(400);
        while op.status != Status::Done {
            tokio::time::sleep(pause).await;
            pause = (pause.mul_f32(1.5)).min(Duration::from_secs(10));
            op = match self.gke.get_operation().set_name(&name).send().await {
                Ok(op) => op,
                Err(e) => match classify(SERVICE, &format!("poll of {what}"), e) {
                    e if e.is_retryable() => continue,
                    e => return Err(e),
                },
            };
        }
        Ok(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stockout_messages_name_their_zones() {
        let m = "Google Compute Engine: Not all instances running in IGM after 35m. GCE_STOCKOUT in zone us-central1-a: The zone 'projects/p/zones/us-central1-a' does not have enough resources available to fulfill the request.";
        assert!(is_stockout(m));
        assert_eq!(zones_named(m, "us-central1"), vec!["us-central1-a"]);
        assert!(zones_named("us-central1 is fine", "us-central1").is_empty());
    }
}
