//! EKS add-ons: vpc-cni (configured for large GPU nodes), kube-proxy, the pod identity agent
//! and coredns. An add-on whose pods cannot run yet is DEGRADED, not failed: coredns is that
//! until a node can host it.

use std::collections::BTreeMap;

use aws_sdk_eks::types::ResolveConflicts;
use hoist_provider::{
    Attrs, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig, ResourceState,
    StepContext,
};
use serde_json::{json, Value};

use super::{eks, hash_tags, sorted, split, TOKEN_TAG};
use crate::errors::gone_is_none;
use crate::{claim, dep_id, text, AwsProvider};

fn addon_lifecycle(status: Option<&str>, issues: &[String]) -> Lifecycle {
    match status {
        Some("CREATING") => Lifecycle::Provisioning,
        Some("UPDATING") => Lifecycle::Updating,
        Some("DELETING") => Lifecycle::Deleting,
        Some("CREATE_FAILED") | Some("UPDATE_FAILED") | Some("DELETE_FAILED") => {
            Lifecycle::Failed {
                reason: if issues.is_empty() {
                    "the add-on failed".into()
                } else {
                    issues.join("; ")
                },
            }
        }
        // DEGRADED: installed, its pods not (yet) healthy, e.g. no node can host them.
        _ => Lifecycle::Ready,
    }
}

/// The add-on's configuration as EKS takes it: a JSON document, or none.
fn configuration(a: &Attrs) -> Option<String> {
    a.get("configuration")
        .filter(|v| !v.is_null())
        .map(|v| v.to_string())
}

impl AwsProvider {
    pub(crate) async fn create_addon(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let cluster = dep_id(ctx, &config.attrs, "cluster")?;
        let name = text(&config.attrs, "name");
        let id = format!("{cluster}/{name}");
        if let Some((existing, tags)) = self.describe_addon(&id).await? {
            claim(
                &Ownership::from_tags(&ctx.tags),
                format!("EKS add-on {name} in cluster {cluster}"),
                &tags,
            )?;
            return Ok(Observed {
                attrs: config.attrs.clone(),
                ..existing
            });
        }
        let out = eks!(
            "CreateAddon",
            self.eks
                .create_addon()
                .cluster_name(&cluster)
                .addon_name(name)
                .set_configuration_values(configuration(&config.attrs))
                .resolve_conflicts(ResolveConflicts::Overwrite)
                .client_request_token(&ctx.token)
                .set_tags(Some(hash_tags(ctx, name)))
        )?;
        let status = out.addon().and_then(|a| a.status()).map(|s| s.as_str());
        Ok(crate::made(
            &id,
            config,
            Attrs::new(),
            addon_lifecycle(status, &[]),
        ))
    }

    pub(super) async fn describe_addon(
        &self,
        id: &str,
    ) -> Result<Option<(Observed, BTreeMap<String, String>)>, ProviderError> {
        let (cluster, name) = split(id);
        let got = gone_is_none(eks!(
            "DescribeAddon",
            self.eks
                .describe_addon()
                .cluster_name(cluster)
                .addon_name(name)
        ))?;
        Ok(got.and_then(|g| g.addon().cloned()).map(|a| {
            let tags = sorted(a.tags());
            let issues: Vec<String> = a
                .health()
                .map(|h| h.issues())
                .unwrap_or_default()
                .iter()
                .map(|i| super::issue_text(i.code().map(|c| c.as_str()), i.message()))
                .collect();
            let configuration: Value = a
                .configuration_values()
                .filter(|c| !c.trim().is_empty())
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .filter(|v| v.as_object().is_none_or(|m| !m.is_empty()))
                .unwrap_or(Value::Null);
            let outputs: Attrs = [
                ("version".to_string(), json!(a.addon_version())),
                ("hoist_token".to_string(), json!(tags.get(TOKEN_TAG))),
                ("health".to_string(), json!(issues)),
            ]
            .into_iter()
            .collect();
            let o = Observed {
                cloud_id: id.into(),
                attrs: [("configuration".to_string(), configuration)]
                    .into_iter()
                    .collect(),
                outputs,
                lifecycle: addon_lifecycle(a.status().map(|s| s.as_str()), &issues),
            };
            (o, tags)
        }))
    }

    pub(crate) async fn read_addon(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(crate::refreshed(r, self.describe_addon(&r.cloud_id).await?))
    }

    pub(crate) async fn update_addon(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        let (cluster, name) = split(&prior.cloud_id);
        eks!(
            "UpdateAddon",
            self.eks
                .update_addon()
                .cluster_name(cluster)
                .addon_name(name)
                // An empty document clears what an earlier configuration set.
                .configuration_values(configuration(&config.attrs).unwrap_or_else(|| "{}".into()))
                .resolve_conflicts(ResolveConflicts::Overwrite)
        )?;
        Ok(crate::applied(
            prior,
            config,
            Attrs::new(),
            Lifecycle::Updating,
        ))
    }

    pub(crate) async fn delete_addon(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        let (cluster, name) = split(&prior.cloud_id);
        gone_is_none(eks!(
            "DeleteAddon",
            self.eks
                .delete_addon()
                .cluster_name(cluster)
                .addon_name(name)
        ))
        .map(drop)
    }
}
