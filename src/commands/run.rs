//! plan, apply, destroy.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::bail;
use serde_json::json;

use super::EXIT_CHANGES;
use crate::cli::{ApplyArgs, DestroyArgs, PlanArgs};
use crate::engine::{ApplyOptions, ApplyReport, Leftovers, Observer, Plan, Session};
use crate::ops::{check_budget, Run};
use crate::printer::{render_plan, Printer, Style};

pub async fn plan(printer: Arc<Printer>, a: PlanArgs) -> anyhow::Result<u8> {
    let mut run = Run::open(&a.files.files(), "plan", printer.as_ref()).await?;
    let mut plan = run.plan(a.refresh, printer.as_ref()).await?;
    plan.backend = run.session.backend_url();
    print_plan(&printer, &plan);
    check_budget(&plan)?;
    if let Some(path) = &a.markdown {
        write_markdown(&printer, &plan, path)?;
    }
    if let Some(out) = &a.out {
        crate::ops::planfile::write(&plan, out)?;
        printer.info(&format!(
            "\nSaved the plan to {}. Apply exactly these changes with: hoist apply {}",
            out.display(),
            out.display()
        ));
    }
    let code = if a.detailed_exitcode && plan.has_changes() {
        EXIT_CHANGES
    } else {
        0
    };
    super::leave_to_exit((plan, run.session.state.take(), run.blueprint));
    Ok(code)
}

/// The plan as a pull-request comment, to `path` (`-`: standard output).
pub(super) fn write_markdown(printer: &Printer, plan: &Plan, path: &Path) -> anyhow::Result<()> {
    let text = crate::markdown::render(plan);
    if path == Path::new("-") {
        printer.out(text.trim_end());
        return Ok(());
    }
    std::fs::write(path, text)
        .map_err(|e| anyhow::anyhow!("cannot write the comment to {}: {e}", path.display()))
}

pub(super) fn print_plan(printer: &Printer, plan: &Plan) {
    if printer.json {
        printer.json_out(&json!({"plan": plan, "summary": plan.summary(), "changes_present": plan.has_changes()}));
    } else {
        printer.out(&render_plan(plan, printer.color()));
    }
}

pub async fn apply(printer: Arc<Printer>, a: ApplyArgs) -> anyhow::Result<u8> {
    if let Some(path) = &a.plan {
        return apply_saved(printer, path, &a).await;
    }
    let mut run = Run::open(&a.files.files(), "apply", printer.as_ref()).await?;
    let plan = run.plan(a.refresh, printer.as_ref()).await?;
    let mut session = run.session;
    print_plan(&printer, &plan);
    check_budget(&plan)?;
    if !plan.has_changes() {
        if session.record_settings(printer.as_ref()).await? {
            printer
                .info("No resource changes; the environment's expiry and settings were recorded.");
        }
        return Ok(0);
    }
    confirm(a.auto_approve, "apply")?;
    execute(
        &printer,
        &mut session,
        &plan,
        Limits::of(a.parallelism, a.timeout),
    )
    .await
}

async fn apply_saved(printer: Arc<Printer>, path: &Path, a: &ApplyArgs) -> anyhow::Result<u8> {
    let mut plan = crate::ops::planfile::read(path)?;
    let mut session =
        crate::ops::open_saved(&a.files.files(), &plan, path, printer.as_ref()).await?;
    if !plan.has_changes() {
        printer.info("The saved plan has no changes.");
        return Ok(0);
    }
    // The cost again, from the prices this hoist knows, before the first change.
    crate::ops::attach_cost(&mut plan, session.state.as_ref());
    check_budget(&plan)?;
    execute(
        &printer,
        &mut session,
        &plan,
        Limits::of(a.parallelism, a.timeout),
    )
    .await
}

/// Ask for a typed "yes" on a terminal; refuse to guess anywhere else.
pub(super) fn confirm(auto_approve: bool, verb: &str) -> anyhow::Result<()> {
    if auto_approve {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {verb} without confirmation: standard input is not a terminal\n  = hint: review the plan above and pass --auto-approve, or save it with `hoist plan --out FILE` and `hoist apply FILE`");
    }
    print!("\nDo you want to {verb} these changes? Only 'yes' will be accepted: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("{verb} cancelled: nothing was changed");
    }
    Ok(())
}

/// Run the plan with Ctrl-C handling: the first stops new work, the second exits at once.
/// How wide and how long an apply may run (`--parallelism`, `--timeout`).
pub(super) struct Limits {
    parallelism: Option<usize>,
    timeout: Option<std::time::Duration>,
}

impl Limits {
    pub(super) fn of(parallelism: Option<u64>, timeout: Option<std::time::Duration>) -> Self {
        Self {
            parallelism: parallelism.map(|n| n as usize),
            timeout,
        }
    }
}

