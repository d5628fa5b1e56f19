//! What each command does, in terms of the engine, the state store and the printer.

mod catalog;
mod init;
mod inspect;
mod kubeconfig;
mod run;
mod sim;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use hoist_blueprint::Blueprint;
use hoist_provider::{CloudModel, EnvSpec, Provider, ResourceConfig};
use hoist_sim::{LatencyProfile, SimCloud};
use hoist_state::Store;

use crate::cli::{Cli, Command, FileArgs};
use crate::engine::{EnvSettings, Session};
use crate::printer::Printer;

/// Exit codes: 0 success / no changes, 1 error, 2 changes present (when asked for).
pub const EXIT_CHANGES: u8 = 2;

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let printer = Arc::new(Printer::new(cli.json, cli.no_color));
    match cli.command {
        Command::Init(a) => init::init(&printer, a),
        Command::Validate(f) => inspect::validate(&printer, &f),
        Command::Plan(a) => run::plan(printer, a).await,
        Command::Apply(a) => run::apply(printer, a).await,
        Command::Destroy(a) => run::destroy(printer, a).await,
        Command::Drift(a) => inspect::drift(printer, a).await,
        Command::Show(a) => inspect::show(&printer, a),
        Command::State(c) => inspect::state(&printer, c),
        Command::Output(a) => inspect::output(&printer, a),
        Command::Unlock(a) => inspect::unlock(&printer, a),
        Command::Kubeconfig(a) => kubeconfig::kubeconfig(printer, a).await,
        Command::Schema => {
            printer.json_out(&hoist_blueprint::json_schema());
            Ok(0)
        }
        Command::Sim(c) => sim::sim(&printer, c),
        Command::Catalog(c) => catalog::catalog(&printer, c),
    }
}

/// The process environment, for `{{ env.X }}`.
fn env_vars() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

pub fn load_blueprint(files: &FileArgs) -> anyhow::Result<Blueprint> {
    Ok(hoist_blueprint::load(&files.file, &env_vars())?)
}

