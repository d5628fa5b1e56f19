//! Refresh (ask the cloud about everything state knows) and drift (what changed behind hoist's back).

use std::collections::BTreeMap;

use hoist_provider::{
    diff_attrs, Address, FieldDiff, Observed, Provider, ProviderError, ResourceState,
};
use hoist_state::State;
use serde::Serialize;

use super::{Observer, RetryPolicy};

/// What the cloud says about each resource: `None` when it is gone.
pub type Observations = BTreeMap<Address, Option<Observed>>;

const BATCH: usize = 1000;

/// Read every resource in `resources`: one batch per kind (up to `BATCH`), all batches at once,
/// so a provider can answer each with a single describe call.
pub async fn refresh(
    provider: &dyn Provider,
    resources: &[&ResourceState],
    retry: &RetryPolicy,
    observer: &dyn Observer,
) -> Result<Observations, ProviderError> {
    let mut by_kind: BTreeMap<&str, Vec<&ResourceState>> = BTreeMap::new();
    for r in resources {
        by_kind.entry(r.address.kind()).or_default().push(r);
    }
    let batches: Vec<&[&ResourceState]> = by_kind.values().flat_map(|v| v.chunks(BATCH)).collect();
    let reads = batches
        .iter()
        .map(|batch| read_batch(provider, batch, retry, observer));
    let mut out = Observations::new();
    for (batch, answers) in batches.iter().zip(futures::future::join_all(reads).await) {
        for (r, answer) in batch.iter().zip(answers?) {
            out.insert(r.address.clone(), answer);
        }
    }
    Ok(out)
}

/// One batch, retried as a whole while any answer in it is a retryable error.
async fn read_batch(
    provider: &dyn Provider,
    batch: &[&ResourceState],
    retry: &RetryPolicy,
    observer: &dyn Observer,
) -> Result<Vec<Option<Observed>>, ProviderError> {
    retry
        .run(&batch[0].address, observer, || async {
            provider
                .read_many(batch)
                .await
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
        })
        .await
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftKind {
    /// Attributes differ from what hoist last applied.
    Changed { fields: Vec<FieldDiff> },
    /// The resource no longer exists.
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub address: Address,
    pub cloud_id: String,
    #[serde(flatten)]
    pub kind: DriftKind,
}

/// Compare what the cloud reports with what hoist recorded. Fields owned by an autoscaler
/// are not drift.
pub fn drift(providers: &super::Providers, state: &State, observed: &Observations) -> Vec<Drift> {
    let mut out = Vec::new();
    for r in state.resources.values() {
        let kind = match observed.get(&r.address) {
            Some(None) => DriftKind::Deleted,
            Some(Some(o)) => {
                let rules = providers.rules(&r.provider, r.address.kind());
                let d = diff_attrs(&rules, &r.attrs, &o.attrs);
                if d.diffs.is_empty() {
                    continue;
                }
                // Report before = recorded, after = live.
                let fields = d
                    .diffs
                    .into_iter()
                    .map(|f| FieldDiff {
                        before: f.after,
                        after: f.before,
                        ..f
                    })
                    .collect();
                DriftKind::Changed { fields }
            }
            None => continue,
        };
        out.push(Drift {
            address: r.address.clone(),
            cloud_id: r.cloud_id.clone(),
            kind,
        });
    }
    out
}
