//! The follow-up calls of EC2 creates, each idempotent: run right after the base call
//! (`fresh`), again by a retried create that found its resource by token, and by an update.
//! Whatever an interrupted run skipped is done here, judged from what the cloud reports.

use aws_sdk_ec2::types::{AttributeBooleanValue, IpPermission, Tag};
use hoist_provider::{Address, Attrs, ProviderError, ResourceConfig, StepContext};
use serde_json::{json, Value};

use super::create::dep_ids;
use super::permissions::Rule;
use super::{call, filter, Found};
use crate::{dep_id, text, AwsProvider};

fn on() -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(true).build()
}

/// `{address: id}` for recording which ids an attribute's addresses had.
fn id_map(pairs: &[(Address, String)]) -> Value {
    json!(pairs
        .iter()
        .map(|(a, id)| (a.to_string(), json!(id)))
        .collect::<serde_json::Map<_, _>>())
}

impl AwsProvider {
    /// Run the follow-ups of `kind` on resource `id`; returns outputs to record.
    pub(super) async fn converge(
        &self,
        kind: &str,
        id: &str,
        config: &ResourceConfig,
        ctx: &StepContext,
        fresh: bool,
    ) -> Result<Attrs, ProviderError> {
        let c = &self.ec2;
        let a = &config.attrs;
        match kind {
            "vpc" => {
                call!(
                    "ModifyVpcAttribute",
                    c.modify_vpc_attribute()
                        .vpc_id(id)
                        .enable_dns_hostnames(on())
                )?;
            }
            "subnet" => {
                if a.get("public") == Some(&json!(true)) {
                    call!(
                        "ModifySubnetAttribute",
                        c.modify_subnet_attribute()
                            .subnet_id(id)
                            .map_public_ip_on_launch(on())
                    )?;
                }
                if let (false, role) = (fresh, text(a, "lb_role")) {
                    if !role.is_empty() {
                        let tag = Tag::builder()
                            .key(format!("kubernetes.io/role/{role}"))
                            .value("1")
                            .build();
                        call!("CreateTags", c.create_tags().resources(id).tags(tag))?;
                    }
                }
            }
            "internet_gateway" => {
                let attached = !fresh
                    && self
                        .one(kind, "internet-gateway-id", id)
                        .await?
                        .is_some_and(|g| g.live.get("attached") == Some(&json!(true)));
                if !attached {
                    call!(
                        "AttachInternetGateway",
                        c.attach_internet_gateway()
                            .internet_gateway_id(id)
                            .vpc_id(dep_id(ctx, a, "vpc")?)
                    )?;
                }
            }
            "route_table" => return self.converge_routes(id, a, ctx, fresh).await,
            "security_group" => self.converge_rules(id, a, fresh).await?,
            "vpc_endpoint" if text(a, "type") == "Gateway" => {
                let tables = dep_ids(ctx, a, "route_tables")?;
                if !fresh {
                    let now = self.one(kind, "vpc-endpoint-id", id).await?;
                    let have = ref_ids(now.as_ref(), "route_tables");
                    let want: Vec<String> = tables.iter().map(|(_, t)| t.clone()).collect();
                    let add: Vec<String> =
                        want.iter().filter(|t| !have.contains(t)).cloned().collect();
                    let remove: Vec<String> =
                        have.iter().filter(|t| !want.contains(t)).cloned().collect();
                    if !add.is_empty() || !remove.is_empty() {
                        call!(
                            "ModifyVpcEndpoint",
                            c.modify_vpc_endpoint()
                                .vpc_endpoint_id(id)
                                .set_add_route_table_ids(Some(add))
                                .set_remove_route_table_ids(Some(remove))
                        )?;
                    }
                }
                return Ok([("route_table_ids".to_string(), id_map(&tables))]
                    .into_iter()
                    .collect());
            }
            _ => {}
        }
        Ok(Attrs::new())
    }

    /// The one resource of `kind` with `id`, as a describe reports it now.
    async fn one(
        &self,
        kind: &str,
        id_filter: &str,
        id: &str,
    ) -> Result<Option<Found>, ProviderError> {
        Ok(self
            .describe(kind, vec![filter(id_filter, vec![id.into()])])
            .await?
            .into_iter()
            .next())
    }

