//! What each command does, in terms of the engine, the state store and the printer.

mod init;
mod inspect;
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
        Command::Schema => {
            printer.json_out(&hoist_blueprint::json_schema());
            Ok(0)
        }
        Command::Sim(c) => sim::sim(&printer, c),
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
        _ => None,
    }
}

/// Connect to the environment's cloud.
pub fn open_provider(env: &EnvSettings) -> anyhow::Result<Arc<dyn Provider>> {
    match env.cloud.as_str() {
        "sim" => {
            let latency = match std::env::var("HOIST_SIM_LATENCY") {
                Ok(v) if !v.is_empty() => v.parse::<LatencyProfile>().map_err(anyhow::Error::msg).context("HOIST_SIM_LATENCY")?,
                _ => env.latency.as_deref().unwrap_or("demo").parse().map_err(anyhow::Error::msg)?,
            };
            Ok(Arc::new(SimCloud::open(&SimCloud::default_dir(), latency)?))
        }
        other => bail!("the `{other}` provider is not part of this build of hoist yet\n  = hint: use `cloud: sim` to try hoist without an account"),
    }
}

/// Everything a blueprint-driven command needs: the blueprint, its resources, and a locked session.
pub struct Context {
    pub blueprint: Blueprint,
    pub desired: Vec<hoist_provider::ResourceConfig>,
    pub session: Session,
}

impl Context {
    pub async fn open(
        files: &FileArgs,
        operation: &str,
        printer: &Printer,
    ) -> anyhow::Result<Context> {
        let blueprint = load_blueprint(files)?;
        let env = EnvSettings::from_blueprint(&blueprint);
        // Expand against static region facts first, so a bad blueprint never opens the cloud.
        let desired = match cloud_info(&env.cloud) {
            Some(info) => blueprint.expand(info.as_ref())?,
            None => Vec::new(),
        };
        let provider = open_provider(&env)?;
        let desired = if desired.is_empty() {
            blueprint.expand(provider.as_ref())?
        } else {
            desired
        };
        let session = Session::open(
            &store(files, &blueprint.name),
            operation,
            env,
            provider,
            printer,
        )
        .await?;
        Ok(Context {
            blueprint,
            desired,
            session,
        })
    }
}
