use hoist_provider::{CloudModel, EnvSpec, ResourceConfig, SpecProblem};

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
    fn zones(&self, region: &str) -> Option<Vec<String>> {
        zones_of(region)
    }
    fn regions(&self) -> Vec<String> {
        REGIONS.iter().map(|(r, _)| r.to_string()).collect()
    }
    fn expand(&self, spec: &EnvSpec) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>> {
        Ok(crate::expand::expand(spec))
    }
}

impl CloudModel for SimCloud {
    fn zones(&self, region: &str) -> Option<Vec<String>> {
        SimModel.zones(region)
    }
    fn regions(&self) -> Vec<String> {
        SimModel.regions()
    }
    fn expand(&self, spec: &EnvSpec) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>> {
        SimModel.expand(spec)
    }
}
