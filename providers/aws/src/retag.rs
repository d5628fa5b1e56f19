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
                let list = crate::iam::iam_tags(tags.clone());
                crate::send!(
                    "iam",
                    "TagRole",
                    self.iam.tag_role().role_name(id).set_tags(Some(list))
                )?;
            }
            "iam_oidc_provider" => {
                let list = crate::iam::iam_tags(tags.clone());
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
            kind @ ("node_pool" | "eks_addon" | "eks_access_entry") => {
                let arn = self.eks_arn(kind, id).await?;
                self.tag_eks(&arn, map).await?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The ARN of an EKS part (`CLUSTER/NAME`): a node group, an add-on or an access entry.
    async fn eks_arn(&self, kind: &str, id: &str) -> Result<String, ProviderError> {
        let (cluster, item) = id.split_once('/').unwrap_or((id, ""));
        let eks = &self.eks;
        let arn = match kind {
            "node_pool" => {
                let req = eks
                    .describe_nodegroup()
                    .cluster_name(cluster)
                    .nodegroup_name(item);
                let got = crate::send!(crate::eks::SERVICE, "DescribeNodegroup", req)?;
                got.nodegroup()
                    .and_then(|g| g.nodegroup_arn())
                    .map(String::from)
            }
            "eks_addon" => {
                let req = eks.describe_addon().cluster_name(cluster).addon_name(item);
                let got = crate::send!(crate::eks::SERVICE, "DescribeAddon", req)?;
                got.addon().and_then(|a| a.addon_arn()).map(String::from)
            }
            _ => {
                let req = eks
                    .describe_access_entry()
                    .cluster_name(cluster)
                    .principal_arn(item);
                let got = crate::send!(crate::eks::SERVICE, "DescribeAccessEntry", req)?;
                got.access_entry()
                    .and_then(|e| e.access_entry_arn())
                    .map(String::from)
            }
        };
        Ok(arn.unwrap_or_default())
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
