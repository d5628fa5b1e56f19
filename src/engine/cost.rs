//! What an environment costs per hour, now and after a plan. Pure: prices come in through a
//! lookup, so the engine knows nothing of catalogs. Node pools only; control-plane fees, disks
//! and traffic are not counted.

use chrono::{DateTime, Utc};
use hoist_provider::{Action, Address, Attrs};
use hoist_state::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Plan;

pub const HOURS_PER_MONTH: f64 = 730.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolCost {
    pub address: Address,
    pub instance_type: Option<String>,
    pub capacity: String,
    /// USD/hour for one node; `None` when the catalog does not know the type.
    pub unit_hourly_usd: Option<f64>,
    pub nodes: u64,
    pub max_nodes: u64,
    pub hourly_usd: f64,
    pub max_hourly_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostReport {
    pub pools: Vec<PoolCost>,
    pub current_hourly_usd: f64,
    pub hourly_usd: f64,
    pub max_hourly_usd: f64,
    pub monthly_usd: f64,
    pub hours_to_expiry: Option<f64>,
    pub until_expiry_usd: Option<f64>,
    pub budget_hourly_usd: Option<f64>,
}

impl CostReport {
    /// The budget is checked at max size: an autoscaler may take the pools there.
    pub fn over_budget(&self) -> Option<f64> {
        self.budget_hourly_usd
            .filter(|b| self.max_hourly_usd > *b + 1e-9)
    }
}

/// Price of one node: `(instance_type, spot)` → USD/hour.
pub type PriceOf<'a> = &'a dyn Fn(&str, bool) -> Option<f64>;

/// Where a resource's nodes are described: a node pool's own attributes, or the `system_`
/// attributes of a cluster that carries its system pool inline (AKS makes a cluster with one).
fn pool_prefix(address: &Address, attrs: &Attrs) -> Option<&'static str> {
    if address.kind() == "node_pool" {
        Some("")
    } else if attrs.contains_key("system_instance_type") {
        Some("system_")
    } else {
        None
    }
}

fn pool_cost(address: &Address, attrs: &Attrs, prefix: &str, price: PriceOf) -> PoolCost {
    let get = |k: &str| attrs.get(&format!("{prefix}{k}"));
    let int = |k: &str| get(k).and_then(Value::as_u64).unwrap_or(0);
    let capacity = get("capacity")
        .and_then(Value::as_str)
        .unwrap_or("on-demand")
        .to_string();
    let instance_type = get("instance_type")
        .and_then(Value::as_str)
        .map(String::from);
    let unit = instance_type
        .as_deref()
        .and_then(|t| price(t, capacity == "spot"));
    let (nodes, max_nodes) = (int("desired"), int("max"));
    PoolCost {
        address: address.clone(),
        instance_type,
        capacity,
        unit_hourly_usd: unit,
        nodes,
        max_nodes,
        hourly_usd: unit.unwrap_or(0.0) * nodes as f64,
        max_hourly_usd: unit.unwrap_or(0.0) * max_nodes as f64,
    }
}

/// Estimate the cost of `plan` applied to `state`.
pub fn estimate(
    plan: &Plan,
    state: Option<&State>,
    price: PriceOf,
    now: DateTime<Utc>,
) -> CostReport {
    let current: f64 = state
        .iter()
        .flat_map(|s| s.resources.values())
        .filter_map(|r| {
            Some(pool_cost(
                &r.address,
                &r.attrs,
                pool_prefix(&r.address, &r.attrs)?,
                price,
            ))
        })
        .map(|p| p.hourly_usd)
        .sum();
    let changes: std::collections::HashMap<&Address, &hoist_provider::Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .map(|c| (&c.address, c))
        .collect();
    let mut pools = Vec::new();
    for config in &plan.desired {
        let Some(prefix) = pool_prefix(&config.address, &config.attrs) else {
            continue;
        };
        let live = state
            .and_then(|s| s.resources.get(&config.address))
            .map(|r| &r.attrs);
        let attrs = match changes.get(&config.address) {
            Some(c) if c.action != Action::NoOp => c.after.as_ref().unwrap_or(&config.attrs),
            _ => live.unwrap_or(&config.attrs),
        };
        pools.push(pool_cost(&config.address, attrs, prefix, price));
    }
    let hourly: f64 = pools.iter().map(|p| p.hourly_usd).sum();
    let max_hourly: f64 = pools.iter().map(|p| p.max_hourly_usd).sum();
    let expires = state
        .and_then(|s| s.expires_at)
        .or_else(|| plan.env.expires_at(now));
    let hours = expires.map(|e| ((e - now).num_seconds().max(0) as f64) / 3600.0);
    CostReport {
        pools,
        current_hourly_usd: current,
        hourly_usd: hourly,
        max_hourly_usd: max_hourly,
        monthly_usd: hourly * HOURS_PER_MONTH,
        hours_to_expiry: hours,
        until_expiry_usd: hours.map(|h| h * hourly),
        budget_hourly_usd: plan.env.budget_hourly_usd,
    }
}
