//! Everything EKS holds for an environment, for the check after destroy: its cluster, and
//! the node groups, add-ons and access entries inside it. Every list follows its pages.

use hoist_provider::{CloudResource, ProviderError};

use super::{eks_all, sorted};
use crate::AwsProvider;

impl AwsProvider {
    pub(crate) async fn list_eks(
        &self,
        owner: crate::owner::Owner<'_>,
    ) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = Vec::new();
        let names: Vec<String> = eks_all!("ListClusters", self.eks.list_clusters())?;
        for name in names {
            let Some((_, tags)) = self.describe_cluster(&name).await? else {
                continue;
            };
            if !owner.owns(&tags) {
                continue;
            }
            let row = |kind: &str, id: String, item: &str| CloudResource {
                cloud_id: id,
                kind: kind.into(),
                name: item.into(),
                region: self.region.clone(),
                status: "exists".into(),
                tags: tags.clone(),
                outputs: Default::default(),
            };
            out.push(row("eks_cluster", name.clone(), &name));
            let groups: Vec<String> = eks_all!(
                "ListNodegroups",
                self.eks.list_nodegroups().cluster_name(&name)
            )?;
            out.extend(
                groups
                    .iter()
                    .map(|g| row("node_pool", format!("{name}/{g}"), g)),
            );
            let addons: Vec<String> =
                eks_all!("ListAddons", self.eks.list_addons().cluster_name(&name))?;
            out.extend(
                addons
                    .iter()
                    .map(|a| row("eks_addon", format!("{name}/{a}"), a)),
            );
            let entries: Vec<String> = eks_all!(
                "ListAccessEntries",
                self.eks.list_access_entries().cluster_name(&name)
            )?;
            for principal in entries {
                let got = super::eks!(
                    "DescribeAccessEntry",
                    self.eks
                        .describe_access_entry()
                        .cluster_name(&name)
                        .principal_arn(&principal)
                )?;
                // The creator's entry is EKS's own; only entries hoist tagged are listed.
                let entry_tags = sorted(got.access_entry().and_then(|e| e.tags()));
                if owner.owns(&entry_tags) {
                    out.push(row(
                        "eks_access_entry",
                        format!("{name}/{principal}"),
                        &principal,
                    ));
                }
            }
        }
        Ok(out)
    }
}
