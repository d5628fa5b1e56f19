//! All output goes through the printer: human text (coloured only on a terminal without
//! NO_COLOR), progress (a bar on a terminal, timestamped lines otherwise), or JSON.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use hoist_provider::{Action, ReplaceOrder};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::engine::cost::CostReport;
use crate::engine::{Event, Observer, Plan};

#[derive(Clone, Copy)]
pub enum Style {
    Add,
    Change,
    Remove,
    Dim,
    Bold,
    Warn,
}

pub struct Printer {
    pub json: bool,
    color: bool,
    tty: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Printer {
    pub fn new(json: bool, no_color: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let color = tty && !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self {
            json,
            color,
            tty,
            bar: Mutex::new(None),
        }
    }

    /// Whether output is coloured (a terminal, and no NO_COLOR / --no-color).
    pub fn color(&self) -> bool {
        self.color
    }

    pub fn paint(&self, text: &str, style: Style) -> String {
        paint(self.color, text, style)
    }

    /// A line of the command's result on stdout.
    pub fn out(&self, text: &str) {
        match &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(bar) => bar.println(text),
            None => {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{text}");
            }
        }
    }

    /// Diagnostics and progress go to stderr when stdout carries JSON.
    pub fn info(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            self.out(text);
        }
    }

    pub fn json_out(&self, value: &Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        println!("{text}");
    }

    /// Start a progress bar for `total` steps (only on a terminal, and not in JSON mode).
    pub fn start_progress(&self, total: usize) {
        if self.tty && !self.json && total > 0 {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
        }
    }

    pub fn finish_progress(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    fn progress_line(&self, text: String, advance: bool) {
        let guard = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        match &*guard {
            Some(bar) => {
                if advance {
                    bar.inc(1);
                    bar.println(text);
                } else {
                    bar.set_message(text);
                }
            }
            None => {
                drop(guard);
                let stamp = chrono::Local::now().format("%H:%M:%S");
                self.info(&format!("[{stamp}] {text}"));
            }
        }
    }
}

