//! Planning: the difference between the blueprint's resources and the cloud's, as changes.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use hoist_provider::{
    diff_attrs, references, resolve_refs, Action, Address, Attrs, Change, Lifecycle, ProviderError,
    ReplaceOrder, ResourceConfig, ResourceState,
};
use serde::{Deserialize, Serialize};

use super::observe::View;
use super::refresh::Observations;
use super::{EnvSettings, Event, Observer, Session};

/// The version tag of saved plan files.
pub const PLAN_FORMAT: &str = "hoist-plan/1";

/// A plan: what will change, made against one version of state (lineage + serial), so that
/// applying it later to a state that moved is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub env: EnvSettings,
    pub lineage: Option<String>,
    pub serial: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub desired: Vec<ResourceConfig>,
    pub changes: Vec<Change>,
    /// What the node pools cost per hour, now and after this plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<super::cost::CostReport>,
    /// Cloud ids of old halves of interrupted replacements, to delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<String>,
    /// Resources of this lineage that state had lost, recorded before the changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adopted: Vec<ResourceState>,
    /// Resources of this lineage unknown to state and not wanted: duplicates, leftovers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphans: Vec<ResourceState>,
    /// Records of a provider whose source is gone: forgotten, since nothing can reach them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<Dropped>,
    /// The state backend the plan was made against, when remote (`s3://bucket/prefix`):
    /// where `hoist apply PLAN` on another machine finds the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// What the plan could not check or had to work around (a preflight skipped), for the
    /// people reviewing it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// A record dropped from state without a call: what made it is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    pub address: Address,
    pub cloud_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    pub adopt: usize,
    pub forget: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace(_) => s.replace += 1,
                Action::Delete => s.destroy += 1,
                Action::NoOp => {}
            }
        }
        s.adopt = self.adopted.len();
        s.forget = self.dropped.len();
        s
    }

    /// Whether applying changes anything, in the cloud or in state.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
            || !self.adopted.is_empty()
            || !self.dropped.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read the cloud: {0}\n  = hint: check the provider's credentials and endpoint, then retry")]
    Refresh(ProviderError),
    #[error("cannot place {address}: {error}\n  = hint: {hint}")]
    Placement {
        address: Address,
        error: ProviderError,
        hint: String,
    },
}

impl Session {
    /// Refresh (unless `refresh` is false) and diff `desired` against what exists.
    pub async fn plan(
        &self,
        mut desired: Vec<ResourceConfig>,
        refresh_first: bool,
        observer: &dyn Observer,
    ) -> Result<Plan, PlanError> {
        self.bind(&mut desired);
        let empty = BTreeMap::new();
        let known = self.state.as_ref().map_or(&empty, |s| &s.resources);
        let view = if refresh_first {
            self.observe(&desired, true, observer).await?
        } else {
            View {
                observed: recorded(known),
                ..Default::default()
            }
        };
        let View {
            observed,
            found,
            dropped,
        } = view;
        fill_known_outputs(&mut desired, known, &observed);
        let gone: HashSet<&Address> = dropped.iter().map(|d| &d.address).collect();
        let adopted: BTreeMap<&Address, &ResourceState> =
            found.adopted.iter().map(|r| (&r.address, r)).collect();
        let mut changes = Vec::with_capacity(desired.len());
        for cfg in &desired {
            let (prior, live) = match adopted.get(&cfg.address) {
                Some(a) => (Some(*a), found.observed.get(&cfg.address)),
                None => (known.get(&cfg.address), observed.get(&cfg.address)),
            };
            let mut change = self.change_for(cfg, prior, live.and_then(Option::as_ref));
            if gone.contains(&cfg.address) {
                change.reason = "gone with the resource that configures its provider".into();
            }
            changes.push(change);
        }
        for a in &found.adopted {
            observer.event(Event::Note {
                address: Some(a.address.clone()),
                message: format!("adopting {}: it carries this environment's ownership tags but state did not record it (an older state file may have been restored)", a.cloud_id),
            });
        }
        let sources: HashSet<&Address> = self
            .providers
            .sources()
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        propagate_replacements(&desired, &mut changes, &sources);
        let deposed = self
            .state
            .as_ref()
            .map(|s| s.deposed.clone())
            .unwrap_or_default();
        changes.extend(deletions(&desired, known, &gone, &found.orphans, &deposed));
        self.place(&mut desired, &mut changes, observer).await?;
        Ok(Plan {
            format: PLAN_FORMAT.into(),
            env: self.env.clone(),
            lineage: self.state.as_ref().map(|s| s.lineage.clone()),
            serial: self.state.as_ref().map(|s| s.serial),
            created_at: Utc::now(),
            desired,
            changes,
            deposed: deposed.into_iter().map(|r| r.cloud_id).collect(),
            cost: None,
            adopted: found.adopted,
            orphans: found.orphans,
            dropped,
            backend: None,
            warnings: Vec::new(),
        })
    }

