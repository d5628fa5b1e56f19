//! `hoist kubeconfig`: cluster access through the cloud's own token command, so no credential
//! ever lands in a file or in state.

use std::sync::Arc;

use anyhow::{bail, Context as _};

use crate::cli::KubeconfigArgs;
use crate::printer::Printer;

pub async fn kubeconfig(printer: Arc<Printer>, a: KubeconfigArgs) -> anyhow::Result<u8> {
    let run = crate::ops::Run::open(&a.files.files(), "kubeconfig", printer.as_ref()).await?;
    let session = &run.session;
    let Some(state) = &session.state else {
        bail!("the environment has not been applied\n  = hint: run `hoist apply` first")
    };
    let address =
        crate::ops::clouds::cloud(&state.provider).and_then(|c| c.cluster(&state.environment));
    let Some(cluster) = address.and_then(|a| state.resources.get(&a)) else {
        bail!(
            "environment {:?} on {} has no cluster\n  = hint: run `hoist apply` first",
            state.environment,
            state.provider
        );
    };
    if state.provider == "sim" {
        let dir = hoist_sim::SimCloud::default_dir();
        let Some(text) = hoist_sim::kubeconfig(&dir, &cluster.cloud_id, &state.environment) else {
            bail!("the simulated clusters' API is not being served\n  = hint: run `hoist sim serve` in another terminal, then `hoist kubeconfig` again");
        };
        return write(printer.as_ref(), a.out, text);
    }
    // Endpoint and CA are read now: they are not credentials, but they can change.
    let observed = session.refresh_state(printer.as_ref()).await?;
    let live = observed
        .get(&cluster.address)
        .cloned()
        .flatten()
        .context("the cluster no longer exists; run `hoist drift`")?;
    let mut cluster_now = cluster.clone();
    cluster_now.outputs.extend(live.outputs);
    let settings = crate::ops::clouds::settings(&session.env);
    let text = crate::ops::clouds::cloud(&state.provider)
        .and_then(|c| c.kubeconfig(&state.environment, &cluster_now, &settings))
        .with_context(|| {
            format!(
                "hoist cannot write a kubeconfig for {} clusters",
                state.provider
            )
        })?;
    write(printer.as_ref(), a.out, text)
}

/// The kubeconfig to `out`, or to stdout.
fn write(printer: &Printer, out: Option<std::path::PathBuf>, text: String) -> anyhow::Result<u8> {
    match out {
        Some(path) => {
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            printer.info(&format!(
                "Wrote {}: kubectl --kubeconfig {} get nodes",
                path.display(),
                path.display()
            ));
        }
        None => printer.out(text.trim_end()),
    }
    Ok(0)
}