/// The state store for `env`: `--state-dir`, else `.hoist/` beside the blueprint.
pub fn store(files: &FileArgs, env: &str) -> Store {
    let dir = files
        .state_dir
        .clone()
        .unwrap_or_else(|| beside(&files.file).join(".hoist"));
    Store::new(dir, env).with_marks(data_dir().join("lineages"))
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

/// What hoist knows of a cloud without opening it: regions, zones, expansion.
fn cloud_model(cloud: &str) -> Option<Box<dyn CloudModel>> {
    match cloud {
        "sim" => Some(Box::new(hoist_sim::SimModel)),
        #[cfg(feature = "aws")]
        "aws" => Some(Box::new(hoist_aws::AwsModel)),
        _ => None,
    }
}

/// Connect to the environment's cloud.
pub async fn open_provider(env: &EnvSettings) -> anyhow::Result<Arc<dyn Provider>> {
    match env.cloud.as_str() {
        "sim" => {
            let latency = match std::env::var("HOIST_SIM_LATENCY") {
                Ok(v) if !v.is_empty() => v.parse::<LatencyProfile>().map_err(anyhow::Error::msg).context("HOIST_SIM_LATENCY")?,
                _ => env.latency.as_deref().unwrap_or("demo").parse().map_err(anyhow::Error::msg)?,
            };
            Ok(Arc::new(SimCloud::open(&SimCloud::default_dir(), latency)?))
        }
        #[cfg(feature = "aws")]
        "aws" => Ok(Arc::new(hoist_aws::AwsProvider::connect(&env.region, env.profile.as_deref()).await?)),
        other => bail!("the `{other}` provider is not part of this build of hoist\n  = hint: use `cloud: sim` to try hoist without an account, or build with the `{other}` feature"),
    }
}

/// Everything a blueprint-driven command needs: the blueprint, its resources, and a locked session.
pub struct Context {
    pub blueprint: Blueprint,
    pub desired: Vec<ResourceConfig>,
    pub session: Session,
    pub notes: Notes,
}

/// Decisions made while resolving accelerators, each about one resource, shown with the plan.
pub type Notes = Vec<(hoist_provider::Address, String)>;

/// The blueprint's resources: spec, accelerator resolution (keeping what `prior` runs on) and
/// the cloud's expansion, every problem located in the blueprint. No cloud call, no state write.
pub fn expand(
    blueprint: &Blueprint,
    prior: Option<&hoist_state::State>,
) -> anyhow::Result<(Vec<ResourceConfig>, Notes)> {
    let Some(model) = cloud_model(blueprint.cloud.as_str()) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut spec: EnvSpec = blueprint.spec(model.as_ref())?;
    let notes = crate::resolve::resolve_pools(blueprint, &mut spec, prior)?;
    let desired = model
        .expand(&spec)
        .map_err(|problems| blueprint.locate(problems))?;
    Ok((desired, notes))
}

/// Expand and resolve a blueprint against static facts only: no cloud, no state.
pub fn expand_offline(blueprint: &Blueprint) -> anyhow::Result<Vec<ResourceConfig>> {
    Ok(expand(blueprint, None)?.0)
}

impl Context {
    pub async fn open(
        files: &FileArgs,
        operation: &str,
        printer: &Printer,
    ) -> anyhow::Result<Context> {
        let blueprint = load_blueprint(files)?;
        let env = EnvSettings::from_blueprint(&blueprint);
        // Expand against static facts first, so a bad blueprint never opens the cloud.
        expand_offline(&blueprint)?;
        let provider = open_provider(&env).await?;
        let session = Session::open(
            &store(files, &blueprint.name),
            operation,
            env,
            provider,
            printer,
        )
        .await?;
        // Again knowing state, so pools keep the instance type they already have.
        let (desired, notes) = expand(&blueprint, session.state.as_ref())?;
        Ok(Context {
            blueprint,
            desired,
            session,
            notes,
        })
    }

    /// Plan the blueprint's resources (moved into the plan, not copied), with the resolution
    /// notes on their changes.
    pub async fn plan(
        &mut self,
        refresh: bool,
        printer: &Printer,
    ) -> anyhow::Result<crate::engine::Plan> {
        let desired = std::mem::take(&mut self.desired);
        let mut plan = self.session.plan(desired, refresh, printer).await?;
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
}

/// Price the plan's node pools from the cloud's catalog (spot as spot, where published).
pub fn attach_cost(plan: &mut crate::engine::Plan, state: Option<&hoist_state::State>) {
    let catalog = hoist_catalog::Catalog::of(&plan.env.cloud).ok();
    let region = plan.env.region.clone();
    let price = move |ty: &str, spot: bool| {
        catalog?
            .instance(ty, &region)
            .map(|o| o.hourly(spot).unwrap_or(o.price))
    };
    plan.cost = Some(crate::engine::cost::estimate(
        plan,
        state,
        &price,
        chrono::Utc::now(),
    ));
}

/// Refuse a plan whose node pools at max size cost more than the blueprint's budget.
pub fn check_budget(plan: &crate::engine::Plan) -> anyhow::Result<()> {
    let Some(cost) = &plan.cost else {
        return Ok(());
    };
    // A pool without a price would count as free: with a budget, that is no check at all.
    let unpriced: Vec<String> = cost
        .pools
        .iter()
        .filter(|p| p.unit_hourly_usd.is_none())
        .map(|p| {
            format!(
                "  {}: {} ({} nodes at most)",
                p.address,
                p.instance_type.as_deref().unwrap_or("no instance type"),
                p.max_nodes
            )
        })
        .collect();
    if let (Some(budget), false) = (cost.budget_hourly_usd, unpriced.is_empty()) {
        anyhow::bail!(
            "cannot check the budget of ${budget:.2}/h: the {} catalog has no price for\n{}\n  = hint: the built-in catalog prices accelerator types (and the sim's); copy the cloud's catalog (catalog/data/{}.csv in hoist's source) into a folder, add rows for these types, and point HOIST_CATALOG_DIR at it; or remove `budget`; nothing was changed",
            plan.env.cloud,
            unpriced.join("\n"),
            plan.env.cloud
        );
    }
    let Some(budget) = cost.over_budget() else {
        return Ok(());
    };
    let mut lines = vec![format!("the plan exceeds the budget: at max size the node pools cost ${:.2}/h, over budget.max_hourly_usd ${budget:.2}/h", cost.max_hourly_usd)];
    for p in cost.pools.iter().filter(|p| p.max_hourly_usd > 0.0) {
        lines.push(format!(
            "  {}: {} × {} ({}) at ${:.2}/h = ${:.2}/h",
            p.address,
            p.max_nodes,
            p.instance_type.as_deref().unwrap_or("?"),
            p.capacity,
            p.unit_hourly_usd.unwrap_or(0.0),
            p.max_hourly_usd
        ));
    }
    lines.push("  = hint: lower `max` on the largest pools, use `capacity: spot`, or raise `budget.max_hourly_usd`; nothing was changed".into());
    anyhow::bail!(lines.join("\n"))
}