    /// Name each configuration's provider, and make it depend on what configures that
    /// provider and on every resource whose outputs it references, so the walk orders them.
    fn bind(&self, desired: &mut [ResourceConfig]) {
        for cfg in desired.iter_mut() {
            cfg.provider = self.providers.canonical(&cfg.provider).to_string();
            let mut needs: Vec<Address> =
                references(&cfg.attrs).into_iter().map(|(a, _)| a).collect();
            needs.extend(self.providers.source_of(&cfg.provider).cloned());
            for a in needs {
                if a != cfg.address && !cfg.depends_on.contains(&a) {
                    cfg.depends_on.push(a);
                }
            }
        }
    }

    fn change_for(
        &self,
        cfg: &ResourceConfig,
        prior: Option<&ResourceState>,
        observed: Option<&hoist_provider::Observed>,
    ) -> Change {
        let create = |reason: &str| Change {
            address: cfg.address.clone(),
            action: Action::Create,
            before: None,
            after: Some(cfg.attrs.clone()),
            diffs: vec![],
            reason: reason.into(),
            notes: vec![],
        };
        let (Some(prior), Some(obs)) = (prior, observed) else {
            return create(if prior.is_some() {
                "deleted outside hoist"
            } else {
                "new in the blueprint"
            });
        };
        let rules = self.providers.rules(&cfg.provider, cfg.address.kind());
        let replace = |order, reason: String| Change {
            address: cfg.address.clone(),
            action: Action::Replace(order),
            before: Some(prior.attrs.clone()),
            after: Some(cfg.attrs.clone()),
            diffs: vec![],
            reason,
            notes: vec![],
        };
        if let Lifecycle::Failed { reason } = &obs.lifecycle {
            return replace(
                rules.replace_order(),
                format!("failed in the cloud: {reason}"),
            );
        }
        if obs.lifecycle == Lifecycle::Deleting {
            return replace(
                ReplaceOrder::DestroyBeforeCreate,
                "being deleted outside hoist".into(),
            );
        }
        let mut d = diff_attrs(&rules, &cfg.attrs, &obs.attrs);
        if let (Some(why), Action::NoOp) = (&prior.unfinished, d.action) {
            d.action = Action::Update;
            d.reason = why.clone();
        }
        // Fields an autoscaler owns keep their live value.
        let mut after: Attrs = cfg.attrs.clone();
        if let Some(owned) = rules.ignored(&cfg.attrs) {
            if let Some(live) = obs.attrs.get(owned) {
                after.insert(owned.into(), live.clone());
            }
        }
        // A no-op carries no attributes: at thousands of resources the copies add up.
        let (before, after) = if d.action == Action::NoOp {
            (None, None)
        } else {
            (Some(obs.attrs.clone()), Some(after))
        };
        Change {
            address: cfg.address.clone(),
            action: d.action,
            before,
            after,
            diffs: d.diffs,
            reason: d.reason,
            notes: vec![],
        }
    }

    /// Ask the provider where new resources can go now (stockouts, quotas).
    async fn place(
        &self,
        desired: &mut [ResourceConfig],
        changes: &mut [Change],
        observer: &dyn Observer,
    ) -> Result<(), PlanError> {
        let owner = self.planned_ownership();
        let creating: HashSet<Address> = changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Replace(_)))
            .map(|c| c.address.clone())
            .collect();
        for cfg in desired.iter_mut().filter(|c| creating.contains(&c.address)) {
            // A provider not configured yet has nothing to decide before its source exists.
            let Some(provider) = self.providers.configured(&cfg.provider) else {
                continue;
            };
            let address = cfg.address.clone();
            let placing = self.retry.run(&address, observer, || {
                let mut attempt = cfg.clone();
                let (owner, provider) = (&owner, provider.clone());
                async move {
                    provider
                        .place(&mut attempt, owner)
                        .await
                        .map(|n| (n, attempt))
                }
            });
            let (notes, placed) = placing
                .await
                .map_err(|error| placement_error(&address, error))?;
            *cfg = placed;
            if let Some(change) = changes.iter_mut().find(|c| c.address == cfg.address) {
                for n in &notes {
                    observer.event(Event::Note {
                        address: Some(cfg.address.clone()),
                        message: n.clone(),
                    });
                }
                change.notes = notes;
            }
        }
        Ok(())
    }
}

