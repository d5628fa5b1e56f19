//! envs, reap, sweep: every environment of a backend, and what no state records.

use std::sync::Arc;

use serde_json::json;

use crate::cli::{EnvsArgs, ReapArgs, SweepArgs};
use crate::engine::Session;
use crate::ops::backend::OpenBackend;
use crate::ops::fleet::{self, EnvSummary};
use crate::ops::sweep::{self, Target};
use crate::printer::{Printer, Style};

/// The backend a command without a blueprint uses: `--backend`, else the blueprint's when
/// there is one, else `--state-dir` or `.hoist/`.
fn backend_of(files: &crate::cli::FileArgs) -> anyhow::Result<OpenBackend> {
    let files = files.files();
    let spec = files
        .blueprint
        .exists()
        .then(|| crate::ops::load_blueprint(&files).ok())
        .flatten()
        .and_then(|b| b.backend);
    crate::ops::backend::open(&files, spec.as_ref())
}

/// "in 3h", "expired 2h ago", "never".
fn expiry(e: &EnvSummary) -> String {
    let Some(at) = e.expires_at else {
        return "never".into();
    };
    let d = at - crate::ops::now();
    let span = |secs: i64| {
        let secs = secs.abs();
        match secs {
            0..=119 => format!("{secs}s"),
            120..=7199 => format!("{}m", secs / 60),
            7200..=172_799 => format!("{}h", secs / 3600),
            _ => format!("{}d", secs / 86_400),
        }
    };
    if d.num_seconds() <= 0 {
        format!("expired {} ago", span(d.num_seconds()))
    } else {
        format!("in {}", span(d.num_seconds()))
    }
}

pub fn envs(printer: &Printer, a: EnvsArgs) -> anyhow::Result<u8> {
    let backend = backend_of(&a.files)?;
    let list = fleet::list(&backend)?;
    if printer.json {
        printer.json_out(&json!({"backend": backend.backend.location(), "environments": list}));
        return Ok(0);
    }
    if list.is_empty() {
        printer.out(&format!(
            "No environments in {}.",
            backend.backend.location()
        ));
        return Ok(0);
    }
    let mut lines = vec![format!(
        "{:<28} {:<6} {:<16} {:<17} {:<16} {:>9} {:>10}  {}",
        "NAME", "CLOUD", "REGION", "CREATED", "EXPIRES", "RESOURCES", "$/H NOW", "LOCKED BY"
    )];
    for e in &list {
        let lock = e.locked_by.as_ref().map_or_else(
            || {
                e.error
                    .clone()
                    .map(|m| format!("unreadable: {m}"))
                    .unwrap_or_default()
            },
            |l| {
                format!(
                    "{}@{} ({}){}",
                    l.user,
                    l.host,
                    l.operation,
                    l.ci_run
                        .as_ref()
                        .map(|r| format!(" {r}"))
                        .unwrap_or_default()
                )
            },
        );
        let row = format!(
            "{:<28} {:<6} {:<16} {:<17} {:<16} {:>9} {:>10}  {lock}",
            e.name,
            e.cloud,
            e.region,
            e.created_at.format("%Y-%m-%d %H:%M"),
            expiry(e),
            e.resources,
            format!("${:.2}", e.hourly_usd),
        );
        lines.push(if e.expired {
            printer.paint(&row, Style::Remove)
        } else {
            row
        });
    }
    let total: f64 = list.iter().map(|e| e.hourly_usd).sum();
    let expired = list.iter().filter(|e| e.expired).count();
    lines.push(format!(
        "\n{} environments, {expired} expired; ${total:.2}/h in all.",
        list.len()
    ));
    printer.out(&lines.join("\n"));
    Ok(0)
}

/// Destroy every expired environment, each under its own lock; one that fails does not stop
/// the others.
pub async fn reap(printer: Arc<Printer>, a: ReapArgs) -> anyhow::Result<u8> {
    let backend = backend_of(&a.files)?;
    let expired: Vec<EnvSummary> = fleet::list(&backend)?
        .into_iter()
        .filter(|e| e.expired && e.resources > 0)
        .collect();
    if expired.is_empty() {
        printer.out(&format!(
            "Nothing to reap: no expired environment in {} has resources.",
            backend.backend.location()
        ));
        return Ok(0);
    }
    let mut lines = vec![format!(
        "Expired environments in {}:",
        backend.backend.location()
    )];
    for e in &expired {
        lines.push(format!(
            "  {} ({} {}): {} resources, ${:.2}/h, {}",
            e.name,
            e.cloud,
            e.region,
            e.resources,
            e.hourly_usd,
            expiry(e)
        ));
    }
    printer.out(&lines.join("\n"));
    if a.dry_run {
        printer.out("\nDry run: nothing was changed.");
        return Ok(0);
    }
    super::run::confirm(a.auto_approve, "destroy these environments")?;
    let mut failed = Vec::new();
    let mut reaped = 0;
    for e in &expired {
        printer.out(&printer.paint(&format!("\n== reaping {}", e.name), Style::Remove));
        match reap_one(&printer, &backend, &e.name, &a).await {
            Ok(true) => {
                reaped += 1;
                printer.out(&format!("Reaped {}.", e.name));
            }
            Ok(false) => {}
            // Another run holds it (another reaper, or an apply): theirs to finish.
            Err(err) if is_locked(&err) => {
                printer.info(&format!(
                    "{}: skipped, locked by another run: {err:#}",
                    e.name
                ));
            }
            Err(err) => {
                printer.info(&format!("error: {}: {err:#}", e.name));
                failed.push(e.name.clone());
            }
        }
    }
    let summary = format!(
        "\nReaped {reaped} of {} expired environments; {} failed{}.",
        expired.len(),
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(": {}", failed.join(", "))
        }
    );
    printer.out(&printer.paint(
        &summary,
        if failed.is_empty() {
            Style::Add
        } else {
            Style::Remove
        },
    ));
    Ok(if failed.is_empty() { 0 } else { 1 })
}

