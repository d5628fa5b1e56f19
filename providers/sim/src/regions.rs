use hoist_provider::CloudInfo;

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

/// The simulated regions, known without opening the cloud (for `hoist validate`).
pub struct SimRegions;

impl CloudInfo for SimRegions {
    fn zones(&self, region: &str) -> Option<Vec<String>> {
        zones_of(region)
    }
    fn regions(&self) -> Vec<String> {
        REGIONS.iter().map(|(r, _)| r.to_string()).collect()
    }
}

impl CloudInfo for SimCloud {
    fn zones(&self, region: &str) -> Option<Vec<String>> {
        zones_of(region)
    }
    fn regions(&self) -> Vec<String> {
        REGIONS.iter().map(|(r, _)| r.to_string()).collect()
    }
}