/// What goes: recorded resources gone from the blueprint (but not the ones forgotten with
/// their provider's source), copies found by their tags that state lacks, and deposed ones
/// (old halves, replacements that never became ready).
fn deletions(
    desired: &[ResourceConfig],
    known: &BTreeMap<Address, ResourceState>,
    gone: &HashSet<&Address>,
    orphans: &[ResourceState],
    deposed: &[ResourceState],
) -> Vec<Change> {
    let wanted: HashSet<&Address> = desired.iter().map(|c| &c.address).collect();
    let mut out = Vec::new();
    for r in known
        .values()
        .filter(|r| !wanted.contains(&r.address) && !gone.contains(&r.address))
    {
        out.push(delete_change(r, "not in the blueprint".into()));
    }
    for r in orphans {
        let why = if wanted.contains(&r.address) {
            "a second copy, unknown to state"
        } else {
            "not in the blueprint and unknown to state"
        };
        let reason = format!(
            "{} {why}: found by this environment's ownership tags",
            r.cloud_id
        );
        out.push(delete_change(r, reason));
    }
    for r in deposed {
        let reason = match &r.unfinished {
            Some(why) => format!("replacement {} {why}; the current one stays", r.cloud_id),
            None => format!("old {} left by an interrupted replacement", r.cloud_id),
        };
        out.push(delete_change(r, reason));
    }
    out
}

fn delete_change(r: &ResourceState, reason: String) -> Change {
    Change {
        address: r.address.clone(),
        action: Action::Delete,
        before: Some(r.attrs.clone()),
        after: None,
        diffs: vec![],
        reason,
        notes: vec![],
    }
}

fn placement_error(address: &Address, error: ProviderError) -> PlanError {
    let hint = match &error {
        ProviderError::Capacity { .. } => "allow more zones (node pool `zones` or network.zones), another accelerator, or another region; `hoist sim capacity` shows the simulated stock".to_string(),
        ProviderError::Quota { .. } => "request a quota increase, or lower the pool's max".to_string(),
        ProviderError::NotOwned { .. } => "rename the environment (`name:`) so that hoist makes its own, or remove that resource if nobody uses it; hoist never adopts, changes or deletes what it did not create".to_string(),
        _ => "retry later".to_string(),
    };
    PlanError::Placement {
        address: address.clone(),
        error,
        hint,
    }
}

/// A resource whose dependency is destroyed and recreated must be recreated with it, and so
/// must what a provider made in a resource that configures it, however that is replaced
/// (a new cluster starts empty).
fn propagate_replacements(
    desired: &[ResourceConfig],
    changes: &mut [Change],
    sources: &HashSet<&Address>,
) {
    loop {
        let replaced: HashSet<Address> = changes
            .iter()
            .filter(|c| match c.action {
                Action::Replace(ReplaceOrder::DestroyBeforeCreate) => true,
                Action::Replace(_) | Action::Create => sources.contains(&c.address),
                _ => false,
            })
            .map(|c| c.address.clone())
            .collect();
        let mut changed = false;
        for (cfg, change) in desired.iter().zip(changes.iter_mut()) {
            if !matches!(
                change.action,
                Action::NoOp | Action::Update | Action::Replace(ReplaceOrder::CreateBeforeDestroy)
            ) {
                continue;
            }
            if let Some(dep) = cfg.depends_on.iter().find(|d| replaced.contains(*d)) {
                change.action = Action::Replace(ReplaceOrder::DestroyBeforeCreate);
                change.reason = format!("{dep} is replaced");
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// What state recorded, taken as what the cloud holds (`--refresh=false`).
fn recorded(known: &BTreeMap<Address, ResourceState>) -> Observations {
    known
        .values()
        .map(|r| {
            (
                r.address.clone(),
                Some(hoist_provider::Observed {
                    cloud_id: r.cloud_id.clone(),
                    attrs: r.attrs.clone(),
                    outputs: r.outputs.clone(),
                    lifecycle: Lifecycle::Ready,
                }),
            )
        })
        .collect()
}

/// Fill in references to outputs of resources that exist; the others stay, shown as known
/// after apply, and the apply fills them in once their resource is made.
fn fill_known_outputs(
    desired: &mut [ResourceConfig],
    known: &BTreeMap<Address, ResourceState>,
    observed: &Observations,
) {
    let lookup = |of: &Address, key: &str| -> Option<serde_json::Value> {
        known.get(of)?;
        observed.get(of)?.as_ref()?.outputs.get(key).cloned()
    };
    for cfg in desired {
        resolve_refs(&mut cfg.attrs, &lookup);
    }
}
