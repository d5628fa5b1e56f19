//! The EKS cluster, its core add-ons, and GPU managed node groups.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_eks::types::{
    AmiTypes, CapacityTypes, ClusterStatus, LogSetup, LogType, Logging, NodegroupScalingConfig,
    NodegroupStatus, Taint, TaintEffect, UpdateLabelsPayload, UpdateTaintsPayload,
    VpcConfigRequest,
};
use hoist_provider::{
    tags, Address, Attrs, CloudResource, CreateContext, Lifecycle, Observed, Ownership,
    ProviderError, ResourceConfig, ResourceState,
};
use serde_json::{json, Value};

use crate::errors::{classify, gone_is_none};
use crate::{dep_id, observed, tag_map, text, AwsProvider, TOKEN_TAG};

const SERVICE: &str = "eks";

fn int(a: &Attrs, k: &str) -> i32 {
    a.get(k).and_then(Value::as_i64).unwrap_or(0) as i32
}

fn hash_tags(ctx: &CreateContext, name: &str) -> HashMap<String, String> {
    tag_map(ctx, name).into_iter().collect()
}

fn labels(a: &Attrs) -> HashMap<String, String> {
    a.get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn effect(text: &str) -> TaintEffect {
    match text {
        "NoExecute" => TaintEffect::NoExecute,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        _ => TaintEffect::NoSchedule,
    }
}

/// `key=value:Effect` strings (as blueprints write them) to EKS taints.
fn taints(a: &Attrs) -> Vec<Taint> {
    a.get("taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|t| {
            let (kv, eff) = t.rsplit_once(':')?;
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Some(Taint::builder().key(k).value(v).effect(effect(eff)).build())
        })
        .collect()
}

fn taint_text(t: &Taint) -> String {
    let eff = match t.effect().map(|e| e.as_str()) {
        Some("NO_EXECUTE") => "NoExecute",
        Some("PREFER_NO_SCHEDULE") => "PreferNoSchedule",
        _ => "NoSchedule",
    };
    match t.value().filter(|v| !v.is_empty()) {
        Some(v) => format!("{}={v}:{eff}", t.key().unwrap_or_default()),
        None => format!("{}:{eff}", t.key().unwrap_or_default()),
    }
}

fn cluster_lifecycle(status: Option<&ClusterStatus>) -> Lifecycle {
    match status.map(|s| s.as_str()) {
        Some("CREATING") | Some("PENDING") => Lifecycle::Provisioning,
        Some("UPDATING") => Lifecycle::Updating,
        Some("DELETING") => Lifecycle::Deleting,
        Some("FAILED") => Lifecycle::Failed {
            reason: "the EKS cluster failed".into(),
        },
        _ => Lifecycle::Ready,
    }
}

/// Node group cloud ids are `CLUSTER/NODEGROUP`.
fn split(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or((id, ""))
}

/// GPU vCPU quota codes of EC2 (Service Quotas), by instance family and capacity type.
fn quota_code(instance_type: &str, spot: bool) -> Option<(&'static str, &'static str)> {
    match (instance_type.chars().next()?, spot) {
        ('p', false) => Some(("L-417A185B", "Running On-Demand P instances")),
        ('p', true) => Some(("L-7212CCBC", "All P Spot Instance Requests")),
        ('g', false) => Some(("L-DB2E81BA", "Running On-Demand G and VT instances")),
        ('g', true) => Some(("L-3819A6DF", "All G and VT Spot Instance Requests")),
        _ => None,
    }
}

