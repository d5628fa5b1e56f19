//! The command line's shape. Commands here only name arguments; `commands` does the work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "hoist",
    version,
    about = "Provision GPU/TPU Kubernetes clusters and their MLOps stack from a declarative blueprint"
)]
pub struct Cli {
    /// Machine-readable JSON on stdout (progress goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Never colour the output (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct FileArgs {
    /// The blueprint.
    #[arg(short = 'f', long = "file", default_value = "hoist.yaml")]
    pub file: PathBuf,
    /// Where state lives (default: `.hoist/` beside the blueprint).
    #[arg(long, env = "HOIST_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Remote state shared across machines and CI jobs: `s3://BUCKET/PREFIX` or
    /// `file:///PATH` (over the blueprint's `backend`).
    #[arg(long, env = "HOIST_BACKEND")]
    pub backend: Option<String>,
    /// Set a blueprint variable (`{{ var.NAME }}`) over its default: `--var pr=42` (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Set blueprint variables from a YAML or JSON file of `name: value` (repeatable; `--var` wins).
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

impl FileArgs {
    /// Where the run's files are, for the library.
    pub fn files(&self) -> crate::ops::Files {
        crate::ops::Files {
            blueprint: self.file.clone(),
            state_dir: self.state_dir.clone(),
            backend: self.backend.clone(),
            vars: self.vars.clone(),
            var_files: self.var_files.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a starter blueprint.
    Init(InitArgs),
    /// Check a blueprint and report every problem with its location.
    Validate(FileArgs),
    /// Show what apply would change.
    Plan(PlanArgs),
    /// Make the cloud match the blueprint (or a saved plan).
    Apply(ApplyArgs),
    /// Delete everything the environment has, then check nothing tagged for it remains.
    Destroy(DestroyArgs),
    /// Compare the cloud with what hoist last applied.
    Drift(DriftArgs),
    /// Show the state, or a saved plan.
    Show(ShowArgs),
    /// Inspect the state.
    #[command(subcommand)]
    State(StateCommand),
    /// Print the environment's outputs.
    Output(OutputArgs),
    /// Write a kubeconfig for the environment's cluster; it fetches a token per use, never stores one.
    Kubeconfig(KubeconfigArgs),
    /// Break a stale lock left by a run that died.
    Unlock(UnlockArgs),
    /// Every environment in a backend: cloud, region, expiry, resources, $/h and lock holder.
    Envs(EnvsArgs),
    /// Destroy every expired environment in a backend, each under its own lock.
    Reap(ReapArgs),
    /// Find and delete cloud resources with hoist's tags that no state records (or, with
    /// `--expired`, whose expiry has passed); needs no blueprint.
    Sweep(SweepArgs),
    /// Print a completion script for a shell (`hoist completions bash > /etc/bash_completion.d/hoist`).
    Completions { shell: clap_complete::Shell },
    /// Print the JSON Schema of the blueprint format (for editor autocompletion).
    Schema,
    /// What each cloud offers: accelerators, instance types, regions, prices.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Look at and change the simulated cloud behind hoist's back.
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Take every answer from flags and defaults; never prompt (also when not on a terminal).
    #[arg(long)]
    pub non_interactive: bool,
    /// Environment name.
    #[arg(long)]
    pub name: Option<String>,
    /// sim (no account needed), aws, gcp or azure.
    #[arg(long)]
    pub cloud: Option<String>,
    /// Required for a real cloud; sim defaults to sim-east1.
    #[arg(long)]
    pub region: Option<String>,
    /// e.g. A100:8, L4:1, tpu-v5e-8
    #[arg(long)]
    pub accelerator: Option<String>,
    /// Nodes in the GPU pool now (its desired size).
    #[arg(long)]
    pub nodes: Option<u32>,
    #[arg(long)]
    pub min: Option<u32>,
    #[arg(long)]
    pub max: Option<u32>,
    /// on-demand or spot.
    #[arg(long)]
    pub capacity: Option<String>,
    /// Stack components, comma-separated: gpu, autoscaler, monitoring, mlflow, serving.
    #[arg(long, value_delimiter = ',')]
    pub stack: Option<Vec<String>>,
    /// Lifetime of an ephemeral environment, e.g. 8h.
    #[arg(long)]
    pub ttl: Option<String>,
    /// Fail plans whose node pools at max size cost more per hour.
    #[arg(long)]
    pub budget: Option<f64>,
    /// Where to write the blueprint.
    #[arg(short = 'f', long = "file", default_value = "hoist.yaml")]
    pub file: PathBuf,
    /// Overwrite an existing file without asking.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Save the plan for a later `hoist apply FILE`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the plan as a pull-request comment in Markdown.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Exit 2 when the plan has changes, 0 when none.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Read the cloud first (default true); false plans from state alone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A plan saved by `hoist plan --out`; without it, plan from the blueprint first.
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub files: FileArgs,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many steps and cloud calls at once; without it, hoist widens while the
    /// cloud answers and backs off when it throttles.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub parallelism: Option<u64>,
    /// How long one step may take, retries and waits included (e.g. 90s, 20m, 1h); the
    /// default depends on the cloud and the kind of resource.
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub refresh: bool,
}

#[derive(Args, Debug)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long)]
    pub auto_approve: bool,
    /// At most this many steps and cloud calls at once (default: adaptive).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub parallelism: Option<u64>,
    /// How long one step may take, retries and waits included (e.g. 90s, 20m, 1h).
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
}

/// `90s`, `20m`, `1h`, `1h30m`: a step deadline.
pub(crate) fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let mut total = 0u64;
    let mut digits = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("unknown unit `{c}`; write e.g. 90s, 20m or 1h")),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("expected a number before `{c}`; write e.g. 90s, 20m or 1h"))?;
        total += n * unit;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err("write a duration with a unit, e.g. 90s, 20m or 1h".into());
    }
    Ok(std::time::Duration::from_secs(total))
}

