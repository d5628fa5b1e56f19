//! The cluster autoscaler's node-template tags on a node group's Auto Scaling group. They say
//! what a node of the pool would offer (labels, taints, GPUs) before one exists, which is how
//! a GPU pool at zero nodes scales up for a pending pod. EKS does not copy them there itself.

use std::collections::BTreeMap;

use aws_sdk_autoscaling::types::{Filter, Tag};
use hoist_provider::{Attrs, ProviderError};
use serde_json::Value;

use crate::AwsProvider;

const SERVICE: &str = "autoscaling";
const TEMPLATE_PREFIX: &str = "k8s.io/cluster-autoscaler/node-template/";
const DISCOVERY_PREFIX: &str = "k8s.io/cluster-autoscaler/";

/// The auto-discovery tags the cluster autoscaler looks for. EKS puts them on a managed node
/// group's Auto Scaling group itself; hoist puts back any that are missing on the groups it
/// writes node-template tags to, and never removes them (EKS owns them).
fn discovery_tags(attrs: &Attrs) -> BTreeMap<String, String> {
    let cluster = attrs
        .get("cluster")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<hoist_provider::Address>().ok())
        .map(|a| a.name().to_string());
    let mut tags = BTreeMap::new();
    if let Some(cluster) = cluster {
        tags.insert(format!("{DISCOVERY_PREFIX}enabled"), "true".to_string());
        tags.insert(format!("{DISCOVERY_PREFIX}{cluster}"), "owned".to_string());
    }
    tags
}

fn tag(group: &str, key: &str, value: &str) -> Tag {
    Tag::builder()
        .resource_id(group)
        .resource_type("auto-scaling-group")
        .key(key)
        .value(value)
        .propagate_at_launch(false)
        .build()
}

impl AwsProvider {
    /// Make the groups' node-template tags exactly `attrs["node_template"]` (none when absent),
    /// and make sure the discovery tags are there.
    pub(crate) async fn tag_node_template(
        &self,
        outputs: &Attrs,
        attrs: &Attrs,
    ) -> Result<(), ProviderError> {
        let want: BTreeMap<String, String> = attrs
            .get("node_template")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let groups: Vec<&str> = outputs
            .get("auto_scaling_groups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for group in groups {
            let have: BTreeMap<String, String> = crate::every!(
                SERVICE,
                "DescribeTags",
                self.autoscaling.describe_tags().filters(
                    Filter::builder()
                        .name("auto-scaling-group")
                        .values(group)
                        .build(),
                )
            )?
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .filter(|(k, _)| k.starts_with(DISCOVERY_PREFIX))
            .collect();
            // With node-template tags to write, the group is one the autoscaler must find; EKS
            // tags managed groups for discovery itself, so a missing tag is only put back then.
            let discovery = match want.is_empty() {
                true => BTreeMap::new(),
                false => discovery_tags(attrs),
            };
            let put: Vec<Tag> = want
                .iter()
                .chain(discovery.iter())
                .filter(|(k, v)| have.get(*k) != Some(v))
                .map(|(k, v)| tag(group, k, v))
                .collect();
            if !put.is_empty() {
                crate::send!(
                    SERVICE,
                    "CreateOrUpdateTags",
                    self.autoscaling.create_or_update_tags().set_tags(Some(put))
                )?;
            }
            let stale: Vec<Tag> = have
                .iter()
                .filter(|(k, _)| k.starts_with(TEMPLATE_PREFIX) && !want.contains_key(*k))
                .map(|(k, v)| tag(group, k, v))
                .collect();
            if !stale.is_empty() {
                crate::send!(
                    SERVICE,
                    "DeleteTags",
                    self.autoscaling.delete_tags().set_tags(Some(stale))
                )?;
            }
        }
        Ok(())
    }
}
