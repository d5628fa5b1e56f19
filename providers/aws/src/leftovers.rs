//! What in-cluster controllers leave in the VPC: load balancers made for Services and
//! Ingresses (classic ones by the cloud controller, ALBs/NLBs by the load balancer
//! controller), their security groups and target groups, and ENIs the VPC CNI detached. They
//! keep the subnets and the VPC from being deleted and some bill by the hour. This resource
//! is deleted after the cluster (so no controller recreates them) and before the network; it
//! deletes only what is in this environment's VPC *and* tagged for this environment's cluster.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hoist_provider::{
    Attrs, Lifecycle, Observed, ProviderError, ResourceConfig, ResourceState, StepContext,
};

use crate::ec2::{call, filter};
use crate::errors::{classify, gone_is_none};
use crate::{dep_id, text, AwsProvider};

/// How long to wait for deleted load balancers to release the groups and interfaces they hold.
const RELEASE_WAIT: Duration = Duration::from_secs(600);

/// Whether `tags` mark a resource as made by or for the Kubernetes cluster `cluster`.
fn for_cluster(tags: &BTreeMap<String, String>, cluster: &str) -> bool {
    tags.get("elbv2.k8s.aws/cluster").map(String::as_str) == Some(cluster)
        || tags
            .get("cluster.k8s.amazonaws.com/name")
            .map(String::as_str)
            == Some(cluster)
        || tags.contains_key(&format!("kubernetes.io/cluster/{cluster}"))
        || tags.get("aws:eks:cluster-name").map(String::as_str) == Some(cluster)
}

impl AwsProvider {
    /// Nothing to make: a record of which VPC and cluster to sweep on destroy.
    pub(crate) fn record_leftovers(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let vpc = dep_id(ctx, &config.attrs, "vpc")?;
        Ok(crate::made(&vpc, config, Attrs::new(), Lifecycle::Ready))
    }

    /// The record lives as long as the cluster it sweeps for: once the sweep ran after the
    /// cluster was deleted, it is gone.
    pub(crate) async fn read_leftovers(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        let cluster = text(&r.attrs, "cluster");
        Ok(self
            .describe_cluster(cluster)
            .await?
            .map(|_| crate::observed(r, Attrs::new(), Attrs::new(), Lifecycle::Ready)))
    }

    pub(crate) async fn sweep_leftovers(
        &self,
        prior: &ResourceState,
    ) -> Result<Vec<String>, ProviderError> {
        let vpc = prior.cloud_id.as_str();
        let cluster = text(&prior.attrs, "cluster");
        let (mut notes, elb_groups) = self.delete_load_balancers(vpc, cluster).await?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(200);
        loop {
            let (deleted, blocked) = self
                .delete_groups_and_interfaces(vpc, cluster, &elb_groups)
                .await?;
            notes.extend(deleted);
            if blocked.is_empty() {
                return Ok(notes);
            }
            if started.elapsed() > RELEASE_WAIT {
                return Err(ProviderError::Fatal(format!(
                    "still in use after {}s in {vpc}: {}",
                    RELEASE_WAIT.as_secs(),
                    blocked.join(", ")
                )));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(15));
        }
    }

    /// Delete the cluster's load balancers in the VPC; returns notes and the groups ELB made
    /// for the classic ones (`default_elb_*`, untagged), which go with them.
    async fn delete_load_balancers(
        &self,
        vpc: &str,
        cluster: &str,
    ) -> Result<(Vec<String>, Vec<String>), ProviderError> {
        let mut notes = Vec::new();
        let v2: Vec<_> = crate::every!(
            "elbv2",
            "DescribeLoadBalancers",
            self.elbv2.describe_load_balancers()
        )?;
        let arns: Vec<(String, String)> = v2
            .iter()
            .filter(|lb| lb.vpc_id() == Some(vpc))
            .filter_map(|lb| {
                Some((
                    lb.load_balancer_arn()?.to_string(),
                    lb.load_balancer_name()?.to_string(),
                ))
            })
            .collect();
        for chunk in arns.chunks(20) {
            let described = self
                .elbv2
                .describe_tags()
                .set_resource_arns(Some(chunk.iter().map(|(a, _)| a.clone()).collect()))
                .send()
                .await
                .map_err(|e| classify("elbv2", "DescribeTags", e))?;
            for d in described.tag_descriptions() {
                let tags: BTreeMap<String, String> = d
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_string(),
                            t.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
                let Some((arn, name)) = chunk
                    .iter()
                    .find(|(a, _)| Some(a.as_str()) == d.resource_arn())
                else {
                    continue;
                };
                if for_cluster(&tags, cluster) {
                    gone_is_none(crate::send!(
                        "elbv2",
                        "DeleteLoadBalancer",
                        self.elbv2.delete_load_balancer().load_balancer_arn(arn)
                    ))?;
                    notes.push(format!("deleted load balancer {name}, left in {vpc} by a controller of cluster {cluster}"));
                }
            }
        }
        let (classic, groups) = self.delete_classic_load_balancers(vpc, cluster).await?;
        notes.extend(classic);
        Ok((notes, groups))
    }

