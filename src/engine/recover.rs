//! Finishing what an interrupted run left behind, from its journal.

use hoist_provider::{Lifecycle, Observed, ProviderError};
use hoist_state::{Journal, JournalEntry, Pending};

use super::{Event, Observer, Session};

impl Session {
    /// Replay the journal into state and settle every create an interrupted run started,
    /// found by its idempotency token, so that nothing is created twice or left orphaned.
    pub(super) async fn recover(&mut self, observer: &dyn Observer) -> anyhow::Result<()> {
        let journal = self.lock.journal();
        let entries = journal.read()?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut state = self.state_or_new();
        let pending = Journal::replay(&entries, &mut state);
        observer.event(Event::Note {
            address: None,
            message: format!(
                "recovering an interrupted run: {} journal entries, {} unfinished creates",
                entries.len(),
                pending.len()
            ),
        });
        self.settle_deletes(&entries, &mut state, observer).await?;
        let owner = self.ownership(&state);
        for p in pending {
            let Some(provider) = self
                .provider_in(&p.provider, &state, &p.address, observer)
                .await?
            else {
                continue;
            };
            let found = self.retry.run(&p.address, observer, || provider.find_by_token(&p.address, &p.token, &owner)).await.map_err(|e: ProviderError| anyhow::anyhow!("cannot check whether {} was created by the interrupted run: {e}\n  = hint: the journal {} is kept; retry when the cloud answers", p.address, self.lock.store().journal_path().display()))?;
            let Some(obs) = found else { continue };
            let entry = self.settle_found(p, obs, observer);
            Journal::replay(std::slice::from_ref(&entry), &mut state);
        }
        state.serial += 1;
        state.refresh_outputs();
        self.lock.save(&state)?;
        journal.clear()?;
        self.state = Some(state);
        Ok(())
    }

    /// Provider `name` as `state` configures it; `None` (with a note) when it is configured
    /// from a resource that state no longer has, as what it made is gone with that.
    async fn provider_in(
        &self,
        name: &str,
        state: &hoist_state::State,
        address: &hoist_provider::Address,
        observer: &dyn Observer,
    ) -> anyhow::Result<Option<std::sync::Arc<dyn hoist_provider::Provider>>> {
        let source = self
            .providers
            .source_of(name)
            .and_then(|s| state.resources.get(s));
        match self.providers.get(name, source).await {
            Ok(p) => Ok(Some(p)),
            Err(crate::engine::Unavailable::NoSource { from: source, .. }) => {
                observer.event(Event::Note {
                    address: Some(address.clone()),
                    message: format!("not checked: {source}, which configures its provider, is gone, and what it held with it"),
                });
                Ok(None)
            }
            Err(e) => Err(anyhow::anyhow!(
                "cannot finish the interrupted run's step on {address}: {e}"
            )),
        }
    }

    /// A delete the interrupted run started: forgotten once the cloud no longer has it.
    async fn settle_deletes(
        &self,
        entries: &[JournalEntry],
        state: &mut hoist_state::State,
        observer: &dyn Observer,
    ) -> anyhow::Result<()> {
        let started = Journal::unfinished_deletes(entries);
        let records: Vec<hoist_provider::ResourceState> = started
            .iter()
            .filter_map(|(address, id)| {
                state
                    .resources
                    .get(address)
                    .filter(|r| &r.cloud_id == id)
                    .or_else(|| state.deposed.iter().find(|r| &r.cloud_id == id))
                    .cloned()
            })
            .collect();
        if records.is_empty() {
            return Ok(());
        }
        let mut providers = Vec::new();
        for r in &records {
            providers.push(
                self.provider_in(&r.provider, state, &r.address, observer)
                    .await?,
            );
        }
        // One read each: a deposed record may share its address with a current one.
        let reads = records.iter().zip(&providers).map(|(r, p)| {
            self.retry.run(&r.address, observer, move || async move {
                let Some(p) = p else { return Ok(None) };
                p.read_many(std::slice::from_ref(&r))
                    .await
                    .pop()
                    .unwrap_or(Ok(None))
            })
        });
        let seen = futures::future::join_all(reads).await;
        for (r, seen) in records.iter().zip(seen) {
            let seen = seen.map_err(|e| anyhow::anyhow!("cannot check whether {} was deleted by the interrupted run: {e}\n  = hint: the journal is kept; retry when the cloud answers", r.address))?;
            if seen.is_none() {
                let removed = JournalEntry::Removed {
                    address: r.address.clone(),
                    cloud_id: r.cloud_id.clone(),
                };
                Journal::replay(std::slice::from_ref(&removed), state);
            }
        }
        Ok(())
    }

    /// What an interrupted create made becomes: current (to be finished by an update when it
    /// may be incomplete), or, for a replacement that is not ready, deposed, so that the live
    /// resource it was to replace stays current.
    fn settle_found(&self, p: Pending, obs: Observed, observer: &dyn Observer) -> JournalEntry {
        let ready = obs.lifecycle == Lifecycle::Ready;
        let multi_step = self
            .providers
            .rules(&p.provider, p.address.kind())
            .finish_by_update;
        // What was asked for, overlaid with what the cloud reports of it.
        let mut attrs = p.attrs;
        let mut found = obs.into_state(p.address.clone(), &p.provider, p.depends_on);
        attrs.append(&mut found.attrs);
        found.attrs = attrs;
        let verb = match (&p.replaces, ready) {
            (Some(_), false) => "found the replacement made by the interrupted run not ready; it will be deleted and the current one kept:",
            _ => "adopted",
        };
        observer.event(Event::Note {
            address: Some(p.address.clone()),
            message: format!("{verb} {} created by the interrupted run", found.cloud_id),
        });
        if p.replaces.is_some() && !ready {
            found.unfinished = Some("was not ready when its run was interrupted".into());
            return JournalEntry::Deposed { resource: found };
        }
        if multi_step || !ready {
            found.unfinished =
                Some("adopted after an interrupted create; finishing its setup".into());
        }
        JournalEntry::Saved {
            resource: found,
            replaces: p.replaces,
        }
    }
}
