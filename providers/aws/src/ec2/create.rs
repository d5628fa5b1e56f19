//! The base call of each EC2 create. Follow-ups are in `converge`.

use aws_sdk_ec2::types::{
    DomainType, LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataEndpointState,
    LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplateInstanceNetworkInterfaceSpecificationRequest, LaunchTemplatePlacementRequest,
    LaunchTemplateTagSpecificationRequest, PlacementStrategy, RequestLaunchTemplateData,
    ResourceType, VolumeType, VpcEndpointType,
};
use hoist_provider::{tags, Address, Attrs, ProviderError, ResourceConfig, StepContext};
use serde_json::{json, Value};

use super::{call, tag_list, tag_spec};
use crate::{dep_id, dep_output, tag_map, text, token_name, AwsProvider};

/// Tag that the load balancer controller and cloud controller pick subnets by.
fn lb_role_tag(attrs: &Attrs) -> Option<String> {
    match text(attrs, "lb_role") {
        "" => None,
        role => Some(format!("kubernetes.io/role/{role}")),
    }
}

pub(crate) fn addresses(attrs: &Attrs, key: &str) -> Vec<Address> {
    attrs
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|a| a.parse().ok())
        .collect()
}

/// The cloud ids of the dependencies listed (by address) in `attrs[key]`.
pub(crate) fn dep_ids(
    ctx: &StepContext,
    attrs: &Attrs,
    key: &str,
) -> Result<Vec<(Address, String)>, ProviderError> {
    addresses(attrs, key)
        .into_iter()
        .map(|a| {
            let id = ctx
                .deps
                .get(&a)
                .map(|d| d.cloud_id.clone())
                .ok_or_else(|| ProviderError::Invalid(format!("{a} must exist first")))?;
            Ok((a, id))
        })
        .collect()
}

