/// Regions and their zone letters, for expanding blueprints without a call. Zones that offer a
/// given instance type are checked at plan time with DescribeInstanceTypeOfferings.
const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "abcdef"),
    ("us-east-2", "abc"),
    ("us-west-1", "ac"),
    ("us-west-2", "abcd"),
    ("ca-central-1", "abd"),
    ("eu-west-1", "abc"),
    ("eu-west-2", "abc"),
    ("eu-central-1", "abc"),
    ("eu-north-1", "abc"),
    ("ap-northeast-1", "acd"),
    ("ap-northeast-2", "abcd"),
    ("ap-southeast-1", "abc"),
    ("ap-southeast-2", "abc"),
    ("ap-south-1", "abc"),
    ("sa-east-1", "abc"),
];

pub fn zones(region: &str) -> Option<Vec<String>> {
    REGIONS
        .iter()
        .find(|(r, _)| *r == region)
        .map(|(r, zs)| zs.chars().map(|z| format!("{r}{z}")).collect())
}

pub fn regions() -> Vec<String> {
    REGIONS.iter().map(|(r, _)| r.to_string()).collect()
}