    async fn delete_classic_load_balancers(
        &self,
        vpc: &str,
        cluster: &str,
    ) -> Result<(Vec<String>, Vec<String>), ProviderError> {
        let (mut notes, mut groups) = (Vec::new(), Vec::new());
        let classic: Vec<_> = crate::every!(
            "elb",
            "DescribeLoadBalancers",
            self.elb.describe_load_balancers()
        )?;
        let ours: Vec<_> = classic
            .iter()
            .filter(|lb| lb.vpc_id() == Some(vpc))
            .collect();
        let names: Vec<String> = ours
            .iter()
            .filter_map(|lb| lb.load_balancer_name().map(String::from))
            .collect();
        for chunk in names.chunks(20) {
            let described = self
                .elb
                .describe_tags()
                .set_load_balancer_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| classify("elb", "DescribeTags", e))?;
            for d in described.tag_descriptions() {
                let tags: BTreeMap<String, String> = d
                    .tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                let Some(name) = d.load_balancer_name() else {
                    continue;
                };
                if for_cluster(&tags, cluster) {
                    gone_is_none(crate::send!(
                        "elb",
                        "DeleteLoadBalancer",
                        self.elb.delete_load_balancer().load_balancer_name(name)
                    ))?;
                    notes.push(format!("deleted classic load balancer {name}, left in {vpc} by the cloud controller of cluster {cluster}"));
                    let lb = ours.iter().find(|lb| lb.load_balancer_name() == Some(name));
                    groups.extend(
                        lb.map(|lb| lb.security_groups().to_vec())
                            .unwrap_or_default(),
                    );
                }
            }
        }
        Ok((notes, groups))
    }

    /// Delete the cluster's security groups and detached interfaces in the VPC; returns what
    /// was deleted and what is still in use.
    async fn delete_groups_and_interfaces(
        &self,
        vpc: &str,
        cluster: &str,
        elb_groups: &[String],
    ) -> Result<(Vec<String>, Vec<String>), ProviderError> {
        let (mut deleted, mut blocked) = (Vec::new(), Vec::new());
        let c = &self.ec2;
        let enis: Vec<_> = crate::ec2::all!(
            "DescribeNetworkInterfaces",
            c.describe_network_interfaces()
                .filters(filter("vpc-id", vec![vpc.into()]))
        )?;
        for eni in enis {
            let tags = crate::ec2::tags_of(eni.tag_set());
            let id = eni.network_interface_id().unwrap_or_default().to_string();
            if !for_cluster(&tags, cluster) {
                continue;
            }
            if eni.status().map(|s| s.as_str()) != Some("available") {
                blocked.push(format!("network interface {id} (attached)"));
                continue;
            }
            match gone_is_none(call!(
                "DeleteNetworkInterface",
                c.delete_network_interface().network_interface_id(&id)
            )) {
                Ok(_) => deleted.push(format!(
                    "deleted network interface {id}, left in {vpc} by cluster {cluster}"
                )),
                Err(e) if e.is_retryable() => blocked.push(format!("network interface {id}")),
                Err(e) => return Err(e),
            }
        }
        let groups = self
            .describe("security_group", vec![filter("vpc-id", vec![vpc.into()])])
            .await?;
        // ELB names the groups it makes for a classic load balancer `default_elb_*`.
        let made_by_elb = |g: &crate::ec2::Found| {
            elb_groups.contains(&g.id)
                && g.live
                    .get("name")
                    .and_then(|n| n.as_str())
                    .is_some_and(|n| n.starts_with("default_elb_"))
        };
        for g in groups
            .iter()
            .filter(|g| for_cluster(&g.tags, cluster) || made_by_elb(g))
        {
            match gone_is_none(call!(
                "DeleteSecurityGroup",
                c.delete_security_group().group_id(&g.id)
            )) {
                Ok(_) => deleted.push(format!(
                    "deleted security group {} ({}), left in {vpc} for cluster {cluster}",
                    g.id,
                    g.live
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or_default()
                )),
                Err(e) if e.is_retryable() => blocked.push(format!("security group {}", g.id)),
                Err(e) => return Err(e),
            }
        }
        Ok((deleted, blocked))
    }
}