pub fn paint(color: bool, text: &str, style: Style) -> String {
    if !color {
        return text.to_string();
    }
    let code = match style {
        Style::Add => "32",
        Style::Change => "33",
        Style::Remove => "31",
        Style::Dim => "2",
        Style::Bold => "1",
        Style::Warn => "33;1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

impl Observer for Printer {
    fn event(&self, event: Event) {
        match event {
            Event::Started {
                address,
                action,
                verb,
            } => self.progress_line(
                format!("{} {address}: {verb}…", action.symbol().trim()),
                false,
            ),
            Event::Finished {
                address,
                verb,
                elapsed,
                cloud_id,
            } => self.progress_line(
                format!(
                    "{address}: {verb} in {:.1}s [{cloud_id}]",
                    elapsed.as_secs_f64()
                ),
                true,
            ),
            Event::Failed { address, error } => self.progress_line(
                self.paint(&format!("{address}: failed: {error}"), Style::Remove),
                true,
            ),
            Event::Skipped { address, reason } => {
                self.progress_line(format!("{address}: skipped: {reason}"), true)
            }
            Event::Retrying {
                address,
                error,
                attempt,
                delay,
            } => self.progress_line(
                self.paint(
                    &format!(
                        "{address}: retry {attempt} in {}ms after: {error}",
                        delay.as_millis()
                    ),
                    Style::Dim,
                ),
                false,
            ),
            Event::Note {
                address: Some(a),
                message,
            } => self.progress_line(format!("{a}: {message}"), false),
            Event::Note {
                address: None,
                message,
            } => self.progress_line(message, false),
        }
    }
}

fn style_of(action: Action) -> Style {
    match action {
        Action::Create => Style::Add,
        Action::Update => Style::Change,
        Action::Replace(_) => Style::Change,
        Action::Delete => Style::Remove,
        Action::NoOp => Style::Dim,
    }
}

pub(crate) fn short(v: &Option<Value>) -> String {
    match v {
        None => "(none)".into(),
        Some(v) => shown(v),
    }
}

/// A value as a plan shows it: references to outputs not made yet as `(known after apply)`.
fn shown(v: &Value) -> String {
    match hoist_provider::display_unknown(v) {
        Value::String(s) if s == hoist_provider::UNKNOWN => s,
        other => other.to_string(),
    }
}

/// The human rendering of a plan, Terraform-style.
pub fn render_plan(plan: &Plan, color: bool) -> String {
    let mut out = Vec::new();
    let env = &plan.env;
    if !plan.has_changes() {
        out.push(format!(
            "No changes. Environment {:?} ({} {}) matches the blueprint.",
            env.name, env.cloud, env.region
        ));
        return out.join("\n");
    }
    out.push(format!(
        "hoist will make these changes to environment {:?} ({} {}):",
        env.name, env.cloud, env.region
    ));
    out.push(String::new());
    for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
        let header = format!("{:>3} {}", c.action.symbol(), c.address);
        let label = match c.action {
            Action::Create => "create".to_string(),
            Action::Update => "update in place".to_string(),
            Action::Replace(ReplaceOrder::CreateBeforeDestroy) => {
                "replace, create before destroy".to_string()
            }
            Action::Replace(ReplaceOrder::DestroyBeforeCreate) => {
                "replace, destroy before create".to_string()
            }
            Action::Delete => "destroy".to_string(),
            Action::NoOp => String::new(),
        };
        out.push(format!(
            "{}  {}",
            paint(color, &header, style_of(c.action)),
            paint(color, &format!("# {label}: {}", c.reason), Style::Dim)
        ));
        match c.action {
            Action::Create => {
                let set = c.after.iter().flatten().filter(|(_, v)| !v.is_null());
                let (details, plain): (Vec<_>, Vec<_>) =
                    set.partition(|(k, _)| hoist_provider::is_detail(k));
                for (k, v) in plain {
                    out.push(format!("        {k}: {}", shown(v)));
                }
                if !details.is_empty() {
                    let n = details.len();
                    out.push(paint(
                        color,
                        &format!("        (and {n} fields of the object; --json lists them)"),
                        Style::Dim,
                    ));
                }
            }
            Action::Update | Action::Replace(_) => {
                for d in &c.diffs {
                    let tail = if d.forces_replacement {
                        paint(color, "  # forces replacement", Style::Warn)
                    } else {
                        String::new()
                    };
                    out.push(format!(
                        "      ~ {}: {} → {}{tail}",
                        d.field,
                        short(&d.before),
                        short(&d.after)
                    ));
                }
            }
            _ => {}
        }
        for n in &c.notes {
            out.push(paint(color, &format!("        note: {n}"), Style::Warn));
        }
    }
    for d in &plan.dropped {
        out.push(format!(
            "{}  {}",
            paint(color, &format!("  ~ {}", d.address), Style::Warn),
            paint(color, &format!("# forget: {}", d.reason), Style::Dim)
        ));
    }
    let s = plan.summary();
    let extra = [
        (s.adopt, "to adopt into state"),
        (s.forget, "to forget from state"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!(", {n} {what}"))
    .collect::<String>();
    out.push(String::new());
    out.push(paint(
        color,
        &format!(
            "Plan: {} to add, {} to change, {} to replace, {} to destroy{extra}.",
            s.add, s.change, s.replace, s.destroy
        ),
        Style::Bold,
    ));
    if let Some(cost) = &plan.cost {
        out.push(String::new());
        out.extend(render_cost(cost, color));
    }
    out.join("\n")
}

pub fn usd(x: f64) -> String {
    // An empty f64 sum is -0.0; money is never negative zero.
    let whole = format!("{:.2}", x + 0.0);
    let (int, frac) = whole.split_once('.').unwrap_or((&whole, "00"));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{frac}")
}

/// The cost section of a plan: per pool at desired and max size, then totals.
pub fn render_cost(cost: &CostReport, color: bool) -> Vec<String> {
    let mut out = vec![paint(color, "Cost of node pools (USD/hour):", Style::Bold)];
    let width = cost
        .pools
        .iter()
        .map(|p| p.address.to_string().len())
        .max()
        .unwrap_or(0);
    for p in &cost.pools {
        let unit = p.unit_hourly_usd.map_or("unpriced".to_string(), usd);
        out.push(format!(
            "  {:<width$}  {:<16} {:<9}  {} × {unit} = {}/h   at max {}: {}/h",
            p.address.to_string(),
            p.instance_type.as_deref().unwrap_or("?"),
            p.capacity,
            p.nodes,
            usd(p.hourly_usd),
            p.max_nodes,
            usd(p.max_hourly_usd)
        ));
    }
    let mut total = format!(
        "  Total: {}/h now → {}/h after this plan ({}/h at max); about {}/month",
        usd(cost.current_hourly_usd),
        usd(cost.hourly_usd),
        usd(cost.max_hourly_usd),
        usd(cost.monthly_usd)
    );
    if let (Some(h), Some(c)) = (cost.hours_to_expiry, cost.until_expiry_usd) {
        total.push_str(&format!("; {} until expiry in {h:.1}h", usd(c)));
    }
    out.push(total);
    if let Some(b) = cost.budget_hourly_usd {
        let style = if cost.over_budget().is_some() {
            Style::Remove
        } else {
            Style::Dim
        };
        out.push(paint(
            color,
            &format!(
                "  Budget: {}/h at max size, limit {}/h",
                usd(cost.max_hourly_usd),
                usd(b)
            ),
            style,
        ));
    }
    out
}
