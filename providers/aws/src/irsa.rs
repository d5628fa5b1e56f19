//! IAM roles for Kubernetes service accounts (IRSA): the cluster's OIDC issuer registered
//! as an IAM identity provider, and roles that trust it for exactly one service account.
//! The stack's cluster-autoscaler and MLflow get their AWS permissions this way. EKS Pod
//! Identity would need no identity provider, but the emulator the tests run against has no
//! Pod Identity API, and IRSA works on every EKS version hoist supports.

use hoist_provider::{
    Address, Attrs, CloudResource, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig,
    ResourceState, StepContext,
};
use serde_json::{json, Value};

use crate::errors::gone_is_none;
use crate::{claim, dep, tag_map, text, AwsProvider, TOKEN_TAG};

const SERVICE: &str = "iam";
/// The audience EKS's pod identity webhook puts in projected service-account tokens.
pub(crate) const AUDIENCE: &str = "sts.amazonaws.com";
/// The one inline policy hoist puts on a role.
const INLINE_POLICY: &str = "hoist";

macro_rules! iam {
    ($what:expr, $req:expr) => {
        crate::send!(SERVICE, $what, $req)
    };
}

/// `oidc.eks.REGION.amazonaws.com/id/X` from the issuer URL, as IAM names the provider.
fn issuer_path(issuer: &str) -> &str {
    issuer.trim_start_matches("https://").trim_end_matches('/')
}

fn provider_outputs(arn: &str, issuer: &str) -> Attrs {
    [("arn", json!(arn)), ("issuer", json!(issuer_path(issuer)))]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The trust policy of a role for `namespace:name`'s service account, through `provider`.
pub(crate) fn web_identity_trust(
    provider_arn: &str,
    issuer: &str,
    service_account: &str,
) -> String {
    let issuer = issuer_path(issuer);
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            format!("{issuer}:sub"): format!("system:serviceaccount:{service_account}"),
            format!("{issuer}:aud"): AUDIENCE,
        }},
    }]})
    .to_string()
}

/// The trust policy of a role, from its attributes: a service principal (`service`), or a
/// service account through the cluster's identity provider (`oidc`, `service_account`).
pub(crate) fn trust_policy(
    attrs: &Attrs,
    ctx: Option<&StepContext>,
) -> Result<String, ProviderError> {
    if attrs.get("oidc").and_then(Value::as_str).is_none() {
        let service = text(attrs, "service");
        return Ok(json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}).to_string());
    }
    let ctx = ctx.ok_or_else(|| {
        ProviderError::Invalid("a service-account role needs its identity provider".into())
    })?;
    let provider = dep(ctx, attrs, "oidc")?;
    let output = |k: &str| {
        provider
            .outputs
            .get(k)
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| ProviderError::NotReady {
                what: provider.address.to_string(),
                message: format!("it has no `{k}` yet"),
            })
    };
    Ok(web_identity_trust(
        &output("arn")?,
        &output("issuer")?,
        text(attrs, "service_account"),
    ))
}

/// The role's inline policy: `inline.actions` on every resource, or on one bucket (and its
/// objects) when `inline.bucket` names the bucket resource.
pub(crate) fn inline_policy(
    attrs: &Attrs,
    ctx: &StepContext,
) -> Result<Option<String>, ProviderError> {
    let Some(inline) = attrs.get("inline") else {
        return Ok(None);
    };
    let actions: Vec<&str> = inline["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let resources = match inline.get("bucket").and_then(Value::as_str) {
        Some(bucket) => {
            let arn = crate::dep_named(ctx, bucket)?
                .outputs
                .get("arn")
                .and_then(Value::as_str)
                .ok_or_else(|| ProviderError::NotReady {
                    what: bucket.into(),
                    message: "it has no `arn` yet".into(),
                })?
                .to_string();
            json!([arn.clone(), format!("{arn}/*")])
        }
        None => json!("*"),
    };
    Ok(Some(
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}).to_string(),
    ))
}

impl AwsProvider {
    /// Put (or replace) the role's inline policy and trust policy; no inline policy when
    /// none is configured. Both calls are idempotent, so an update may repeat them.
    pub(crate) async fn sync_role_documents(
        &self,
        role: &str,
        attrs: &Attrs,
        ctx: &StepContext,
    ) -> Result<(), ProviderError> {
        if attrs.get("oidc").is_some() {
            iam!(
                "UpdateAssumeRolePolicy",
                self.iam
                    .update_assume_role_policy()
                    .role_name(role)
                    .policy_document(trust_policy(attrs, Some(ctx))?)
            )?;
        }
        if let Some(doc) = inline_policy(attrs, ctx)? {
            iam!(
                "PutRolePolicy",
                self.iam
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(INLINE_POLICY)
                    .policy_document(doc)
            )?;
        }
        Ok(())
    }

    /// Inline policies go before the role: IAM refuses to delete a role that has any.
    pub(crate) async fn delete_inline_policies(&self, role: &str) -> Result<(), ProviderError> {
        let names: Vec<String> = crate::every!(
            SERVICE,
            "ListRolePolicies",
            self.iam.list_role_policies().role_name(role)
        )?;
        for name in names {
            gone_is_none(iam!(
                "DeleteRolePolicy",
                self.iam
                    .delete_role_policy()
                    .role_name(role)
                    .policy_name(&name)
            ))?;
        }
        Ok(())
    }

