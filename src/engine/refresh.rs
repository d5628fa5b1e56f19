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

/// Read every resource in `resources`, in batches the provider can answer in few calls.
pub async fn refresh(
    provider: &dyn Provider,
    resources: &[&ResourceState],
    retry: &RetryPolicy,
    observer: &dyn Observer,
) -> Result<Observations, ProviderError> {
    let mut out = Observations::new();
    for chunk in resources.chunks(BATCH) {
        let batch: Vec<ResourceState> = chunk.iter().map(|r| (*r).clone()).collect();
        let label = batch[0].address.clone();
        let answers = retry
            .run(&label, observer, || async {
                let answers = provider.read_many(&batch).await;
                match answers.iter().find_map(|a| a.as_ref().err()) {
                    Some(e) => Err(e.clone()),
                    None => Ok(answers),
                }
            })
            .await?;
        for (r, answer) in batch.iter().zip(answers) {
            out.insert(r.address.clone(), answer?);
        }
    }
    Ok(out)
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
pub fn drift(provider: &dyn Provider, state: &State, observed: &Observations) -> Vec<Drift> {
    let mut out = Vec::new();
    for r in state.resources.values() {
        let kind = match observed.get(&r.address) {
            Some(None) => DriftKind::Deleted,
            Some(Some(o)) => {
                let d = diff_attrs(&provider.rules(r.address.kind()), &r.attrs, &o.attrs);
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

/// Refresh with a session's provider and retry policy.
pub async fn refresh_all(
    session: &super::Session,
    resources: &[&ResourceState],
    observer: &dyn Observer,
) -> Result<Observations, ProviderError> {
    refresh(
        session.provider.as_ref(),
        resources,
        &session.retry,
        observer,
    )
    .await
}
