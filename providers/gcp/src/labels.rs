//! hoist's ownership tags under GCP's rules. Labels (clusters, node pools' VMs, buckets): keys
//! and values of at most 63 lowercase letters, digits, `_` and `-`, keys starting with a
//! letter. So `hoist-env`, `hoist-lineage` and `hoist-token` keep their keys and values (names
//! and UUIDs already fit); `hoist-address` writes `node_pool.gpu` as `node_pool--gpu`;
//! `hoist-expires-at` writes `2026-12-02T10:00:00Z` as `2026-12-02t10-00-00z`. User tags are
//! lowercased with other characters as `_`, cut at 63. Networks, subnetworks and routers take
//! no labels: the same keys go in their description, `hoist: key=value ...`, read back the same.

use std::collections::BTreeMap;

use hoist_provider::tags;

/// The label holding the idempotency token of the create that made a resource.
pub const TOKEN: &str = "hoist-token";
const MAX: usize = 63;
/// How a description written by hoist starts.
const DESCRIPTION_PREFIX: &str = "hoist:";

fn clean(text: &str) -> String {
    text.to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(MAX)
        .collect()
}

/// One tag as a label.
fn label(key: &str, value: &str) -> (String, String) {
    let value = match key {
        tags::ADDRESS => value.replacen('.', "--", 1),
        tags::EXPIRES_AT => value.replace(':', "-"),
        _ => value.to_string(),
    };
    let mut key = clean(key);
    if !key.starts_with(|c: char| c.is_ascii_lowercase()) {
        key.insert(0, 'k');
        key.truncate(MAX);
    }
    (key, clean(&value))
}

/// Tags (and the create's token) as GCP labels.
pub fn to_labels(t: &BTreeMap<String, String>, token: Option<&str>) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = t.iter().map(|(k, v)| label(k, v)).collect();
    if let Some(token) = token {
        out.insert(TOKEN.into(), clean(token));
    }
    out
}

/// hoist's tags as written in labels, read back in hoist's own form (what ownership checks).
pub fn from_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> BTreeMap<String, String> {
    labels
        .into_iter()
        .map(|(k, v)| {
            let v = match k.as_str() {
                tags::ADDRESS => v.replacen("--", ".", 1),
                tags::EXPIRES_AT => expires_at(v),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// hoist's tags from a label map in the API's JSON (`resourceLabels`, a bucket's `labels`).
pub fn from_json(labels: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    let pairs: Vec<(String, String)> = labels
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    from_labels(pairs.iter().map(|(k, v)| (k, v)))
}

/// `2026-12-02t10-00-00z` → `2026-12-02T10:00:00Z`.
fn expires_at(label: &str) -> String {
    match label.split_once('t') {
        Some((date, time)) => format!("{date}T{}", time.replace('-', ":").to_ascii_uppercase()),
        None => label.to_string(),
    }
}

/// The description of an unlabelable resource: its ownership tags and token.
pub fn to_description(t: &BTreeMap<String, String>, token: &str) -> String {
    let mut parts: Vec<String> = vec![DESCRIPTION_PREFIX.into()];
    for (k, v) in t.iter().filter(|(k, _)| k.starts_with("hoist-")) {
        parts.push(format!("{k}={v}"));
    }
    parts.push(format!("{TOKEN}={token}"));
    parts.join(" ")
}

/// The tags a description written by [`to_description`] holds (none for anyone else's).
pub fn from_description(description: &str) -> BTreeMap<String, String> {
    let Some(rest) = description.strip_prefix(DESCRIPTION_PREFIX) else {
        return BTreeMap::new();
    };
    rest.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_tags_survive_labels_and_descriptions() {
        let t = BTreeMap::from([
            (tags::ENV.to_string(), "demo".to_string()),
            (
                tags::LINEAGE.to_string(),
                "5e0c6c1e-2a4b-4c8e-9f00-0123456789ab".to_string(),
            ),
            (tags::ADDRESS.to_string(), "node_pool.gpu".to_string()),
            (
                tags::EXPIRES_AT.to_string(),
                "2026-12-02T10:00:00Z".to_string(),
            ),
            ("Team".to_string(), "ML Platform".to_string()),
        ]);
        let labels = to_labels(&t, Some("tok"));
        assert_eq!(labels["hoist-address"], "node_pool--gpu");
        assert_eq!(labels["hoist-expires-at"], "2026-12-02t10-00-00z");
        assert_eq!(labels["team"], "ml_platform");
        for (k, v) in &labels {
            assert!(k.len() <= 63 && v.len() <= 63);
            assert!(
                k.chars()
                    .chain(v.chars())
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
                "{k}={v}"
            );
        }
        let back = from_labels(&labels);
        for key in [tags::ENV, tags::LINEAGE, tags::ADDRESS, tags::EXPIRES_AT] {
            assert_eq!(back[key], t[key], "{key}");
        }
        let d = to_description(&t, "tok");
        let read = from_description(&d);
        assert_eq!(read[tags::ADDRESS], "node_pool.gpu");
        assert_eq!(read[TOKEN], "tok");
        assert!(
            !read.contains_key("Team"),
            "user tags stay out of descriptions"
        );
        assert!(from_description("made by hand").is_empty());
    }
}
