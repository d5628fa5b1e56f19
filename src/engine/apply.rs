//! Apply: walk the plan's dependency graph with bounded parallelism.
//!
//! Three phases, each a DAG walk: (1) deletions and the destroy half of destroy-before-create
//! replacements, dependents first; (2) creates, updates and the create half of replacements,
//! dependencies first; (3) the old halves of create-before-destroy replacements. Every create
//! is announced in the journal (with its idempotency token) before the cloud is asked, and
//! every finished step is journaled before the next starts, so a crash at any point is
//! recovered by the next run.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hoist_provider::{
    Action, Address, Ownership, Provider, ProviderError, ReplaceOrder, ResourceConfig,
    ResourceState, StepContext,
};
use hoist_state::{Journal, JournalEntry, State};
use serde::Serialize;
use serde_json::json;

use super::retry::{wait_for, IsGone, IsReady};
use super::{Event, Observer, Plan, RetryPolicy, Session};

pub struct ApplyOptions {
    pub parallelism: usize,
    /// Set by the first Ctrl-C: start nothing new, let running steps finish.
    pub cancel: Arc<AtomicBool>,
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
enum Step {
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
    fn address(&self) -> &Address {
        match self {
            Step::Create { config, .. } | Step::Update { config, .. } => &config.address,
            Step::Delete { prior } => &prior.address,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Done,
    Failed(String),
    Skipped(String),
}

/// What the steps of one apply share.
struct Shared {
    provider: Arc<dyn Provider>,
    state: Mutex<State>,
    journal: Journal,
    observer: Arc<dyn Observer>,
    retry: RetryPolicy,
    owner: Ownership,
    tags: BTreeMap<String, String>,
}

impl Shared {
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

    fn record(&self, entry: JournalEntry) -> Result<(), String> {
        self.journal.append(&entry).map_err(|e| e.to_string())?;
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
        if self.state.is_none() {
            // Make the lineage durable before anything carries it as a tag.
            self.lock.save(&state)?;
        }
        let shared = Arc::new(Shared {
            provider: self.provider.clone(),
            owner: self.ownership(&state),
            state: Mutex::new(state),
            journal: self.lock.journal(),
            observer,
            retry: self.retry.clone(),
            tags: self.env.tags.clone(),
        });
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
        let mut state = shared
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        state.serial += 1;
        state.refresh_outputs();
        self.lock.save(&state)?;
        shared.journal.clear()?;
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
    (destroy, build, cleanup)
}

/// Prerequisites of each step: forward = dependencies first; backward = dependents first.
fn prerequisites(steps: &[Step], forward: bool) -> Vec<Vec<usize>> {
    let index: HashMap<&Address, Vec<usize>> =
        steps
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, s)| {
                m.entry(s.address()).or_default().push(i);
                m
            });
    let deps_of = |s: &Step| -> Vec<Address> {
        match s {
            Step::Create { config, .. } | Step::Update { config, .. } => config.depends_on.clone(),
            Step::Delete { prior } => prior.depends_on.clone(),
        }
    };
    let mut pre = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for dep in deps_of(s) {
            for &j in index.get(&dep).into_iter().flatten() {
                if forward {
                    pre[i].push(j);
                } else {
                    pre[j].push(i);
                }
            }
        }
    }
    pre
}

/// Run one phase's DAG; `None` for steps never started (interrupted).
async fn run_phase(
    shared: &Arc<Shared>,
    steps: Vec<Step>,
    forward: bool,
    failed_before: &HashSet<Address>,
    opts: &ApplyOptions,
) -> Vec<Option<Outcome>> {
    let pre = prerequisites(&steps, forward);
    let mut waiting: Vec<usize> = pre.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); steps.len()];
    for (i, ps) in pre.iter().enumerate() {
        for &p in ps {
            dependents[p].push(i);
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; steps.len()];
    let mut ready: VecDeque<usize> = (0..steps.len()).filter(|&i| waiting[i] == 0).collect();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < opts.parallelism.max(1) && !opts.cancel.load(Ordering::SeqCst) {
            let Some(i) = ready.pop_front() else { break };
            let blocker = pre[i]
                .iter()
                .find(|&&p| outcomes[p] != Some(Outcome::Done))
                .map(|&p| steps[p].address().clone());
            let blocker = blocker.or_else(|| {
                failed_before
                    .contains(steps[i].address())
                    .then(|| steps[i].address().clone())
            });
            if let Some(b) = blocker {
                let reason = format!("{b} did not complete");
                shared.observer.event(Event::Skipped {
                    address: steps[i].address().clone(),
                    reason: reason.clone(),
                });
                outcomes[i] = Some(Outcome::Skipped(reason));
                release(i, &dependents, &mut waiting, &mut ready);
                continue;
            }
            let (shared, step) = (shared.clone(), steps[i].clone());
            running.spawn(async move { (i, run_step(&shared, step).await) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, outcome) =
            joined.unwrap_or_else(|e| (usize::MAX, Outcome::Failed(format!("step panicked: {e}"))));
        if i == usize::MAX {
            continue;
        }
        outcomes[i] = Some(outcome);
        release(i, &dependents, &mut waiting, &mut ready);
    }
    outcomes
}

fn release(
    i: usize,
    dependents: &[Vec<usize>],
    waiting: &mut [usize],
    ready: &mut VecDeque<usize>,
) {
    for &d in &dependents[i] {
        waiting[d] -= 1;
        if waiting[d] == 0 {
            ready.push_back(d);
        }
    }
}

async fn run_step(shared: &Shared, step: Step) -> Outcome {
    let address = step.address().clone();
    let started = Instant::now();
    let (action, verb) = match &step {
        Step::Create {
            deposing: Some(_), ..
        } => (
            Action::Replace(ReplaceOrder::CreateBeforeDestroy),
            "creating replacement",
        ),
        Step::Create { .. } => (Action::Create, "creating"),
        Step::Update { .. } => (Action::Update, "updating"),
        Step::Delete { .. } => (Action::Delete, "deleting"),
    };
    shared.observer.event(Event::Started {
        address: address.clone(),
        action,
        verb,
    });
    let result = match step {
        Step::Create { config, deposing } => create(shared, config, deposing).await,
        Step::Update { config, prior } => update(shared, config, prior).await,
        Step::Delete { prior } => delete(shared, prior).await,
    };
    match result {
        Ok(cloud_id) => {
            let verb = match action {
                Action::Delete => "deleted",
                Action::Update => "updated",
                _ => "created",
            };
            shared.observer.event(Event::Finished {
                address,
                verb,
                elapsed: started.elapsed(),
                cloud_id,
            });
            Outcome::Done
        }
        Err(error) => {
            shared.observer.event(Event::Failed {
                address,
                error: error.clone(),
            });
            Outcome::Failed(error)
        }
    }
}

async fn create(
    shared: &Shared,
    mut config: ResourceConfig,
    deposing: Option<ResourceState>,
) -> Result<String, String> {
    let address = config.address.clone();
    if let Some(old) = deposing {
        shared.record(JournalEntry::Deposed { resource: old })?;
    }
    let token = uuid::Uuid::new_v4().to_string();
    shared.record(JournalEntry::Intent {
        address: address.clone(),
        token: token.clone(),
        provider: shared.provider.name().into(),
        depends_on: config.depends_on.clone(),
        attrs: config.attrs.clone(),
    })?;
    failpoint("after-intent", &address);
    let ctx = shared.context(&config, token);
    let mut tried: Vec<String> = Vec::new();
    let observed = loop {
        let attempt = shared
            .retry
            .run(&address, shared.observer.as_ref(), || {
                shared.provider.create(&config, &ctx)
            })
            .await;
        match attempt {
            Ok(o) => break o,
            Err(ProviderError::Capacity {
                accelerator,
                region,
                zones,
            }) => {
                tried.extend(zones.iter().cloned());
                let left: Vec<String> = config
                    .zones()
                    .into_iter()
                    .filter(|z| !zones.contains(z))
                    .collect();
                if left.is_empty() {
                    return Err(format!(
                        "no capacity for {accelerator} in region {region}; zones tried: {}",
                        tried.join(", ")
                    ));
                }
                let message = format!(
                    "{} out of {accelerator} capacity; retrying in {}",
                    zones.join(", "),
                    left.join(", ")
                );
                shared.observer.event(Event::Note {
                    address: Some(address.clone()),
                    message,
                });
                config.placement.insert("zones".into(), json!(left));
            }
            Err(e) => return Err(e.to_string()),
        }
    };
    failpoint("after-create", &address);
    let cloud_id = settle(shared, observed, address, config.depends_on.clone()).await?;
    failpoint("after-save", &config.address);
    Ok(cloud_id)
}

async fn update(
    shared: &Shared,
    config: ResourceConfig,
    prior: ResourceState,
) -> Result<String, String> {
    let ctx = shared.context(&config, uuid::Uuid::new_v4().to_string());
    let observed = shared
        .retry
        .run(&prior.address, shared.observer.as_ref(), || {
            shared.provider.update(&prior, &config, &ctx)
        })
        .await
        .map_err(|e| e.to_string())?;
    let cloud_id = settle(
        shared,
        observed,
        prior.address.clone(),
        config.depends_on.clone(),
    )
    .await?;
    Ok(cloud_id)
}

/// Wait until a created or updated resource is ready, then journal it as it is now.
async fn settle(
    shared: &Shared,
    observed: hoist_provider::Observed,
    address: Address,
    depends_on: Vec<Address>,
) -> Result<String, String> {
    let ready = observed.lifecycle == hoist_provider::Lifecycle::Ready;
    let mut resource = observed.into_state(address, shared.provider.name(), depends_on);
    if !ready {
        let now = wait_for(
            shared.provider.as_ref(),
            &resource,
            &IsReady,
            &shared.retry,
            shared.observer.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())?;
        if let Some(o) = now {
            resource.attrs = o.attrs;
            resource.outputs = o.outputs;
        }
    }
    let cloud_id = resource.cloud_id.clone();
    shared.record(JournalEntry::Saved { resource })?;
    Ok(cloud_id)
}

async fn delete(shared: &Shared, prior: ResourceState) -> Result<String, String> {
    let notes = shared
        .retry
        .run(&prior.address, shared.observer.as_ref(), || {
            shared.provider.delete(&prior)
        })
        .await
        .map_err(|e| e.to_string())?;
    for message in notes {
        shared.observer.event(Event::Note {
            address: Some(prior.address.clone()),
            message,
        });
    }
    failpoint("after-delete", &prior.address);
    wait_for(
        shared.provider.as_ref(),
        &prior,
        &IsGone,
        &shared.retry,
        shared.observer.as_ref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    shared.record(JournalEntry::Removed {
        address: prior.address.clone(),
        cloud_id: prior.cloud_id.clone(),
    })?;
    Ok(prior.cloud_id)
}

/// Crash the process at a named point, for crash-recovery tests: `HOIST_FAILPOINT=POINT:ADDRESS`
/// (ADDRESS may be `*`). The process dies by SIGKILL, exactly as `kill -9` would do it.
fn failpoint(point: &str, address: &Address) {
    static SPEC: std::sync::OnceLock<Option<(String, String)>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        std::env::var("HOIST_FAILPOINT").ok().and_then(|s| {
            s.split_once(':')
                .map(|(p, a)| (p.to_string(), a.to_string()))
        })
    });
    if let Some((p, a)) = spec {
        if p == point && (a == "*" || *a == address.to_string()) {
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
