//! What a plan costs, and the budget gate that refuses a plan over budget.

/// One node's price in `region` of `cloud` from the catalog (spot as spot, where published).
fn price_in(cloud: &str, region: &str) -> impl Fn(&str, bool) -> Option<f64> {
    let catalog = hoist_catalog::Catalog::of(cloud).ok();
    let region = region.to_string();
    move |ty: &str, spot: bool| {
        catalog?
            .instance(ty, &region)
            .map(|o| o.hourly(spot).unwrap_or(o.price))
    }
}

/// What an environment's node pools cost per hour now, from its state.
pub fn hourly_now(state: &hoist_state::State) -> f64 {
    crate::engine::cost::hourly_now(state, &price_in(&state.provider, &state.region))
}

/// What `pools` of an environment in `region` of `cloud` cost per hour.
pub fn hourly_of(cloud: &str, region: &str, pools: &[hoist_provider::PoolNodes]) -> f64 {
    crate::engine::cost::hourly_of(pools, &price_in(cloud, region))
}

/// Price the plan's node pools from the cloud's catalog (spot as spot, where published).
pub fn attach_cost(plan: &mut crate::engine::Plan, state: Option<&hoist_state::State>) {
    let price = price_in(&plan.env.cloud, &plan.env.region);
    plan.cost = Some(crate::engine::cost::estimate(
        plan,
        state,
        &price,
        chrono::Utc::now(),
    ));
}

/// Refuse a plan whose node pools at max size cost more than the blueprint's budget.
pub fn check_budget(plan: &crate::engine::Plan) -> anyhow::Result<()> {
    let Some(cost) = &plan.cost else {
        return Ok(());
    };
    // A pool without a price would count as free: with a budget, that is no check at all.
    let unpriced: Vec<String> = cost
        .pools
        .iter()
        .filter(|p| p.unit_hourly_usd.is_none())
        .map(|p| {
            format!(
                "  {}: {} ({} nodes at most)",
                p.address,
                p.instance_type.as_deref().unwrap_or("no instance type"),
                p.max_nodes
            )
        })
        .collect();
    if let (Some(budget), false) = (cost.budget_hourly_usd, unpriced.is_empty()) {
        anyhow::bail!(
            "cannot check the budget of ${budget:.2}/h: the {} catalog has no price for\n{}\n  = hint: the built-in catalog prices accelerator types (and the sim's); copy the cloud's catalog (catalog/data/{}.csv in hoist's source) into a folder, add rows for these types, and point HOIST_CATALOG_DIR at it; or remove `budget`; nothing was changed",
            plan.env.cloud,
            unpriced.join("\n"),
            plan.env.cloud
        );
    }
    let Some(budget) = cost.over_budget() else {
        return Ok(());
    };
    let mut lines = vec![format!("the plan exceeds the budget: at max size the node pools cost ${:.2}/h, over budget.max_hourly_usd ${budget:.2}/h", cost.max_hourly_usd)];
    for p in cost.pools.iter().filter(|p| p.max_hourly_usd > 0.0) {
        lines.push(format!(
            "  {}: {} × {} ({}) at ${:.2}/h = ${:.2}/h",
            p.address,
            p.max_nodes,
            p.instance_type.as_deref().unwrap_or("?"),
            p.capacity,
            p.unit_hourly_usd.unwrap_or(0.0),
            p.max_hourly_usd
        ));
    }
    lines.push("  = hint: lower `max` on the largest pools, use `capacity: spot`, or raise `budget.max_hourly_usd`; nothing was changed".into());
    anyhow::bail!(lines.join("\n"))
}
