//! `hoist init`: a first blueprint, from a wizard on a terminal or from flags elsewhere.

mod answers;
mod wizard;

use std::io::IsTerminal;

use anyhow::bail;

pub use answers::Answers;

use crate::cli::InitArgs;
use crate::printer::{usd, Printer};

pub fn init(printer: &Printer, args: InitArgs) -> anyhow::Result<u8> {
    let interactive =
        !args.non_interactive && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let answers = if interactive {
        match wizard::ask(&args)? {
            Some(a) => a,
            None => {
                printer.info("Cancelled: nothing was written.");
                return Ok(130);
            }
        }
    } else {
        if args.file.exists() && !args.force {
            bail!("{} already exists; nothing was written\n  = hint: pass --force to overwrite it, or -f to write elsewhere", args.file.display());
        }
        Answers::from_flags(&args)?
    };
    let text = answers.render();
    // The file must validate and resolve before it is written.
    let bp = hoist_blueprint::parse(&args.file, &text, &Default::default())?;
    crate::ops::expand_offline(&bp)?;
    write_atomically(&args.file, &text)?;
    let (now, max) = answers.hourly();
    let file = args.file.display();
    let system = answers
        .system_pool()
        .map(|(t, _)| {
            format!(
                ", and {} × {t} for the stack's services",
                answers::SYSTEM_NODES
            )
        })
        .unwrap_or_default();
    printer.info(&format!(
        "Wrote {file}: {} on {} {}, {} × {} ({}){system}.\nEstimated cost: {}/h now, up to {}/h at max size ({} GPU nodes).\nNext:\n  hoist plan -f {file}\n  hoist apply -f {file}",
        answers.name,
        answers.cloud,
        answers.region,
        answers.desired,
        answers.accelerator,
        answers.capacity,
        usd(now),
        usd(max),
        answers.max
    ));
    Ok(0)
}

/// Write through a temp file and rename, so an interrupted init never leaves half a file.
fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("hoist.yaml"),
        std::process::id()
    ));
    std::fs::write(&tmp, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
