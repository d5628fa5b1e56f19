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

pub fn sim(printer: &Printer, c: SimCommand) -> anyhow::Result<u8> {
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
        SimCommand::Delete { target } => {
            let r = cloud.remove(&target)?;
            printer.out(&format!("Deleted {} {} ({}) behind hoist's back.", r.kind, r.cloud_id, r.name));
        }
        SimCommand::Capacity { zone, accelerator, nodes } => match (zone, accelerator, nodes) {
            (Some(z), Some(a), Some(n)) => {
                let limit = parse_limit(&n, "node count")?;
                cloud.set_capacity(&z, &a, limit)?;
                printer.out(&format!("Zone {z} can now host {} {} nodes.", limit.map_or("unlimited".into(), |n| n.to_string()), a.to_ascii_uppercase()));
            }
            (None, None, None) => {
                let rows = cloud.capacity()?;
                if printer.json {
                    printer.json_out(&json!(rows));
                } else if rows.is_empty() {
                    printer.out("Every zone has unlimited capacity.");
                } else {
                    for r in rows {
                        printer.out(&format!("{:<16} {:<12} {}", r.zone, r.accelerator, r.available));
                    }
                }
            }
            _ => bail!("give all of ZONE ACCELERATOR NODES to set capacity, or none to list it\n  = hint: hoist sim capacity sim-east1-a A100 0"),
        },
        SimCommand::Quota { region, accelerator, gpus } => match (region, accelerator, gpus) {
            (Some(r), Some(a), Some(n)) => {
                let limit = parse_limit(&n, "GPU count")?;
                cloud.set_quota(&r, &a, limit)?;
                printer.out(&format!("Region {r} may now run {} {} GPUs.", limit.map_or("unlimited".into(), |n| n.to_string()), a.to_ascii_uppercase()));
            }
            (None, None, None) => {
                let rows = cloud.quotas()?;
                if printer.json {
                    printer.json_out(&json!(rows));
                } else if rows.is_empty() {
                    printer.out("No GPU quotas are set: every region is unlimited.");
                } else {
                    for r in rows {
                        printer.out(&format!("{:<14} {:<12} {} GPUs", r.region, r.accelerator, r.max_gpus));
                    }
                }
            }
            _ => bail!("give all of REGION ACCELERATOR GPUS to set a quota, or none to list them\n  = hint: hoist sim quota sim-east1 A100 16"),
        },
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
