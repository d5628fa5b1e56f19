//! A plan as a pull-request comment: the summary first, the changes grouped by action with
//! the fields that change, the cost now → after and at max size against the budget, and
//! every warning. A hidden marker names the environment, so a CI step can find and update
//! its own comment. Nothing in it depends on when it was made: the same plan gives the same
//! text.

use hoist_provider::{Action, Change, ReplaceOrder};

use crate::engine::Plan;
use crate::printer::{short, usd};

/// The first line of every comment: `<!-- hoist-plan: ENV -->`.
pub fn marker(env: &str) -> String {
    format!("<!-- hoist-plan: {env} -->")
}

/// Most fields a change lists; the rest are counted (`hoist show --json` has them all).
const FIELDS: usize = 12;

pub fn render(plan: &Plan) -> String {
    let env = &plan.env;
    let s = plan.summary();
    let mut out = vec![
        marker(&env.name),
        format!(
            "### hoist plan: `{}` ({} {})",
            env.name, env.cloud, env.region
        ),
        String::new(),
    ];
    let verdict = if plan.has_changes() {
        format!(
            "**{} to add, {} to change, {} to replace, {} to destroy.**",
            s.add, s.change, s.replace, s.destroy
        )
    } else {
        "**No changes.** The environment matches the blueprint.".to_string()
    };
    out.push(format!("{verdict}{}", cost_line(plan)));
    for (title, wanted) in [
        ("Create", Group::Create),
        ("Update in place", Group::Update),
        ("Replace", Group::Replace),
        ("Destroy", Group::Destroy),
    ] {
        let changes: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|c| wanted.has(c.action))
            .collect();
        if changes.is_empty() {
            continue;
        }
        out.push(String::new());
        out.push(format!("#### {title} ({})", changes.len()));
        out.push(String::new());
        for c in changes {
            out.extend(change_lines(c));
        }
    }
    out.extend(cost_table(plan));
    out.extend(warnings(plan));
    out.push(String::new());
    out.push("<sub>Apply exactly this plan with `hoist apply plan.hoist`; it is refused if the environment's state changed since.</sub>".into());
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[derive(Clone, Copy)]
enum Group {
    Create,
    Update,
    Replace,
    Destroy,
}

impl Group {
    fn has(self, action: Action) -> bool {
        matches!(
            (self, action),
            (Group::Create, Action::Create)
                | (Group::Update, Action::Update)
                | (Group::Replace, Action::Replace(_))
                | (Group::Destroy, Action::Delete)
        )
    }
}

/// A value in a table cell or code span: no pipes, no backticks, no line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('`', "'")
        .replace('\n', " ")
}

fn change_lines(c: &Change) -> Vec<String> {
    let order = match c.action {
        Action::Replace(ReplaceOrder::CreateBeforeDestroy) => " (new one first)",
        Action::Replace(ReplaceOrder::DestroyBeforeCreate) => " (old one first)",
        _ => "",
    };
    let mut out = vec![format!("- `{}`{order}: {}", c.address, cell(&c.reason))];
    let diffs: Vec<String> = c
        .diffs
        .iter()
        .map(|d| {
            let forces = if d.forces_replacement {
                " **(forces replacement)**"
            } else {
                ""
            };
            format!(
                "  - `{}`: `{}` → `{}`{forces}",
                d.field,
                cell(&short(&d.before)),
                cell(&short(&d.after))
            )
        })
        .collect();
    let shown = diffs.len().min(FIELDS);
    out.extend(diffs[..shown].iter().cloned());
    if diffs.len() > shown {
        out.push(format!("  - and {} more fields", diffs.len() - shown));
    }
    out
}

fn cost_line(plan: &Plan) -> String {
    let Some(cost) = &plan.cost else {
        return String::new();
    };
    let mut line = format!(
        " Cost: {}/h → {}/h ({}/h at max",
        usd(cost.current_hourly_usd),
        usd(cost.hourly_usd),
        usd(cost.max_hourly_usd)
    );
    if let Some(b) = cost.budget_hourly_usd {
        let verdict = if cost.over_budget().is_some() {
            "**over** the budget of"
        } else {
            "within the budget of"
        };
        line.push_str(&format!(", {verdict} {}/h", usd(b)));
    }
    line.push_str(").");
    line
}

fn cost_table(plan: &Plan) -> Vec<String> {
    let Some(cost) = plan.cost.as_ref().filter(|c| !c.pools.is_empty()) else {
        return Vec::new();
    };
    let mut out = vec![
        String::new(),
        "#### Cost (USD/hour)".into(),
        String::new(),
        "| pool | type | capacity | nodes | per node | now | at max |".into(),
        "|---|---|---|---:|---:|---:|---:|".into(),
    ];
    for p in &cost.pools {
        out.push(format!(
            "| `{}` | {} | {} | {} (max {}) | {} | {} | {} |",
            p.address,
            cell(p.instance_type.as_deref().unwrap_or("?")),
            p.capacity,
            p.nodes,
            p.max_nodes,
            p.unit_hourly_usd.map_or("unpriced".into(), usd),
            usd(p.hourly_usd),
            usd(p.max_hourly_usd)
        ));
    }
    out.push(format!(
        "| **total** | | | | | **{}** (was {}) | **{}** |",
        usd(cost.hourly_usd),
        usd(cost.current_hourly_usd),
        usd(cost.max_hourly_usd)
    ));
    out.push(String::new());
    out.push(format!(
        "About {} a month at the planned size.",
        usd(cost.monthly_usd)
    ));
    out
}

fn warnings(plan: &Plan) -> Vec<String> {
    let mut items: Vec<String> = plan.warnings.iter().map(|w| cell(w)).collect();
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        items.extend(
            c.notes
                .iter()
                .map(|n| format!("`{}`: {}", c.address, cell(n))),
        );
    }
    if let Some(cost) = &plan.cost {
        let unpriced: Vec<String> = cost
            .pools
            .iter()
            .filter(|p| p.unit_hourly_usd.is_none())
            .map(|p| format!("`{}`", p.address))
            .collect();
        if !unpriced.is_empty() {
            items.push(format!(
                "no price known for {}: counted as free",
                unpriced.join(", ")
            ));
        }
    }
    if items.is_empty() {
        return Vec::new();
    }
    let mut out = vec![String::new(), "#### Warnings".into(), String::new()];
    out.extend(items.into_iter().map(|i| format!("- {i}")));
    out
}
