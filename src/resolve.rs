//! Accelerator resolution: each GPU pool's request becomes an instance type from the cloud's
//! catalog, the cheapest of the first alternative offered in the region (and the pool's
//! zones), before expansion. A pool keeps the type it already has while that still fits, so a
//! price refresh never replaces running nodes. Pools written with an instance type learn what
//! accelerator it carries, so providers choose images and drivers by the type, not the syntax.

use hoist_blueprint::{Blueprint, BlueprintError, NodePool};
use hoist_catalog::{parse_request, Catalog, Offering, Request};
use hoist_provider::{AcceleratorInfo, Address, EnvSpec, PoolSpec, ResourceState, TpuShape};
use hoist_state::State;
use serde_json::Value;

/// Clouds whose catalog zones are the names blueprints use (AWS lists zone ids instead).
fn zones_are_names(cloud: &str) -> bool {
    matches!(cloud, "sim" | "gcp")
}

/// How many types a spot pool may mix (its cheapest and the next ones of the same accelerator).
const SPOT_TYPES: usize = 3;

/// Resolve every pool of `spec`; returns a note per decision worth showing.
pub fn resolve_pools(
    bp: &Blueprint,
    spec: &mut EnvSpec,
    prior: Option<&State>,
) -> Result<Vec<(Address, String)>, BlueprintError> {
    let catalog =
        Catalog::of(&spec.cloud).map_err(|e| bp.error_at("provider.cloud", e.to_string(), None))?;
    let mut notes = Vec::new();
    let region = spec.region.clone();
    for (pool, ps) in bp.node_pools.iter().zip(spec.node_pools.iter_mut()) {
        let address = Address::new("node_pool", &pool.name);
        let before = prior.and_then(|s| s.resources.get(&address));
        if pool.accelerators.is_empty() {
            ps.accelerator = catalog
                .instance(&ps.instance_type, &region)
                .and_then(accelerator_of);
            continue;
        }
        notes.extend(resolve_one(bp, catalog, &region, pool, ps, before)?);
    }
    Ok(notes)
}

/// Whether resolving `spec` again knowing `prior` would change nothing: every pool that
/// state records already runs the type (and spot alternatives) this resolution chose, in all
/// of its zones. Conservative: `false` sends the caller to the full resolution.
pub fn settled_by(spec: &EnvSpec, prior: &State) -> bool {
    spec.node_pools.iter().all(|ps| {
        let Some(before) = prior.resources.get(&Address::new("node_pool", &ps.name)) else {
            return true;
        };
        let same_type = before.attrs.get("instance_type").and_then(Value::as_str)
            == Some(ps.instance_type.as_str());
        let spot = ps.capacity == hoist_provider::Capacity::Spot;
        same_type
            && ps.placement_zones.is_none()
            && (!spot || kept_alternatives(Some(before), &ps.instance_type) == ps.alternatives)
    })
}

fn accelerator_of(o: &Offering) -> Option<AcceleratorInfo> {
    (!o.accelerator.is_empty()).then(|| AcceleratorInfo {
        name: o.accelerator.clone(),
        count: o.count.max(1.0) as u32,
        memory_gib: o.gpu_memory_gib,
        tpu: hoist_catalog::tpu_slice(&o.instance_type).map(|s| TpuShape {
            machine_type: s.machine_type.clone(),
            chips: s.chips,
            chips_per_host: s.chips_per_host,
            hosts: s.hosts,
            topology: s.topology.clone(),
            node_accelerator: s.gke_accelerator.clone(),
        }),
    })
}

fn resolve_one(
    bp: &Blueprint,
    catalog: &Catalog,
    region: &str,
    pool: &NodePool,
    ps: &mut PoolSpec,
    before: Option<&ResourceState>,
) -> Result<Vec<(Address, String)>, BlueprintError> {
    let at = format!("node_pools[{}].accelerator", pool.index);
    let address = Address::new("node_pool", &pool.name);
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
    let spot = ps.capacity == hoist_provider::Capacity::Spot;
    let zones = ps.zones.clone();
    let zone_filter = zones_are_names(catalog.cloud).then_some(zones.as_slice());
    let (request, offering, usable, kept) = match kept(catalog, region, &requests, before) {
        Some((q, o)) => (q, o, zones.clone(), true),
        None => {
            let choice = catalog
                .resolve(&requests, region, zone_filter, spot)
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
            (choice.request, choice.offering, usable, false)
        }
    };
    ps.request = Some(request.to_string());
    ps.instance_type = offering.instance_type.clone();
    ps.accelerator = accelerator_of(offering);
    ps.alternatives = if !spot {
        Vec::new()
    } else if kept {
        kept_alternatives(before, &offering.instance_type)
    } else {
        spot_alternatives(
            catalog,
            region,
            &request,
            offering,
            zone_filter.map(|_| &usable),
        )
    };
    let mut notes = Vec::new();
    if usable.len() < zones.len() {
        let missing: Vec<&str> = zones
            .iter()
            .filter(|z| !usable.contains(z))
            .map(String::as_str)
            .collect();
        notes.push((
            address.clone(),
            format!(
                "{} is not offered in {}; using {}",
                offering.instance_type,
                missing.join(", "),
                usable.join(", ")
            ),
        ));
        ps.placement_zones = Some(usable);
    }
    // Compared as parsed: `tpu-v5e-8` is the catalog's `tpu-v5litepod-8`, not an alternative.
    if request.to_string() != requests[0].to_string() {
        notes.push((
            address,
            format!(
                "{} is not offered in {}; using the alternative {request}",
                pool.accelerators[0], region
            ),
        ));
    }
    Ok(notes)
}

/// The request and offering a pool already runs on, while they still fit its requests.
fn kept<'c>(
    catalog: &'c Catalog,
    region: &str,
    requests: &[Request],
    before: Option<&ResourceState>,
) -> Option<(Request, &'c Offering)> {
    let r = before?;
    let (acc, ty) = (
        r.attrs.get("accelerator")?.as_str()?,
        r.attrs.get("instance_type")?.as_str()?,
    );
    let offering = catalog.instance(ty, region)?;
    requests
        .iter()
        .find(|q| q.to_string() == acc && offering.label() == acc)
        .map(|q| (q.clone(), offering))
}

/// The extra types a running spot pool was made with, so a price change never replaces it.
fn kept_alternatives(before: Option<&ResourceState>, primary: &str) -> Vec<String> {
    before
        .and_then(|r| r.attrs.get("instance_types"))
        .and_then(Value::as_array)
        .map(|types| {
            types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != primary)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Other types with the same accelerator and count, next cheapest on spot, offered in `zones`.
fn spot_alternatives(
    catalog: &Catalog,
    region: &str,
    request: &Request,
    chosen: &Offering,
    zones: Option<&Vec<String>>,
) -> Vec<String> {
    catalog
        .matching(request, Some(region), true)
        .into_iter()
        .filter(|o| o.instance_type != chosen.instance_type && o.label() == chosen.label())
        .filter(|o| {
            zones.is_none_or(|zs| o.zones.is_empty() || zs.iter().any(|z| o.zones.contains(z)))
        })
        .take(SPOT_TYPES - 1)
        .map(|o| o.instance_type.clone())
        .collect()
}
