//! Accelerator resolution: each GPU pool's request becomes an instance type from the cloud's
//! catalog, the cheapest of the first alternative offered in the region (and the pool's
//! zones), before planning. A pool keeps the type it already has while that still fits, so a
//! price refresh never replaces running nodes.

use hoist_blueprint::{Blueprint, BlueprintError};
use hoist_catalog::{parse_request, Catalog, Request};
use hoist_provider::{Address, ResourceConfig};
use hoist_state::State;
use serde_json::{json, Value};

/// Clouds whose catalog zones are the names blueprints use (AWS lists zone ids instead).
fn zones_are_names(cloud: &str) -> bool {
    matches!(cloud, "sim" | "gcp")
}

/// Resolve every accelerator pool in `desired`; returns a note per decision worth showing.
pub fn resolve_pools(
    bp: &Blueprint,
    desired: &mut [ResourceConfig],
    prior: Option<&State>,
) -> Result<Vec<(Address, String)>, BlueprintError> {
    let cloud = bp.cloud.as_str();
    let catalog =
        Catalog::of(cloud).map_err(|e| bp.error_at("provider.cloud", e.to_string(), None))?;
    let spot_of =
        |c: &ResourceConfig| c.attrs.get("capacity").and_then(Value::as_str) == Some("spot");
    let mut notes = Vec::new();
    let index: std::collections::HashMap<Address, usize> = desired
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.clone(), i))
        .collect();
    for pool in &bp.node_pools {
        if pool.accelerators.is_empty() {
            continue;
        }
        let at = format!("node_pools[{}].accelerator", pool.index);
        let address = Address::new("node_pool", &pool.name);
        let Some(&i) = index.get(&address) else {
            continue;
        };
        let config = &mut desired[i];
        let requests = pool
            .accelerators
            .iter()
            .map(|a| parse_request(&a.to_string()))
            .collect::<Result<Vec<Request>, String>>()
            .map_err(|msg| {
                bp.error_at(
                    &at,
                    msg,
                    Some("`hoist catalog gpus` lists what each cloud offers".into()),
                )
            })?;
        let spot = spot_of(config);
        let zones: Vec<String> = config.zones();
        let zone_filter = zones_are_names(cloud).then_some(zones.as_slice());
        let kept = prior.and_then(|s| s.resources.get(&address)).and_then(|r| {
            let (acc, ty) = (
                r.attrs.get("accelerator")?.as_str()?,
                r.attrs.get("instance_type")?.as_str()?,
            );
            let offering = catalog.instance(ty, &bp.region)?;
            requests
                .iter()
                .find(|q| q.to_string() == acc && offering.label() == acc)
                .map(|q| (q.clone(), offering))
        });
        let (request, offering, usable) = match kept {
            Some((q, o)) => (q, o, zones.clone()),
            None => {
                let choice = catalog
                    .resolve(&requests, &bp.region, zone_filter, spot)
                    .map_err(|e| {
                        let hint = if e.nearby.is_empty() {
                            "`hoist catalog gpus` lists what each cloud offers".to_string()
                        } else {
                            e.nearby.join("; ")
                        };
                        bp.error_at(&at, format!("node pool {:?}: {e}", pool.name), Some(hint))
                    })?;
                let usable = if zone_filter.is_some() {
                    choice.zones.clone()
                } else {
                    zones.clone()
                };
                (choice.request, choice.offering, usable)
            }
        };
        config
            .attrs
            .insert("accelerator".into(), json!(request.to_string()));
        config
            .attrs
            .insert("instance_type".into(), json!(offering.instance_type));
        if usable.len() < zones.len() {
            let missing: Vec<&String> = zones.iter().filter(|z| !usable.contains(z)).collect();
            notes.push((
                address.clone(),
                format!(
                    "{} is not offered in {}; using {}",
                    offering.instance_type,
                    missing
                        .iter()
                        .map(|z| z.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    usable.join(", ")
                ),
            ));
            config.placement.insert("zones".into(), json!(usable));
        }
        if request.to_string() != pool.accelerators[0].to_string() {
            notes.push((
                address,
                format!(
                    "{} is not offered in {}; using the alternative {request}",
                    pool.accelerators[0], bp.region
                ),
            ));
        }
    }
    Ok(notes)
}
