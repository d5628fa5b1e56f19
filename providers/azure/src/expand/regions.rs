//! Azure locations and their availability zones (Azure's published list; zones are named
//! `1`, `2`, `3` in every location that has them, as the AKS API takes them). Which zones
//! offer a given VM size to a subscription is read at plan time from resource SKUs.

/// Locations with three availability zones.
const ZONAL: &[&str] = &[
    "australiaeast",
    "austriaeast",
    "brazilsouth",
    "canadacentral",
    "centralindia",
    "centralus",
    "chilecentral",
    "eastasia",
    "eastus",
    "eastus2",
    "francecentral",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "koreacentral",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northeurope",
    "norwayeast",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southcentralus",
    "southeastasia",
    "spaincentral",
    "swedencentral",
    "switzerlandnorth",
    "uaenorth",
    "uksouth",
    "westeurope",
    "westus2",
    "westus3",
];
/// Locations without availability zones: pools there are regional.
const REGIONAL: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiasoutheast",
    "brazilsoutheast",
    "canadaeast",
    "francesouth",
    "germanynorth",
    "jioindiacentral",
    "jioindiawest",
    "koreasouth",
    "northcentralus",
    "norwaywest",
    "southafricawest",
    "southindia",
    "switzerlandwest",
    "uaecentral",
    "ukwest",
    "westcentralus",
    "westus",
];

pub fn zones(location: &str) -> Option<Vec<String>> {
    if ZONAL.contains(&location) {
        return Some(["1", "2", "3"].map(String::from).to_vec());
    }
    REGIONAL.contains(&location).then(Vec::new)
}

pub fn regions() -> Vec<String> {
    ZONAL
        .iter()
        .chain(REGIONAL)
        .map(|r| r.to_string())
        .collect()
}
