//! One describe call per kind, every page, each resource as a [`Found`].

use aws_sdk_ec2::types::Filter;
use hoist_provider::{Lifecycle, ProviderError};
use serde_json::json;

use super::permissions::rules_of;
use super::{all, attrs, call, tags_of, Found};
use crate::AwsProvider;

const ELB_ROLE: &str = "kubernetes.io/role/elb";
const INTERNAL_ELB_ROLE: &str = "kubernetes.io/role/internal-elb";

fn state_lifecycle(state: Option<&str>, failed: &str) -> Option<Lifecycle> {
    Some(match state {
        Some("pending") | Some("pendingAcceptance") => Lifecycle::Provisioning,
        Some("deleting") => Lifecycle::Deleting,
        Some("failed") | Some("rejected") => Lifecycle::Failed {
            reason: failed.into(),
        },
        _ => Lifecycle::Ready,
    })
}

impl AwsProvider {
    /// VPC endpoints by id (`VpcEndpointIds`, which every EC2 implementation has, rather than
    /// the `vpc-endpoint-id` filter) or by the other filters. An id that does not exist fails
    /// the whole call, so a batch that hits one is read again id by id, the missing ones gone.
    async fn describe_endpoints(&self, filters: Vec<Filter>) -> Result<Vec<Found>, ProviderError> {
        let (by_id, rest): (Vec<Filter>, Vec<Filter>) = filters
            .into_iter()
            .partition(|f| f.name() == Some("vpc-endpoint-id"));
        let ids: Vec<String> = by_id.iter().flat_map(|f| f.values().to_vec()).collect();
        let c = &self.ec2;
        let read = |ids: Vec<String>| {
            let rest = rest.clone();
            async move {
                let ids = (!ids.is_empty()).then_some(ids);
                all!(
                    "DescribeVpcEndpoints",
                    c.describe_vpc_endpoints()
                        .set_vpc_endpoint_ids(ids)
                        .set_filters(Some(rest))
                )
            }
        };
        let endpoints = match read(ids.clone()).await {
            Err(ProviderError::NotFound(_)) if ids.len() > 1 => {
                let mut found = Vec::new();
                for id in ids {
                    match read(vec![id]).await {
                        Ok(e) => found.extend(e),
                        Err(ProviderError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                found
            }
            Err(ProviderError::NotFound(_)) => Vec::new(),
            other => other?,
        };
        Ok(endpoints
            .iter()
            .filter(|e| {
                !matches!(
                    e.state().map(|s| s.as_str()),
                    Some("deleted") | Some("Deleted")
                )
            })
            .map(|e| {
                let mut x = Found::new(e.vpc_endpoint_id().unwrap_or_default(), tags_of(e.tags()));
                let state = e.state().map(|s| s.as_str().to_ascii_lowercase());
                x.lifecycle = state_lifecycle(state.as_deref(), "the VPC endpoint failed");
                x.refs = attrs(json!({"route_tables": e.route_table_ids()}));
                x
            })
            .collect())
    }

    /// Describe resources of `kind` matching `filters` (by id, name or tag); gone ones are left out.
    pub(crate) async fn describe(
        &self,
        kind: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<Found>, ProviderError> {
        if kind == "vpc_endpoint" {
            return self.describe_endpoints(filters).await;
        }
        let c = &self.ec2;
        let f = Some(filters);
        let found = match kind {
            "vpc" => all!("DescribeVpcs", c.describe_vpcs().set_filters(f))?
                .iter()
                .map(|v| {
                    let mut x = Found::new(v.vpc_id().unwrap_or_default(), tags_of(v.tags()));
                    x.live = attrs(json!({"cidr": v.cidr_block()}));
                    x
                })
                .collect(),
            "subnet" => all!("DescribeSubnets", c.describe_subnets().set_filters(f))?
                .iter()
                .map(|s| {
                    let mut x = Found::new(s.subnet_id().unwrap_or_default(), tags_of(s.tags()));
                    let role = if x.tags.contains_key(ELB_ROLE) {
                        Some("elb")
                    } else if x.tags.contains_key(INTERNAL_ELB_ROLE) {
                        Some("internal-elb")
                    } else {
                        None
                    };
                    x.live = attrs(json!({
                        "cidr": s.cidr_block(),
                        "zone": s.availability_zone(),
                        "public": s.map_public_ip_on_launch().unwrap_or(false),
                        "lb_role": role,
                    }));
                    x
                })
                .collect(),
            "internet_gateway" => all!(
                "DescribeInternetGateways",
                c.describe_internet_gateways().set_filters(f)
            )?
            .iter()
            .map(|g| {
                let mut x = Found::new(
                    g.internet_gateway_id().unwrap_or_default(),
                    tags_of(g.tags()),
                );
                let vpcs: Vec<&str> = g.attachments().iter().filter_map(|a| a.vpc_id()).collect();
                x.live = attrs(json!({"attached": !vpcs.is_empty()}));
                x.extra = attrs(json!({"attached_to": vpcs}));
                x
            })
            .collect(),
            "elastic_ip" => call!("DescribeAddresses", c.describe_addresses().set_filters(f))?
                .addresses()
                .iter()
                .map(|a| Found::new(a.allocation_id().unwrap_or_default(), tags_of(a.tags())))
                .collect(),
            "nat_gateway" => all!(
                "DescribeNatGateways",
                c.describe_nat_gateways().set_filter(f)
            )?
            .iter()
            .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
            .map(|n| {
                let mut x = Found::new(n.nat_gateway_id().unwrap_or_default(), tags_of(n.tags()));
                x.lifecycle = state_lifecycle(
                    n.state().map(|s| s.as_str()),
                    n.failure_message().unwrap_or("NAT gateway failed"),
                );
                x
            })
            .collect(),
            "route_table" => all!(
                "DescribeRouteTables",
                c.describe_route_tables().set_filters(f)
            )?
            .iter()
            .map(|t| {
                let mut x = Found::new(t.route_table_id().unwrap_or_default(), tags_of(t.tags()));
                let assocs: Vec<&str> = t
                    .associations()
                    .iter()
                    .filter(|a| a.subnet_id().is_some())
                    .filter_map(|a| a.route_table_association_id())
                    .collect();
                let subnets: Vec<&str> = t
                    .associations()
                    .iter()
                    .filter_map(|a| a.subnet_id())
                    .collect();
                let target = t
                    .routes()
                    .iter()
                    .filter(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                    .filter(|r| r.state().map(|s| s.as_str()) != Some("blackhole"))
                    .find_map(|r| r.gateway_id().or(r.nat_gateway_id()));
                x.extra = attrs(json!({"associations": assocs}));
                x.refs = attrs(json!({"subnets": subnets, "default_route": target}));
                x
            })
            .collect(),
            "security_group" => all!(
                "DescribeSecurityGroups",
                c.describe_security_groups().set_filters(f)
            )?
            .iter()
            .map(|g| {
                let id = g.group_id().unwrap_or_default();
                let mut x = Found::new(id, tags_of(g.tags()));
                x.live = attrs(json!({"name": g.group_name(), "rules": rules_of(g)}));
                x
            })
            .collect(),
            "launch_template" => all!(
                "DescribeLaunchTemplates",
                c.describe_launch_templates().set_filters(f)
            )?
            .iter()
            .map(|t| {
                let mut x = Found::new(
                    t.launch_template_id().unwrap_or_default(),
                    tags_of(t.tags()),
                );
                x.extra = attrs(json!({
                    "name": t.launch_template_name(),
                    "version": t.latest_version_number().unwrap_or(1).to_string(),
                }));
                x
            })
            .collect(),
            "placement_group" => call!(
                "DescribePlacementGroups",
                c.describe_placement_groups().set_filters(f)
            )?
            .placement_groups()
            .iter()
            .filter(|g| g.state().map(|s| s.as_str()) != Some("deleted"))
            .map(|g| {
                let mut x = Found::new(g.group_id().unwrap_or_default(), tags_of(g.tags()));
                x.extra = attrs(json!({"name": g.group_name()}));
                x.lifecycle =
                    state_lifecycle(g.state().map(|s| s.as_str()), "the placement group failed");
                x
            })
            .collect(),
            other => {
                return Err(ProviderError::Invalid(format!(
                    "unknown AWS resource kind {other}"
                )))
            }
        };
        Ok(found)
    }
}
