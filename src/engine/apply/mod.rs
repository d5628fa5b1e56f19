//! Apply: walk the plan's dependency graph with bounded parallelism.
//!
//! Three phases, each a DAG walk: (1) deletions and the destroy half of destroy-before-create
//! replacements, dependents first; (2) creates, updates and the create half of replacements,
//! dependencies first; (3) the old halves of create-before-destroy replacements. Every create
//! is announced in the journal (with its idempotency token) before the cloud is asked, its
//! cloud id recorded as soon as the call returns, and every finished step journaled, so a
//! crash or a failure at any point is recovered by the next run. The journal is cleared only
//! when every create it announced is accounted for.

mod durable;
mod steps;
mod walk;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoist_provider::{
    resolve_refs, Action, Address, Ownership, Provider, ReplaceOrder, ResourceConfig,
    ResourceState, StepContext,
};
use hoist_state::{Journal, JournalEntry, State};
use serde::Serialize;

use super::{Event, LimiterReport, Observer, Plan, Providers, RetryPolicy, Session};
use walk::run_phase;

/// A step's deadline when its provider sets none.
const DEFAULT_STEP_SECS: u64 = 30 * 60;

pub struct ApplyOptions {
    /// At most this many steps and calls at once (`--parallelism`); `None` lets each
    /// provider's limiter find how wide the cloud allows.
    pub parallelism: Option<usize>,
    /// Set by the first Ctrl-C: start nothing new; running steps finish their calls but stop
    /// waiting and retrying.
    pub cancel: Arc<AtomicBool>,
    /// Every step's deadline (`--timeout`), instead of the provider's default for its kind.
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepFailure {
    pub address: Address,
    pub error: String,
}

#[derive(Debug, Default, Serialize)]
pub struct ApplyReport {
    pub completed: usize,
    pub failed: Vec<StepFailure>,
    pub skipped: Vec<StepFailure>,
    pub not_started: Vec<Address>,
    pub interrupted: bool,
    /// How each provider's concurrency adapted.
    pub concurrency: Vec<LimiterReport>,
    /// Creates announced, and the fsyncs that made their intents durable (group-committed).
    pub intents: usize,
    pub journal_syncs: u64,
}

impl ApplyReport {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && self.not_started.is_empty()
            && !self.interrupted
    }
}

#[derive(Clone)]
pub(super) enum Step {
    Create {
        config: ResourceConfig,
        deposing: Option<ResourceState>,
    },
    Update {
        config: ResourceConfig,
        prior: ResourceState,
    },
    Delete {
        prior: ResourceState,
    },
}

impl Step {
    /// The provider that carries it out.
    pub(super) fn provider(&self) -> &str {
        match self {
            Step::Create { config, .. } | Step::Update { config, .. } => &config.provider,
            Step::Delete { prior } => &prior.provider,
        }
    }

