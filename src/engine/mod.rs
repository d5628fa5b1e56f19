//! The engine: Terraform's loop. Refresh what state knows, diff it against the blueprint
//! into a plan, apply the plan in dependency order, and record every step.

mod apply;
pub mod cost;
mod events;
mod limiter;
mod observe;
mod plan;
mod providers;
mod reconcile;
mod recover;
mod refresh;
mod retry;

pub use apply::{ApplyOptions, ApplyReport, StepFailure};
pub use events::{Event, Observer, Silent};
pub use limiter::LimiterReport;
pub use plan::{Dropped, Plan, PlanError, Summary, PLAN_FORMAT};
pub use providers::{Providers, Unavailable};
pub use refresh::{drift, Drift, DriftKind};
pub use retry::RetryPolicy;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hoist_provider::Ownership;
use hoist_state::{Lock, State, Store};
use serde::{Deserialize, Serialize};

/// The environment-wide settings a run needs besides resources: who owns what it creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvSettings {
    pub name: String,
    pub cloud: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// aws: the named profile for credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// gcp: the project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// azure: the subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    /// azure: the resource group named in the blueprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// Lifetime in seconds, counted from the environment's first apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_hourly_usd: Option<f64>,
}

impl EnvSettings {
    /// An environment known only by its name, cloud and region (no blueprint at hand).
    pub fn bare(name: &str, cloud: &str, region: &str) -> Self {
        Self {
            name: name.into(),
            cloud: cloud.into(),
            region: region.into(),
            latency: None,
            profile: None,
            project: None,
            subscription_id: None,
            resource_group: None,
            ttl_seconds: None,
            tags: Default::default(),
            budget_hourly_usd: None,
        }
    }

    pub fn from_blueprint(bp: &hoist_blueprint::Blueprint) -> Self {
        Self {
            name: bp.name.clone(),
            cloud: bp.cloud.as_str().into(),
            region: bp.region.clone(),
            latency: bp.latency.map(|l| format!("{l:?}").to_ascii_lowercase()),
            profile: bp.profile.clone(),
            project: bp.project.clone(),
            subscription_id: bp.subscription_id.clone(),
            resource_group: bp.resource_group.clone(),
            ttl_seconds: bp.ttl.map(|d| d.num_seconds()),
            tags: bp.tags.clone(),
            budget_hourly_usd: bp.budget_hourly_usd,
        }
    }

    /// When an environment created at `created_at` expires.
    pub fn expires_at(&self, created_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.ttl_seconds
            .map(|s| created_at + chrono::Duration::seconds(s))
    }
}

/// Resources found by the environment's tags after a destroy.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Tagged with this state's lineage: destroy did not get them all.
    pub mine: Vec<hoist_provider::CloudResource>,
    /// Tagged for another state with the same environment name; never touched.
    pub others: Vec<hoist_provider::CloudResource>,
    /// What could not be looked at (a permission, an API the endpoint lacks).
    pub skipped: Vec<String>,
}

/// One locked run against one environment: its state, its providers, and its settings.
pub struct Session {
    pub lock: Lock,
    pub state: Option<State>,
    pub providers: Arc<Providers>,
    pub env: EnvSettings,
    pub retry: RetryPolicy,
}

impl Session {
    /// The remote backend the state is in (`s3://bucket/prefix`), if it is remote.
    pub fn backend_url(&self) -> Option<String> {
        match self.lock.store().backend() {
            hoist_state::Backend::Remote(r) => Some(r.location()),
            hoist_state::Backend::Dir(_) => None,
        }
    }

    /// Lock the environment, load its state, and finish what an interrupted run left in the journal.
    pub async fn open(
        store: &Store,
        operation: &str,
        env: EnvSettings,
        providers: Providers,
        observer: &dyn Observer,
    ) -> anyhow::Result<Session> {
        let lock = store.lock(operation)?;
        let state = lock.load()?;
        Self::resume(lock, state, env, providers, observer).await
    }

    /// Go on with an environment already locked and loaded: warn when its state looks older
    /// than one this machine has seen, and finish what an interrupted run left in the journal.
    pub async fn resume(
        lock: Lock,
        state: Option<State>,
        env: EnvSettings,
        providers: Providers,
        observer: &dyn Observer,
    ) -> anyhow::Result<Session> {
        let store = lock.store();
        if let Some(s) = &state {
            if let Some(seen) = store
                .serial_seen(&s.lineage)
                .filter(|seen| *seen > s.serial)
            {
                observer.event(Event::Note {
                    address: None,
                    message: format!(
                        "warning: state {} is at serial {} but this machine has seen serial {seen} of its lineage {}: an older copy may have been restored; the plan reconciles it with what the cloud holds",
                        store.state_path().display(),
                        s.serial,
                        s.lineage
                    ),
                });
            }
        }
        let mut session = Session {
            lock,
            state,
            providers: Arc::new(providers),
            env,
            retry: RetryPolicy::default(),
        };
        session.recover(observer).await?;
        Ok(session)
    }

