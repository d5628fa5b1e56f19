//! Finishing what an interrupted run left behind, from its journal.

use hoist_provider::ProviderError;
use hoist_state::Journal;

use super::{Event, Observer, Session};

impl Session {
    /// Replay the journal into state and adopt every resource an interrupted create made,
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
        let owner = self.ownership(&state);
        for p in pending {
            let found = self.retry.run(&p.address, observer, || self.provider.find_by_token(&p.address, &p.token, &owner)).await.map_err(|e: ProviderError| anyhow::anyhow!("cannot check whether {} was created by the interrupted run: {e}\n  = hint: the journal {} is kept; retry when the cloud answers", p.address, journal_path(self)))?;
            if let Some(obs) = found {
                observer.event(Event::Note {
                    address: Some(p.address.clone()),
                    message: format!("adopted {} created by the interrupted run", obs.cloud_id),
                });
                // What was asked for, overlaid with what the cloud reports of it.
                let mut attrs = p.attrs;
                let mut adopted = obs.into_state(p.address.clone(), &p.provider, p.depends_on);
                attrs.append(&mut adopted.attrs);
                adopted.attrs = attrs;
                adopted.unfinished = self.provider.rules(p.address.kind()).finish_by_update;
                state.resources.insert(p.address, adopted);
            }
        }
        state.serial += 1;
        state.refresh_outputs();
        self.lock.save(&state)?;
        journal.clear()?;
        self.state = Some(state);
        Ok(())
    }
}

fn journal_path(s: &Session) -> String {
    s.lock.store().journal_path().display().to_string()
}
