//! Where `hoist sim serve` listens, kept beside the cloud so `hoist kubeconfig` can point
//! kubectl at it.

use std::path::Path;

use crate::SimError;

const FILE: &str = "serve.addr";

/// Record that the simulated clusters are served at `addr` (`127.0.0.1:PORT`).
pub fn write_serve_address(dir: &Path, addr: &str) -> Result<(), SimError> {
    std::fs::write(dir.join(FILE), addr).map_err(|e| SimError::Open {
        path: dir.join(FILE),
        message: e.to_string(),
    })
}

/// The server stopped.
pub fn clear_serve_address(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(FILE));
}

/// A kubeconfig for the simulated cluster `cluster_id` of environment `env`, when
/// `hoist sim serve` is running. Nothing secret: the simulated API takes no credentials.
pub fn kubeconfig(dir: &Path, cluster_id: &str, env: &str) -> Option<String> {
    let addr = std::fs::read_to_string(dir.join(FILE)).ok()?;
    let server = format!("http://{}/clusters/{cluster_id}", addr.trim());
    Some(format!(
        "apiVersion: v1\nkind: Config\nclusters:\n  - name: {cluster_id}\n    cluster:\n      server: {server}\ncontexts:\n  - name: {env}\n    context:\n      cluster: {cluster_id}\n      user: {env}\ncurrent-context: {env}\nusers:\n  - name: {env}\n    user: {{}}\n"
    ))
}
