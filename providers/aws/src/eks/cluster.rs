//! The EKS cluster: created with API access entries (the creator is admin from the start, so
//! the stack can be applied the moment it is ACTIVE) and its own log group; never adopted by
//! name unless its tags say it is this environment's.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_eks::types::{
    AuthenticationMode, ClusterStatus, CreateAccessConfigRequest, LogSetup, LogType, Logging,
    UpdateAccessConfigRequest, VpcConfigRequest,
};
use hoist_provider::{
    Attrs, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig, ResourceState,
    StepContext,
};
use serde_json::{json, Value};

use super::{eks, hash_tags, sorted};
use crate::errors::gone_is_none;
use crate::{claim, dep_id, dep_output, observed, text, AwsProvider, TOKEN_TAG};

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

fn logging(types: &[String]) -> Logging {
    Logging::builder()
        .cluster_logging(
            LogSetup::builder()
                .set_types(Some(
                    types.iter().map(|t| LogType::from(t.as_str())).collect(),
                ))
                .enabled(true)
                .build(),
        )
        .build()
}

fn strings(a: &Attrs, key: &str) -> Vec<String> {
    a.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

impl AwsProvider {
    /// At plan time: a cluster with the environment's name that is not its own stops the plan.
    pub(crate) async fn check_cluster_name(
        &self,
        config: &ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let name = text(&config.attrs, "name");
        if let Some((_, tags)) = self.describe_cluster(name).await? {
            claim(owner, format!("EKS cluster {name}"), &tags)?;
        }
        Ok(Vec::new())
    }

    pub(crate) async fn create_cluster(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let a = &config.attrs;
        let name = text(a, "name");
        if let Some((existing, tags)) = self.describe_cluster(name).await? {
            // A retried or recovered create of our own cluster; anything else is refused.
            claim(
                &Ownership::from_tags(&ctx.tags),
                format!("EKS cluster {name}"),
                &tags,
            )?;
            return Ok(Observed {
                attrs: a.clone(),
                ..existing
            });
        }
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
        let access = CreateAccessConfigRequest::builder()
            .authentication_mode(AuthenticationMode::from(text(a, "authentication_mode")))
            .bootstrap_cluster_creator_admin_permissions(true)
            .build();
        let created = eks!(
            "CreateCluster",
            self.eks
                .create_cluster()
                .name(name)
                .version(text(a, "kubernetes_version"))
                .role_arn(dep_output(ctx, a, "role", "arn")?)
                .resources_vpc_config(vpc)
                .logging(logging(&strings(a, "logging")))
                .access_config(access)
                // hoist installs vpc-cni, kube-proxy and coredns as managed add-ons, unless
                // the blueprint leaves them to EKS's defaults (`cluster.addons: self-managed`).
                .bootstrap_self_managed_addons(a.get("self_managed_addons") == Some(&json!(true)))
                .client_request_token(&ctx.token)
                .set_tags(Some(hash_tags(ctx, name)))
        )?;
        let c = created.cluster();
        let outputs = [("arn".to_string(), json!(c.and_then(|c| c.arn())))]
            .into_iter()
            .collect();
        Ok(crate::made(
            name,
            config,
            outputs,
            cluster_lifecycle(c.and_then(|c| c.status())),
        ))
    }

    /// The cluster named `name` if it exists, and its tags.
    pub(crate) async fn describe_cluster(
        &self,
        name: &str,
    ) -> Result<Option<(Observed, BTreeMap<String, String>)>, ProviderError> {
        let got = gone_is_none(eks!(
            "DescribeCluster",
            self.eks.describe_cluster().name(name)
        ))?;
        Ok(got.and_then(|g| g.cluster().cloned()).map(|c| {
            let vpc = c.resources_vpc_config();
            let mut enabled: Vec<String> = c
                .logging()
                .map(|l| l.cluster_logging())
                .unwrap_or_default()
                .iter()
                .filter(|s| s.enabled() == Some(true))
                .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
                .collect();
            enabled.sort();
            let live: Attrs = [
                ("kubernetes_version", json!(c.version())),
                (
                    "endpoint_public",
                    json!(vpc.map(|v| v.endpoint_public_access())),
                ),
                (
                    "endpoint_private",
                    json!(vpc.map(|v| v.endpoint_private_access())),
                ),
                ("logging", json!(enabled)),
                (
                    "authentication_mode",
                    json!(c
                        .access_config()
                        .and_then(|a| a.authentication_mode())
                        .map(|m| m.as_str())),
                ),
            ]
            .into_iter()
            // What the answer leaves out is not known to differ: the recorded value stays.
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let tags = sorted(c.tags());
            let outputs: Attrs = [
                ("arn", json!(c.arn())),
                ("endpoint", json!(c.endpoint())),
                // The idempotency token of the create that made it (not a credential).
                ("hoist_token", json!(tags.get(TOKEN_TAG))),
                (
                    "certificate_authority",
                    json!(c.certificate_authority().and_then(|a| a.data())),
                ),
                (
                    "cluster_security_group_id",
                    json!(vpc.and_then(|v| v.cluster_security_group_id())),
                ),
                (
                    "oidc_issuer",
                    json!(c.identity().and_then(|i| i.oidc()).and_then(|o| o.issuer())),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let o = Observed {
                cloud_id: name.into(),
                attrs: live,
                outputs,
                lifecycle: cluster_lifecycle(c.status()),
            };
            (o, tags)
        }))
    }

    pub(crate) async fn read_cluster(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(crate::refreshed(
            r,
            self.describe_cluster(&r.cloud_id).await?,
        ))
    }

    /// EKS takes one update at a time: make the first difference from what the cluster is
    /// now, wait for it to finish, then the next, until nothing differs.
    pub(crate) async fn update_cluster(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        let name = &prior.cloud_id;
        let want = &config.attrs;
        let mut pause = Duration::from_millis(200);
        loop {
            let (now, _) = self
                .describe_cluster(name)
                .await?
                .ok_or_else(|| ProviderError::NotFound(format!("EKS cluster {name}")))?;
            if now.lifecycle == Lifecycle::Ready
                && !self.start_cluster_update(name, want, &now).await?
            {
                return Ok(observed(prior, want.clone(), now.outputs, Lifecycle::Ready));
            }
            if let Lifecycle::Failed { reason } = &now.lifecycle {
                return Err(ProviderError::Fatal(format!(
                    "EKS cluster {name}: {reason}"
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(15));
        }
    }

    /// Start the first update `want` needs from `now`; false when nothing differs.
    async fn start_cluster_update(
        &self,
        name: &str,
        want: &Attrs,
        now: &Observed,
    ) -> Result<bool, ProviderError> {
        let differs = |k: &str| want.get(k).is_some() && want.get(k) != now.attrs.get(k);
        let c = &self.eks;
        if differs("kubernetes_version") {
            eks!(
                "UpdateClusterVersion",
                c.update_cluster_version()
                    .name(name)
                    .version(text(want, "kubernetes_version"))
            )?;
        } else if differs("endpoint_public") || differs("endpoint_private") {
            let vpc = VpcConfigRequest::builder()
                .endpoint_public_access(want.get("endpoint_public") == Some(&json!(true)))
                .endpoint_private_access(want.get("endpoint_private") == Some(&json!(true)))
                .build();
            eks!(
                "UpdateClusterConfig",
                c.update_cluster_config()
                    .name(name)
                    .resources_vpc_config(vpc)
            )?;
        } else if differs("authentication_mode") {
            let access = UpdateAccessConfigRequest::builder()
                .authentication_mode(AuthenticationMode::from(text(want, "authentication_mode")))
                .build();
            eks!(
                "UpdateClusterConfig",
                c.update_cluster_config().name(name).access_config(access)
            )?;
        } else if differs("logging") {
            eks!(
                "UpdateClusterConfig",
                c.update_cluster_config()
                    .name(name)
                    .logging(logging(&strings(want, "logging")))
            )?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    pub(crate) async fn delete_cluster(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        gone_is_none(eks!(
            "DeleteCluster",
            self.eks.delete_cluster().name(&prior.cloud_id)
        ))
        .map(drop)
    }
}
