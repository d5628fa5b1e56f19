//! VPC, subnets, internet gateway, elastic IPs, NAT gateways, route tables, security groups.

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, ResourceType, Tag, TagSpecification,
};
use hoist_provider::{
    tags, Address, Attrs, CloudResource, CreateContext, Lifecycle, Observed, ProviderError,
    ResourceConfig, ResourceState,
};
use serde_json::{json, Value};

use crate::errors::classify;
use crate::{dep_id, observed, tag_map, text, AwsProvider, TOKEN_TAG};

const SERVICE: &str = "ec2";

/// The EC2 kinds and their resource types, for tags and listing.
const KINDS: &[(&str, ResourceType)] = &[
    ("vpc", ResourceType::Vpc),
    ("subnet", ResourceType::Subnet),
    ("internet_gateway", ResourceType::InternetGateway),
    ("elastic_ip", ResourceType::ElasticIp),
    ("nat_gateway", ResourceType::Natgateway),
    ("route_table", ResourceType::RouteTable),
    ("security_group", ResourceType::SecurityGroup),
];

fn tag_spec(kind: &str, ctx: &CreateContext, name: &str) -> TagSpecification {
    let rt = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| t.clone())
        .unwrap_or(ResourceType::Vpc);
    let tags: Vec<Tag> = tag_map(ctx, name)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(tags))
        .build()
}

