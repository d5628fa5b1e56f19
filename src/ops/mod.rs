//! Opening a run, as library code beside the engine: blueprint → spec → accelerator
//! resolution → the cloud's expansion → providers → locked state → recovered session, then
//! plan with cost and the budget gate. Commands translate their arguments into one of these
//! calls, as cargo's commands call its `ops`.

pub mod backend;
pub(crate) mod budget;
pub mod clouds;
pub mod fleet;
pub mod planfile;
pub mod sweep;

pub use budget::{attach_cost, check_budget, hourly_now};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hoist_blueprint::Blueprint;
use hoist_provider::{Address, CloudModel, EnvSpec, ResourceConfig};
use hoist_state::{State, Store};

use crate::engine::{EnvSettings, Observer, Plan, Session};

/// Where a run's blueprint and state are.
#[derive(Debug, Clone)]
pub struct Files {
    pub blueprint: PathBuf,
    /// Default: `.hoist/` beside the blueprint.
    pub state_dir: Option<PathBuf>,
    /// A backend URL given on the command line, over the blueprint's.
    pub backend: Option<String>,
    /// `--var NAME=VALUE` and `--var-file FILE`, over the blueprint's variables.
    pub vars: Vec<String>,
    pub var_files: Vec<PathBuf>,
}

/// Decisions made while resolving accelerators, each about one resource, shown with the plan.
pub type Notes = Vec<(Address, String)>;

/// The process environment, for `{{ env.X }}`.
fn env_vars() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

pub fn load_blueprint(files: &Files) -> anyhow::Result<Blueprint> {
    let mut overrides = hoist_blueprint::Overrides::default();
    for f in &files.var_files {
        overrides.add_file(f)?;
    }
    for v in &files.vars {
        overrides.add_var(v).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(hoist_blueprint::load_with(
        &files.blueprint,
        &env_vars(),
        &overrides,
    )?)
}

/// The state store of the blueprint's environment, in its backend (see [`backend`]).
pub fn store(files: &Files, blueprint: &Blueprint) -> anyhow::Result<Store> {
    Ok(backend::open(files, blueprint.backend.as_ref())?.store(&blueprint.name))
}

/// The time expiries are compared with (`envs`, `reap`, `sweep --expired`): `HOIST_NOW`
/// (RFC 3339; testing only, to look at a later hour without waiting for it), else the clock.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    std::env::var("HOIST_NOW")
        .ok()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
        .map_or_else(chrono::Utc::now, |t| t.with_timezone(&chrono::Utc))
}

/// hoist's per-user data: `$HOIST_DATA_DIR`, else the XDG data directory.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HOIST_DATA_DIR") {
        return PathBuf::from(d);
    }
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir)
        .join("hoist")
}

fn beside(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A blueprint's spec and resources, expanded against static facts: no cloud, no state.
struct Expansion {
    resolved: EnvSpec,
    desired: Vec<ResourceConfig>,
    notes: Notes,
}

fn model(blueprint: &Blueprint) -> Option<&'static dyn CloudModel> {
    clouds::cloud(blueprint.cloud.as_str()).map(|c| c as &dyn CloudModel)
}

impl Expansion {
    /// Every problem located in the blueprint.
    fn offline(blueprint: &Blueprint) -> anyhow::Result<Option<Expansion>> {
        let Some(model) = model(blueprint) else {
            return Ok(None);
        };
        let mut resolved = blueprint.spec(model)?;
        let notes = crate::resolve::resolve_pools(blueprint, &mut resolved, None)?;
        let desired = expand_spec(blueprint, model, &resolved)?;
        Ok(Some(Expansion {
            resolved,
            desired,
            notes,
        }))
    }

    /// Again knowing state, so pools keep the instance type they already run on: resolved
    /// and expanded a second time only when that changes a pool.
    fn with_state(mut self, blueprint: &Blueprint, prior: Option<&State>) -> anyhow::Result<Self> {
        let Some(prior) = prior else {
            return Ok(self);
        };
        if crate::resolve::settled_by(&self.resolved, prior) {
            return Ok(self);
        }
        let model = model(blueprint).expect("expanded offline with this model");
        let mut resolved = blueprint.spec(model)?;
        self.notes = crate::resolve::resolve_pools(blueprint, &mut resolved, Some(prior))?;
        self.desired = expand_spec(blueprint, model, &resolved)?;
        self.resolved = resolved;
        Ok(self)
    }
}

fn expand_spec(
    blueprint: &Blueprint,
    model: &dyn CloudModel,
    spec: &EnvSpec,
) -> anyhow::Result<Vec<ResourceConfig>> {
    let mut desired = model
        .expand(spec)
        .map_err(|problems| blueprint.locate(problems))?;
    for c in &mut desired {
        c.provider = spec.cloud.clone();
    }
    desired.extend(expand_stack(blueprint, model, spec)?);
    Ok(desired)
}

/// The stack's objects, for the Kubernetes provider, on the cluster the cloud names.
fn expand_stack(
    blueprint: &Blueprint,
    model: &dyn CloudModel,
    spec: &EnvSpec,
) -> anyhow::Result<Vec<ResourceConfig>> {
    if spec.stack.is_empty() {
        return Ok(Vec::new());
    }
    let Some(target) = model.stack_target(spec) else {
        let problem = hoist_provider::SpecProblem::new(
            "stack",
            format!("hoist cannot run the stack on cloud `{}` yet", spec.cloud),
            Some("remove the `stack` section, or try it with `cloud: sim`".into()),
        );
        return Err(blueprint.locate(vec![problem]).into());
    };
    hoist_kube::expand(spec, &target).map_err(|problems| blueprint.locate(problems).into())
}