impl AwsProvider {
    /// Make the resource itself; returns its id and what to record of it.
    pub(super) async fn create_base(
        &self,
        kind: &str,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<(String, Attrs), ProviderError> {
        let c = &self.ec2;
        let a = &config.attrs;
        let env = ctx
            .tags
            .get(tags::ENV)
            .map(String::as_str)
            .unwrap_or("hoist");
        let name = format!("{env}-{}", config.address.name());
        let spec = tag_spec(kind, ctx, &name);
        let mut outputs = Attrs::new();
        let id = match kind {
            "vpc" => call!(
                "CreateVpc",
                c.create_vpc()
                    .cidr_block(text(a, "cidr"))
                    .tag_specifications(spec)
            )?
            .vpc()
            .and_then(|v| v.vpc_id())
            .map(String::from),
            "subnet" => {
                let mut tags = tag_map(ctx, &name);
                if let Some(role) = lb_role_tag(a) {
                    tags.insert(role, "1".into());
                }
                let spec = aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(ResourceType::Subnet)
                    .set_tags(Some(tag_list(tags)))
                    .build();
                call!(
                    "CreateSubnet",
                    c.create_subnet()
                        .vpc_id(dep_id(ctx, a, "vpc")?)
                        .cidr_block(text(a, "cidr"))
                        .availability_zone(text(a, "zone"))
                        .tag_specifications(spec)
                )?
                .subnet()
                .and_then(|s| s.subnet_id())
                .map(String::from)
            }
            "internet_gateway" => call!(
                "CreateInternetGateway",
                c.create_internet_gateway().tag_specifications(spec)
            )?
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .map(String::from),
            "elastic_ip" => call!(
                "AllocateAddress",
                c.allocate_address()
                    .domain(DomainType::Vpc)
                    .tag_specifications(spec)
            )?
            .allocation_id()
            .map(String::from),
            "nat_gateway" => call!(
                "CreateNatGateway",
                c.create_nat_gateway()
                    .subnet_id(dep_id(ctx, a, "subnet")?)
                    .allocation_id(dep_id(ctx, a, "allocation")?)
                    .client_token(&ctx.token)
                    .tag_specifications(spec)
            )?
            .nat_gateway()
            .and_then(|n| n.nat_gateway_id())
            .map(String::from),
            "route_table" => call!(
                "CreateRouteTable",
                c.create_route_table()
                    .vpc_id(dep_id(ctx, a, "vpc")?)
                    .tag_specifications(spec)
            )?
            .route_table()
            .and_then(|t| t.route_table_id())
            .map(String::from),
            "security_group" => call!(
                "CreateSecurityGroup",
                c.create_security_group()
                    .group_name(text(a, "name"))
                    .description(text(a, "description"))
                    .vpc_id(dep_id(ctx, a, "vpc")?)
                    .tag_specifications(spec)
            )?
            .group_id()
            .map(String::from),
            "vpc_endpoint" => self.create_endpoint(a, ctx, spec).await?,
            "launch_template" => {
                let name = token_name(text(a, "name_prefix"), &ctx.token);
                let made = call!(
                    "CreateLaunchTemplate",
                    c.create_launch_template()
                        .launch_template_name(&name)
                        .launch_template_data(template_data(a, ctx, &name, config.address.name())?)
                        .client_token(&ctx.token)
                        .tag_specifications(spec)
                )?;
                let t = made.launch_template();
                outputs.insert("name".into(), json!(name));
                outputs.insert(
                    "version".into(),
                    json!(t
                        .and_then(|t| t.latest_version_number())
                        .unwrap_or(1)
                        .to_string()),
                );
                t.and_then(|t| t.launch_template_id()).map(String::from)
            }
            "placement_group" => {
                let name = token_name(text(a, "name_prefix"), &ctx.token);
                let made = call!(
                    "CreatePlacementGroup",
                    c.create_placement_group()
                        .group_name(&name)
                        .strategy(PlacementStrategy::from(text(a, "strategy")))
                        .tag_specifications(spec)
                )?;
                outputs.insert("name".into(), json!(name));
                made.placement_group()
                    .and_then(|g| g.group_id())
                    .map(String::from)
            }
            other => {
                return Err(ProviderError::Invalid(format!(
                    "unknown AWS resource kind {other}"
                )))
            }
        };
        let id = id.ok_or_else(|| ProviderError::Transient {
            service: super::SERVICE.into(),
            message: format!("the create of {} answered without an id", config.address),
        })?;
        Ok((id, outputs))
    }

    async fn create_endpoint(
        &self,
        a: &Attrs,
        ctx: &StepContext,
        spec: aws_sdk_ec2::types::TagSpecification,
    ) -> Result<Option<String>, ProviderError> {
        let mut req = self
            .ec2
            .create_vpc_endpoint()
            .vpc_id(dep_id(ctx, a, "vpc")?)
            .service_name(text(a, "service"))
            .client_token(&ctx.token)
            .tag_specifications(spec);
        if text(a, "type") == "Interface" {
            let subnets = dep_ids(ctx, a, "subnets")?.into_iter().map(|(_, id)| id);
            req = req
                .vpc_endpoint_type(VpcEndpointType::Interface)
                .set_subnet_ids(Some(subnets.collect()))
                .security_group_ids(dep_id(ctx, a, "security_group")?)
                .private_dns_enabled(a.get("private_dns") == Some(&json!(true)));
        } else {
            let tables = dep_ids(ctx, a, "route_tables")?
                .into_iter()
                .map(|(_, id)| id);
            req = req
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .set_route_table_ids(Some(tables.collect()));
        }
        Ok(call!("CreateVpcEndpoint", req)?
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .map(String::from))
    }
}

/// What a node of the pool boots with: a gp3 root disk of the pool's size, IMDSv2 only (a hop
/// limit of 2 so pods on the node network still reach it), ownership tags on the instances and
/// volumes it makes, and for EFA types one EFA interface per network card in a placement group.
fn template_data(
    a: &Attrs,
    ctx: &StepContext,
    name: &str,
    pool: &str,
) -> Result<RequestLaunchTemplateData, ProviderError> {
    let disk = a.get("disk_size_gib").and_then(Value::as_i64).unwrap_or(80) as i32;
    let ebs = LaunchTemplateEbsBlockDeviceRequest::builder()
        .volume_size(disk)
        .volume_type(VolumeType::Gp3)
        .encrypted(true)
        .delete_on_termination(true)
        .build();
    // Instances and volumes belong to the pool, whichever template version made them.
    let mut tags = ctx.tags.clone();
    tags.insert("Name".into(), name.into());
    tags.insert(tags::ADDRESS.into(), format!("node_pool.{pool}"));
    let tagged = |rt: ResourceType| {
        LaunchTemplateTagSpecificationRequest::builder()
            .resource_type(rt)
            .set_tags(Some(tag_list(tags.clone())))
            .build()
    };
    let mut data = RequestLaunchTemplateData::builder()
        .block_device_mappings(
            LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name("/dev/xvda")
                .ebs(ebs)
                .build(),
        )
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(2)
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .tag_specifications(tagged(ResourceType::Instance))
        .tag_specifications(tagged(ResourceType::Volume));
    if let Some(cards) = a.get("efa_interfaces").and_then(Value::as_i64) {
        // The cluster's own security group (made by EKS, an output of the cluster) and the EFA group.
        let groups = addresses(a, "security_groups");
        let group_id = |address: &Address| -> Result<String, ProviderError> {
            let d = crate::dep_named(ctx, &address.to_string())?;
            Ok(match address.kind() {
                "eks_cluster" => d
                    .outputs
                    .get("cluster_security_group_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                _ => d.cloud_id.clone(),
            })
        };
        let groups: Vec<String> = groups.iter().map(group_id).collect::<Result<_, _>>()?;
        for card in 0..cards as i32 {
            data = data.network_interfaces(
                LaunchTemplateInstanceNetworkInterfaceSpecificationRequest::builder()
                    .network_card_index(card)
                    .device_index(if card == 0 { 0 } else { 1 })
                    .interface_type("efa")
                    .set_groups(Some(groups.clone()))
                    .delete_on_termination(true)
                    .build(),
            );
        }
        let pg = dep_output(ctx, a, "placement_group", "name")?;
        data = data.placement(
            LaunchTemplatePlacementRequest::builder()
                .group_name(pg)
                .build(),
        );
    }
    Ok(data.build())
}