impl AwsProvider {
    pub(crate) async fn create_cluster(
        &self,
        config: &ResourceConfig,
        ctx: &CreateContext,
    ) -> Result<Observed, ProviderError> {
        let a = &config.attrs;
        let name = text(a, "name");
        if let Some(existing) = self.describe_cluster(name).await? {
            return Ok(Observed {
                attrs: a.clone(),
                ..existing
            });
        }
        let role = ctx
            .deps
            .get(
                &text(a, "role")
                    .parse::<Address>()
                    .map_err(|_| ProviderError::Invalid("no cluster role".into()))?,
            )
            .and_then(|r| r.outputs.get("arn"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let subnets: Vec<String> = ctx
            .deps
            .values()
            .filter(|d| d.address.kind() == "subnet")
            .map(|d| d.cloud_id.clone())
            .collect();
        let vpc = VpcConfigRequest::builder()
            .set_subnet_ids(Some(subnets))
            .security_group_ids(dep_id(ctx, a, "security_group")?)
            .endpoint_public_access(a.get("endpoint_public") == Some(&json!(true)))
            .endpoint_private_access(a.get("endpoint_private") == Some(&json!(true)))
            .build();
        let types: Vec<LogType> = a
            .get("logging")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(LogType::from)
            .collect();
        let logging = Logging::builder()
            .cluster_logging(
                LogSetup::builder()
                    .set_types(Some(types))
                    .enabled(true)
                    .build(),
            )
            .build();
        let created = self
            .eks
            .create_cluster()
            .name(name)
            .version(text(a, "kubernetes_version"))
            .role_arn(role)
            .resources_vpc_config(vpc)
            .logging(logging)
            .client_request_token(&ctx.token)
            .set_tags(Some(hash_tags(ctx, name)))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "CreateCluster", e))?;
        let lifecycle = cluster_lifecycle(created.cluster().and_then(|c| c.status()));
        let outputs = [(
            "arn".to_string(),
            json!(created.cluster().and_then(|c| c.arn())),
        )]
        .into_iter()
        .collect();
        Ok(Observed {
            cloud_id: name.into(),
            attrs: a.clone(),
            outputs,
            lifecycle,
        })
    }

