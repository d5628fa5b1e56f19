//! `hoist init`: a first blueprint from flags.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{bail, Context as _};

use crate::cli::InitArgs;
use crate::printer::Printer;

fn default_region(cloud: &str) -> Option<&'static str> {
    match cloud {
        "sim" => Some("sim-east1"),
        "aws" => Some("us-east-1"),
        "gcp" => Some("us-central1"),
        "azure" => Some("eastus"),
        _ => None,
    }
}

/// The blueprint text for these answers, commented for a first-time reader.
pub fn blueprint_text(a: &InitArgs, region: &str) -> String {
    format!(
        "# hoist blueprint: what this environment should be. `hoist plan` shows what would change,\n\
         # `hoist apply` makes it so, `hoist destroy` removes it all.\n\
         apiVersion: hoist/v1\n\
         name: {name}\n\
         provider:\n  cloud: {cloud}\n  region: {region}\n\
         # An ephemeral environment: `ttl: 8h` records an expiry time.\n\
         # ttl: 8h\n\
         network:\n  cidr: 10.0.0.0/16\n  zones: 2\n\
         cluster:\n  kubernetes_version: \"1.32\"\n\
         node_pools:\n\
         \x20 - name: gpu\n\
         \x20   accelerator: \"{accelerator}\"\n\
         \x20   capacity: on-demand\n\
         \x20   min: {nodes}\n\
         \x20   desired: {nodes}\n\
         \x20   max: {nodes}\n\
         \x20   labels:\n\
         \x20     workload: training\n\
         \x20   taints:\n\
         \x20     - nvidia.com/gpu=present:NoSchedule\n",
        name = a.name,
        cloud = a.cloud,
        accelerator = a.accelerator,
        nodes = a.nodes,
    )
}

pub fn init(printer: &Printer, a: InitArgs) -> anyhow::Result<u8> {
    let Some(region) = a
        .region
        .clone()
        .or_else(|| default_region(&a.cloud).map(String::from))
    else {
        bail!(
            "unknown cloud {:?}\n  = hint: one of sim, aws, gcp, azure",
            a.cloud
        );
    };
    let text = blueprint_text(&a, &region);
    // Check the answers the same way `hoist validate` would before writing anything.
    hoist_blueprint::parse(&a.file, &text, &Default::default())?;
    if a.file.exists() && !a.force {
        bail!("{} already exists; nothing was written\n  = hint: pass --force to overwrite it, or -f to write elsewhere", a.file.display());
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&a.file)
        .with_context(|| format!("cannot write {}", a.file.display()))?;
    f.write_all(text.as_bytes())?;
    printer.info(&format!(
        "Wrote {}. Next:\n  hoist plan -f {}\n  hoist apply -f {}",
        a.file.display(),
        a.file.display(),
        a.file.display()
    ));
    Ok(0)
}
