//! EC2: the VPC and everything in it, launch templates and placement groups.
//!
//! A create is the base call (found again by its token tag when retried or recovered) and
//! then `converge`: the follow-up calls (DNS attributes, route-table associations, security
//! group rules...), each idempotent, which an update runs again. A throttled follow-up or a
//! crash between the calls is therefore finished by the retry or by the next apply.

mod converge;
mod create;
mod delete;
mod describe;
mod permissions;
mod refs;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use hoist_provider::{
    tags, Attrs, CloudResource, Lifecycle, Listing, Observed, ProviderError, ResourceConfig,
    ResourceState, StepContext,
};
use serde_json::{json, Value};

use crate::{observed, tag_map, AwsProvider, TOKEN_TAG};

pub(crate) const SERVICE: &str = "ec2";

/// The EC2 kinds and their resource types, for tags and listing.
const KINDS: &[(&str, ResourceType)] = &[
    ("vpc", ResourceType::Vpc),
    ("subnet", ResourceType::Subnet),
    ("internet_gateway", ResourceType::InternetGateway),
    ("elastic_ip", ResourceType::ElasticIp),
    ("nat_gateway", ResourceType::Natgateway),
    ("route_table", ResourceType::RouteTable),
    ("security_group", ResourceType::SecurityGroup),
    ("vpc_endpoint", ResourceType::VpcEndpoint),
    ("launch_template", ResourceType::LaunchTemplate),
    ("placement_group", ResourceType::PlacementGroup),
];

/// Whether `kind` is one of the EC2 resources (tagged with CreateTags).
pub(crate) fn is_ec2_kind(kind: &str) -> bool {
    KINDS.iter().any(|(k, _)| *k == kind)
}

/// A one-page EC2 call.
macro_rules! call {
    ($what:expr, $req:expr) => {
        crate::send!(crate::ec2::SERVICE, $what, $req)
    };
}

/// Every item of a paginated EC2 call.
macro_rules! all {
    ($what:expr, $req:expr) => {
        crate::every!(crate::ec2::SERVICE, $what, $req)
    };
}
pub(crate) use {all, call};

pub(crate) fn tag_list(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_spec(kind: &str, ctx: &StepContext, name: &str) -> TagSpecification {
    let rt = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| t.clone())
        .unwrap_or(ResourceType::Vpc);
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(tag_list(tag_map(ctx, name))))
        .build()
}

