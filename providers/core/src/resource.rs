use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{tags, Address};

/// A resource's attributes: what the blueprint asks for, or what the cloud reports.
pub type Attrs = BTreeMap<String, Value>;

/// What the blueprint wants one resource to be, after expansion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceConfig {
    pub address: Address,
    /// The provider that makes it (its registered name); empty means the environment's cloud.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider: String,
    pub attrs: Attrs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// Decisions made at plan time around what the cloud can do now (e.g. the zones left after
    /// a stockout). Used by create, never compared: a stockout must not look like drift.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub placement: Attrs,
}

impl ResourceConfig {
    pub fn new(address: Address, attrs: Attrs, depends_on: Vec<Address>) -> Self {
        Self {
            address,
            provider: String::new(),
            attrs,
            depends_on,
            placement: Attrs::new(),
        }
    }

    /// A configuration from a JSON object of attributes (expansions write them as `json!`).
    pub fn from_json(address: Address, attrs: Value, depends_on: Vec<Address>) -> Self {
        let attrs: Attrs = match attrs {
            Value::Object(m) => m.into_iter().collect(),
            _ => Attrs::new(),
        };
        Self::new(address, attrs, depends_on)
    }

    /// Zones to place in: the placement decision if one was made, else the configured zones.
    pub fn zones(&self) -> Vec<String> {
        let list = self
            .placement
            .get("zones")
            .or_else(|| self.attrs.get("zones"));
        list.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|z| z.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What hoist recorded about a resource it made: the cloud id to find it again, the
/// attributes as last applied (the baseline for drift), and outputs dependents need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    pub address: Address,
    pub provider: String,
    pub cloud_id: String,
    pub attrs: Attrs,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: Attrs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Address>,
    /// Why this record is provisional: made but not seen ready, or adopted after an
    /// interrupted create whose follow-up calls may not all have run. The next apply runs the
    /// provider's idempotent update to finish it (or, for a replacement that never became
    /// ready, deletes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<String>,
}

/// Where a cloud resource is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Provisioning,
    Ready,
    Updating,
    Deleting,
    Failed { reason: String },
}

/// A resource as the cloud reports it right now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    pub cloud_id: String,
    pub attrs: Attrs,
    #[serde(default)]
    pub outputs: Attrs,
    pub lifecycle: Lifecycle,
}

impl Observed {
    /// The state entry that records this observation for `address`.
    pub fn into_state(
        self,
        address: Address,
        provider: &str,
        depends_on: Vec<Address>,
    ) -> ResourceState {
        ResourceState {
            address,
            provider: provider.to_string(),
            cloud_id: self.cloud_id,
            attrs: self.attrs,
            outputs: self.outputs,
            depends_on,
            unfinished: None,
        }
    }
}

/// One cloud resource found by its ownership tags, whether or not state knows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudResource {
    pub cloud_id: String,
    pub kind: String,
    pub name: String,
    pub region: String,
    pub status: String,
    pub tags: BTreeMap<String, String>,
    /// What a read needs besides the cloud id to find it again (e.g. a generated name), as a
    /// create records it in outputs: so that a resource state lost can be adopted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: Attrs,
}

/// Who owns a resource: written as tags on every resource a provider creates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ownership {
    pub env: String,
    pub lineage: String,
    pub expires_at: Option<String>,
}

impl Ownership {
    /// The tags for `address`, merged over the user's own `extra` tags (ours win).
    pub fn tags(
        &self,
        address: &Address,
        extra: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut t = extra.clone();
        t.insert(tags::ENV.into(), self.env.clone());
        t.insert(tags::LINEAGE.into(), self.lineage.clone());
        t.insert(tags::ADDRESS.into(), address.to_string());
        if let Some(e) = &self.expires_at {
            t.insert(tags::EXPIRES_AT.into(), e.clone());
        }
        t
    }

