use hoist_provider::{Address, CloudModel, EnvSpec, ResourceConfig, SpecProblem, StackTarget};

use crate::SimCloud;

/// The simulated regions and their zone suffixes.
const REGIONS: &[(&str, &[&str])] = &[
    ("sim-east1", &["a", "b", "c"]),
    ("sim-west1", &["a", "b"]),
    ("sim-central1", &["a", "b", "c", "d"]),
];

pub fn zones_of(region: &str) -> Option<Vec<String>> {
    REGIONS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(r, zs)| zs.iter().map(|z| format!("{r}-{z}")).collect())
}

pub fn region_of_zone(zone: &str) -> Option<&'static str> {
    REGIONS
        .iter()
        .map(|(r, _)| *r)
        .find(|r| zones_of(r).is_some_and(|zs| zs.iter().any(|z| z == zone)))
}

/// The simulated cloud known without opening it: regions, zones and expansion.
pub struct SimModel;

impl CloudModel for SimModel {
    fn creation_order(&self) -> &'static [&'static str] {
        &["network", "subnet", "bucket", "cluster", "node_pool"]
    }

    fn zones(&self, region: &str) -> Option<Vec<String>> {
        zones_of(region)
    }
    fn regions(&self) -> Vec<String> {
        REGIONS.iter().map(|(r, _)| r.to_string()).collect()
    }
    fn expand(&self, spec: &EnvSpec) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>> {
        Ok(crate::expand::expand(spec))
    }
    fn system_instance_type(&self) -> Option<&'static str> {
        Some("sim-standard-4")
    }
    fn cluster(&self, env: &str) -> Option<Address> {
        Some(Address::new("cluster", env))
    }
    fn stack_target(&self, spec: &EnvSpec) -> Option<StackTarget> {
        Some(crate::expand::stack_target(spec))
    }
}

#[async_trait::async_trait]
impl hoist_provider::Cloud for SimModel {
    fn name(&self) -> &'static str {
        "sim"
    }

    /// The simulated cloud in `HOIST_SIM_DIR` (or the user's data dir), at the latency
    /// `HOIST_SIM_LATENCY` or the blueprint's `latency` asks for (`demo` by default).
    async fn connect(
        &self,
        settings: &hoist_provider::ProviderSettings,
    ) -> Result<std::sync::Arc<dyn hoist_provider::Provider>, hoist_provider::ProviderError> {
        let invalid =
            |what: &str, e: String| hoist_provider::ProviderError::Invalid(format!("{what}: {e}"));
        let latency: crate::LatencyProfile = match std::env::var("HOIST_SIM_LATENCY") {
            Ok(v) if !v.is_empty() => v.parse().map_err(|e| invalid("HOIST_SIM_LATENCY", e))?,
            _ => settings
                .options
                .get("latency")
                .map_or("demo", String::as_str)
                .parse()
                .map_err(|e| invalid("provider.latency", e))?,
        };
        let cloud = SimCloud::open(&SimCloud::default_dir(), latency)
            .map_err(|e| hoist_provider::ProviderError::Fatal(e.to_string()))?;
        Ok(std::sync::Arc::new(cloud))
    }
}
