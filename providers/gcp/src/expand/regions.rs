//! Regions and their zones, for expanding blueprints without a call (Compute Engine's
//! published list of regions and zones; GPU and TPU zones are narrower, from the catalog).

const REGIONS: &[(&str, &str)] = &[
    ("us-central1", "abcf"),
    ("us-east1", "bcd"),
    ("us-east4", "abc"),
    ("us-east5", "abc"),
    ("us-south1", "abc"),
    ("us-west1", "abc"),
    ("us-west4", "abc"),
    ("northamerica-northeast1", "abc"),
    ("europe-west1", "bcd"),
    ("europe-west2", "abc"),
    ("europe-west3", "abc"),
    ("europe-west4", "abc"),
    ("europe-north1", "abc"),
    ("asia-east1", "abc"),
    ("asia-northeast1", "abc"),
    ("asia-northeast3", "abc"),
    ("asia-south1", "abc"),
    ("asia-southeast1", "abc"),
    ("australia-southeast1", "abc"),
    ("southamerica-east1", "abc"),
];

pub fn zones(region: &str) -> Option<Vec<String>> {
    REGIONS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(r, zs)| zs.chars().map(|z| format!("{r}-{z}")).collect())
}

pub fn regions() -> Vec<String> {
    REGIONS.iter().map(|(r, _)| r.to_string()).collect()
}