    async fn describe_cluster(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
        let got = gone_is_none(
            self.eks
                .describe_cluster()
                .name(name)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "DescribeCluster", e)),
        )?;
        Ok(got.and_then(|g| g.cluster().cloned()).map(|c| {
            let live: Attrs = [
                ("kubernetes_version".to_string(), json!(c.version())),
                (
                    "endpoint_public".to_string(),
                    json!(c.resources_vpc_config().map(|v| v.endpoint_public_access())),
                ),
                (
                    "endpoint_private".to_string(),
                    json!(c
                        .resources_vpc_config()
                        .map(|v| v.endpoint_private_access())),
                ),
            ]
            .into_iter()
            .collect();
            let outputs: Attrs = [
                ("arn".to_string(), json!(c.arn())),
                ("endpoint".to_string(), json!(c.endpoint())),
                // The idempotency token of the create that made it (not a credential).
                (
                    "hoist_token".to_string(),
                    json!(c.tags().and_then(|t| t.get(TOKEN_TAG))),
                ),
                (
                    "certificate_authority".to_string(),
                    json!(c.certificate_authority().and_then(|a| a.data())),
                ),
            ]
            .into_iter()
            .collect();
            Observed {
                cloud_id: name.into(),
                attrs: live,
                outputs,
                lifecycle: cluster_lifecycle(c.status()),
            }
        }))
    }

    pub(crate) async fn read_cluster(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self
            .describe_cluster(&r.cloud_id)
            .await?
            .map(|o| observed(r, o.attrs, o.outputs, o.lifecycle)))
    }

    pub(crate) async fn update_cluster(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        let want = text(&config.attrs, "kubernetes_version");
        if want != text(&prior.attrs, "kubernetes_version") {
            self.eks
                .update_cluster_version()
                .name(&prior.cloud_id)
                .version(want)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "UpdateClusterVersion", e))?;
        }
        let (public, private) = (
            config.attrs.get("endpoint_public") == Some(&json!(true)),
            config.attrs.get("endpoint_private") == Some(&json!(true)),
        );
        if config.attrs.get("endpoint_public") != prior.attrs.get("endpoint_public")
            || config.attrs.get("endpoint_private") != prior.attrs.get("endpoint_private")
        {
            let vpc = VpcConfigRequest::builder()
                .endpoint_public_access(public)
                .endpoint_private_access(private)
                .build();
            self.eks
                .update_cluster_config()
                .name(&prior.cloud_id)
                .resources_vpc_config(vpc)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "UpdateClusterConfig", e))?;
        }
        Ok(Observed {
            cloud_id: prior.cloud_id.clone(),
            attrs: config.attrs.clone(),
            outputs: prior.outputs.clone(),
            lifecycle: Lifecycle::Updating,
        })
    }

    pub(crate) async fn delete_cluster(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        gone_is_none(
            self.eks
                .delete_cluster()
                .name(&prior.cloud_id)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "DeleteCluster", e)),
        )
        .map(drop)
    }

    pub(crate) async fn create_addon(
        &self,
        config: &ResourceConfig,
        ctx: &CreateContext,
    ) -> Result<Observed, ProviderError> {
        let cluster = dep_id(ctx, &config.attrs, "cluster")?;
        let name = text(&config.attrs, "name");
        let id = format!("{cluster}/{name}");
        if let Some(existing) = self.describe_addon(&id).await? {
            return Ok(Observed {
                attrs: config.attrs.clone(),
                ..existing
            });
        }
        let out = self
            .eks
            .create_addon()
            .cluster_name(&cluster)
            .addon_name(name)
            .client_request_token(&ctx.token)
            .set_tags(Some(hash_tags(ctx, name)))
            .send()
            .await
            .map_err(|e| classify(SERVICE, "CreateAddon", e))?;
        let lifecycle = addon_lifecycle(out.addon().and_then(|a| a.status()).map(|s| s.as_str()));
        Ok(Observed {
            cloud_id: id,
            attrs: config.attrs.clone(),
            outputs: Attrs::new(),
            lifecycle,
        })
    }

    async fn describe_addon(&self, id: &str) -> Result<Option<Observed>, ProviderError> {
        let (cluster, name) = split(id);
        let got = gone_is_none(
            self.eks
                .describe_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "DescribeAddon", e)),
        )?;
        Ok(got.and_then(|g| g.addon().cloned()).map(|a| {
            let outputs: Attrs = [
                ("version".to_string(), json!(a.addon_version())),
                (
                    "hoist_token".to_string(),
                    json!(a.tags().and_then(|t| t.get(TOKEN_TAG))),
                ),
            ]
            .into_iter()
            .collect();
            Observed {
                cloud_id: id.into(),
                attrs: Attrs::new(),
                outputs,
                lifecycle: addon_lifecycle(a.status().map(|s| s.as_str())),
            }
        }))
    }

    pub(crate) async fn read_addon(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self
            .describe_addon(&r.cloud_id)
            .await?
            .map(|o| observed(r, o.attrs, o.outputs, o.lifecycle)))
    }

    pub(crate) async fn delete_addon(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        let (cluster, name) = split(&prior.cloud_id);
        gone_is_none(
            self.eks
                .delete_addon()
                .cluster_name(cluster)
                .addon_name(name)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "DeleteAddon", e)),
        )
        .map(drop)
    }

    /// Narrow a node group to zones offering its instance type, and check the GPU vCPU quota.
    pub(crate) async fn place_node_group(
        &self,
        config: &mut ResourceConfig,
    ) -> Result<Vec<String>, ProviderError> {
        let instance_type = text(&config.attrs, "instance_type").to_string();
        let offered = self
            .ec2
            .describe_instance_type_offerings()
            .location_type(aws_sdk_ec2::types::LocationType::AvailabilityZone)
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-type")
                    .values(&instance_type)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| classify("ec2", "DescribeInstanceTypeOfferings", e))?;
        let offered: Vec<String> = offered
            .instance_type_offerings()
            .iter()
            .filter_map(|o| o.location().map(String::from))
            .collect();
        let zones = config.zones();
        let usable: Vec<String> = zones
            .iter()
            .filter(|z| offered.contains(z))
            .cloned()
            .collect();
        if usable.is_empty() {
            return Err(ProviderError::Capacity {
                accelerator: instance_type,
                region: self.region.clone(),
                zones,
            });
        }
        let mut notes = Vec::new();
        if usable.len() < zones.len() {
            notes.push(format!(
                "{instance_type} is offered only in {} of {}",
                usable.join(", "),
                zones.join(", ")
            ));
            config.placement.insert("zones".into(), json!(usable));
        }
        self.check_quota(config, &instance_type).await?;
        Ok(notes)
    }

    async fn check_quota(
        &self,
        config: &ResourceConfig,
        instance_type: &str,
    ) -> Result<(), ProviderError> {
        let spot = text(&config.attrs, "capacity") == "spot";
        let Some((code, title)) = quota_code(instance_type, spot) else {
            return Ok(());
        };
        let types = self
            .ec2
            .describe_instance_types()
            .instance_types(aws_sdk_ec2::types::InstanceType::from(instance_type))
            .send()
            .await
            .map_err(|e| classify("ec2", "DescribeInstanceTypes", e))?;
        let vcpus = types
            .instance_types()
            .first()
            .and_then(|t| t.v_cpu_info())
            .and_then(|v| v.default_v_cpus())
            .unwrap_or(0) as f64;
        let quota = self
            .quotas
            .get_service_quota()
            .service_code("ec2")
            .quota_code(code)
            .send()
            .await
            .map_err(|e| classify("servicequotas", "GetServiceQuota", e))?;
        let Some(limit) = quota.quota().and_then(|q| q.value()) else {
            return Ok(());
        };
        let max = int(&config.attrs, "max") as f64;
        if max * vcpus > limit {
            return Err(ProviderError::Quota {
                region: self.region.clone(),
                message: format!("{} needs up to {} vCPUs ({max} × {instance_type} at {vcpus} vCPUs) but quota {code} \"{title}\" is {limit}; request an increase in Service Quotas or lower max", config.address, max * vcpus),
            });
        }
        Ok(())
    }

    pub(crate) async fn create_node_group(
        &self,
        config: &ResourceConfig,
        ctx: &CreateContext,
    ) -> Result<Observed, ProviderError> {
        let a = &config.attrs;
        let cluster = dep_id(ctx, a, "cluster")?;
        let name = format!(
            "{}-{}",
            text(a, "name"),
            &ctx.token[..8.min(ctx.token.len())]
        );
        let id = format!("{cluster}/{name}");
        let existing = self.describe_node_group(&id).await?;
        if existing.is_none() {
            let role = ctx
                .deps
                .get(
                    &text(a, "role")
                        .parse::<Address>()
                        .map_err(|_| ProviderError::Invalid("no node role".into()))?,
                )
                .and_then(|r| r.outputs.get("arn"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let zones = config.zones();
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
            let scaling = NodegroupScalingConfig::builder()
                .min_size(int(a, "min"))
                .max_size(int(a, "max").max(1))
                .desired_size(int(a, "desired"))
                .build();
            let capacity = if text(a, "capacity") == "spot" {
                CapacityTypes::Spot
            } else {
                CapacityTypes::OnDemand
            };
            self.eks
                .create_nodegroup()
                .cluster_name(&cluster)
                .nodegroup_name(&name)
                .scaling_config(scaling)
                .set_subnets(Some(subnets))
                .instance_types(text(a, "instance_type"))
                .ami_type(AmiTypes::from(text(a, "ami_type")))
                .capacity_type(capacity)
                .node_role(role)
                .set_labels(Some(labels(a)))
                .set_taints(Some(taints(a)))
                .client_request_token(attempt_token(&ctx.token, &zones))
                .set_tags(Some(hash_tags(ctx, &name)))
                .send()
                .await
                .map_err(|e| classify(SERVICE, "CreateNodegroup", e))?;
        }
        // Creation failures surface as health issues; a capacity shortage must fail over now.
        let mut pause = Duration::from_millis(100);
        loop {
            let now =
                self.describe_node_group(&id)
                    .await?
                    .ok_or_else(|| ProviderError::Transient {
                        service: SERVICE.into(),
                        message: format!("node group {name} not visible yet"),
                    })?;
            match &now.lifecycle {
                Lifecycle::Provisioning => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(15));
                }
                Lifecycle::Failed { reason } if reason.contains("InsufficientInstanceCapacity") => {
                    let short = self.short_zones(&id, ctx).await?;
                    // The name is reused in the next zones: wait until the failed group is gone.
                    self.eks
                        .delete_nodegroup()
                        .cluster_name(&cluster)
                        .nodegroup_name(&name)
                        .send()
                        .await
                        .map_err(|e| classify(SERVICE, "DeleteNodegroup", e))?;
                    let mut pause = Duration::from_millis(100);
                    while self.describe_node_group(&id).await?.is_some() {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(15));
                    }
                    return Err(ProviderError::Capacity {
                        accelerator: text(a, "instance_type").into(),
                        region: self.region.clone(),
                        zones: short,
                    });
                }
                _ => {
                    return Ok(Observed {
                        attrs: a.clone(),
                        ..now
                    })
                }
            }
        }
    }

    /// Zones named by a node group's capacity issue (through the subnets it lists).
    async fn short_zones(
        &self,
        id: &str,
        ctx: &CreateContext,
    ) -> Result<Vec<String>, ProviderError> {
        let (cluster, name) = split(id);
        let ng = self
            .eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .send()
            .await
            .map_err(|e| classify(SERVICE, "DescribeNodegroup", e))?;
        let ids: Vec<String> = ng
            .nodegroup()
            .and_then(|n| n.health())
            .map(|h| {
                h.issues()
                    .iter()
                    .flat_map(|i| i.resource_ids().iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        Ok(ctx
            .deps
            .values()
            .filter(|d| ids.contains(&d.cloud_id))
            .filter_map(|d| {
                d.attrs
                    .get("zone")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect())
    }

    async fn describe_node_group(&self, id: &str) -> Result<Option<Observed>, ProviderError> {
        let (cluster, name) = split(id);
        let got = gone_is_none(
            self.eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "DescribeNodegroup", e)),
        )?;
        Ok(got.and_then(|g| g.nodegroup().cloned()).map(|n| {
            let scaling = n.scaling_config();
            let mut labels: BTreeMap<String, String> = BTreeMap::new();
            if let Some(l) = n.labels() {
                labels.extend(l.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let live: Attrs = [
                ("min".to_string(), json!(scaling.and_then(|s| s.min_size()))),
                ("max".to_string(), json!(scaling.and_then(|s| s.max_size()))),
                (
                    "desired".to_string(),
                    json!(scaling.and_then(|s| s.desired_size())),
                ),
                (
                    "instance_type".to_string(),
                    json!(n.instance_types().first()),
                ),
                (
                    "capacity".to_string(),
                    json!(match n.capacity_type().map(|c| c.as_str()) {
                        Some("SPOT") => "spot",
                        _ => "on-demand",
                    }),
                ),
                ("labels".to_string(), json!(labels)),
                (
                    "taints".to_string(),
                    json!(n.taints().iter().map(taint_text).collect::<Vec<_>>()),
                ),
            ]
            .into_iter()
            .collect();
            let issues: Vec<String> = n
                .health()
                .map(|h| {
                    h.issues()
                        .iter()
                        .map(|i| {
                            format!(
                                "{}: {}",
                                i.code().map(|c| c.as_str()).unwrap_or("issue"),
                                i.message().unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let lifecycle = match n.status() {
                Some(NodegroupStatus::Creating) => Lifecycle::Provisioning,
                Some(NodegroupStatus::Updating) => Lifecycle::Updating,
                Some(NodegroupStatus::Deleting) => Lifecycle::Deleting,
                Some(NodegroupStatus::CreateFailed)
                | Some(NodegroupStatus::DeleteFailed)
                | Some(NodegroupStatus::Degraded) => Lifecycle::Failed {
                    reason: issues.join("; "),
                },
                _ => Lifecycle::Ready,
            };
            let outputs: Attrs = [
                ("cloud_name".to_string(), json!(name)),
                ("arn".to_string(), json!(n.nodegroup_arn())),
            ]
            .into_iter()
            .collect();
            Observed {
                cloud_id: id.into(),
                attrs: live,
                outputs,
                lifecycle,
            }
        }))
    }

    pub(crate) async fn read_node_group(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self
            .describe_node_group(&r.cloud_id)
            .await?
            .map(|o| observed(r, o.attrs, o.outputs, o.lifecycle)))
    }

    pub(crate) async fn update_node_group(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        let (cluster, name) = split(&prior.cloud_id);
        let a = &config.attrs;
        let scaling = NodegroupScalingConfig::builder()
            .min_size(int(a, "min"))
            .max_size(int(a, "max").max(1))
            .desired_size(int(a, "desired"))
            .build();
        let (want, had) = (labels(a), labels(&prior.attrs));
        let label_update = UpdateLabelsPayload::builder()
            .set_add_or_update_labels(Some(want.clone()))
            .set_remove_labels(Some(
                had.keys()
                    .filter(|k| !want.contains_key(*k))
                    .cloned()
                    .collect(),
            ))
            .build();
        let (want_t, had_t) = (taints(a), taints(&prior.attrs));
        let removed: Vec<Taint> = had_t
            .into_iter()
            .filter(|t| !want_t.iter().any(|w| w.key() == t.key()))
            .collect();
        let taint_update = UpdateTaintsPayload::builder()
            .set_add_or_update_taints(Some(want_t))
            .set_remove_taints(Some(removed))
            .build();
        self.eks
            .update_nodegroup_config()
            .cluster_name(cluster)
            .nodegroup_name(name)
            .scaling_config(scaling)
            .labels(label_update)
            .taints(taint_update)
            .send()
            .await
            .map_err(|e| classify(SERVICE, "UpdateNodegroupConfig", e))?;
        Ok(Observed {
            cloud_id: prior.cloud_id.clone(),
            attrs: a.clone(),
            outputs: prior.outputs.clone(),
            lifecycle: Lifecycle::Updating,
        })
    }

    pub(crate) async fn delete_node_group(
        &self,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        let (cluster, name) = split(&prior.cloud_id);
        gone_is_none(
            self.eks
                .delete_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(name)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "DeleteNodegroup", e)),
        )
        .map(drop)
    }

    pub(crate) async fn find_eks(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let found = match address.kind() {
            "eks_cluster" => self.describe_cluster(&owner.env).await?,
            "eks_addon" => {
                self.describe_addon(&format!("{}/{}", owner.env, address.name()))
                    .await?
            }
            _ => {
                self.describe_node_group(&format!(
                    "{}/{}-{}",
                    owner.env,
                    address.name(),
                    &token[..8.min(token.len())]
                ))
                .await?
            }
        };
        // Clusters and add-ons carry the token tag; node group names embed it.
        Ok(found.filter(|o| {
            address.kind() == "node_pool"
                || o.outputs.get("hoist_token").and_then(Value::as_str) == Some(token)
        }))
    }

    pub(crate) async fn list_eks(&self, env: &str) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = Vec::new();
        let clusters = self
            .eks
            .list_clusters()
            .send()
            .await
            .map_err(|e| classify(SERVICE, "ListClusters", e))?;
        for name in clusters.clusters() {
            let c = self
                .eks
                .describe_cluster()
                .name(name)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "DescribeCluster", e))?;
            let tags: BTreeMap<String, String> = c
                .cluster()
                .and_then(|c| c.tags())
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            if tags.get(tags::ENV).map(String::as_str) != Some(env) {
                continue;
            }
            out.push(CloudResource {
                cloud_id: name.clone(),
                kind: "eks_cluster".into(),
                name: name.clone(),
                region: self.region.clone(),
                status: "exists".into(),
                tags: tags.clone(),
            });
            let groups = self
                .eks
                .list_nodegroups()
                .cluster_name(name)
                .send()
                .await
                .map_err(|e| classify(SERVICE, "ListNodegroups", e))?;
            for g in groups.nodegroups() {
                out.push(CloudResource {
                    cloud_id: format!("{name}/{g}"),
                    kind: "node_pool".into(),
                    name: g.clone(),
                    region: self.region.clone(),
                    status: "exists".into(),
                    tags: tags.clone(),
                });
            }
            if let Ok(addons) = self.eks.list_addons().cluster_name(name).send().await {
                for a in addons.addons() {
                    out.push(CloudResource {
                        cloud_id: format!("{name}/{a}"),
                        kind: "eks_addon".into(),
                        name: a.clone(),
                        region: self.region.clone(),
                        status: "exists".into(),
                        tags: tags.clone(),
                    });
                }
            }
        }
        Ok(out)
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

fn addon_lifecycle(status: Option<&str>) -> Lifecycle {
    match status {
        Some("CREATING") => Lifecycle::Provisioning,
        Some("UPDATING") => Lifecycle::Updating,
        Some("DELETING") => Lifecycle::Deleting,
        Some("CREATE_FAILED") | Some("DEGRADED") => Lifecycle::Failed {
            reason: "the add-on failed".into(),
        },
        _ => Lifecycle::Ready,
    }
}