pub(crate) fn filter(name: &str, values: Vec<String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

pub(crate) fn tags_of(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

pub(crate) fn attrs(v: Value) -> Attrs {
    v.as_object()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default()
}

/// One resource as an EC2 describe reports it.
pub(crate) struct Found {
    pub id: String,
    /// Attributes compared with what hoist applied.
    pub live: Attrs,
    pub lifecycle: Option<Lifecycle>,
    pub tags: BTreeMap<String, String>,
    /// Facts kept as outputs (a template's version, a table's association ids).
    pub extra: Attrs,
    /// Cloud ids the resource refers to (a table's subnets), mapped back to addresses
    /// with what the create recorded.
    pub refs: Attrs,
}

impl Found {
    fn new(id: &str, tags: BTreeMap<String, String>) -> Self {
        Self {
            id: id.into(),
            live: Attrs::new(),
            lifecycle: None,
            tags,
            extra: Attrs::new(),
            refs: Attrs::new(),
        }
    }

    /// The id plus what the describe reported beyond attributes.
    fn outputs(&self) -> Attrs {
        let mut out = self.extra.clone();
        out.insert("id".into(), json!(self.id));
        out
    }
}

/// How each kind is found by the ids (or names) recorded in state.
fn id_filter(kind: &str, r: &ResourceState) -> (&'static str, String) {
    let name = || {
        r.outputs
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match kind {
        "vpc" => ("vpc-id", r.cloud_id.clone()),
        "subnet" => ("subnet-id", r.cloud_id.clone()),
        "internet_gateway" => ("internet-gateway-id", r.cloud_id.clone()),
        "elastic_ip" => ("allocation-id", r.cloud_id.clone()),
        "nat_gateway" => ("nat-gateway-id", r.cloud_id.clone()),
        "route_table" => ("route-table-id", r.cloud_id.clone()),
        "vpc_endpoint" => ("vpc-endpoint-id", r.cloud_id.clone()),
        // Neither has an id filter, and a missing id fails the whole call: names do not.
        "launch_template" => ("launch-template-name", name()),
        "placement_group" => ("group-name", name()),
        _ => ("group-id", r.cloud_id.clone()),
    }
}

impl AwsProvider {
    /// Read a batch of one kind with a single describe call.
    pub(crate) async fn read_ec2(
        &self,
        kind: &str,
        resources: &[&ResourceState],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let Some(first) = resources.first() else {
            return Ok(Vec::new());
        };
        let (filter_name, _) = id_filter(kind, first);
        let values = resources.iter().map(|r| id_filter(kind, r).1).collect();
        let found = self
            .describe(kind, vec![filter(filter_name, values)])
            .await?;
        Ok(resources
            .iter()
            .map(|r| {
                found.iter().find(|f| f.id == r.cloud_id).map(|f| {
                    let mut live = f.live.clone();
                    live.extend(refs::resolve(kind, f, r));
                    observed(
                        r,
                        live,
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
        Ok(self
            .find_by_token_tag(kind, token)
            .await?
            .map(|f| Observed {
                cloud_id: f.id.clone(),
                attrs: f.live.clone(),
                outputs: f.outputs(),
                lifecycle: f.lifecycle.clone().unwrap_or(Lifecycle::Ready),
            }))
    }

    async fn find_by_token_tag(
        &self,
        kind: &str,
        token: &str,
    ) -> Result<Option<Found>, ProviderError> {
        let found = self
            .describe(
                kind,
                vec![filter(&format!("tag:{TOKEN_TAG}"), vec![token.into()])],
            )
            .await?;
        Ok(found.into_iter().next())
    }

    pub(crate) async fn list_ec2(
        &self,
        owner: crate::owner::Owner<'_>,
    ) -> Result<Listing, ProviderError> {
        let by_tag = || match owner {
            crate::owner::Owner::Env(env) => {
                vec![filter(&format!("tag:{}", tags::ENV), vec![env.into()])]
            }
            crate::owner::Owner::Any => vec![filter("tag-key", vec![tags::ENV.into()])],
        };
        let kinds = KINDS.iter().map(|(kind, _)| async move {
            self.describe(kind, by_tag())
                .await
                .map(|found| (*kind, found))
        });
        let mut out = Listing::default();
        for (kind, listed) in KINDS
            .iter()
            .map(|(k, _)| *k)
            .zip(futures::future::join_all(kinds).await)
        {
            let found = match listed {
                Ok((_, found)) => found,
                Err(e) => {
                    out.extend(Listing::part(&format!("EC2 {kind}s"), Err(e))?);
                    continue;
                }
            };
            for f in found {
                out.resources.push(CloudResource {
                    cloud_id: f.id.clone(),
                    kind: kind.to_string(),
                    name: f.tags.get("Name").cloned().unwrap_or_default(),
                    region: self.region.clone(),
                    status: "exists".into(),
                    outputs: f.outputs(),
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
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        // A retried create after a lost answer, or a recovered one, finds what the first made.
        let (id, fresh, mut outputs) = match self.find_by_token_tag(kind, &ctx.token).await? {
            Some(f) => (f.id.clone(), false, f.outputs()),
            None => {
                let (id, outputs) = self.create_base(kind, config, ctx).await?;
                (id, true, outputs)
            }
        };
        outputs.insert("id".into(), json!(id));
        outputs.extend(self.converge(kind, &id, config, ctx, fresh).await?);
        let lifecycle = match kind {
            "nat_gateway" | "vpc_endpoint" => Lifecycle::Provisioning,
            _ => Lifecycle::Ready,
        };
        Ok(crate::made(&id, config, outputs, lifecycle))
    }

    pub(crate) async fn update_ec2(
        &self,
        kind: &str,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let outputs = self
            .converge(kind, &prior.cloud_id, config, ctx, false)
            .await?;
        Ok(crate::applied(prior, config, outputs, Lifecycle::Ready))
    }
}