    pub(super) fn address(&self) -> &Address {
        match self {
            Step::Create { config, .. } | Step::Update { config, .. } => &config.address,
            Step::Delete { prior } => &prior.address,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Outcome {
    Done,
    Failed(String),
    Skipped(String),
}

/// What the steps of one apply share.
pub(super) struct Shared {
    providers: Arc<Providers>,
    state: Mutex<State>,
    journal: Arc<Journal>,
    durable: durable::Durable,
    observer: Arc<dyn Observer>,
    retry: RetryPolicy,
    owner: Ownership,
    tags: BTreeMap<String, String>,
    timeout: Option<Duration>,
    /// Creates (by token) and deletes (by cloud id) started and not yet accounted for.
    unresolved: Mutex<HashSet<String>>,
    intents: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// Provider `name`, configured from its source's record in state when it needs one.
    async fn provider(&self, name: &str) -> Result<Arc<dyn Provider>, String> {
        let source = self.providers.source_of(name).and_then(|s| {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.resources.get(s).cloned()
        });
        self.providers
            .get(name, source.as_ref())
            .await
            .map_err(|e| e.to_string())
    }

    /// `config` with every reference to another resource's outputs filled in from state;
    /// its dependencies are done, so a reference that cannot be filled is an error.
    fn resolved(&self, mut config: ResourceConfig) -> Result<ResourceConfig, String> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let missing = resolve_refs(&mut config.attrs, &|of, key| {
            state.resources.get(of)?.outputs.get(key).cloned()
        });
        match missing.first() {
            None => Ok(config),
            Some((of, key)) => Err(format!(
                "{} needs output `{key}` of {of}, which {of} does not have",
                config.address
            )),
        }
    }

    /// What a create or update of `config` gets: its token, tags and its dependencies' state.
    fn context(&self, config: &ResourceConfig, token: String) -> StepContext {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let deps = config
            .depends_on
            .iter()
            .filter_map(|d| state.resources.get(d).map(|r| (d.clone(), r.clone())))
            .collect();
        StepContext {
            token,
            tags: self.owner.tags(&config.address, &self.tags),
            deps,
        }
    }

    fn pending(&self, token: &str, open: bool) {
        let mut set = self.unresolved.lock().unwrap_or_else(|e| e.into_inner());
        if open {
            set.insert(token.to_string());
        } else {
            set.remove(token);
        }
    }

    /// Journal `entry` (durable with the next sync) and fold it into the apply's state.
    fn record(&self, entry: JournalEntry) -> Result<(), String> {
        self.journal.write(&entry).map_err(|e| e.to_string())?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Journal::replay(std::slice::from_ref(&entry), &mut state);
        Ok(())
    }

    /// Journal a create's intent and return once it is on disk, so the cloud is never asked
    /// for something a crash could make the next run forget. The fsync runs off the async
    /// workers, and steps announcing intents meanwhile share it.
    async fn record_intent(&self, entry: JournalEntry) -> Result<(), String> {
        let seq = self.journal.write(&entry).map_err(|e| e.to_string())?;
        self.intents.fetch_add(1, Ordering::Relaxed);
        self.durable.through(seq).await?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Journal::replay(std::slice::from_ref(&entry), &mut state);
        Ok(())
    }
}

impl Session {
    /// Carry out `plan`. State is saved at the end, and the journal keeps it safe meanwhile.
    pub async fn apply(
        &mut self,
        plan: &Plan,
        opts: &ApplyOptions,
        observer: Arc<dyn Observer>,
    ) -> anyhow::Result<ApplyReport> {
        let mut state = self.state_or_new();
        state.expires_at = self.env.expires_at(state.created_at);
        state.settings = serde_json::to_value(&self.env).ok();
        // A new expiry reaches the tags of what this plan leaves as it is, too.
        if self
            .state
            .as_ref()
            .is_some_and(|s| s.expires_at != state.expires_at)
        {
            self.retag(&state, observer.as_ref()).await?;
        }
        if self.state.is_none() {
            // Make the lineage durable before anything carries it as a tag.
            self.lock.save(&state)?;
        }
        let mut retry = self.retry.clone();
        retry.cancel = Some(opts.cancel.clone());
        if let Some(n) = opts.parallelism {
            self.providers.cap(n);
        }
        let journal = Arc::new(self.lock.journal());
        let shared = Arc::new(Shared {
            providers: self.providers.clone(),
            owner: self.ownership(&state),
            state: Mutex::new(state),
            journal: journal.clone(),
            durable: durable::Durable::new(journal),
            observer,
            retry,
            tags: self.env.tags.clone(),
            timeout: opts.timeout,
            unresolved: Mutex::new(HashSet::new()),
            intents: Default::default(),
        });
        // What is gone with the resource that configured its provider is forgotten first.
        for d in &plan.dropped {
            shared.observer.event(Event::Note {
                address: Some(d.address.clone()),
                message: d.reason.clone(),
            });
            shared
                .record(JournalEntry::Removed {
                    address: d.address.clone(),
                    cloud_id: d.cloud_id.clone(),
                })
                .map_err(anyhow::Error::msg)?;
        }
        // Resources found by their ownership tags that state had lost are recorded first.
        for resource in &plan.adopted {
            shared
                .record(JournalEntry::Saved {
                    resource: resource.clone(),
                    replaces: None,
                })
                .map_err(anyhow::Error::msg)?;
        }
        let (destroy, build, cleanup) = phases(
            plan,
            &shared.state.lock().unwrap_or_else(|e| e.into_inner()),
        );
        let mut report = ApplyReport::default();
        let mut failed_addresses: HashSet<Address> = HashSet::new();
        for (steps, forward) in [(destroy, false), (build, true), (cleanup, false)] {
            let outcomes =
                run_phase(&shared, steps.clone(), forward, &failed_addresses, opts).await;
            for (step, outcome) in steps.iter().zip(outcomes) {
                let address = step.address().clone();
                match outcome {
                    Some(Outcome::Done) => report.completed += 1,
                    Some(Outcome::Failed(error)) => {
                        failed_addresses.insert(address.clone());
                        report.failed.push(StepFailure { address, error });
                    }
                    Some(Outcome::Skipped(error)) => {
                        failed_addresses.insert(address.clone());
                        report.skipped.push(StepFailure { address, error });
                    }
                    None => {
                        failed_addresses.insert(address.clone());
                        report.not_started.push(address);
                    }
                }
            }
        }
        report.interrupted = opts.cancel.load(Ordering::SeqCst);
        report.concurrency = self.providers.concurrency_report();
        report.journal_syncs = shared.journal.syncs();
        report.intents = shared.intents.load(Ordering::Relaxed);
        let mut state = shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        state.serial += 1;
        state.refresh_outputs();
        self.lock.save(&state)?;
        steps::failpoint(
            "before-clear",
            &Address::new("environment", self.env.name.as_str()),
        );
        // A create that could not be looked up after it failed, or a delete not seen to
        // finish, stays in the journal, and the next run finds out what the cloud did.
        if shared
            .unresolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
        {
            shared.journal.clear()?;
        }
        self.state = Some(state);
        Ok(report)
    }
}

/// Split a plan into its three phases of steps.
fn phases(plan: &Plan, state: &State) -> (Vec<Step>, Vec<Step>, Vec<Step>) {
    let configs: HashMap<&Address, &ResourceConfig> =
        plan.desired.iter().map(|c| (&c.address, c)).collect();
    let (mut destroy, mut build, mut cleanup) = (Vec::new(), Vec::new(), Vec::new());
    for change in &plan.changes {
        let prior = state.resources.get(&change.address).cloned();
        let config = configs.get(&change.address).map(|c| {
            let mut c = (*c).clone();
            if let Some(after) = &change.after {
                c.attrs = after.clone();
            }
            c
        });
        match (change.action, config, prior) {
            (Action::Create, Some(config), _) => build.push(Step::Create {
                config,
                deposing: None,
            }),
            (Action::Update, Some(config), Some(prior)) => {
                build.push(Step::Update { config, prior })
            }
            (Action::Replace(ReplaceOrder::DestroyBeforeCreate), Some(config), prior) => {
                if let Some(prior) = prior {
                    destroy.push(Step::Delete { prior });
                }
                build.push(Step::Create {
                    config,
                    deposing: None,
                });
            }
            (Action::Replace(ReplaceOrder::CreateBeforeDestroy), Some(config), Some(prior)) => {
                cleanup.push(Step::Delete {
                    prior: prior.clone(),
                });
                build.push(Step::Create {
                    config,
                    deposing: Some(prior),
                });
            }
            // Only an address gone from the blueprint deletes its live resource; a deleted
            // address still in the blueprint is a deposed one, deleted by cloud id below.
            (Action::Delete, None, Some(prior)) => destroy.push(Step::Delete { prior }),
            _ => {}
        }
    }
    for r in state
        .deposed
        .iter()
        .filter(|r| plan.deposed.contains(&r.cloud_id))
    {
        destroy.push(Step::Delete { prior: r.clone() });
    }
    // Duplicates and leftovers found by their ownership tags, unknown to state.
    for r in &plan.orphans {
        destroy.push(Step::Delete { prior: r.clone() });
    }
    (destroy, build, cleanup)
}
