//! `hoist sim`: the simulated cloud, seen and changed directly.

use anyhow::bail;
use hoist_sim::{Faults, LatencyProfile, SimCloud};
use serde_json::json;

use crate::cli::SimCommand;
use crate::printer::Printer;

fn parse_limit(text: &str, what: &str) -> anyhow::Result<Option<u32>> {
    if text == "unlimited" {
        return Ok(None);
    }
    match text.parse() {
        Ok(n) => Ok(Some(n)),
        Err(_) => bail!("invalid {what} {text:?}\n  = hint: give a whole number, or `unlimited`"),
    }
}

fn amount(n: Option<u32>) -> String {
    n.map_or("unlimited".into(), |n| n.to_string())
}

/// Capacity and quotas are both limits per (place, accelerator): with all three arguments,
/// set one; with none, list them.
#[allow(clippy::type_complexity)]
fn limit(
    printer: &Printer,
    args: (Option<String>, Option<String>, Option<String>),
    set: impl FnOnce(&str, &str, Option<u32>) -> anyhow::Result<String>,
    list: impl FnOnce() -> anyhow::Result<(serde_json::Value, Vec<String>)>,
    (what, empty, usage): (&str, &str, &str),
) -> anyhow::Result<()> {
    match args {
        (Some(place), Some(acc), Some(n)) => {
            printer.out(&set(&place, &acc, parse_limit(&n, what)?)?)
        }
        (None, None, None) => {
            let (json, lines) = list()?;
            if printer.json {
                printer.json_out(&json);
            } else if lines.is_empty() {
                printer.out(empty);
            } else {
                lines.iter().for_each(|l| printer.out(l));
            }
        }
        _ => bail!("{usage}"),
    }
    Ok(())
}

pub async fn sim(printer: &Printer, c: SimCommand) -> anyhow::Result<u8> {
    if let SimCommand::Serve { port } = c {
        return super::serve::serve(printer, port).await;
    }
    let cloud = SimCloud::open(&SimCloud::default_dir(), LatencyProfile::Instant)?;
    match c {
        SimCommand::List { env } => {
            let rows = cloud.list(env.as_deref())?;
            if printer.json {
                printer.json_out(&json!(rows));
            } else if rows.is_empty() {
                printer.out("The simulated cloud holds no resources.");
            } else {
                for r in rows {
                    let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    printer.out(&format!("{:<18} {:<10} {:<14} {:<13} {:<13} {}", r.cloud_id, r.kind, r.name, r.region, r.status, tags.join(",")));
                }
            }
        }
        SimCommand::Scale { target, size } => {
            let r = cloud.scale(&target, size)?;
            printer.out(&format!("Scaled node pool {} ({}) to {size} nodes behind hoist's back.", r.cloud_id, r.name));
        }
        SimCommand::Fail { target, reason } => {
            let r = cloud.fail(&target, &reason)?;
            printer.out(&format!("{} {} ({}) failed behind hoist's back: {reason}.", r.kind, r.cloud_id, r.name));
        }
        SimCommand::Delete { target } => {
            let r = cloud.remove(&target)?;
            printer.out(&format!("Deleted {} {} ({}) behind hoist's back.", r.kind, r.cloud_id, r.name));
        }
        SimCommand::Capacity { zone, accelerator, nodes } => limit(
            printer,
            (zone, accelerator, nodes),
            |z, a, n| {
                cloud.set_capacity(z, a, n)?;
                Ok(format!("Zone {z} can now host {} {} nodes.", amount(n), a.to_ascii_uppercase()))
            },
            || {
                let rows = cloud.capacity()?;
                Ok((json!(rows), rows.iter().map(|r| format!("{:<16} {:<12} {}", r.zone, r.accelerator, r.available)).collect()))
            },
            ("node count", "Every zone has unlimited capacity.", "give all of ZONE ACCELERATOR NODES to set capacity, or none to list it\n  = hint: hoist sim capacity sim-east1-a A100 0"),
        )?,
        SimCommand::Quota { region, accelerator, gpus } => limit(
            printer,
            (region, accelerator, gpus),
            |r, a, n| {
                cloud.set_quota(r, a, n)?;
                Ok(format!("Region {r} may now run {} {} GPUs.", amount(n), a.to_ascii_uppercase()))
            },
            || {
                let rows = cloud.quotas()?;
                Ok((json!(rows), rows.iter().map(|r| format!("{:<14} {:<12} {} GPUs", r.region, r.accelerator, r.max_gpus)).collect()))
            },
            ("GPU count", "No GPU quotas are set: every region is unlimited.", "give all of REGION ACCELERATOR GPUS to set a quota, or none to list them\n  = hint: hoist sim quota sim-east1 A100 16"),
        )?,
        SimCommand::Serve { .. } => {}
        SimCommand::Faults { transient, throttle } => {
            let mut f = cloud.faults()?;
            if transient.is_some() || throttle.is_some() {
                f = Faults { transient: transient.unwrap_or(f.transient), throttle: throttle.unwrap_or(f.throttle) };
                cloud.set_faults(f)?;
            }
            if printer.json {
                printer.json_out(&json!(f));
            } else {
                printer.out(&format!("Injected faults per call: transient {:.0}%, throttling {:.0}%.", f.transient * 100.0, f.throttle * 100.0));
            }
        }
    }
    Ok(0)
}
