//! The AWS provider: what a blueprint's `cloud: aws` becomes, through the official SDKs.
//!
//! Credentials, region and endpoint come from the standard chain (`AWS_PROFILE`, SSO, instance
//! roles, `AWS_ENDPOINT_URL`), so the same code talks to AWS and to a local emulator. Reads are
//! batched per kind (EC2 describes take many ids); EKS and IAM have no batch reads and are
//! read one object per call, concurrently.

mod ec2;
mod eks;
mod errors;
mod iam;
mod regions;

use std::collections::BTreeMap;

use async_trait::async_trait;
use hoist_provider::{
    Address, Attrs, CloudInfo, CloudResource, CreateContext, KindRules, Observed, Ownership,
    Provider, ProviderError, ResourceConfig, ResourceState,
};
use serde_json::Value;

pub use regions::AwsRegions;

/// Tag holding the idempotency token of the create that made a resource, to adopt it after a crash.
pub const TOKEN_TAG: &str = "hoist-token";

pub struct AwsProvider {
    ec2: aws_sdk_ec2::Client,
    eks: aws_sdk_eks::Client,
    iam: aws_sdk_iam::Client,
    quotas: aws_sdk_servicequotas::Client,
    region: String,
}

impl AwsProvider {
    /// Clients for `region` from the standard configuration chain.
    pub async fn connect(region: &str, profile: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        let config = loader.load().await;
        Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            eks: aws_sdk_eks::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            quotas: aws_sdk_servicequotas::Client::new(&config),
            region: region.into(),
        }
    }
}

/// The text attribute `key` of `attrs`.
pub(crate) fn text<'a>(attrs: &'a Attrs, key: &str) -> &'a str {
    attrs.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The cloud id of the dependency named by the address in `attrs[key]`.
pub(crate) fn dep_id(
    ctx: &CreateContext,
    attrs: &Attrs,
    key: &str,
) -> Result<String, ProviderError> {
    let address: Address = text(attrs, key)
        .parse()
        .map_err(|_| ProviderError::Invalid(format!("attribute `{key}` names no resource")))?;
    ctx.deps
        .get(&address)
        .map(|d| d.cloud_id.clone())
        .ok_or_else(|| ProviderError::Invalid(format!("{address} must exist first")))
}

/// An observation that keeps what was recorded and overlays what the cloud reports live.
pub(crate) fn observed(
    prior: &ResourceState,
    live: Attrs,
    outputs: Attrs,
    lifecycle: hoist_provider::Lifecycle,
) -> Observed {
    let mut attrs = prior.attrs.clone();
    attrs.extend(live);
    let mut out = prior.outputs.clone();
    out.extend(outputs);
    Observed {
        cloud_id: prior.cloud_id.clone(),
        attrs,
        outputs: out,
        lifecycle,
    }
}

/// A batch read's answer per resource: a failed call fails every resource in it.
fn per_resource(
    batch: Result<Vec<Option<Observed>>, ProviderError>,
    n: usize,
) -> Vec<Result<Option<Observed>, ProviderError>> {
    match batch {
        Ok(found) => found.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e); n],
    }
}

fn rules(kind: &str) -> KindRules {
    match kind {
        "vpc" => KindRules {
            force_new: &["cidr", "region"],
            ..Default::default()
        },
        "subnet" => KindRules {
            force_new: &["cidr", "zone", "vpc"],
            ..Default::default()
        },
        "nat_gateway" | "elastic_ip" | "internet_gateway" => KindRules {
            force_new: &["subnet", "zone", "vpc"],
            ..Default::default()
        },
        "route_table" => KindRules {
            force_new: &["vpc", "default_route", "subnets"],
            ..Default::default()
        },
        "security_group" => KindRules {
            force_new: &["name", "vpc"],
            ..Default::default()
        },
        "iam_role" => KindRules {
            force_new: &["name", "service"],
            ..Default::default()
        },
        "eks_cluster" => KindRules {
            force_new: &["name", "role", "security_group"],
            ..Default::default()
        },
        "eks_addon" => KindRules {
            force_new: &["name", "cluster"],
            ..Default::default()
        },
        "node_pool" => KindRules {
            force_new: &[
                "name",
                "instance_type",
                "accelerator",
                "ami_type",
                "capacity",
                "zones",
                "cluster",
                "role",
            ],
            create_before_destroy: true,
            autoscaled: Some(("desired", "min", "max")),
        },
        _ => KindRules::default(),
    }
}