    /// Ownership for resources this run creates.
    pub fn ownership(&self, state: &State) -> Ownership {
        Ownership {
            env: self.env.name.clone(),
            lineage: state.lineage.clone(),
            expires_at: state.expires_at.map(|t| t.to_rfc3339()),
        }
    }

    /// Ownership that a plan checks names against: this state's, or for an environment never
    /// applied, a lineage nothing can carry yet.
    pub fn planned_ownership(&self) -> Ownership {
        match &self.state {
            Some(s) => self.ownership(s),
            None => Ownership {
                env: self.env.name.clone(),
                lineage: uuid::Uuid::new_v4().to_string(),
                expires_at: None,
            },
        }
    }

    /// What the cloud still holds tagged for this environment's name after a destroy, split
    /// into this state's own (its lineage) and another state's of the same name.
    /// Providers configured from a resource are not asked: what they made is gone with it.
    pub async fn leftovers(&self) -> Result<Leftovers, hoist_provider::ProviderError> {
        let lists = self
            .providers
            .all_ready()
            .into_iter()
            .map(|p| async move { p.list_owned(&self.env.name).await });
        let (mut tagged, mut skipped) = (Vec::new(), Vec::new());
        for list in futures::future::join_all(lists).await {
            let list = list?;
            tagged.extend(list.resources);
            skipped.extend(list.skipped);
        }
        let lineage = self.state.as_ref().map(|s| s.lineage.as_str());
        let (mine, others) = tagged.into_iter().partition(|r| {
            r.tags
                .get(hoist_provider::tags::LINEAGE)
                .map(String::as_str)
                == lineage
        });
        Ok(Leftovers {
            mine,
            others,
            skipped,
        })
    }

    /// Record the environment's expiry and settings when they changed without any resource
    /// changing (a new `ttl`, budget or tags): `envs` and `reap` read them from state, and
    /// `sweep --expired` the resources' tags, which are rewritten in place first (a tag left
    /// at an earlier expiry would let a sweep delete what still runs).
    pub async fn record_settings(&mut self, observer: &dyn Observer) -> anyhow::Result<bool> {
        let Some(prior) = self.state.as_ref() else {
            return Ok(false);
        };
        let expires_at = self.env.expires_at(prior.created_at);
        let settings = serde_json::to_value(&self.env).ok();
        if prior.expires_at == expires_at && prior.settings == settings {
            return Ok(false);
        }
        let mut moved = prior.clone();
        moved.expires_at = expires_at;
        self.retag(&moved, observer).await?;
        let state = self.state.as_mut().expect("checked above");
        state.expires_at = expires_at;
        state.settings = settings;
        state.serial += 1;
        self.lock.save(state)?;
        Ok(true)
    }

    /// Give every resource of `state` the tags its ownership and the user's tags now make.
    pub(crate) async fn retag(&self, state: &State, observer: &dyn Observer) -> anyhow::Result<()> {
        let owner = self.ownership(state);
        let mut untouched = std::collections::BTreeSet::new();
        let steps = state.resources.values().filter_map(|r| {
            let provider = self.providers.ready(&r.provider)?;
            let tags = owner.tags(&r.address, &self.env.tags);
            Some(async move {
                let done = self
                    .retry
                    .run(&r.address, observer, || provider.retag(r, &tags))
                    .await;
                (r, done)
            })
        });
        for (r, done) in futures::future::join_all(steps).await {
            match done {
                Ok(true) => {}
                Ok(false) => {
                    untouched.insert(r.address.kind().to_string());
                }
                Err(e) => anyhow::bail!("cannot rewrite the tags of {}: {e}\n  = hint: nothing was recorded; run the apply again", r.address),
            }
        }
        if !untouched.is_empty() {
            let kinds: Vec<String> = untouched.into_iter().collect();
            observer.event(Event::Note {
                address: None,
                message: format!(
                    "warning: the tags of {} keep their earlier expiry until they are next changed",
                    kinds.join(", ")
                ),
            });
        }
        Ok(())
    }

    /// The state to apply onto: the existing one, or a fresh one for a new environment.
    pub fn state_or_new(&self) -> State {
        self.state.clone().unwrap_or_else(|| {
            let mut s = State::new(&self.env.name, &self.env.cloud, &self.env.region);
            s.expires_at = self.env.expires_at(s.created_at);
            s
        })
    }
}
