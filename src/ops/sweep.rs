//! Finding what hoist made that no state records: resources carrying its ownership tags in
//! a cloud region, for one environment (less what its state in the backend knows) or for
//! every environment whose `hoist-expires-at` has passed (known to state or not). Needs no
//! blueprint and no state: what it deletes is ordered by the cloud's creation order of kinds.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use hoist_provider::{tags, Address, CloudModel, PoolNodes, Provider, ResourceState};

use super::backend::OpenBackend;

/// What `sweep` looks for.
#[derive(Debug, Clone)]
pub enum Target {
    /// One environment's resources that its state does not record.
    Env(String),
    /// Every environment's resources whose expiry tag has passed.
    Expired,
}

/// One resource to sweep, as listed and read.
#[derive(Debug, Clone)]
pub struct Orphan {
    /// Its `hoist-address` tag, else its kind and cloud id: for people.
    pub shown: String,
    pub env: String,
    pub hourly_usd: f64,
    /// For the engine: a unique address, its cloud id and what the cloud reports.
    pub state: ResourceState,
}

#[derive(Debug, Default)]
pub struct Found {
    pub orphans: Vec<Orphan>,
    /// Parts of the cloud that could not be listed.
    pub skipped: Vec<String>,
}

/// The cloud ids the backend's state of `env` records.
fn known_to(backend: &OpenBackend, env: &str) -> anyhow::Result<HashSet<String>> {
    let peeked = backend.store(env).peek()?;
    Ok(peeked
        .state()
        .map(|s| {
            s.resources
                .values()
                .chain(&s.deposed)
                .map(|r| r.cloud_id.clone())
                .collect()
        })
        .unwrap_or_default())
}

fn expired(tags: &std::collections::BTreeMap<String, String>, now: DateTime<Utc>) -> bool {
    tags.get(tags::EXPIRES_AT)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .is_some_and(|t| t <= now)
}

/// Find what to sweep with `provider` (in `region` of `cloud`).
pub async fn find(
    provider: &dyn Provider,
    model: &dyn CloudModel,
    backend: &OpenBackend,
    target: &Target,
    region: &str,
) -> anyhow::Result<Found> {
    let listing = match target {
        Target::Env(env) => provider.list_owned(env).await?,
        Target::Expired => provider.list_every_owned().await?,
    };
    let known = match target {
        Target::Env(env) => known_to(backend, env)?,
        Target::Expired => HashSet::new(),
    };
    let now = super::now();
    let listed: Vec<_> = listing
        .resources
        .into_iter()
        .filter(|r| r.status != "deleting" && !known.contains(&r.cloud_id))
        .filter(|r| matches!(target, Target::Env(_)) || expired(&r.tags, now))
        .collect();
    let order = model.creation_order();
    let rank = |kind: &str| order.iter().position(|k| *k == kind).unwrap_or(order.len());
    let mut states: Vec<ResourceState> = listed
        .iter()
        .map(|r| ResourceState {
            address: Address::new(r.kind.as_str(), r.cloud_id.as_str()),
            provider: provider.name().into(),
            cloud_id: r.cloud_id.clone(),
            attrs: Default::default(),
            outputs: r.outputs.clone(),
            depends_on: Vec::new(),
            unfinished: None,
        })
        .collect();
    // What each is now (a pool's type and size, for its price; what its delete needs).
    let refs: Vec<&ResourceState> = states.iter().collect();
    let read = provider.read_many(&refs).await;
    for (s, r) in states.iter_mut().zip(read) {
        if let Ok(Some(o)) = r {
            s.attrs = o.attrs;
            s.outputs.extend(o.outputs);
        }
    }
    let all: Vec<(usize, Address)> = states
        .iter()
        .map(|s| (rank(s.address.kind()), s.address.clone()))
        .collect();
    for s in &mut states {
        let mine = rank(s.address.kind());
        s.depends_on = all
            .iter()
            .filter(|(r, _)| *r < mine)
            .map(|(_, a)| a.clone())
            .collect();
    }
    let cloud = provider.name().to_string();
    let orphans = listed
        .into_iter()
        .zip(states)
        .map(|(r, state)| {
            let pools: Vec<PoolNodes> =
                PoolNodes::of(&Address::new(r.kind.as_str(), ""), &state.attrs)
                    .into_iter()
                    .collect();
            Orphan {
                // A part listed with its parent's tags (an EKS node group) is shown by its kind.
                shown: r
                    .tags
                    .get(tags::ADDRESS)
                    .filter(|a| a.split('.').next() == Some(r.kind.as_str()))
                    .cloned()
                    .unwrap_or_else(|| format!("{} {}", r.kind, r.name)),
                env: r.tags.get(tags::ENV).cloned().unwrap_or_default(),
                hourly_usd: super::budget::hourly_of(&cloud, region, &pools),
                state,
            }
        })
        .collect();
    Ok(Found {
        orphans,
        skipped: listing.skipped,
    })
}
