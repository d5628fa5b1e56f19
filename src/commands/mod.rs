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
use hoist_provider::{CloudInfo, Provider};
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
    Store::new(dir, env)
}

fn beside(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Static region facts for a cloud, without opening it.
fn cloud_info(cloud: &str) -> Option<Box<dyn CloudInfo>> {
    match cloud {
        "sim" => Some(Box::new(hoist_sim::SimRegions)),
        #[cfg(feature = "aws")]
        "aws" => Some(Box::new(hoist_aws::AwsRegions)),
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
        "aws" => Ok(Arc::new(hoist_aws::AwsProvider::connect(&env.region, env.profile.as_deref()).await)),
        other => bail!("the `{other}` provider is not part of this build of hoist\n  = hint: use `cloud: sim` to try hoist without an account, or build with the `{other}` feature"),
    }
}

/// Everything a blueprint-driven command needs: the blueprint, its resources, and a locked session.
pub struct Context {
    pub blueprint: Blueprint,
    pub desired: Vec<hoist_provider::ResourceConfig>,
    pub session: Session,
    /// Decisions made while resolving accelerators, shown with the plan.
    pub notes: Vec<(hoist_provider::Address, String)>,
}

/// Expand and resolve a blueprint against static facts only: no cloud, no state.
pub fn expand_offline(
    blueprint: &Blueprint,
) -> anyhow::Result<Vec<hoist_provider::ResourceConfig>> {
    let mut desired = match cloud_info(blueprint.cloud.as_str()) {
        Some(info) => blueprint.expand(info.as_ref())?,
        None => Vec::new(),
    };
    crate::resolve::resolve_pools(blueprint, &mut desired, None)?;
    Ok(desired)
}

impl Context {
    pub async fn open(
        files: &FileArgs,
        operation: &str,
        printer: &Printer,
    ) -> anyhow::Result<Context> {
        let blueprint = load_blueprint(files)?;
        let env = EnvSettings::from_blueprint(&blueprint);
        // Expand and resolve against static facts first, so a bad blueprint never opens the cloud.
        let mut desired = expand_offline(&blueprint)?;
        let provider = open_provider(&env).await?;
        let session = Session::open(
            &store(files, &blueprint.name),
            operation,
            env,
            provider,
            printer,
        )
        .await?;
        // Resolve again knowing state, so pools keep the instance type they already have.
        for c in desired.iter_mut() {
            c.placement.remove("zones");
        }
        let notes =
            crate::resolve::resolve_pools(&blueprint, &mut desired, session.state.as_ref())?;
        Ok(Context {
            blueprint,
            desired,
            session,
            notes,
        })
    }

    /// Plan, with the resolution notes on their changes.
    /// Plan the blueprint's resources (moved into the plan, not copied).
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
