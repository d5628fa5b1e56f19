//! Commands that look without changing: validate, drift, show, state, output, unlock.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use hoist_state::State;
use serde_json::{json, Value};

use super::EXIT_CHANGES;
use crate::cli::{DriftArgs, FileArgs, OutputArgs, ShowArgs, StateCommand, UnlockArgs};
use crate::engine::{drift as find_drift, DriftKind};
use crate::ops::{load_blueprint, store, Run};
use crate::printer::{render_plan, Printer, Style};

pub fn validate(printer: &Printer, files: &FileArgs) -> anyhow::Result<u8> {
    let bp = load_blueprint(&files.files())?;
    let resources = crate::ops::expand_offline(&bp)?.len();
    if printer.json {
        printer.json_out(&json!({"valid": true, "file": files.file, "environment": bp.name, "node_pools": bp.node_pools.len(), "resources": resources}));
    } else {
        printer.out(&format!(
            "{} is valid: environment {:?} on {} {}, {} node pools, {resources} resources.",
            files.file.display(),
            bp.name,
            bp.cloud.as_str(),
            bp.region,
            bp.node_pools.len()
        ));
    }
    Ok(0)
}

pub async fn drift(printer: Arc<Printer>, a: DriftArgs) -> anyhow::Result<u8> {
    let run = Run::open(&a.files.files(), "drift", printer.as_ref()).await?;
    let session = &run.session;
    let Some(state) = &session.state else {
        printer.info("Nothing to compare: the environment has not been applied.");
        return Ok(0);
    };
    let observed = session.refresh_state(printer.as_ref()).await?;
    let drifted = find_drift(&session.providers, state, &observed);
    if printer.json {
        printer.json_out(&json!({"drifted": !drifted.is_empty(), "resources": drifted}));
    } else if drifted.is_empty() {
        printer.out(&format!(
            "No drift: all {} resources match what hoist last applied.",
            state.resources.len()
        ));
    } else {
        let mut lines = vec![format!(
            "Drift in {} of {} resources:",
            drifted.len(),
            state.resources.len()
        )];
        for d in &drifted {
            match &d.kind {
                DriftKind::Deleted => lines.push(printer.paint(
                    &format!("  - {} [{}]: deleted outside hoist", d.address, d.cloud_id),
                    Style::Remove,
                )),
                DriftKind::Changed { fields } => {
                    lines.push(printer.paint(
                        &format!("  ~ {} [{}]: changed outside hoist", d.address, d.cloud_id),
                        Style::Change,
                    ));
                    for f in fields {
                        let show = |v: &Option<Value>| {
                            v.as_ref().map_or("(none)".to_string(), Value::to_string)
                        };
                        lines.push(format!(
                            "      {}: {} (applied) → {} (live)",
                            f.field,
                            show(&f.before),
                            show(&f.after)
                        ));
                    }
                }
            }
        }
        lines.push("Run `hoist apply` to restore the blueprint's values.".into());
        printer.out(&lines.join("\n"));
    }
    Ok(if a.exit_code && !drifted.is_empty() {
        EXIT_CHANGES
    } else {
        0
    })
}

/// Load the state of the blueprint's environment under a short lock.
fn load_state(files: &FileArgs, operation: &str) -> anyhow::Result<Option<State>> {
    let bp = load_blueprint(&files.files())?;
    let lock = store(&files.files(), &bp)?.lock(operation)?;
    Ok(lock.load()?)
}

fn require_state(files: &FileArgs, operation: &str) -> anyhow::Result<State> {
    load_state(files, operation)?
        .context("the environment has no state yet\n  = hint: run `hoist apply` first")
}

pub fn show(printer: &Printer, a: ShowArgs) -> anyhow::Result<u8> {
    if let Some(path) = a.plan {
        let plan = crate::ops::planfile::read(&path)?;
        if let Some(md) = &a.markdown {
            super::run::write_markdown(printer, &plan, md)?;
            return Ok(0);
        }
        if printer.json {
            printer.json_out(&json!({"plan": plan, "summary": plan.summary()}));
        } else {
            printer.out(&render_plan(&plan, false));
        }
        return Ok(0);
    }
    let state = require_state(&a.files, "show")?;
    if printer.json {
        printer.json_out(&serde_json::to_value(&state)?);
        return Ok(0);
    }
    let mut lines = vec![format!(
        "Environment {:?} on {} {} (lineage {}, serial {})",
        state.environment, state.provider, state.region, state.lineage, state.serial
    )];
    if let Some(t) = state.expires_at {
        lines.push(format!("Expires at {}", t.format("%Y-%m-%d %H:%M UTC")));
    }
    for r in state.resources.values() {
        lines.push(format!("\n{} [{}]", r.address, r.cloud_id));
        for (k, v) in &r.attrs {
            lines.push(format!("    {k}: {v}"));
        }
    }
    printer.out(&lines.join("\n"));
    Ok(0)
}

pub fn state(printer: &Printer, c: StateCommand) -> anyhow::Result<u8> {
    match c {
        StateCommand::List(files) => {
            let state = load_state(&files, "state list")?;
            let addresses: Vec<String> = state
                .iter()
                .flat_map(|s| s.resources.keys())
                .map(|a| a.to_string())
                .collect();
            if printer.json {
                printer.json_out(&json!(addresses));
            } else {
                printer.out(&addresses.join("\n"));
            }
            Ok(0)
        }
        StateCommand::Show { address, files } => {
            let state = require_state(&files, "state show")?;
            let Some(r) = state
                .resources
                .values()
                .find(|r| r.address.to_string() == address)
            else {
                let known: Vec<String> = state.resources.keys().map(|a| a.to_string()).collect();
                let hint =
                    hoist_blueprint::did_you_mean(&address, known.iter().map(String::as_str))
                        .map_or_else(
                            || format!("addresses in state: {}", known.join(", ")),
                            |s| format!("did you mean `{s}`?"),
                        );
                bail!(
                    "no resource {address:?} in the state of {:?}\n  = hint: {hint}",
                    state.environment
                );
            };
            printer.json_out(&serde_json::to_value(r)?);
            Ok(0)
        }
    }
}

pub fn output(printer: &Printer, a: OutputArgs) -> anyhow::Result<u8> {
    let state = require_state(&a.files, "output")?;
    match a.name {
        Some(name) => {
            let Some(v) = state.outputs.get(&name) else {
                let hint =
                    hoist_blueprint::did_you_mean(&name, state.outputs.keys().map(String::as_str))
                        .map_or_else(
                            || {
                                format!(
                                    "outputs: {}",
                                    state.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                                )
                            },
                            |s| format!("did you mean `{s}`?"),
                        );
                bail!("no output {name:?}\n  = hint: {hint}");
            };
            match (printer.json, v) {
                (false, Value::String(s)) => printer.out(s),
                _ => printer.out(&v.to_string()),
            }
        }
        None if printer.json => printer.json_out(&json!(state.outputs)),
        None => printer.out(
            &state
                .outputs
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    }
    Ok(0)
}

pub fn unlock(printer: &Printer, a: UnlockArgs) -> anyhow::Result<u8> {
    let bp = load_blueprint(&a.files.files())?;
    let info = store(&a.files.files(), &bp)?.unlock(&a.id)?;
    printer.out(&format!(
        "Cleared the record of the lock no run holds, last held by {info}."
    ));
    Ok(0)
}