    /// The owner written in a new resource's tags (those [`Ownership::tags`] made).
    pub fn from_tags(tags: &BTreeMap<String, String>) -> Ownership {
        Ownership {
            env: tags.get(tags::ENV).cloned().unwrap_or_default(),
            lineage: tags.get(tags::LINEAGE).cloned().unwrap_or_default(),
            expires_at: tags.get(tags::EXPIRES_AT).cloned(),
        }
    }

    /// Whether a resource found with `found` tags is this environment's own. Names prove
    /// nothing (two teams may both call an environment `dev`); the environment and lineage
    /// tags do. `Err` says whose it is, for an error that names the foreign resource.
    pub fn claims(&self, found: &BTreeMap<String, String>) -> Result<(), String> {
        match (found.get(tags::ENV), found.get(tags::LINEAGE)) {
            (Some(env), Some(lineage)) if *env == self.env && *lineage == self.lineage => Ok(()),
            (Some(env), Some(lineage)) if *env == self.env => Err(format!(
                "it is tagged for environment {env} of another state (lineage {lineage}): another team or state directory uses this environment name"
            )),
            (Some(env), _) => Err(format!("it belongs to hoist environment {env}")),
            (None, _) => Err("it has no hoist ownership tags".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_matching_environment_and_lineage_claim_a_resource() {
        let me = Ownership {
            env: "dev".into(),
            lineage: "L1".into(),
            expires_at: None,
        };
        let a: Address = "eks_cluster.dev".parse().unwrap();
        let mine = me.tags(&a, &BTreeMap::new());
        assert!(me.claims(&mine).is_ok());
        assert_eq!(Ownership::from_tags(&mine), me);
        let other = Ownership {
            lineage: "L2".into(),
            ..me.clone()
        };
        assert!(me
            .claims(&other.tags(&a, &BTreeMap::new()))
            .unwrap_err()
            .contains("lineage L2"));
        assert!(me.claims(&BTreeMap::new()).is_err());
    }
}

/// What a provider found by ownership tags, and what it could not look at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listing {
    pub resources: Vec<CloudResource>,
    /// Each part that could not be listed, with why (a permission, an API this endpoint
    /// lacks): callers say what their check skipped instead of failing.
    pub skipped: Vec<String>,
}

impl Listing {
    pub fn of(resources: Vec<CloudResource>) -> Self {
        Self {
            resources,
            skipped: Vec::new(),
        }
    }

    /// One part of a listing: its resources, or the part skipped when it failed for good; a
    /// retryable failure is the caller's to retry.
    pub fn part(
        what: &str,
        found: Result<Vec<CloudResource>, crate::ProviderError>,
    ) -> Result<Self, crate::ProviderError> {
        match found {
            Ok(r) => Ok(Self::of(r)),
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => Ok(Self {
                resources: Vec::new(),
                skipped: vec![format!("{what} ({e})")],
            }),
        }
    }

    pub fn extend(&mut self, other: Listing) {
        self.resources.extend(other.resources);
        self.skipped.extend(other.skipped);
    }
}

/// The nodes a resource runs: what a bill and a listing count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolNodes {
    pub instance_type: Option<String>,
    /// `spot` or `on-demand`.
    pub capacity: String,
    pub desired: u64,
    pub max: u64,
}

impl PoolNodes {
    /// A node pool's nodes, or those of the system pool a cluster carries inline (its
    /// `system_` attributes: AKS makes a cluster with one); `None` for anything else.
    pub fn of(address: &Address, attrs: &Attrs) -> Option<PoolNodes> {
        let prefix = if address.kind() == "node_pool" {
            ""
        } else if attrs.contains_key("system_instance_type") {
            "system_"
        } else {
            return None;
        };
        let get = |k: &str| attrs.get(&format!("{prefix}{k}"));
        let int = |k: &str| get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Some(PoolNodes {
            instance_type: get("instance_type")
                .and_then(|v| v.as_str())
                .map(String::from),
            capacity: get("capacity")
                .and_then(|v| v.as_str())
                .unwrap_or("on-demand")
                .to_string(),
            desired: int("desired"),
            max: int("max"),
        })
    }
}
