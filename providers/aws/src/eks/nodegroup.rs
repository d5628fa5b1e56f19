//! Managed node groups: placed in the zones that offer their type, within the GPU vCPU quota,
//! launched from the pool's template, failed over on a capacity shortage, and tagged for the
//! cluster autoscaler once their Auto Scaling group exists.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_eks::types::{
    AmiTypes, CapacityTypes, LaunchTemplateSpecification, NodegroupScalingConfig, NodegroupStatus,
    NodegroupUpdateConfig, Taint, UpdateLabelsPayload, UpdateTaintsPayload,
};
use hoist_provider::{
    Attrs, Lifecycle, Observed, ProviderError, ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use super::{eks, hash_tags, int, labels, sorted, split, taint_text, taints, SERVICE};
use crate::errors::gone_is_none;
use crate::{dep, dep_id, dep_output, text, token_name, AwsProvider};

/// Sizes, with `desired` kept within the bounds (a raised `min` lifts it).
fn scaling(a: &Attrs) -> NodegroupScalingConfig {
    let (min, max) = (int(a, "min"), int(a, "max").max(1));
    NodegroupScalingConfig::builder()
        .min_size(min)
        .max_size(max)
        .desired_size(int(a, "desired").clamp(min, max))
        .build()
}

fn update_config(a: &Attrs) -> Option<NodegroupUpdateConfig> {
    let u = a.get("update")?;
    let n = |k: &str| u.get(k).and_then(Value::as_i64).map(|n| n as i32);
    Some(
        NodegroupUpdateConfig::builder()
            .set_max_unavailable(n("max_unavailable"))
            .set_max_unavailable_percentage(n("max_unavailable_percentage"))
            .build(),
    )
}

/// The instance types to launch: the list for mixed spot pools, else the one type.
fn instance_types(a: &Attrs) -> Vec<String> {
    match a.get("instance_types").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        None => vec![text(a, "instance_type").to_string()],
    }
}

/// The zones to launch in now: all of them, or the first for a pool tied to one placement group.
fn launch_zones(config: &ResourceConfig) -> Vec<String> {
    let zones = config.zones();
    if config.attrs.get("single_zone") == Some(&json!(true)) {
        zones.into_iter().take(1).collect()
    } else {
        zones
    }
}

