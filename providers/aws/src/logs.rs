//! The control plane's log group, `/aws/eks/NAME/cluster`. EKS makes it on first use without
//! a retention, so it would keep and bill every log for ever and outlive the cluster; hoist
//! makes it first, with a retention, tags it, and deletes it after the cluster.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::LogGroup;
use hoist_provider::{
    tags, Address, Attrs, CloudResource, Lifecycle, Observed, Ownership, ProviderError,
    ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use crate::errors::{classify, gone_is_none};
use crate::{claim, observed, tag_map, text, AwsProvider};

const SERVICE: &str = "logs";

impl AwsProvider {
    /// The log group named exactly `name`, with its tags.
    async fn log_group(
        &self,
        name: &str,
    ) -> Result<Option<(LogGroup, BTreeMap<String, String>)>, ProviderError> {
        let groups = self.log_groups(name).await?;
        let Some(group) = groups
            .into_iter()
            .find(|g| g.log_group_name() == Some(name))
        else {
            return Ok(None);
        };
        let tags = self.log_group_tags(&group).await?;
        Ok(Some((group, tags)))
    }

    /// Every log group whose name starts with `prefix`, all pages.
    async fn log_groups(&self, prefix: &str) -> Result<Vec<LogGroup>, ProviderError> {
        crate::every!(
            SERVICE,
            "DescribeLogGroups",
            self.logs
                .describe_log_groups()
                .log_group_name_prefix(prefix)
        )
    }

    async fn log_group_tags(
        &self,
        group: &LogGroup,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        let arn = group
            .log_group_arn()
            .map(String::from)
            .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()))
            .unwrap_or_default();
        let got = crate::send!(
            SERVICE,
            "ListTagsForResource",
            self.logs.list_tags_for_resource().resource_arn(arn)
        )?;
        Ok(got
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    pub(crate) async fn check_log_group_name(
        &self,
        config: &ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let name = text(&config.attrs, "name");
        if let Some((_, t)) = self.log_group(name).await? {
            claim(owner, format!("log group {name}"), &t).map_err(left_by_another_cluster)?;
        }
        Ok(Vec::new())
    }

    pub(crate) async fn create_log_group(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let name = text(&config.attrs, "name");
        match self.log_group(name).await? {
            Some((_, t)) => claim(
                &Ownership::from_tags(&ctx.tags),
                format!("log group {name}"),
                &t,
            )
            .map_err(left_by_another_cluster)?,
            None => {
                let mut tags = tag_map(ctx, name);
                tags.remove("Name");
                let made = self
                    .logs
                    .create_log_group()
                    .log_group_name(name)
                    .set_tags(Some(tags.into_iter().collect()))
                    .send()
                    .await;
                match made.map_err(|e| classify(SERVICE, "CreateLogGroup", e)) {
                    Ok(_) => {}
                    // A lost answer: the retry finds it made (and owned) by the first attempt.
                    Err(ProviderError::Fatal(m)) if m.contains("ResourceAlreadyExists") => {
                        return Err(ProviderError::Transient {
                            service: SERVICE.into(),
                            message: m,
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.put_retention(name, &config.attrs).await?;
        Ok(crate::made(name, config, Attrs::new(), Lifecycle::Ready))
    }

    async fn put_retention(&self, name: &str, attrs: &Attrs) -> Result<(), ProviderError> {
        let days = attrs
            .get("retention_days")
            .and_then(Value::as_i64)
            .unwrap_or(90) as i32;
        crate::send!(
            SERVICE,
            "PutRetentionPolicy",
            self.logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days)
        )?;
        Ok(())
    }

    pub(crate) async fn read_log_group(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        let groups = self.log_groups(&r.cloud_id).await?;
        Ok(groups
            .iter()
            .find(|g| g.log_group_name() == Some(r.cloud_id.as_str()))
            .map(|g| {
                let live = [("retention_days".to_string(), json!(g.retention_in_days()))]
                    .into_iter()
                    .collect();
                observed(r, live, Attrs::new(), Lifecycle::Ready)
            }))
    }

    pub(crate) async fn update_log_group(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        self.put_retention(&prior.cloud_id, &config.attrs).await?;
        Ok(crate::applied(
            prior,
            config,
            Attrs::new(),
            Lifecycle::Ready,
        ))
    }

    pub(crate) async fn delete_log_group(
        &self,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        gone_is_none(crate::send!(
            SERVICE,
            "DeleteLogGroup",
            self.logs.delete_log_group().log_group_name(&prior.cloud_id)
        ))
        .map(drop)
    }

    /// The log group has a fixed name and no token: after a crash it is ours if tagged so.
    pub(crate) async fn find_log_group(
        &self,
        address: &Address,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = format!("/aws/eks/{}/{}", owner.env, address.name());
        Ok(self
            .log_group(&name)
            .await?
            .filter(|(_, t)| {
                owner.claims(t).is_ok() && t.get(tags::ADDRESS) == Some(&address.to_string())
            })
            .map(|(g, _)| Observed {
                cloud_id: name,
                attrs: [("retention_days".to_string(), json!(g.retention_in_days()))]
                    .into_iter()
                    .collect(),
                outputs: Attrs::new(),
                lifecycle: Lifecycle::Ready,
            }))
    }

    pub(crate) async fn list_log_groups(
        &self,
        owner: crate::owner::Owner<'_>,
    ) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = Vec::new();
        let prefix = match owner {
            crate::owner::Owner::Env(env) => format!("/aws/eks/{env}/"),
            crate::owner::Owner::Any => "/aws/eks/".to_string(),
        };
        for g in self.log_groups(&prefix).await? {
            let t = self.log_group_tags(&g).await?;
            if owner.owns(&t) {
                let name = g.log_group_name().unwrap_or_default().to_string();
                out.push(CloudResource {
                    cloud_id: name.clone(),
                    kind: "log_group".into(),
                    name,
                    region: self.region.clone(),
                    status: "exists".into(),
                    tags: t,
                    outputs: Default::default(),
                });
            }
        }
        Ok(out)
    }
}

/// The usual foreign log group: what an earlier cluster of the same name left behind.
fn left_by_another_cluster(e: ProviderError) -> ProviderError {
    match e {
        ProviderError::NotOwned { resource, why } => ProviderError::NotOwned {
            resource,
            why: format!("{why}; an earlier EKS cluster with this name may have left it (EKS never deletes it): delete it if its logs are not needed"),
        },
        other => other,
    }
}
