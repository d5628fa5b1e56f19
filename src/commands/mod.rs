//! What each command does, in terms of the engine, the state store and the printer.

mod catalog;
mod fleet;
mod init;
mod inspect;
mod kubeconfig;
mod run;
mod serve;
mod sim;

use std::sync::Arc;

use crate::cli::{Cli, Command};
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
        Command::Envs(a) => fleet::envs(&printer, a),
        Command::Reap(a) => fleet::reap(printer, a).await,
        Command::Sweep(a) => fleet::sweep(printer, a).await,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "hoist", &mut std::io::stdout());
            Ok(0)
        }
        Command::Kubeconfig(a) => kubeconfig::kubeconfig(printer, a).await,
        Command::Schema => {
            printer.json_out(&hoist_blueprint::json_schema());
            Ok(0)
        }
        Command::Sim(c) => sim::sim(&printer, c).await,
        Command::Catalog(c) => catalog::catalog(&printer, c),
    }
}

/// Leave a large value to the operating system at exit instead of freeing it piece by
/// piece: at thousands of resources, dropping a plan and its state costs as much as a
/// tenth of the plan itself. Only for plain data (no lock, file or connection inside).
pub(crate) fn leave_to_exit<T>(value: T) {
    std::mem::forget(value);
}
