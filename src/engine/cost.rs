//! What an environment costs per hour, now and after a plan. Pure: prices come in through a
//! lookup, so the engine knows nothing of catalogs. Node pools only; control-plane fees, disks
//! and traffic are not counted.

use chrono::{DateTime, Utc};
use hoist_provider::{Action, Address, PoolNodes};
use hoist_state::State;
use serde::{Deserialize, Serialize};

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

fn pool_cost(address: &Address, nodes: PoolNodes, price: PriceOf) -> PoolCost {
    let unit = nodes
        .instance_type
        .as_deref()
        .and_then(|t| price(t, nodes.capacity == "spot"));
    PoolCost {
        address: address.clone(),
        unit_hourly_usd: unit,
        hourly_usd: unit.unwrap_or(0.0) * nodes.desired as f64,
        max_hourly_usd: unit.unwrap_or(0.0) * nodes.max as f64,
        nodes: nodes.desired,
        max_nodes: nodes.max,
        instance_type: nodes.instance_type,
        capacity: nodes.capacity,
    }
}

/// What `pools` cost per hour at their current sizes.
pub fn hourly_of<'a>(pools: impl IntoIterator<Item = &'a PoolNodes>, price: PriceOf) -> f64 {
    pools
        .into_iter()
        .filter_map(|p| {
            Some(price(p.instance_type.as_deref()?, p.capacity == "spot")? * p.desired as f64)
        })
        .sum()
}

/// What the node pools `state` records cost per hour at their recorded sizes.
pub fn hourly_now(state: &State, price: PriceOf) -> f64 {
    let pools: Vec<PoolNodes> = state
        .resources
        .values()
        .filter_map(|r| PoolNodes::of(&r.address, &r.attrs))
        .collect();
    hourly_of(&pools, price)
}

/// Estimate the cost of `plan` applied to `state`.
pub fn estimate(
    plan: &Plan,
    state: Option<&State>,
    price: PriceOf,
    now: DateTime<Utc>,
) -> CostReport {
    let current = state.map_or(0.0, |s| hourly_now(s, price));
    let changes: std::collections::HashMap<&Address, &hoist_provider::Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .map(|c| (&c.address, c))
        .collect();
    let mut pools = Vec::new();
    for config in &plan.desired {
        if PoolNodes::of(&config.address, &config.attrs).is_none() {
            continue;
        }
        let live = state
            .and_then(|s| s.resources.get(&config.address))
            .map(|r| &r.attrs);
        let attrs = match changes.get(&config.address) {
            Some(c) if c.action != Action::NoOp => c.after.as_ref().unwrap_or(&config.attrs),
            _ => live.unwrap_or(&config.attrs),
        };
        if let Some(nodes) = PoolNodes::of(&config.address, attrs) {
            pools.push(pool_cost(&config.address, nodes, price));
        }
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
