//! Tags rewritten in place (a new expiry, new user tags), kind by kind, with each service's
//! own tagging call: EC2's CreateTags, IAM's TagRole and TagOpenIDConnectProvider, S3's
//! bucket tagging, CloudWatch Logs' TagLogGroup, and EKS's TagResource by ARN.

use std::collections::{BTreeMap, HashMap};

use hoist_provider::{ProviderError, ResourceState};

use crate::AwsProvider;

impl AwsProvider {
    /// `Ok(false)` for a kind that takes no tag change in place here.
    pub(crate) async fn retag_resource(
        &self,
        prior: &ResourceState,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool, ProviderError> {
        let id = prior.cloud_id.as_str();
        let map: HashMap<String, String> = tags.clone().into_iter().collect();
        match prior.address.kind() {
            kind if crate::ec2::is_ec2_kind(kind) => {
                crate::send!(
                    crate::ec2::SERVICE,
                    "CreateTags",
                    self.ec2
                        .create_tags()
                        .resources(id)
                        .set_tags(Some(crate::ec2::tag_list(tags.clone())))
                )?;
            }
            "iam_role" => {
                let list = tags
                    .iter()
                    .filter_map(|(k, v)| {
                        aws_sdk_iam::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .ok()
                    })
                    .collect();
                crate::send!(
                    "iam",
                    "TagRole",
                    self.iam.tag_role().role_name(id).set_tags(Some(list))
                )?;
            }
            "iam_oidc_provider" => {
                let list = tags
                    .iter()
                    .filter_map(|(k, v)| {
                        aws_sdk_iam::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .ok()
                    })
                    .collect();
                crate::send!(
                    "iam",
                    "TagOpenIDConnectProvider",
                    self.iam
                        .tag_open_id_connect_provider()
                        .open_id_connect_provider_arn(id)
                        .set_tags(Some(list))
                )?;
            }
            "s3_bucket" => self.secure_bucket(id, tags).await?,
            "log_group" => {
                #[allow(deprecated)]
                let call = self
                    .logs
                    .tag_log_group()
                    .log_group_name(id)
                    .set_tags(Some(map));
                crate::send!("logs", "TagLogGroup", call)?;
            }
            "eks_cluster" => {
                let arn = crate::text(&prior.outputs, "arn").to_string();
                self.tag_eks(&arn, map).await?;
            }
            "node_pool" => {
                let (cluster, group) = id.split_once('/').unwrap_or((id, ""));
                let got = crate::send!(
                    crate::eks::SERVICE,
                    "DescribeNodegroup",
                    self.eks
                        .describe_nodegroup()
                        .cluster_name(cluster)
                        .nodegroup_name(group)
                )?;
                let arn = got
                    .nodegroup()
                    .and_then(|g| g.nodegroup_arn())
                    .unwrap_or_default()
                    .to_string();
                self.tag_eks(&arn, map).await?;
            }
            "eks_addon" => {
                let (cluster, addon) = id.split_once('/').unwrap_or((id, ""));
                let got = crate::send!(
                    crate::eks::SERVICE,
                    "DescribeAddon",
                    self.eks
                        .describe_addon()
                        .cluster_name(cluster)
                        .addon_name(addon)
                )?;
                let arn = got
                    .addon()
                    .and_then(|a| a.addon_arn())
                    .unwrap_or_default()
                    .to_string();
                self.tag_eks(&arn, map).await?;
            }
            "eks_access_entry" => {
                let (cluster, principal) = id.split_once('/').unwrap_or((id, ""));
                let got = crate::send!(
                    crate::eks::SERVICE,
                    "DescribeAccessEntry",
                    self.eks
                        .describe_access_entry()
                        .cluster_name(cluster)
                        .principal_arn(principal)
                )?;
                let arn = got
                    .access_entry()
                    .and_then(|e| e.access_entry_arn())
                    .unwrap_or_default()
                    .to_string();
                self.tag_eks(&arn, map).await?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    async fn tag_eks(&self, arn: &str, tags: HashMap<String, String>) -> Result<(), ProviderError> {
        if arn.is_empty() {
            return Err(ProviderError::Invalid("no ARN recorded to tag".into()));
        }
        crate::send!(
            crate::eks::SERVICE,
            "TagResource",
            self.eks
                .tag_resource()
                .resource_arn(arn)
                .set_tags(Some(tags))
        )?;
        Ok(())
    }
}