    /// The identity provider for `issuer`, if IAM has one: its arn and tags.
    async fn find_oidc_provider(
        &self,
        issuer: &str,
    ) -> Result<Option<(String, std::collections::BTreeMap<String, String>)>, ProviderError> {
        let list = iam!(
            "ListOpenIDConnectProviders",
            self.iam.list_open_id_connect_providers()
        )?;
        let suffix = format!("oidc-provider/{}", issuer_path(issuer));
        for p in list.open_id_connect_provider_list() {
            let Some(arn) = p.arn().filter(|a| a.ends_with(&suffix)) else {
                continue;
            };
            if let Some(t) = self.oidc_provider_tags(arn).await? {
                return Ok(Some((arn.to_string(), t)));
            }
        }
        Ok(None)
    }

    async fn oidc_provider_tags(
        &self,
        arn: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ProviderError> {
        let got = gone_is_none(iam!(
            "GetOpenIDConnectProvider",
            self.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
        ))?;
        Ok(got.map(|g| {
            g.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        }))
    }

    pub(crate) async fn create_oidc_provider(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let cluster = dep(ctx, &config.attrs, "cluster")?;
        let issuer = cluster
            .outputs
            .get("oidc_issuer")
            .and_then(Value::as_str)
            .filter(|i| !i.is_empty())
            .ok_or_else(|| ProviderError::NotReady {
                what: cluster.address.to_string(),
                message: "EKS has not reported the cluster's OIDC issuer yet".into(),
            })?
            .to_string();
        let arn = match self.find_oidc_provider(&issuer).await? {
            Some((arn, t)) => {
                claim(
                    &Ownership::from_tags(&ctx.tags),
                    format!("IAM OIDC provider {arn}"),
                    &t,
                )?;
                arn
            }
            None => {
                let t = crate::iam::iam_tags(tag_map(ctx, issuer_path(&issuer)));
                // No thumbprint: IAM trusts EKS's issuers through its own CA library.
                let made = iam!(
                    "CreateOpenIDConnectProvider",
                    self.iam
                        .create_open_id_connect_provider()
                        .url(&issuer)
                        .client_id_list(AUDIENCE)
                        .set_tags(Some(t))
                )?;
                made.open_id_connect_provider_arn()
                    .unwrap_or_default()
                    .to_string()
            }
        };
        Ok(crate::made(
            &arn,
            config,
            provider_outputs(&arn, &issuer),
            Lifecycle::Ready,
        ))
    }

    pub(crate) async fn read_oidc_provider(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self
            .oidc_provider_tags(&r.cloud_id)
            .await?
            .map(|_| crate::observed(r, Attrs::new(), Attrs::new(), Lifecycle::Ready)))
    }

    pub(crate) async fn delete_oidc_provider(
        &self,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        gone_is_none(iam!(
            "DeleteOpenIDConnectProvider",
            self.iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&prior.cloud_id)
        ))
        .map(drop)
    }

    pub(crate) async fn find_oidc_provider_by_token(
        &self,
        _address: &Address,
        token: &str,
    ) -> Result<Option<Observed>, ProviderError> {
        let list = iam!(
            "ListOpenIDConnectProviders",
            self.iam.list_open_id_connect_providers()
        )?;
        for p in list.open_id_connect_provider_list() {
            let Some(arn) = p.arn() else { continue };
            let Some(t) = self.oidc_provider_tags(arn).await? else {
                continue;
            };
            if t.get(TOKEN_TAG).map(String::as_str) == Some(token) {
                let issuer = arn
                    .split_once("oidc-provider/")
                    .map(|(_, i)| i)
                    .unwrap_or_default();
                return Ok(Some(Observed {
                    cloud_id: arn.into(),
                    attrs: Attrs::new(),
                    outputs: provider_outputs(arn, issuer),
                    lifecycle: Lifecycle::Ready,
                }));
            }
        }
        Ok(None)
    }

    /// Identity providers tagged for `env`.
    pub(crate) async fn list_oidc_providers(
        &self,
        owner: crate::owner::Owner<'_>,
    ) -> Result<Vec<CloudResource>, ProviderError> {
        let list = iam!(
            "ListOpenIDConnectProviders",
            self.iam.list_open_id_connect_providers()
        )?;
        let mut out = Vec::new();
        for p in list.open_id_connect_provider_list() {
            let Some(arn) = p.arn() else { continue };
            let Some(t) = self.oidc_provider_tags(arn).await? else {
                continue;
            };
            if owner.owns(&t) {
                out.push(CloudResource {
                    cloud_id: arn.into(),
                    kind: "iam_oidc_provider".into(),
                    name: arn.rsplit('/').next().unwrap_or(arn).into(),
                    region: "global".into(),
                    status: "exists".into(),
                    tags: t,
                    outputs: Attrs::new(),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_policy_names_one_service_account_and_the_sts_audience() {
        let doc: Value = serde_json::from_str(&web_identity_trust(
            "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
            "https://oidc.eks.us-east-1.amazonaws.com/id/ABC",
            "hoist-autoscaler:cluster-autoscaler",
        ))
        .unwrap();
        let s = &doc["Statement"][0];
        assert_eq!(s["Action"], "sts:AssumeRoleWithWebIdentity");
        let c = &s["Condition"]["StringEquals"];
        assert_eq!(
            c["oidc.eks.us-east-1.amazonaws.com/id/ABC:sub"],
            "system:serviceaccount:hoist-autoscaler:cluster-autoscaler"
        );
        assert_eq!(c["oidc.eks.us-east-1.amazonaws.com/id/ABC:aud"], AUDIENCE);
    }
}