pub(super) async fn execute(
    printer: &Arc<Printer>,
    session: &mut Session,
    plan: &Plan,
    limits: Limits,
) -> anyhow::Result<u8> {
    let Limits {
        parallelism,
        timeout,
    } = limits;
    let cancel = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (cancel, printer) = (cancel.clone(), printer.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, Ordering::SeqCst);
                printer.info("Interrupt: finishing the steps in flight and saving state. Press Ctrl-C again to exit at once.");
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "Exiting now. The journal holds every finished step; the next run recovers."
                );
                std::process::exit(130);
            }
        })
    };
    let s = plan.summary();
    printer.start_progress(s.add + s.change + s.replace * 2 + s.destroy);
    let observer: Arc<dyn Observer> = printer.clone();
    let report = session
        .apply(
            plan,
            &ApplyOptions {
                parallelism,
                cancel,
                timeout,
            },
            observer,
        )
        .await;
    printer.finish_progress();
    watcher.abort();
    let report = report?;
    print_report(printer, &report, session);
    Ok(if report.ok() { 0 } else { 1 })
}

fn print_report(printer: &Printer, report: &ApplyReport, session: &Session) {
    if printer.json {
        printer.json_out(&json!({"report": report, "ok": report.ok(), "serial": session.state.as_ref().map(|s| s.serial)}));
        return;
    }
    for c in report.concurrency.iter().filter(|c| c.throttled > 0) {
        printer.info(&format!(
            "Concurrency on {}: {} calls, {} throttled; the limit went from {} to {} at most and {} at least, ending at {} ({} in flight at most).",
            c.provider, c.calls, c.throttled, c.initial, c.peak, c.lowest, c.last, c.peak_in_flight
        ));
    }
    if report.ok() {
        printer.out(&printer.paint(
            &format!("\nApply complete: {} steps done.", report.completed),
            Style::Add,
        ));
        return;
    }
    let mut lines = vec![String::new(), printer.paint(&format!("Apply finished with problems: {} steps done, {} failed, {} skipped, {} not started.", report.completed, report.failed.len(), report.skipped.len(), report.not_started.len()), Style::Remove)];
    if report.interrupted {
        lines.push("Interrupted: state is saved; run the same command again to continue.".into());
    }
    for f in &report.failed {
        lines.push(format!("  failed  {}: {}", f.address, f.error));
    }
    for f in &report.skipped {
        lines.push(format!("  skipped {}: {}", f.address, f.error));
    }
    printer.out(&lines.join("\n"));
}

pub async fn destroy(printer: Arc<Printer>, a: DestroyArgs) -> anyhow::Result<u8> {
    let mut run = Run::open(&a.files.files(), "destroy", printer.as_ref()).await?;
    let plan = run.plan_destroy(printer.as_ref()).await?;
    let mut session = run.session;
    print_plan(&printer, &plan);
    let mut code = 0;
    if plan.has_changes() {
        confirm(a.auto_approve, "destroy")?;
        code = execute(
            &printer,
            &mut session,
            &plan,
            Limits::of(a.parallelism, a.timeout),
        )
        .await?;
    }
    // The final check is a check: one that cannot run says so and does not fail the destroy.
    let Leftovers {
        mine: left,
        others,
        skipped,
    } = match session.leftovers().await {
        Ok(l) => l,
        Err(e) => {
            printer.info(&format!(
                "warning: skipped the final check that nothing tagged hoist-env={} remains: {e}",
                session.env.name
            ));
            return Ok(code);
        }
    };
    if let Some(first) = others.first() {
        printer.info(&format!(
            "{} resources tagged hoist-env={} belong to another state of that name (lineage {}) and were not touched.",
            others.len(),
            session.env.name,
            first.tags.get(hoist_provider::tags::LINEAGE).map(String::as_str).unwrap_or("none")
        ));
    }
    if !skipped.is_empty() {
        printer.info(&format!(
            "warning: the final check could not look at {}",
            skipped.join(", ")
        ));
    }
    if left.is_empty() {
        let except = if skipped.is_empty() {
            ""
        } else {
            " (among what it could list)"
        };
        printer.info(&printer.paint(
            &format!(
                "Verified: nothing tagged hoist-env={} remains in {}{except}.",
                session.env.name, session.env.cloud
            ),
            Style::Add,
        ));
        return Ok(code);
    }
    let mut lines = vec![format!(
        "{} resources tagged hoist-env={} still exist in {}:",
        left.len(),
        session.env.name,
        session.env.cloud
    )];
    lines.extend(
        left.iter()
            .map(|r| format!("  {} {} ({}, {})", r.kind, r.cloud_id, r.name, r.status)),
    );
    lines.push(
        "  = hint: run `hoist destroy` again; resources still deleting disappear on their own"
            .into(),
    );
    printer.info(&lines.join("\n"));
    Ok(1)
}