fn is_locked(err: &anyhow::Error) -> bool {
    matches!(
        err.downcast_ref::<hoist_state::StateError>(),
        Some(hoist_state::StateError::Locked { .. })
    )
}

/// Destroy one environment from its state alone; `false` when another run got to it first.
async fn reap_one(
    printer: &Arc<Printer>,
    backend: &OpenBackend,
    name: &str,
    a: &ReapArgs,
) -> anyhow::Result<bool> {
    let store = backend.store(name);
    let peeked = store.peek()?;
    let Some(state) = peeked.state() else {
        return Ok(false);
    };
    let env = fleet::settings_of(state);
    let providers = crate::ops::clouds::providers(&env).await?;
    let mut session = Session::open(&store, "reap", env, providers, printer.as_ref()).await?;
    // Under the lock: another reaper may have destroyed it, or someone renewed it.
    let still_expired = session.state.as_ref().is_some_and(|s| {
        s.expires_at.is_some_and(|e| e <= crate::ops::now())
            && !(s.resources.is_empty() && s.deposed.is_empty())
    });
    if !still_expired {
        printer.info(&format!(
            "{name}: no longer expired or already destroyed; left as it is."
        ));
        return Ok(false);
    }
    let mut plan = session.plan(Vec::new(), true, printer.as_ref()).await?;
    crate::ops::attach_cost(&mut plan, session.state.as_ref());
    super::run::print_plan(printer, &plan);
    let code = super::run::execute(
        printer,
        &mut session,
        &plan,
        super::run::Limits::of(a.limits.parallelism, a.limits.timeout),
    )
    .await?;
    if code != 0 {
        anyhow::bail!("the destroy did not finish; run `hoist reap` again");
    }
    Ok(true)
}

/// Find and delete what carries hoist's tags but no state records (or, with `--expired`,
/// whatever has expired), in dependency order.
pub async fn sweep(printer: Arc<Printer>, a: SweepArgs) -> anyhow::Result<u8> {
    let backend = backend_of(&a.files)?;
    let target = match (&a.env, a.expired) {
        (Some(env), false) => Target::Env(env.clone()),
        (None, true) => Target::Expired,
        _ => anyhow::bail!("say what to sweep: `--env NAME` (what its state does not record) or `--expired` (whatever has expired)"),
    };
    let Some(model) = crate::ops::clouds::cloud(&a.cloud) else {
        anyhow::bail!(
            "the `{}` provider is not part of this build of hoist",
            a.cloud
        );
    };
    let name = a.env.clone().unwrap_or_else(|| "expired".into());
    let env = crate::engine::EnvSettings::bare(&name, &a.cloud, &a.region);
    let provider = crate::ops::clouds::connect(&env).await?;
    let found = sweep::find(provider.as_ref(), model, &backend, &target, &a.region).await?;
    for part in &found.skipped {
        printer.info(&format!("warning: could not look at {part}"));
    }
    if found.orphans.is_empty() {
        printer.out(&format!("Nothing to sweep in {} {}.", a.cloud, a.region));
        return Ok(0);
    }
    let what = match &target {
        Target::Env(e) => format!(
            "carry hoist-env={e} and no state in {} records them",
            backend.backend.location()
        ),
        Target::Expired => "have passed their hoist-expires-at".to_string(),
    };
    let mut lines = vec![format!(
        "{} resources in {} {} {what}:",
        found.orphans.len(),
        a.cloud,
        a.region
    )];
    for o in &found.orphans {
        lines.push(format!(
            "  {:<32} {:<40} env {:<16} {}/h",
            o.shown,
            o.state.cloud_id,
            o.env,
            crate::printer::usd(o.hourly_usd)
        ));
    }
    let total: f64 = found.orphans.iter().map(|o| o.hourly_usd).sum();
    lines.push(format!("  Total: {}/h", crate::printer::usd(total)));
    printer.out(&lines.join("\n"));
    if a.dry_run {
        printer.out("\nDry run: nothing was changed.");
        return Ok(0);
    }
    super::run::confirm(a.auto_approve, "delete these resources")?;
    // The deletes run through the engine (ordering, retries, a journal) on a scratch state.
    let scratch = tempfile::tempdir()?;
    let store = hoist_state::Store::new(scratch.path(), env.name.as_str());
    let providers = crate::ops::clouds::providers(&env).await?;
    let mut session =
        Session::open(&store, "sweep", env.clone(), providers, printer.as_ref()).await?;
    let mut state = hoist_state::State::new(&env.name, &env.cloud, &env.region);
    for o in &found.orphans {
        state
            .resources
            .insert(o.state.address.clone(), o.state.clone());
    }
    session.state = Some(state);
    let plan = session.plan(Vec::new(), false, printer.as_ref()).await?;
    let code = super::run::execute(
        &printer,
        &mut session,
        &plan,
        super::run::Limits::of(a.limits.parallelism, a.limits.timeout),
    )
    .await?;
    let left = sweep::find(provider.as_ref(), model, &backend, &target, &a.region)
        .await?
        .orphans;
    if left.is_empty() && code == 0 {
        printer.out(&printer.paint(
            &format!(
                "Swept {} resources; nothing of them is left.",
                found.orphans.len()
            ),
            Style::Add,
        ));
        return Ok(0);
    }
    printer.info(&format!("{} resources are still there; run `hoist sweep` again (resources still deleting go on their own)", left.len()));
    Ok(1)
}