fn filter(name: &str, values: Vec<String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

fn tags_of(list: &[Tag]) -> std::collections::BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// One resource as an EC2 describe reports it: id, live attributes, state, tags.
struct Found {
    id: String,
    live: Attrs,
    lifecycle: Option<Lifecycle>,
    tags: std::collections::BTreeMap<String, String>,
    extra: Attrs,
}

fn attrs(v: Value) -> Attrs {
    v.as_object()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default()
}

macro_rules! call {
    ($what:expr, $req:expr) => {
        $req.send().await.map_err(|e| classify(SERVICE, $what, e))
    };
}

impl AwsProvider {
    /// Describe resources of `kind` matching `filters` (by id, or by tag).
    async fn describe(
        &self,
        kind: &str,
        filters: Vec<Filter>,
    ) -> Result<Vec<Found>, ProviderError> {
        let c = &self.ec2;
        let f = Some(filters);
        Ok(match kind {
            "vpc" => call!("DescribeVpcs", c.describe_vpcs().set_filters(f))?
                .vpcs()
                .iter()
                .map(|v| Found {
                    id: v.vpc_id().unwrap_or_default().into(),
                    live: attrs(json!({"cidr": v.cidr_block()})),
                    lifecycle: None,
                    tags: tags_of(v.tags()),
                    extra: Attrs::new(),
                })
                .collect(),
            "subnet" => call!("DescribeSubnets", c.describe_subnets().set_filters(f))?
                .subnets()
                .iter()
                .map(|s| Found {
                    id: s.subnet_id().unwrap_or_default().into(),
                    live: attrs(json!({"cidr": s.cidr_block(), "zone": s.availability_zone()})),
                    lifecycle: None,
                    tags: tags_of(s.tags()),
                    extra: Attrs::new(),
                })
                .collect(),
            "internet_gateway" => call!(
                "DescribeInternetGateways",
                c.describe_internet_gateways().set_filters(f)
            )?
            .internet_gateways()
            .iter()
            .map(|g| Found {
                id: g.internet_gateway_id().unwrap_or_default().into(),
                live: Attrs::new(),
                lifecycle: None,
                tags: tags_of(g.tags()),
                extra: Attrs::new(),
            })
            .collect(),
            "elastic_ip" => call!("DescribeAddresses", c.describe_addresses().set_filters(f))?
                .addresses()
                .iter()
                .map(|a| Found {
                    id: a.allocation_id().unwrap_or_default().into(),
                    live: Attrs::new(),
                    lifecycle: None,
                    tags: tags_of(a.tags()),
                    extra: Attrs::new(),
                })
                .collect(),
            "nat_gateway" => call!(
                "DescribeNatGateways",
                c.describe_nat_gateways().set_filter(f)
            )?
            .nat_gateways()
            .iter()
            .filter(|n| !matches!(n.state().map(|s| s.as_str()), Some("deleted")))
            .map(|n| {
                let lifecycle = match n.state().map(|s| s.as_str()) {
                    Some("pending") => Lifecycle::Provisioning,
                    Some("deleting") => Lifecycle::Deleting,
                    Some("failed") => Lifecycle::Failed {
                        reason: n.failure_message().unwrap_or("NAT gateway failed").into(),
                    },
                    _ => Lifecycle::Ready,
                };
                Found {
                    id: n.nat_gateway_id().unwrap_or_default().into(),
                    live: Attrs::new(),
                    lifecycle: Some(lifecycle),
                    tags: tags_of(n.tags()),
                    extra: Attrs::new(),
                }
            })
            .collect(),
            "route_table" => call!(
                "DescribeRouteTables",
                c.describe_route_tables().set_filters(f)
            )?
            .route_tables()
            .iter()
            .map(|t| {
                let associations: Vec<&str> = t
                    .associations()
                    .iter()
                    .filter_map(|a| a.route_table_association_id())
                    .collect();
                Found {
                    id: t.route_table_id().unwrap_or_default().into(),
                    live: Attrs::new(),
                    lifecycle: None,
                    tags: tags_of(t.tags()),
                    extra: attrs(json!({"associations": associations})),
                }
            })
            .collect(),
            "security_group" => call!(
                "DescribeSecurityGroups",
                c.describe_security_groups().set_filters(f)
            )?
            .security_groups()
            .iter()
            .map(|g| Found {
                id: g.group_id().unwrap_or_default().into(),
                live: attrs(json!({"name": g.group_name()})),
                lifecycle: None,
                tags: tags_of(g.tags()),
                extra: Attrs::new(),
            })
            .collect(),
            other => {
                return Err(ProviderError::Invalid(format!(
                    "unknown AWS resource kind {other}"
                )))
            }
        })
    }

    /// Read a batch of one kind with a single describe call.
    pub(crate) async fn read_ec2(
        &self,
        kind: &str,
        resources: &[&ResourceState],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let id_filter = match kind {
            "vpc" => "vpc-id",
            "subnet" => "subnet-id",
            "internet_gateway" => "internet-gateway-id",
            "elastic_ip" => "allocation-id",
            "nat_gateway" => "nat-gateway-id",
            "route_table" => "route-table-id",
            _ => "group-id",
        };
        let found = self
            .describe(
                kind,
                vec![filter(
                    id_filter,
                    resources.iter().map(|r| r.cloud_id.clone()).collect(),
                )],
            )
            .await?;
        Ok(resources
            .iter()
            .map(|r| {
                found.iter().find(|f| f.id == r.cloud_id).map(|f| {
                    observed(
                        r,
                        f.live.clone(),
                        f.outputs(),
                        f.lifecycle.clone().unwrap_or(Lifecycle::Ready),
                    )
                })
            })
            .collect())
    }

    pub(crate) async fn find_ec2(
        &self,
        kind: &str,
        token: &str,
    ) -> Result<Option<Observed>, ProviderError> {
        let found = self
            .describe(
                kind,
                vec![filter(&format!("tag:{TOKEN_TAG}"), vec![token.into()])],
            )
            .await?;
        Ok(found.into_iter().next().map(|f| Observed {
            cloud_id: f.id.clone(),
            attrs: f.live.clone(),
            outputs: f.outputs(),
            lifecycle: f.lifecycle.unwrap_or(Lifecycle::Ready),
        }))
    }

    pub(crate) async fn list_ec2(&self, env: &str) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = Vec::new();
        for (kind, _) in KINDS {
            for f in self
                .describe(
                    kind,
                    vec![filter(&format!("tag:{}", tags::ENV), vec![env.into()])],
                )
                .await?
            {
                out.push(CloudResource {
                    cloud_id: f.id.clone(),
                    kind: kind.to_string(),
                    name: f.tags.get("Name").cloned().unwrap_or_default(),
                    region: self.region.clone(),
                    status: "exists".into(),
                    tags: f.tags,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn create_ec2(
        &self,
        kind: &str,
        config: &ResourceConfig,
        ctx: &CreateContext,
    ) -> Result<Observed, ProviderError> {
        // A retried create after a lost answer finds what the first attempt made.
        if let Some(existing) = self.find_ec2(kind, &ctx.token).await? {
            return Ok(Observed {
                attrs: config.attrs.clone(),
                ..existing
            });
        }
        let c = &self.ec2;
        let a = &config.attrs;
        let name = format!(
            "{}-{}",
            ctx.tags
                .get(tags::ENV)
                .map(String::as_str)
                .unwrap_or("hoist"),
            config.address.name()
        );
        let spec = tag_spec(kind, ctx, &name);
        let vpc_of = |ctx: &CreateContext| {
            ctx.deps
                .values()
                .find(|d| d.address.kind() == "vpc")
                .map(|d| d.cloud_id.clone())
                .ok_or_else(|| ProviderError::Invalid("the VPC must exist first".into()))
        };
        let mut outputs = Attrs::new();
        let (id, lifecycle) = match kind {
            "vpc" => {
                let vpc = call!(
                    "CreateVpc",
                    c.create_vpc()
                        .cidr_block(text(a, "cidr"))
                        .tag_specifications(spec)
                )?;
                let id = vpc
                    .vpc()
                    .and_then(|v| v.vpc_id())
                    .unwrap_or_default()
                    .to_string();
                call!(
                    "ModifyVpcAttribute",
                    c.modify_vpc_attribute()
                        .vpc_id(&id)
                        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
                )?;
                (id, Lifecycle::Ready)
            }
            "subnet" => {
                let s = call!(
                    "CreateSubnet",
                    c.create_subnet()
                        .vpc_id(vpc_of(ctx)?)
                        .cidr_block(text(a, "cidr"))
                        .availability_zone(text(a, "zone"))
                        .tag_specifications(spec)
                )?;
                let id = s
                    .subnet()
                    .and_then(|s| s.subnet_id())
                    .unwrap_or_default()
                    .to_string();
                if a.get("public") == Some(&json!(true)) {
                    call!(
                        "ModifySubnetAttribute",
                        c.modify_subnet_attribute()
                            .subnet_id(&id)
                            .map_public_ip_on_launch(
                                AttributeBooleanValue::builder().value(true).build()
                            )
                    )?;
                }
                (id, Lifecycle::Ready)
            }
            "internet_gateway" => {
                let g = call!(
                    "CreateInternetGateway",
                    c.create_internet_gateway().tag_specifications(spec)
                )?;
                let id = g
                    .internet_gateway()
                    .and_then(|g| g.internet_gateway_id())
                    .unwrap_or_default()
                    .to_string();
                call!(
                    "AttachInternetGateway",
                    c.attach_internet_gateway()
                        .internet_gateway_id(&id)
                        .vpc_id(vpc_of(ctx)?)
                )?;
                (id, Lifecycle::Ready)
            }
            "elastic_ip" => {
                let e = call!(
                    "AllocateAddress",
                    c.allocate_address()
                        .domain(DomainType::Vpc)
                        .tag_specifications(spec)
                )?;
                (
                    e.allocation_id().unwrap_or_default().to_string(),
                    Lifecycle::Ready,
                )
            }
            "nat_gateway" => {
                let n = call!(
                    "CreateNatGateway",
                    c.create_nat_gateway()
                        .subnet_id(dep_id(ctx, a, "subnet")?)
                        .allocation_id(dep_id(ctx, a, "allocation")?)
                        .client_token(&ctx.token)
                        .tag_specifications(spec)
                )?;
                let id = n
                    .nat_gateway()
                    .and_then(|n| n.nat_gateway_id())
                    .unwrap_or_default()
                    .to_string();
                (id, Lifecycle::Provisioning)
            }
            "route_table" => {
                let t = call!(
                    "CreateRouteTable",
                    c.create_route_table()
                        .vpc_id(vpc_of(ctx)?)
                        .tag_specifications(spec)
                )?;
                let id = t
                    .route_table()
                    .and_then(|t| t.route_table_id())
                    .unwrap_or_default()
                    .to_string();
                if let Ok(target) = dep_id(ctx, a, "default_route") {
                    let route = c
                        .create_route()
                        .route_table_id(&id)
                        .destination_cidr_block("0.0.0.0/0");
                    let route = if target.starts_with("igw-") {
                        route.gateway_id(target)
                    } else {
                        route.nat_gateway_id(target)
                    };
                    call!("CreateRoute", route)?;
                }
                let mut associations = Vec::new();
                for subnet in a
                    .get("subnets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                {
                    let address: Address = subnet.parse().map_err(|_| {
                        ProviderError::Invalid(format!("bad subnet address {subnet}"))
                    })?;
                    let subnet_id = ctx
                        .deps
                        .get(&address)
                        .map(|d| d.cloud_id.clone())
                        .ok_or_else(|| {
                            ProviderError::Invalid(format!("{address} must exist first"))
                        })?;
                    let r = call!(
                        "AssociateRouteTable",
                        c.associate_route_table()
                            .route_table_id(&id)
                            .subnet_id(subnet_id)
                    )?;
                    associations.push(r.association_id().unwrap_or_default().to_string());
                }
                outputs.insert("associations".into(), json!(associations));
                (id, Lifecycle::Ready)
            }
            "security_group" => {
                let g = call!(
                    "CreateSecurityGroup",
                    c.create_security_group()
                        .group_name(text(a, "name"))
                        .description(format!("hoist: EKS cluster {name}"))
                        .vpc_id(vpc_of(ctx)?)
                        .tag_specifications(spec)
                )?;
                (
                    g.group_id().unwrap_or_default().to_string(),
                    Lifecycle::Ready,
                )
            }
            other => {
                return Err(ProviderError::Invalid(format!(
                    "unknown AWS resource kind {other}"
                )))
            }
        };
        outputs.insert("id".into(), json!(id));
        Ok(Observed {
            cloud_id: id,
            attrs: config.attrs.clone(),
            outputs,
            lifecycle,
        })
    }

    pub(crate) async fn delete_ec2(
        &self,
        kind: &str,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        let c = &self.ec2;
        let id = prior.cloud_id.as_str();
        let result = match kind {
            "vpc" => call!("DeleteVpc", c.delete_vpc().vpc_id(id)).map(drop),
            "subnet" => call!("DeleteSubnet", c.delete_subnet().subnet_id(id)).map(drop),
            "internet_gateway" => {
                let g = call!(
                    "DescribeInternetGateways",
                    c.describe_internet_gateways().internet_gateway_ids(id)
                );
                let vpcs: Vec<String> = g
                    .map(|g| {
                        g.internet_gateways()
                            .iter()
                            .flat_map(|g| g.attachments())
                            .filter_map(|a| a.vpc_id().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                for vpc in vpcs {
                    call!(
                        "DetachInternetGateway",
                        c.detach_internet_gateway()
                            .internet_gateway_id(id)
                            .vpc_id(vpc)
                    )?;
                }
                call!(
                    "DeleteInternetGateway",
                    c.delete_internet_gateway().internet_gateway_id(id)
                )
                .map(drop)
            }
            "elastic_ip" => {
                call!("ReleaseAddress", c.release_address().allocation_id(id)).map(drop)
            }
            "nat_gateway" => call!(
                "DeleteNatGateway",
                c.delete_nat_gateway().nat_gateway_id(id)
            )
            .map(drop),
            "route_table" => {
                let found = self
                    .describe(
                        "route_table",
                        vec![filter("route-table-id", vec![id.into()])],
                    )
                    .await?;
                for f in &found {
                    for assoc in f
                        .outputs()
                        .get("associations")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        crate::errors::gone_is_none(call!(
                            "DisassociateRouteTable",
                            c.disassociate_route_table().association_id(assoc)
                        ))?;
                    }
                }
                call!(
                    "DeleteRouteTable",
                    c.delete_route_table().route_table_id(id)
                )
                .map(drop)
            }
            "security_group" => call!(
                "DeleteSecurityGroup",
                c.delete_security_group().group_id(id)
            )
            .map(drop),
            other => Err(ProviderError::Invalid(format!(
                "unknown AWS resource kind {other}"
            ))),
        };
        crate::errors::gone_is_none(result).map(drop)
    }
}

impl Found {
    /// The id plus what the describe reported beyond attributes (e.g. route table associations).
    fn outputs(&self) -> Attrs {
        let mut out = self.extra.clone();
        out.insert("id".into(), json!(self.id));
        out
    }
}
