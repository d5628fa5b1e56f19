//! The simulated cloud: hoist's default target and its test double.
//!
//! It behaves like a small cloud region: networks, subnets, clusters and node pools go
//! through provisioning → running → deleting with a configurable latency, node pools draw on
//! a per-zone capacity per accelerator and on per-region GPU quotas, and calls fail with a
//! configurable rate of throttling and transient errors. Everything is kept in SQLite, so
//! separate processes (hoist, `hoist sim`, tests) see one cloud and may use it concurrently.

mod admin;
mod db;
mod expand;
mod kube;
mod latency;
mod provider;
mod regions;
mod rules;
mod serve;

pub use admin::{Faults, SimError};
pub use kube::SimKubeApi;
pub use latency::LatencyProfile;
pub use regions::SimModel;
pub use serve::{clear_serve_address, kubeconfig, write_serve_address};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::SeedableRng;

/// A handle on the simulated cloud stored in `dir`.
pub struct SimCloud {
    conn: Mutex<rusqlite::Connection>,
    latency: LatencyProfile,
    rng: Mutex<StdRng>,
    path: PathBuf,
}

impl SimCloud {
    /// Open (creating if needed) the cloud in `dir`.
    pub fn open(dir: &Path, latency: LatencyProfile) -> Result<Self, SimError> {
        std::fs::create_dir_all(dir).map_err(|e| SimError::Open {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let path = dir.join("cloud.sqlite");
        let conn = db::open(&path).map_err(|e| SimError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(Self {
            conn: Mutex::new(conn),
            latency,
            rng: Mutex::new(StdRng::from_entropy()),
            path,
        })
    }

    /// Where the cloud lives: `$HOIST_SIM_DIR`, else the per-user data directory.
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("HOIST_SIM_DIR") {
            return PathBuf::from(d);
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("hoist/sim")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}
