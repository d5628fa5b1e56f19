use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use hoist_provider::{Address, ResourceState};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::StateError;

/// The state format version this build reads and writes.
pub const STATE_VERSION: u32 = 1;

/// Everything hoist knows about one environment's resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// Identifies this environment's history; a saved plan from another lineage is refused.
    pub lineage: String,
    /// Bumped on every write; a saved plan made at another serial is refused.
    pub serial: u64,
    pub environment: String,
    pub provider: String,
    pub region: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resources: BTreeMap<Address, ResourceState>,
    /// Old halves of create-before-destroy replacements not yet deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deposed: Vec<ResourceState>,
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    /// The environment's settings as last applied (cloud options, ttl, tags, budget): what
    /// `reap` needs to destroy it without its blueprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
}

impl State {
    pub fn new(environment: &str, provider: &str, region: &str) -> Self {
        Self {
            version: STATE_VERSION,
            lineage: uuid::Uuid::new_v4().to_string(),
            serial: 0,
            environment: environment.into(),
            provider: provider.into(),
            region: region.into(),
            created_at: Utc::now(),
            expires_at: None,
            resources: BTreeMap::new(),
            deposed: Vec::new(),
            outputs: BTreeMap::new(),
            settings: None,
        }
    }

    /// Parse and check a state file's text; never guesses at a damaged file.
    pub fn parse(path: &Path, backup: &Path, text: &str) -> Result<State, StateError> {
        let corrupt = |line, column, message: String| StateError::Corrupt {
            path: path.into(),
            line,
            column,
            message,
            backup: backup.into(),
        };
        // A newer file must say "upgrade" rather than "corrupt": its version decides, read on
        // its own only when the whole file does not parse (one pass over large files).
        let newer = |v: u64| StateError::NewerVersion {
            path: path.into(),
            found: v,
            supported: STATE_VERSION,
        };
        let state: State = match serde_json::from_str(text) {
            Ok(s) => s,
            Err(e) => {
                #[derive(Deserialize)]
                struct Header {
                    version: Option<Value>,
                }
                let header: Header = serde_json::from_str(text)
                    .map_err(|e| corrupt(e.line(), e.column(), e.to_string()))?;
                return Err(match header.version.as_ref().and_then(Value::as_u64) {
                    None => corrupt(1, 1, "missing or non-numeric `version`".into()),
                    Some(v) if v > STATE_VERSION as u64 => newer(v),
                    Some(_) => corrupt(e.line(), e.column(), e.to_string()),
                });
            }
        };
        if state.version as u64 > STATE_VERSION as u64 {
            return Err(newer(state.version as u64));
        }
        for (key, r) in &state.resources {
            if key != &r.address {
                return Err(corrupt(
                    1,
                    1,
                    format!("resource under key `{key}` has address `{}`", r.address),
                ));
            }
        }
        Ok(state)
    }

    /// Rebuild the environment's outputs from the resources' outputs (`kind.name.key`).
    pub fn refresh_outputs(&mut self) {
        self.outputs = self
            .resources
            .values()
            .flat_map(|r| {
                r.outputs
                    .iter()
                    .map(move |(k, v)| (format!("{}.{k}", r.address), v.clone()))
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_newer_and_corrupt_files() {
        let p = Path::new("s.json");
        let b = Path::new("s.json.backup");
        let newer = r#"{"version": 99}"#;
        assert!(matches!(
            State::parse(p, b, newer),
            Err(StateError::NewerVersion { found: 99, .. })
        ));
        let err = State::parse(p, b, "{\n  \"version\": 1,\n  oops\n}").unwrap_err();
        assert!(matches!(err, StateError::Corrupt { line: 3, .. }), "{err}");
    }
}