#[derive(Args, Debug)]
pub struct DriftArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// Exit 2 when anything drifted.
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// A saved plan to show instead of the state.
    pub plan: Option<PathBuf>,
    /// Write the saved plan as a pull-request comment in Markdown to this file (`-` for stdout).
    #[arg(long, requires = "plan")]
    pub markdown: Option<PathBuf>,
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Subcommand, Debug)]
pub enum StateCommand {
    /// Every resource address in state.
    List(FileArgs),
    /// One resource: cloud id, attributes, outputs.
    Show {
        address: String,
        #[command(flatten)]
        files: FileArgs,
    },
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// One output to print raw (for scripts).
    pub name: Option<String>,
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Args, Debug)]
pub struct KubeconfigArgs {
    /// Where to write it (default: print to stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// The lock id printed in the "locked" error.
    pub id: String,
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Args, Debug)]
pub struct EnvsArgs {
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Args, Debug)]
pub struct ReapArgs {
    #[command(flatten)]
    pub files: FileArgs,
    /// List what would be destroyed and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub limits: StepLimits,
}

/// How wide and how long the deletes of `reap` and `sweep` may run.
#[derive(Args, Debug)]
pub struct StepLimits {
    /// At most this many steps and cloud calls at once (default: adaptive).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub parallelism: Option<u64>,
    /// How long one step may take, retries and waits included (e.g. 90s, 20m, 1h).
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// The cloud to look in (sim, aws, gcp, azure).
    #[arg(long)]
    pub cloud: String,
    /// The region to look in.
    #[arg(long)]
    pub region: String,
    /// Only this environment's resources that its state does not record.
    #[arg(long, conflicts_with = "expired")]
    pub env: Option<String>,
    /// Every resource whose `hoist-expires-at` has passed, known to state or not.
    #[arg(long)]
    pub expired: bool,
    /// List what would be deleted and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub limits: StepLimits,
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Every simulated resource with its tags.
    List {
        /// Only resources tagged for this environment.
        #[arg(long)]
        env: Option<String>,
    },
    /// Resize a node pool (TARGET: cloud id or ENV/ADDRESS, e.g. demo/node_pool.gpu).
    Scale { target: String, size: u32 },
    /// Delete a resource as if from the console.
    Delete { target: String },
    /// Make a resource fail, as a cloud does when its hardware or controller fails.
    Fail {
        target: String,
        #[arg(long, default_value = "hardware failure")]
        reason: String,
    },
    /// Show, or set, how many nodes of an accelerator a zone can still host (`unlimited` to clear).
    Capacity {
        zone: Option<String>,
        accelerator: Option<String>,
        nodes: Option<String>,
    },
    /// Show, or set, a region's GPU quota for an accelerator (`unlimited` to clear).
    Quota {
        region: Option<String>,
        accelerator: Option<String>,
        gpus: Option<String>,
    },
    /// Serve the simulated clusters' Kubernetes APIs on 127.0.0.1 for kubectl (until Ctrl-C).
    Serve {
        /// The port (0 picks a free one; the address is printed and `hoist kubeconfig` reads it).
        #[arg(long, default_value_t = 6443)]
        port: u16,
    },
    /// Show, or set, the rates of injected transient errors and throttling (0 to 1).
    Faults {
        #[arg(long)]
        transient: Option<f64>,
        #[arg(long)]
        throttle: Option<f64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Offerings of a request (e.g. A100:8, h100, tpu-v5e-8) cheapest first, or a summary per accelerator.
    Gpus {
        request: Option<String>,
        /// Only this cloud (sim, aws, gcp, azure).
        #[arg(long)]
        cloud: Option<String>,
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
        /// Sort by, and require, spot prices.
        #[arg(long)]
        spot: bool,
        /// At most this many rows (0 for all).
        #[arg(long, default_value_t = 30)]
        limit: usize,
    },
}
