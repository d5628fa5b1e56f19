//! IAM roles for the EKS control plane and the nodes, with AWS managed policies attached,
//! and for the stack's service accounts (see `irsa`), with an inline policy.

use aws_sdk_iam::types::Tag;
use hoist_provider::{
    tags, Address, Attrs, CloudResource, Lifecycle, Observed, Ownership, ProviderError,
    ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use crate::errors::{classify, gone_is_none};
use crate::{claim, observed, tag_map, text, AwsProvider, TOKEN_TAG};

const SERVICE: &str = "iam";

/// Tags in IAM's shape (roles, identity providers).
pub(crate) fn iam_tags(tags: std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn policies(attrs: &Attrs) -> Vec<String> {
    let mut p: Vec<String> = attrs
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    p.sort();
    p
}

impl AwsProvider {
    async fn attached(&self, role: &str) -> Result<Vec<String>, ProviderError> {
        let list: Vec<_> = crate::every!(
            SERVICE,
            "ListAttachedRolePolicies",
            self.iam.list_attached_role_policies().role_name(role)
        )?;
        let mut p: Vec<String> = list
            .iter()
            .filter_map(|p| p.policy_arn().map(String::from))
            .collect();
        p.sort();
        Ok(p)
    }

    /// At plan time: a role with the name this environment needs that is not its own stops the plan.
    pub(crate) async fn check_role_name(
        &self,
        config: &ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let name = text(&config.attrs, "name");
        if let Some((_, t)) = self.get_role(name).await? {
            claim(owner, format!("IAM role {name}"), &t)?;
        }
        Ok(Vec::new())
    }

    /// The role named `name` if it exists: its arn and tags.
    async fn get_role(
        &self,
        name: &str,
    ) -> Result<Option<(String, std::collections::BTreeMap<String, String>)>, ProviderError> {
        let got = gone_is_none(crate::send!(
            SERVICE,
            "GetRole",
            self.iam.get_role().role_name(name)
        ))?;
        Ok(got.and_then(|g| {
            g.role().map(|r| {
                (
                    r.arn().to_string(),
                    r.tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                )
            })
        }))
    }

    async fn sync_policies(&self, role: &str, want: &[String]) -> Result<(), ProviderError> {
        let have = self.attached(role).await?;
        for p in want.iter().filter(|p| !have.contains(p)) {
            crate::send!(
                SERVICE,
                "AttachRolePolicy",
                self.iam.attach_role_policy().role_name(role).policy_arn(p)
            )?;
        }
        for p in have.iter().filter(|p| !want.contains(p)) {
            crate::send!(
                SERVICE,
                "DetachRolePolicy",
                self.iam.detach_role_policy().role_name(role).policy_arn(p)
            )?;
        }
        Ok(())
    }

    pub(crate) async fn create_role(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let name = text(&config.attrs, "name");
        let arn = match self.get_role(name).await? {
            Some((arn, t)) => {
                // Ours (a retried or recovered create) only with this environment's lineage.
                claim(
                    &Ownership::from_tags(&ctx.tags),
                    format!("IAM role {name}"),
                    &t,
                )?;
                arn
            }
            None => {
                let tags = iam_tags(tag_map(ctx, name));
                let created = self
                    .iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(crate::irsa::trust_policy(
                        &config.attrs,
                        Some(ctx),
                    )?)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| classify(SERVICE, "CreateRole", e))?;
                created
                    .role()
                    .map(|r| r.arn().to_string())
                    .unwrap_or_default()
            }
        };
        self.sync_policies(name, &policies(&config.attrs)).await?;
        self.sync_role_documents(name, &config.attrs, ctx).await?;
        let outputs = [("arn".to_string(), json!(arn))].into_iter().collect();
        Ok(Observed {
            cloud_id: name.into(),
            attrs: config.attrs.clone(),
            outputs,
            lifecycle: Lifecycle::Ready,
        })
    }

    /// Every role's arn and attached policies, in one (paginated) call: IAM's batch read.
    pub(crate) async fn read_roles(
        &self,
        resources: &[&ResourceState],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let mut roles: std::collections::HashMap<String, (String, Vec<String>)> =
            Default::default();
        let mut marker: Option<String> = None;
        loop {
            let page = crate::send!(
                SERVICE,
                "GetAccountAuthorizationDetails",
                self.iam
                    .get_account_authorization_details()
                    .filter(aws_sdk_iam::types::EntityType::Role)
                    .set_marker(marker.take())
            )?;
            for r in page.role_detail_list() {
                let mut p: Vec<String> = r
                    .attached_managed_policies()
                    .iter()
                    .filter_map(|p| p.policy_arn().map(String::from))
                    .collect();
                p.sort();
                roles.insert(
                    r.role_name().unwrap_or_default().to_string(),
                    (r.arn().unwrap_or_default().to_string(), p),
                );
            }
            match page.marker().filter(|_| page.is_truncated()) {
                Some(m) => marker = Some(m.to_string()),
                None => break,
            }
        }
        Ok(resources
            .iter()
            .map(|r| {
                roles.get(&r.cloud_id).map(|(arn, p)| {
                    let mut recorded = (*r).clone();
                    recorded
                        .attrs
                        .insert("policies".into(), json!(policies(&r.attrs)));
                    observed(
                        &recorded,
                        [("policies".to_string(), json!(p))].into_iter().collect(),
                        [("arn".to_string(), json!(arn))].into_iter().collect(),
                        Lifecycle::Ready,
                    )
                })
            })
            .collect())
    }

    pub(crate) async fn update_role(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        self.sync_policies(&prior.cloud_id, &policies(&config.attrs))
            .await?;
        self.sync_role_documents(&prior.cloud_id, &config.attrs, ctx)
            .await?;
        Ok(Observed {
            cloud_id: prior.cloud_id.clone(),
            attrs: config.attrs.clone(),
            outputs: prior.outputs.clone(),
            lifecycle: Lifecycle::Ready,
        })
    }

    pub(crate) async fn delete_role(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        if self.get_role(&prior.cloud_id).await?.is_none() {
            return Ok(());
        }
        self.sync_policies(&prior.cloud_id, &[]).await?;
        self.delete_inline_policies(&prior.cloud_id).await?;
        gone_is_none(crate::send!(
            SERVICE,
            "DeleteRole",
            self.iam.delete_role().role_name(&prior.cloud_id)
        ))
        .map(drop)
    }

    pub(crate) async fn find_role(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = format!("{}-eks-{}", owner.env, address.name());
        Ok(self
            .get_role(&name)
            .await?
            .filter(|(_, t)| {
                // The token proves the interrupted create made it; else it must be ours by
                // lineage and address, never by name.
                t.get(TOKEN_TAG).map(String::as_str) == Some(token)
                    || (owner.claims(t).is_ok()
                        && t.get(tags::ADDRESS) == Some(&address.to_string()))
            })
            .map(|(arn, _)| Observed {
                cloud_id: name,
                attrs: Attrs::new(),
                outputs: [("arn".to_string(), json!(arn))].into_iter().collect(),
                lifecycle: Lifecycle::Ready,
            }))
    }

    /// Roles tagged for `env` (named `ENV-eks-*` by convention; tags are checked).
    pub(crate) async fn list_roles(
        &self,
        owner: crate::owner::Owner<'_>,
    ) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = Vec::new();
        let roles: Vec<_> = crate::every!(SERVICE, "ListRoles", self.iam.list_roles())?;
        for role in roles
            .iter()
            .filter(|r| owner.may_name(r.role_name(), "-eks-", "-eks-"))
        {
            let Some((_, tags)) = self.get_role(role.role_name()).await? else {
                continue;
            };
            if owner.owns(&tags) {
                out.push(CloudResource {
                    cloud_id: role.role_name().into(),
                    kind: "iam_role".into(),
                    name: role.role_name().into(),
                    region: "global".into(),
                    status: "exists".into(),
                    tags,
                    outputs: Default::default(),
                });
            }
        }
        Ok(out)
    }
}
