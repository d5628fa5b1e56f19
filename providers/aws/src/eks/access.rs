//! Access entries: the principals of `cluster.access`, each with one EKS access policy at
//! cluster or namespace scope. The cluster's creator has its own entry, made by EKS.

use aws_sdk_eks::types::{AccessScope, AccessScopeType};
use hoist_provider::{
    Attrs, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig, ResourceState,
    StepContext,
};
use serde_json::{json, Value};

use super::{eks, eks_all, hash_tags, sorted, split};
use crate::errors::gone_is_none;
use crate::{claim, dep_id, observed, text, AwsProvider};

fn namespaces(a: &Attrs) -> Vec<String> {
    let mut ns: Vec<String> = a
        .get("namespaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    ns.sort();
    ns
}

fn scope(a: &Attrs) -> AccessScope {
    let ns = namespaces(a);
    if ns.is_empty() {
        AccessScope::builder()
            .r#type(AccessScopeType::Cluster)
            .build()
    } else {
        AccessScope::builder()
            .r#type(AccessScopeType::Namespace)
            .set_namespaces(Some(ns))
            .build()
    }
}

impl AwsProvider {
    pub(crate) async fn create_access_entry(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let a = &config.attrs;
        let cluster = dep_id(ctx, a, "cluster")?;
        let principal = text(a, "principal");
        let id = format!("{cluster}/{principal}");
        let what = || format!("the access entry of {principal} in cluster {cluster}");
        match self.entry_tags(&id).await? {
            Some(tags) => claim(&Ownership::from_tags(&ctx.tags), what(), &tags)
                .map_err(|e| match e {
                    // EKS makes the creator's entry itself.
                    ProviderError::NotOwned { resource, why } => ProviderError::NotOwned {
                        resource,
                        why: format!("{why}; the principal that creates a cluster gets an admin entry by itself, so leave it out of cluster.access"),
                    },
                    other => other,
                })?,
            None => {
                eks!(
                    "CreateAccessEntry",
                    self.eks
                        .create_access_entry()
                        .cluster_name(&cluster)
                        .principal_arn(principal)
                        .client_request_token(&ctx.token)
                        .set_tags(Some(hash_tags(ctx, config.address.name())))
                )?;
            }
        }
        self.associate(&id, a).await?;
        Ok(crate::made(&id, config, Attrs::new(), Lifecycle::Ready))
    }

    /// The tags of the access entry `CLUSTER/PRINCIPAL`, if it exists.
    async fn entry_tags(
        &self,
        id: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ProviderError> {
        let (cluster, principal) = split(id);
        let got = gone_is_none(eks!(
            "DescribeAccessEntry",
            self.eks
                .describe_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
        ))?;
        Ok(got.map(|g| sorted(g.access_entry().and_then(|e| e.tags()))))
    }

    /// The policies associated with an entry: `(policy arn, namespaces)`.
    async fn associated(&self, id: &str) -> Result<Vec<(String, Vec<String>)>, ProviderError> {
        let (cluster, principal) = split(id);
        let list: Vec<_> = eks_all!(
            "ListAssociatedAccessPolicies",
            self.eks
                .list_associated_access_policies()
                .cluster_name(cluster)
                .principal_arn(principal)
        )?;
        Ok(list
            .iter()
            .map(|p| {
                let mut ns: Vec<String> = p
                    .access_scope()
                    .map(|s| s.namespaces().to_vec())
                    .unwrap_or_default();
                ns.sort();
                (p.policy_arn().unwrap_or_default().to_string(), ns)
            })
            .collect())
    }

    /// Associate the wanted policy (idempotent: EKS updates the scope) and drop the others.
    async fn associate(&self, id: &str, a: &Attrs) -> Result<(), ProviderError> {
        let (cluster, principal) = split(id);
        let want = text(a, "policy");
        eks!(
            "AssociateAccessPolicy",
            self.eks
                .associate_access_policy()
                .cluster_name(cluster)
                .principal_arn(principal)
                .policy_arn(want)
                .access_scope(scope(a))
        )?;
        for (policy, _) in self
            .associated(id)
            .await?
            .into_iter()
            .filter(|(p, _)| p != want)
        {
            gone_is_none(eks!(
                "DisassociateAccessPolicy",
                self.eks
                    .disassociate_access_policy()
                    .cluster_name(cluster)
                    .principal_arn(principal)
                    .policy_arn(policy)
            ))?;
        }
        Ok(())
    }

    pub(crate) async fn read_access_entry(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        if self.entry_tags(&r.cloud_id).await?.is_none() {
            return Ok(None);
        }
        let policies = self.associated(&r.cloud_id).await?;
        let applied = text(&r.attrs, "policy");
        let (policy, ns) = policies
            .iter()
            .find(|(p, _)| p == applied)
            .or(policies.first())
            .map(|(p, ns)| (json!(p), json!(ns)))
            .unwrap_or((Value::Null, json!([])));
        let live = [
            ("policy".to_string(), policy),
            ("namespaces".to_string(), ns),
        ]
        .into_iter()
        .collect();
        Ok(Some(observed(r, live, Attrs::new(), Lifecycle::Ready)))
    }

    pub(crate) async fn update_access_entry(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        self.associate(&prior.cloud_id, &config.attrs).await?;
        Ok(crate::applied(
            prior,
            config,
            Attrs::new(),
            Lifecycle::Ready,
        ))
    }

    pub(crate) async fn delete_access_entry(
        &self,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        let (cluster, principal) = split(&prior.cloud_id);
        gone_is_none(eks!(
            "DeleteAccessEntry",
            self.eks
                .delete_access_entry()
                .cluster_name(cluster)
                .principal_arn(principal)
        ))
        .map(drop)
    }
}
