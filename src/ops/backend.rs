//! Where environments' states live: `--backend URL` (or `HOIST_BACKEND`), else the
//! blueprint's `backend`, else `--state-dir`, else `.hoist/` beside the blueprint. A remote
//! scheme is served by the cloud whose crate knows it (`s3` by AWS).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use hoist_blueprint::BackendSpec;
use hoist_provider::BackendUrl;
use hoist_state::{Backend, Store, DEFAULT_LEASE};

use super::Files;

/// The environment variable that sets a remote lock's lease (`90s`, `3m`), over the blueprint.
pub const LEASE_VAR: &str = "HOIST_LOCK_LEASE";

/// A backend and how long its locks last without renewal.
#[derive(Debug, Clone)]
pub struct OpenBackend {
    pub backend: Backend,
    pub lease: Duration,
}

impl OpenBackend {
    /// The store of environment `env` here.
    pub fn store(&self, env: &str) -> Store {
        Store::at(self.backend.clone(), env)
            .with_lease(self.lease)
            .with_marks(super::data_dir().join("lineages"))
    }
}

/// Open the backend `files` and the blueprint's section name.
pub fn open(files: &Files, spec: Option<&BackendSpec>) -> anyhow::Result<OpenBackend> {
    let lease = lease(spec)?;
    let url = files
        .backend
        .clone()
        .or_else(|| spec.map(|s| s.url.clone()));
    let Some(url) = url else {
        let dir = files
            .state_dir
            .clone()
            .unwrap_or_else(|| super::beside(&files.blueprint).join(".hoist"));
        return Ok(OpenBackend {
            backend: Backend::Dir(dir),
            lease,
        });
    };
    let region = spec.filter(|s| s.url == url).and_then(|s| s.region.clone());
    Ok(OpenBackend {
        backend: open_url(&url, region)?,
        lease,
    })
}

/// The backend at `url`: `file:///path`, or a scheme a registered cloud serves.
pub fn open_url(url: &str, region: Option<String>) -> anyhow::Result<Backend> {
    let mut parsed = BackendUrl::parse(url).map_err(|e| {
        anyhow::anyhow!("{e}\n  = hint: write `s3://BUCKET/PREFIX` or `file:///PATH` (in --backend, HOIST_BACKEND or the blueprint's `backend`)")
    })?;
    if parsed.scheme == "file" {
        let path = url.trim_start_matches("file://");
        if !path.starts_with('/') {
            bail!("{url:?}: a file backend names an absolute path\n  = hint: write `file:///var/lib/hoist` (three slashes)");
        }
        return Ok(Backend::Dir(PathBuf::from(path)));
    }
    parsed.region = region;
    let cloud = super::clouds::clouds()
        .into_iter()
        .find(|c| c.backend_schemes().contains(&parsed.scheme.as_str()));
    let Some(cloud) = cloud else {
        bail!(
            "no state backend for `{}://` in this build of hoist\n  = hint: `s3://` needs the `aws` feature; `file:///PATH` always works",
            parsed.scheme
        );
    };
    let store = cloud
        .open_backend(&parsed)
        .with_context(|| format!("cannot open the state backend {parsed}"))?;
    Ok(Backend::Remote(store))
}

fn lease(spec: Option<&BackendSpec>) -> anyhow::Result<Duration> {
    if let Ok(text) = std::env::var(LEASE_VAR) {
        return crate::cli::parse_timeout(&text)
            .map_err(|e| anyhow::anyhow!("{LEASE_VAR}={text:?}: {e}"));
    }
    Ok(spec.and_then(|s| s.lock_lease).unwrap_or(DEFAULT_LEASE))
}