/// Expand a blueprint against static facts only: no cloud, no state.
pub fn expand_offline(blueprint: &Blueprint) -> anyhow::Result<Vec<ResourceConfig>> {
    Ok(Expansion::offline(blueprint)?
        .map(|e| e.desired)
        .unwrap_or_default())
}

/// A blueprint-driven run: the blueprint, its resources, and a locked, recovered session.
pub struct Run {
    pub blueprint: Blueprint,
    pub desired: Vec<ResourceConfig>,
    pub session: Session,
    pub notes: Notes,
}

impl Run {
    /// Check the blueprint (a bad one never opens the cloud or touches state), connect its
    /// providers, lock and load its state, and finish what an interrupted run left.
    pub async fn open(
        files: &Files,
        operation: &str,
        observer: &dyn Observer,
    ) -> anyhow::Result<Run> {
        let blueprint = load_blueprint(files)?;
        let env = EnvSettings::from_blueprint(&blueprint);
        let store = store(files, &blueprint)?;
        // The state is read (without the lock, touching nothing) while the blueprint expands.
        let (expansion, peeked) = std::thread::scope(|s| {
            let peek = s.spawn(|| store.peek());
            let expansion = Expansion::offline(&blueprint);
            (expansion, peek.join())
        });
        let expansion = expansion?;
        // Connected before the lock is taken: a cloud that cannot be reached touches no state.
        let providers = clouds::providers(&env).await?;
        let lock = store.lock(operation)?;
        let state = match peeked {
            Ok(Ok(peeked)) => lock.load_peeked(peeked)?,
            // A state that cannot be read is reported as the lock holder reads it.
            _ => lock.load()?,
        };
        let (desired, notes) = match expansion {
            Some(e) => {
                let e = e.with_state(&blueprint, state.as_ref())?;
                (e.desired, e.notes)
            }
            None => (Vec::new(), Vec::new()),
        };
        let session = Session::resume(lock, state, env, providers, observer).await?;
        Ok(Run {
            blueprint,
            desired,
            session,
            notes,
        })
    }

    /// Plan the blueprint's resources (moved into the plan, not copied), with the resolution
    /// notes on their changes and the cost; refused over budget.
    pub async fn plan(&mut self, refresh: bool, observer: &dyn Observer) -> anyhow::Result<Plan> {
        let desired = std::mem::take(&mut self.desired);
        let warnings = Warnings {
            inner: observer,
            seen: Default::default(),
        };
        let mut plan = self.session.plan(desired, refresh, &warnings).await?;
        plan.warnings = warnings
            .seen
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        for (address, note) in &self.notes {
            if let Some(change) = plan
                .changes
                .iter_mut()
                .find(|c| &c.address == address && c.action != hoist_provider::Action::NoOp)
            {
                change.notes.insert(0, note.clone());
            }
        }
        attach_cost(&mut plan, self.session.state.as_ref());
        Ok(plan)
    }

    /// The plan that destroys everything state records, with what it saves.
    pub async fn plan_destroy(&mut self, observer: &dyn Observer) -> anyhow::Result<Plan> {
        let mut plan = self.session.plan(Vec::new(), true, observer).await?;
        attach_cost(&mut plan, self.session.state.as_ref());
        Ok(plan)
    }
}

/// Passes every event on, keeping the warnings for the plan.
struct Warnings<'a> {
    inner: &'a dyn Observer,
    seen: std::sync::Mutex<Vec<String>>,
}

impl Observer for Warnings<'_> {
    fn event(&self, event: crate::engine::Event) {
        if let crate::engine::Event::Note { message, .. } = &event {
            if let Some(w) = message.strip_prefix("warning: ") {
                let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                if !seen.iter().any(|s| s == w) {
                    seen.push(w.to_string());
                }
            }
        }
        self.inner.event(event);
    }
}

/// Open the session a saved plan was made against, refusing it when state moved since.
pub async fn open_saved(
    files: &Files,
    plan: &Plan,
    plan_path: &Path,
    observer: &dyn Observer,
) -> anyhow::Result<Session> {
    let providers = clouds::providers(&plan.env).await?;
    // The backend the plan was made against, unless the command line names one.
    let mut files = files.clone();
    files.backend = files.backend.or_else(|| plan.backend.clone());
    let store = backend::open(&files, None)?.store(&plan.env.name);
    let session = Session::open(&store, "apply", plan.env.clone(), providers, observer).await?;
    let (lineage, serial) = (
        session.state.as_ref().map(|s| s.lineage.clone()),
        session.state.as_ref().map(|s| s.serial),
    );
    if lineage != plan.lineage || serial != plan.serial {
        anyhow::bail!(
            "the saved plan {} is stale: it was made against state {} serial {}, but the state is now {} serial {}\n  = hint: something changed the environment since; run `hoist plan --out {}` again",
            plan_path.display(),
            plan.lineage.as_deref().unwrap_or("(none)"),
            plan.serial.map_or("-".into(), |s| s.to_string()),
            lineage.as_deref().unwrap_or("(none)"),
            serial.map_or("-".into(), |s| s.to_string()),
            plan_path.display()
        );
    }
    Ok(session)
}
