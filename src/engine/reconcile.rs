//! Reconciling state with the cloud's ownership tags. State can lose resources it recorded (an
//! older state file copied over a newer one, a backup restored): a resource that carries this
//! environment's name and lineage but that state does not know is adopted when the blueprint
//! still has its address, and deleted when it does not, so that no apply makes a second copy
//! of what already runs and nothing is left billing that no state knows.

use std::collections::{BTreeMap, HashSet};

use hoist_provider::{tags, Address, Provider, ProviderError, ResourceConfig, ResourceState};

use super::refresh::{refresh, Observations};
use super::{Observer, Session};

/// What the cloud holds for this state's lineage beyond what state records.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// At addresses the blueprint has and state lacks: recorded by the apply, then planned.
    pub adopted: Vec<ResourceState>,
    /// Anything else (a duplicate at a recorded address, an address gone from the blueprint).
    pub orphans: Vec<ResourceState>,
    /// What the cloud says of each of them.
    pub observed: Observations,
}

impl Found {
    pub fn merge(&mut self, other: Found) {
        self.adopted.extend(other.adopted);
        self.orphans.extend(other.orphans);
        for (a, o) in other.observed {
            self.observed.entry(a).or_insert(o);
        }
    }
}

impl Session {
    /// What `provider` holds for this lineage that state lacks, among `desired` (its own).
    pub(super) async fn reconcile(
        &self,
        provider: &dyn Provider,
        desired: &[&ResourceConfig],
        observer: &dyn Observer,
    ) -> Result<Found, ProviderError> {
        let Some(state) = &self.state else {
            return Ok(Found::default());
        };
        let env = self.env.name.clone();
        let listed = self
            .retry
            .run(&Address::new("environment", env.as_str()), observer, || {
                provider.list_owned(&env)
            })
            .await?;
        let known: HashSet<&str> = state
            .resources
            .values()
            .chain(&state.deposed)
            .map(|r| r.cloud_id.as_str())
            .collect();
        let wanted: BTreeMap<&Address, &ResourceConfig> =
            desired.iter().map(|c| (&c.address, *c)).collect();
        let mut found = Found::default();
        if !listed.skipped.is_empty() {
            observer.event(super::Event::Note {
                address: None,
                message: format!(
                    "warning: state was reconciled with the cloud without {}",
                    listed.skipped.join(", ")
                ),
            });
        }
        for r in listed.resources {
            let ours = r.tags.get(tags::LINEAGE) == Some(&state.lineage);
            let address = r
                .tags
                .get(tags::ADDRESS)
                .and_then(|a| a.parse::<Address>().ok());
            let (Some(address), true) = (address, ours) else {
                continue;
            };
            if known.contains(r.cloud_id.as_str()) || r.status == "deleting" {
                continue;
            }
            let config = wanted.get(&address);
            let mut resource = ResourceState {
                address: address.clone(),
                provider: provider.name().into(),
                cloud_id: r.cloud_id.clone(),
                // What is asked for, overlaid below with what the cloud reports.
                attrs: config.map(|c| c.attrs.clone()).unwrap_or_default(),
                outputs: r.outputs.clone(),
                depends_on: config.map(|c| c.depends_on.clone()).unwrap_or_default(),
                unfinished: None,
            };
            let adoptable = config.is_some()
                && !state.resources.contains_key(&address)
                && !found.adopted.iter().any(|a| a.address == address);
            if adoptable {
                resource.unfinished = Some(
                    "adopted: found by its ownership tags but missing from state (an older state file may have been restored)"
                        .into(),
                );
                found.adopted.push(resource);
            } else {
                found.orphans.push(resource);
            }
        }
        if found.adopted.is_empty() && found.orphans.is_empty() {
            return Ok(found);
        }
        // Separately: an orphan may share its address with an adopted resource.
        for list in [&mut found.adopted, &mut found.orphans] {
            let all: Vec<&ResourceState> = list.iter().collect();
            let observed = refresh(provider, &all, &self.retry, observer).await?;
            for r in list.iter_mut() {
                if let Some(Some(o)) = observed.get(&r.address) {
                    if o.cloud_id == r.cloud_id {
                        r.attrs.extend(o.attrs.clone());
                        r.outputs.extend(o.outputs.clone());
                    }
                }
            }
            if found.observed.is_empty() {
                found.observed = observed;
            }
        }
        Ok(found)
    }
}