#[async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &str {
        "aws"
    }

    fn rules(&self, kind: &str) -> KindRules {
        rules(kind)
    }

    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>> {
        let kind = resources
            .first()
            .map(|r| r.address.kind())
            .unwrap_or_default();
        if resources.iter().any(|r| r.address.kind() != kind) {
            // The engine batches per kind; mixed batches are read kind by kind.
            let mut out = Vec::with_capacity(resources.len());
            for r in resources {
                out.extend(self.read_many(std::slice::from_ref(r)).await);
            }
            return out;
        }
        match kind {
            "iam_role" => per_resource(self.read_roles(resources).await, resources.len()),
            "eks_cluster" => {
                futures::future::join_all(resources.iter().map(|r| self.read_cluster(r))).await
            }
            "eks_addon" => {
                futures::future::join_all(resources.iter().map(|r| self.read_addon(r))).await
            }
            "node_pool" => {
                futures::future::join_all(resources.iter().map(|r| self.read_node_group(r))).await
            }
            _ => per_resource(self.read_ec2(kind, resources).await, resources.len()),
        }
    }

    async fn place(&self, config: &mut ResourceConfig) -> Result<Vec<String>, ProviderError> {
        if config.address.kind() == "node_pool" {
            return self.place_node_group(config).await;
        }
        Ok(Vec::new())
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &CreateContext,
    ) -> Result<Observed, ProviderError> {
        match config.address.kind() {
            "iam_role" => self.create_role(config, ctx).await,
            "eks_cluster" => self.create_cluster(config, ctx).await,
            "eks_addon" => self.create_addon(config, ctx).await,
            "node_pool" => self.create_node_group(config, ctx).await,
            kind => self.create_ec2(kind, config, ctx).await,
        }
    }

    async fn update(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        match prior.address.kind() {
            "node_pool" => self.update_node_group(prior, config).await,
            "eks_cluster" => self.update_cluster(prior, config).await,
            "iam_role" => self.update_role(prior, config).await,
            _ => {
                // Tags and names are all these kinds have besides force-new fields.
                let mut o = observed(
                    prior,
                    config.attrs.clone(),
                    Attrs::new(),
                    hoist_provider::Lifecycle::Ready,
                );
                o.attrs = config.attrs.clone();
                Ok(o)
            }
        }
    }

    async fn delete(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        match prior.address.kind() {
            "iam_role" => self.delete_role(prior).await,
            "eks_cluster" => self.delete_cluster(prior).await,
            "eks_addon" => self.delete_addon(prior).await,
            "node_pool" => self.delete_node_group(prior).await,
            kind => self.delete_ec2(kind, prior).await,
        }
    }

    async fn find_by_token(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        match address.kind() {
            "iam_role" => self.find_role(address, token, owner).await,
            "eks_cluster" | "eks_addon" | "node_pool" => self.find_eks(address, token, owner).await,
            kind => self.find_ec2(kind, token).await,
        }
    }

    async fn list_owned(&self, env: &str) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = self.list_ec2(env).await?;
        out.extend(self.list_roles(env).await?);
        out.extend(self.list_eks(env).await?);
        Ok(out)
    }
}

impl CloudInfo for AwsProvider {
    fn zones(&self, region: &str) -> Option<Vec<String>> {
        AwsRegions.zones(region)
    }
    fn regions(&self) -> Vec<String> {
        AwsRegions.regions()
    }
}

/// EC2-style tag list for a new resource: ownership tags, the token, and a Name.
pub(crate) fn tag_map(ctx: &CreateContext, name: &str) -> BTreeMap<String, String> {
    let mut t = ctx.tags.clone();
    t.insert(TOKEN_TAG.into(), ctx.token.clone());
    t.insert("Name".into(), name.into());
    t
}
