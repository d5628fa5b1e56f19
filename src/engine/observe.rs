//! Reading the cloud before a plan or a drift check, provider by provider: first every
//! provider that needs nothing, then each provider configured from a resource, once that
//! resource is seen to exist. When it does not, what that provider made is gone with it: its
//! records are dropped from state instead of read (a deleted cluster's objects cannot be
//! asked about, and must not fail the run).

use std::collections::BTreeMap;

use hoist_provider::{Address, Lifecycle, Provider, ProviderError, ResourceConfig, ResourceState};

use super::plan::{Dropped, PlanError};
use super::reconcile::Found;
use super::refresh::{refresh, Observations};
use super::{Event, Observer, Session};

/// What a plan knows of the cloud.
#[derive(Default)]
pub(super) struct View {
    pub observed: Observations,
    pub found: Found,
    pub dropped: Vec<Dropped>,
}

impl Session {
    /// What the cloud says of every resource state records (gone when the resource that
    /// configures its provider is gone), for drift checks.
    pub async fn refresh_state(&self, observer: &dyn Observer) -> Result<Observations, PlanError> {
        Ok(self.observe(&[], false, observer).await?.observed)
    }

    /// Read everything state records, and (when `reconcile`) find what carries this
    /// environment's tags that state lacks.
    pub(super) async fn observe(
        &self,
        desired: &[ResourceConfig],
        reconcile: bool,
        observer: &dyn Observer,
    ) -> Result<View, PlanError> {
        let by_provider = self.records_by_provider();
        let mut view = View::default();
        for name in by_provider.keys() {
            if self.providers.ready(name).is_none() && self.providers.source_of(name).is_none() {
                return Err(PlanError::Refresh(ProviderError::Fatal(format!(
                    "state records resources of provider `{name}`, which this run does not have"
                ))));
            }
        }
        let ready: Vec<(std::sync::Arc<dyn Provider>, Vec<&ResourceState>)> = self
            .providers
            .all_ready()
            .into_iter()
            .map(|p| {
                let list = by_provider.get(p.name()).cloned().unwrap_or_default();
                (p, list)
            })
            .collect();
        self.read(&ready, desired, reconcile, &mut view, observer)
            .await?;
        for (name, source) in self.providers.sources() {
            let list = by_provider.get(name).cloned().unwrap_or_default();
            // A layer this environment does not use (no stack) costs nothing to plan.
            let wanted = desired
                .iter()
                .any(|c| self.providers.canonical(&c.provider) == name);
            if list.is_empty() && !wanted {
                continue;
            }
            let Some(record) = self.live_source(source, &view.observed) else {
                view.dropped
                    .extend(self.gone_with(source, &list, &view.observed));
                for r in &list {
                    view.observed.insert(r.address.clone(), None);
                }
                continue;
            };
            let provider = self
                .providers
                .get(name, Some(&record))
                .await
                .map_err(|u| PlanError::Refresh(u.into()))?;
            self.read(&[(provider, list)], desired, reconcile, &mut view, observer)
                .await?;
        }
        for d in &view.dropped {
            observer.event(Event::Note {
                address: Some(d.address.clone()),
                message: d.reason.clone(),
            });
        }
        Ok(view)
    }

    /// State's records, by provider (unnamed ones under the environment's cloud).
    fn records_by_provider(&self) -> BTreeMap<String, Vec<&ResourceState>> {
        let mut out: BTreeMap<String, Vec<&ResourceState>> = BTreeMap::new();
        for r in self.state.iter().flat_map(|s| s.resources.values()) {
            out.entry(self.providers.canonical(&r.provider).to_string())
                .or_default()
                .push(r);
        }
        out
    }

    /// Refresh (and reconcile) each of `providers`' records, all at once, into `view`.
    async fn read(
        &self,
        providers: &[(std::sync::Arc<dyn Provider>, Vec<&ResourceState>)],
        desired: &[ResourceConfig],
        reconcile: bool,
        view: &mut View,
        observer: &dyn Observer,
    ) -> Result<(), PlanError> {
        let reads = providers
            .iter()
            .map(|(p, list)| refresh(p.as_ref(), list, &self.retry, observer));
        let finds = providers.iter().filter(|_| reconcile).map(|(p, _)| {
            let mine: Vec<&ResourceConfig> = desired
                .iter()
                .filter(|c| self.providers.canonical(&c.provider) == p.name())
                .collect();
            async move { self.reconcile(p.as_ref(), &mine, observer).await }
        });
        let (reads, finds) = futures::join!(
            futures::future::join_all(reads),
            futures::future::join_all(finds)
        );
        for read in reads {
            view.observed.extend(read.map_err(PlanError::Refresh)?);
        }
        for found in finds {
            // Finding what state lacks is a check: one that cannot run is a warning.
            match found {
                Ok(f) => view.found.merge(f),
                Err(e) => observer.event(Event::Note {
                    address: None,
                    message: format!("warning: could not list what carries this environment's tags, so state was not reconciled with the cloud: {e}"),
                }),
            }
        }
        Ok(())
    }

    /// `source`'s record with its live outputs, when it exists and can serve.
    fn live_source(&self, source: &Address, observed: &Observations) -> Option<ResourceState> {
        let mut record = self.state.as_ref()?.resources.get(source)?.clone();
        let live = observed.get(source)?.as_ref()?;
        if matches!(
            live.lifecycle,
            Lifecycle::Deleting | Lifecycle::Failed { .. }
        ) {
            return None;
        }
        record.outputs.extend(live.outputs.clone());
        Some(record)
    }

    /// The records of a provider whose source cannot serve, to drop from state.
    fn gone_with(
        &self,
        source: &Address,
        records: &[&ResourceState],
        observed: &Observations,
    ) -> Vec<Dropped> {
        let recorded = self
            .state
            .as_ref()
            .is_some_and(|s| s.resources.contains_key(source));
        let why = match observed.get(source) {
            _ if !recorded => "is not recorded in state",
            Some(None) => "was deleted outside hoist",
            Some(Some(_)) => "is failed or being deleted",
            None => "was not read",
        };
        records
            .iter()
            .map(|r| Dropped {
                address: r.address.clone(),
                cloud_id: r.cloud_id.clone(),
                reason: format!(
                    "{} is gone with {source}, which {why}; dropped from state without a call",
                    r.address
                ),
            })
            .collect()
    }
}