/// The create request's idempotency token: one per placement attempt, so a retry of the same
/// attempt is idempotent while a retry in other zones is a new request, as AWS requires.
fn attempt_token(token: &str, zones: &[String]) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in zones.join(",").bytes() {
        hash = (hash ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{}-{:08x}", &token[..token.len().min(36)], hash as u32)
}

impl AwsProvider {
    pub(crate) async fn create_node_group(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let a = &config.attrs;
        let cluster = dep_id(ctx, a, "cluster")?;
        let name = token_name(text(a, "name"), &ctx.token);
        let id = format!("{cluster}/{name}");
        let zones = launch_zones(config);
        if self.describe_node_group(&id).await?.is_none() {
            let subnets: Vec<String> = ctx
                .deps
                .values()
                .filter(|d| {
                    d.address.kind() == "subnet"
                        && d.attrs.get("public") == Some(&json!(false))
                        && zones.iter().any(|z| d.attrs.get("zone") == Some(&json!(z)))
                })
                .map(|d| d.cloud_id.clone())
                .collect();
            let template = dep(ctx, a, "launch_template")?;
            let version = template
                .outputs
                .get("version")
                .and_then(Value::as_str)
                .unwrap_or("1");
            let capacity = if text(a, "capacity") == "spot" {
                CapacityTypes::Spot
            } else {
                CapacityTypes::OnDemand
            };
            eks!(
                "CreateNodegroup",
                self.eks
                    .create_nodegroup()
                    .cluster_name(&cluster)
                    .nodegroup_name(&name)
                    .scaling_config(scaling(a))
                    .set_subnets(Some(subnets))
                    .set_instance_types(Some(instance_types(a)))
                    .ami_type(AmiTypes::from(text(a, "ami_type")))
                    .capacity_type(capacity)
                    .node_role(dep_output(ctx, a, "role", "arn")?)
                    .set_labels(Some(labels(a)))
                    .set_taints(Some(taints(a)))
                    .launch_template(
                        LaunchTemplateSpecification::builder()
                            .id(&template.cloud_id)
                            .version(version)
                            .build()
                    )
                    .set_update_config(update_config(a))
                    .client_request_token(attempt_token(&ctx.token, &zones))
                    .set_tags(Some(hash_tags(ctx, &name)))
            )?;
        }
        let now = self.wait_created(&id, &cluster, &name, a, ctx).await?;
        self.tag_node_template(&now.outputs, a).await?;
        Ok(Observed {
            attrs: a.clone(),
            ..now
        })
    }

    /// Wait out CREATING: creation failures surface as health issues, and a capacity
    /// shortage must fail over to other zones now, after the failed group is gone (its name
    /// is reused).
    async fn wait_created(
        &self,
        id: &str,
        cluster: &str,
        name: &str,
        a: &Attrs,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let mut pause = Duration::from_millis(100);
        loop {
            let (now, issue_ids) =
                self.describe_node_group(id)
                    .await?
                    .ok_or_else(|| ProviderError::Transient {
                        service: SERVICE.into(),
                        message: format!("node group {name} not visible yet"),
                    })?;
            match &now.lifecycle {
                Lifecycle::Provisioning => {}
                Lifecycle::Failed { reason } if reason.contains("InsufficientInstanceCapacity") => {
                    let short: Vec<String> = ctx
                        .deps
                        .values()
                        .filter(|d| issue_ids.contains(&d.cloud_id))
                        .filter_map(|d| {
                            d.attrs
                                .get("zone")
                                .and_then(Value::as_str)
                                .map(String::from)
                        })
                        .collect();
                    eks!(
                        "DeleteNodegroup",
                        self.eks
                            .delete_nodegroup()
                            .cluster_name(cluster)
                            .nodegroup_name(name)
                    )?;
                    let mut pause = Duration::from_millis(100);
                    while self.describe_node_group(id).await?.is_some() {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(15));
                    }
                    return Err(ProviderError::Capacity {
                        accelerator: text(a, "instance_type").into(),
                        region: self.region.clone(),
                        zones: short,
                    });
                }
                _ => return Ok(now),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(15));
        }
    }

    /// The node group and the resource ids its health issues name.
    pub(super) async fn describe_node_group(
        &self,
        id: &str,
    ) -> Result<Option<(Observed, Vec<String>)>, ProviderError> {
        let (cluster, name) = split(id);
        let got = gone_is_none(eks!(
            "DescribeNodegroup",
            self.eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
        ))?;
        Ok(got.and_then(|g| g.nodegroup().cloned()).map(|n| {
            let s = n.scaling_config();
            let labels: BTreeMap<String, String> = sorted(n.labels());
            let types = n.instance_types();
            let mut live: Attrs = [
                ("min", json!(s.and_then(|s| s.min_size()))),
                ("max", json!(s.and_then(|s| s.max_size()))),
                ("desired", json!(s.and_then(|s| s.desired_size()))),
                ("instance_type", json!(types.first())),
                ("ami_type", json!(n.ami_type().map(|t| t.as_str()))),
                (
                    "capacity",
                    json!(match n.capacity_type().map(|c| c.as_str()) {
                        Some("SPOT") => "spot",
                        _ => "on-demand",
                    }),
                ),
                ("labels", json!(labels)),
                (
                    "taints",
                    json!(n.taints().iter().map(taint_text).collect::<Vec<_>>()),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            if types.len() > 1 {
                live.insert("instance_types".into(), json!(types));
            }
            if let Some(u) = n.update_config() {
                let value = match (u.max_unavailable(), u.max_unavailable_percentage()) {
                    (Some(m), _) => json!({"max_unavailable": m}),
                    (None, Some(p)) => json!({"max_unavailable_percentage": p}),
                    _ => Value::Null,
                };
                live.insert("update".into(), value);
            }
            let issues = n.health().map(|h| h.issues()).unwrap_or_default();
            let reasons: Vec<String> = issues
                .iter()
                .map(|i| super::issue_text(i.code().map(|c| c.as_str()), i.message()))
                .collect();
            let issue_ids: Vec<String> = issues
                .iter()
                .flat_map(|i| i.resource_ids().iter().cloned())
                .collect();
            let lifecycle = match n.status() {
                Some(NodegroupStatus::Creating) => Lifecycle::Provisioning,
                Some(NodegroupStatus::Updating) => Lifecycle::Updating,
                Some(NodegroupStatus::Deleting) => Lifecycle::Deleting,
                Some(NodegroupStatus::CreateFailed)
                | Some(NodegroupStatus::DeleteFailed)
                | Some(NodegroupStatus::Degraded) => Lifecycle::Failed {
                    reason: reasons.join("; "),
                },
                _ => Lifecycle::Ready,
            };
            let groups: Vec<&str> = n
                .resources()
                .map(|r| r.auto_scaling_groups())
                .unwrap_or_default()
                .iter()
                .filter_map(|g| g.name())
                .collect();
            let outputs: Attrs = [
                ("cloud_name", json!(name)),
                ("arn", json!(n.nodegroup_arn())),
                ("auto_scaling_groups", json!(groups)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let o = Observed {
                cloud_id: id.into(),
                attrs: live,
                outputs,
                lifecycle,
            };
            (o, issue_ids)
        }))
    }

    pub(crate) async fn read_node_group(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(crate::refreshed(
            r,
            self.describe_node_group(&r.cloud_id).await?,
        ))
    }

    /// Sizes, labels, taints and the update policy in place, when they differ; then the
    /// autoscaler's node-template tags (also what finishes a group adopted after a crash).
    pub(crate) async fn update_node_group(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        let (cluster, name) = split(&prior.cloud_id);
        let a = &config.attrs;
        let (now, _) = self
            .describe_node_group(&prior.cloud_id)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("node group {name}")))?;
        if now.lifecycle == Lifecycle::Updating {
            return Err(ProviderError::NotReady {
                what: format!("node group {name}"),
                message: "an update is in progress".into(),
            });
        }
        // An autoscaled pool's `desired` arrives here as the autoscaler's live count.
        let differs = |k: &str| a.get(k) != now.attrs.get(k);
        let sizes = ["min", "max", "desired"].iter().any(|k| differs(k));
        let mut lifecycle = Lifecycle::Ready;
        if sizes || differs("labels") || differs("taints") || differs("update") {
            let (want, had) = (labels(a), labels(&now.attrs));
            let label_update = UpdateLabelsPayload::builder()
                .set_add_or_update_labels(Some(want.clone()))
                .set_remove_labels(Some(
                    had.keys()
                        .filter(|k| !want.contains_key(*k))
                        .cloned()
                        .collect(),
                ))
                .build();
            let (want_t, had_t) = (taints(a), taints(&now.attrs));
            let removed: Vec<Taint> = had_t
                .into_iter()
                .filter(|t| !want_t.iter().any(|w| w.key() == t.key()))
                .collect();
            let taint_update = UpdateTaintsPayload::builder()
                .set_add_or_update_taints(Some(want_t))
                .set_remove_taints(Some(removed))
                .build();
            eks!(
                "UpdateNodegroupConfig",
                self.eks
                    .update_nodegroup_config()
                    .cluster_name(cluster)
                    .nodegroup_name(name)
                    .scaling_config(scaling(a))
                    .labels(label_update)
                    .taints(taint_update)
                    .set_update_config(update_config(a))
            )?;
            lifecycle = Lifecycle::Updating;
        }
        self.tag_node_template(&now.outputs, a).await?;
        Ok(crate::applied(prior, config, now.outputs, lifecycle))
    }

    pub(crate) async fn delete_node_group(
        &self,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        let (cluster, name) = split(&prior.cloud_id);
        gone_is_none(eks!(
            "DeleteNodegroup",
            self.eks
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
        ))
        .map(drop)
    }
}