    /// The default route and the subnet associations, made to match the blueprint.
    async fn converge_routes(
        &self,
        id: &str,
        a: &Attrs,
        ctx: &StepContext,
        fresh: bool,
    ) -> Result<Attrs, ProviderError> {
        let c = &self.ec2;
        let target = match text(a, "default_route") {
            "" => None,
            _ => Some((
                text(a, "default_route").parse::<Address>().ok(),
                dep_id(ctx, a, "default_route")?,
            )),
        };
        let subnets = dep_ids(ctx, a, "subnets")?;
        let now = if fresh {
            None
        } else {
            self.one("route_table", "route-table-id", id).await?
        };
        let have_target = now
            .as_ref()
            .and_then(|f| f.refs.get("default_route"))
            .and_then(Value::as_str)
            .map(String::from);
        match (&target, &have_target) {
            (Some((_, want)), Some(have)) if want == have => {}
            (Some((_, want)), Some(_)) => {
                call!(
                    "ReplaceRoute",
                    route(
                        c.replace_route()
                            .route_table_id(id)
                            .destination_cidr_block("0.0.0.0/0"),
                        want
                    )
                )?;
            }
            (Some((_, want)), None) => {
                let req = c
                    .create_route()
                    .route_table_id(id)
                    .destination_cidr_block("0.0.0.0/0");
                let req = if want.starts_with("igw-") {
                    req.gateway_id(want)
                } else {
                    req.nat_gateway_id(want)
                };
                call!("CreateRoute", req)?;
            }
            (None, Some(_)) => {
                call!(
                    "DeleteRoute",
                    c.delete_route()
                        .route_table_id(id)
                        .destination_cidr_block("0.0.0.0/0")
                )?;
            }
            (None, None) => {}
        }
        let associated = ref_ids(now.as_ref(), "subnets");
        for (_, subnet) in subnets.iter().filter(|(_, s)| !associated.contains(s)) {
            call!(
                "AssociateRouteTable",
                c.associate_route_table()
                    .route_table_id(id)
                    .subnet_id(subnet)
            )?;
        }
        let mut out = Attrs::new();
        out.insert("subnet_ids".into(), id_map(&subnets));
        if let Some((Some(address), target_id)) = target {
            out.insert("route_target".into(), id_map(&[(address, target_id)]));
        }
        Ok(out)
    }

    /// Authorize the group's missing rules and revoke the ones the blueprint does not list.
    async fn converge_rules(&self, id: &str, a: &Attrs, fresh: bool) -> Result<(), ProviderError> {
        let want: Vec<Rule> = a
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(Rule::parse)
            .collect();
        // A new group allows all egress and nothing else.
        let have: Vec<Rule> = if fresh {
            vec![Rule::parse("egress:-1:0.0.0.0/0").expect("a valid rule")]
        } else {
            self.one("security_group", "group-id", id)
                .await?
                .and_then(|g| g.live.get("rules").cloned())
                .and_then(|r| serde_json::from_value::<Vec<String>>(r).ok())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| Rule::parse(t))
                .collect()
        };
        for ingress in [true, false] {
            let add: Vec<_> = want
                .iter()
                .filter(|r| r.ingress == ingress && !have.contains(r))
                .map(|r| r.permission(id))
                .collect();
            let remove: Vec<_> = have
                .iter()
                .filter(|r| r.ingress == ingress && !want.contains(r))
                .map(|r| r.permission(id))
                .collect();
            if !add.is_empty() {
                self.change_rules(id, ingress, true, add).await?;
            }
            if !remove.is_empty() {
                self.change_rules(id, ingress, false, remove).await?;
            }
        }
        Ok(())
    }

    /// Authorize (`grant`) or revoke `rules` on group `id`, ingress or egress.
    async fn change_rules(
        &self,
        id: &str,
        ingress: bool,
        grant: bool,
        rules: Vec<IpPermission>,
    ) -> Result<(), ProviderError> {
        let (c, p) = (&self.ec2, Some(rules));
        match (ingress, grant) {
            (true, true) => call!(
                "AuthorizeSecurityGroupIngress",
                c.authorize_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(p)
            )
            .map(drop),
            (false, true) => call!(
                "AuthorizeSecurityGroupEgress",
                c.authorize_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(p)
            )
            .map(drop),
            (true, false) => call!(
                "RevokeSecurityGroupIngress",
                c.revoke_security_group_ingress()
                    .group_id(id)
                    .set_ip_permissions(p)
            )
            .map(drop),
            (false, false) => call!(
                "RevokeSecurityGroupEgress",
                c.revoke_security_group_egress()
                    .group_id(id)
                    .set_ip_permissions(p)
            )
            .map(drop),
        }
    }
}

fn route(
    req: aws_sdk_ec2::operation::replace_route::builders::ReplaceRouteFluentBuilder,
    target: &str,
) -> aws_sdk_ec2::operation::replace_route::builders::ReplaceRouteFluentBuilder {
    if target.starts_with("igw-") {
        req.gateway_id(target)
    } else {
        req.nat_gateway_id(target)
    }
}

/// The ids in `found.refs[key]`.
fn ref_ids(found: Option<&Found>, key: &str) -> Vec<String> {
    found
        .and_then(|f| f.refs.get(key))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}
