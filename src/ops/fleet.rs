//! Every environment of a backend at once: what `hoist envs` lists and `hoist reap` destroys.
//! States are read in parallel without their locks (each is written whole), so a listing of
//! a thousand environments is a list call and a thousand reads at a time of sixteen.

use chrono::{DateTime, Utc};
use hoist_state::remote::Summary;
use hoist_state::{Listed, LockInfo, State, Store};
use serde::Serialize;

use super::backend::OpenBackend;
use crate::engine::EnvSettings;

/// One environment as its state records it.
#[derive(Debug, Clone, Serialize)]
pub struct EnvSummary {
    pub name: String,
    pub cloud: String,
    pub region: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub resources: usize,
    pub hourly_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_by: Option<LockInfo>,
    /// Why its state could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reads at once: enough to hide an object store's latency, few enough for any store.
const READERS: usize = 16;

impl EnvSummary {
    fn of(name: &str, state: Option<&State>, now: DateTime<Utc>) -> EnvSummary {
        let expires_at = state.and_then(|s| s.expires_at);
        EnvSummary {
            name: name.into(),
            cloud: state.map(|s| s.provider.clone()).unwrap_or_default(),
            region: state.map(|s| s.region.clone()).unwrap_or_default(),
            created_at: state.map_or(now, |s| s.created_at),
            expires_at,
            expired: expires_at.is_some_and(|e| e <= now),
            resources: state.map_or(0, |s| s.resources.len() + s.deposed.len()),
            hourly_usd: state.map_or(0.0, super::hourly_now),
            locked_by: None,
            error: None,
        }
    }
}

impl EnvSummary {
    /// From the summary a remote backend keeps beside the state.
    fn listed(name: &str, s: &Summary, now: DateTime<Utc>) -> EnvSummary {
        EnvSummary {
            name: name.into(),
            cloud: s.cloud.clone(),
            region: s.region.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            expired: s.expires_at.is_some_and(|e| e <= now),
            resources: s.resources,
            hourly_usd: super::budget::hourly_of(&s.cloud, &s.region, &s.pool_nodes()),
            locked_by: None,
            error: None,
        }
    }
}

/// Every environment in `backend`, sorted by name.
pub fn list(backend: &OpenBackend) -> anyhow::Result<Vec<EnvSummary>> {
    let names: Vec<(String, Listed)> = backend.backend.environments()?.into_iter().collect();
    let now = super::now();
    let chunk = names.len().div_ceil(READERS).max(1);
    let mut out: Vec<EnvSummary> = std::thread::scope(|s| {
        let workers: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(name, listed)| summarize(backend.store(name), listed, now))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn summarize(store: Store, listed: &Listed, now: DateTime<Utc>) -> EnvSummary {
    let name = store.env().to_string();
    let peeked = match &listed.summary {
        Some(s) => Ok(EnvSummary::listed(&name, s, now)),
        None => store.peek().map(|p| EnvSummary::of(&name, p.state(), now)),
    };
    let mut summary = match peeked {
        Ok(s) => s,
        Err(e) => {
            let mut s = EnvSummary::of(&name, None, now);
            s.error = Some(e.to_string());
            s
        }
    };
    if listed.locked {
        summary.locked_by = store.holder();
    }
    summary
}

/// The settings to destroy an environment with, from its state: as last applied, or, for a
/// state written before hoist recorded them, its cloud and region.
pub fn settings_of(state: &State) -> EnvSettings {
    state
        .settings
        .as_ref()
        .and_then(|v| serde_json::from_value::<EnvSettings>(v.clone()).ok())
        .filter(|s| s.name == state.environment)
        .unwrap_or_else(|| EnvSettings::bare(&state.environment, &state.provider, &state.region))
}
