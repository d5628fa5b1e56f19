//! The AWS provider: what a blueprint's `cloud: aws` becomes, through the official SDKs.
//!
//! Credentials, region and endpoint come from the standard chain (`AWS_PROFILE`, SSO, instance
//! roles, `AWS_ENDPOINT_URL`), so the same code talks to AWS and to a local emulator. Reads are
//! batched per kind (EC2 describes take many ids); EKS has no batch reads and is read one
//! object per call, concurrently. Every list call follows its pages.
//!
//! Ownership: a resource found by a deterministic name (the cluster, its add-ons and access
//! entries, IAM roles, the log group) is adopted only when its tags name this environment and
//! its lineage; anything else is refused at plan time and never touched.

/// One call, its error classified as `service`'s.
macro_rules! send {
    ($service:expr, $what:expr, $req:expr) => {
        $req.send()
            .await
            .map_err(|e| crate::errors::classify($service, $what, e))
    };
}

/// Every item of a paginated call, all pages followed, its error classified as `service`'s.
macro_rules! every {
    ($service:expr, $what:expr, $req:expr) => {
        $req.into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| crate::errors::classify($service, $what, e))
    };
}
pub(crate) use {every, send};

mod asg;
mod backend;
mod ec2;
mod eks;
mod errors;
mod expand;
mod families;
mod iam;
mod irsa;
mod leftovers;
mod logs;
mod owner;
mod retag;
mod rules;
mod s3;

use std::collections::BTreeMap;

use async_trait::async_trait;
use hoist_provider::{
    Address, Attrs, KindRules, Lifecycle, Listing, Observed, Ownership, Provider, ProviderError,
    ResourceConfig, ResourceState, StepContext,
};
use serde_json::Value;

pub use expand::AwsModel;

/// Tag holding the idempotency token of the create that made a resource, to adopt it after a crash.
pub const TOKEN_TAG: &str = "hoist-token";

pub struct AwsProvider {
    ec2: aws_sdk_ec2::Client,
    eks: aws_sdk_eks::Client,
    iam: aws_sdk_iam::Client,
    quotas: aws_sdk_servicequotas::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    elb: aws_sdk_elasticloadbalancing::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    s3: aws_sdk_s3::Client,
    /// The chain's credentials, for signing EKS tokens in-process (never stored).
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    region: String,
}

impl AwsProvider {
    /// Clients for `region` from the standard configuration chain. Credentials are resolved
    /// once here, so that a missing login is one clear error instead of a retry per call.
    pub async fn connect(region: &str, profile: Option<&str>) -> Result<Self, ProviderError> {
        use aws_sdk_ec2::config::ProvideCredentials;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        let config = loader.load().await;
        if let Some(credentials) = config.credentials_provider() {
            credentials.provide_credentials().await.map_err(|e| {
                ProviderError::Fatal(format!(
                    "no AWS credentials{}: {}\n  = hint: set AWS_PROFILE (and run `aws sso login` for SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance or pod role is available",
                    profile.map(|p| format!(" for profile {p}")).unwrap_or_default(),
                    errors::root_cause(&e)
                ))
            })?;
        }
        Ok(Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            eks: aws_sdk_eks::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            quotas: aws_sdk_servicequotas::Client::new(&config),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            elb: aws_sdk_elasticloadbalancing::Client::new(&config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            s3: aws_sdk_s3::Client::new(&config),
            credentials: config.credentials_provider(),
            region: region.into(),
        })
    }
}

/// The text attribute `key` of `attrs`.
pub(crate) fn text<'a>(attrs: &'a Attrs, key: &str) -> &'a str {
    attrs.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The state of the dependency at `address`.
pub(crate) fn dep_named<'a>(
    ctx: &'a StepContext,
    address: &str,
) -> Result<&'a ResourceState, ProviderError> {
    let parsed: Address = address
        .parse()
        .map_err(|_| ProviderError::Invalid(format!("`{address}` names no resource")))?;
    ctx.deps
        .get(&parsed)
        .ok_or_else(|| ProviderError::Invalid(format!("{parsed} must exist first")))
}

/// The state of the dependency named by the address in `attrs[key]`.
pub(crate) fn dep<'a>(
    ctx: &'a StepContext,
    attrs: &Attrs,
    key: &str,
) -> Result<&'a ResourceState, ProviderError> {
    dep_named(ctx, text(attrs, key))
}

/// The cloud id of the dependency named by the address in `attrs[key]`.
pub(crate) fn dep_id(ctx: &StepContext, attrs: &Attrs, key: &str) -> Result<String, ProviderError> {
    dep(ctx, attrs, key).map(|d| d.cloud_id.clone())
}

/// The text output `key` of the dependency named by `attrs[dep_key]`, e.g. a role's `arn`.
pub(crate) fn dep_output(
    ctx: &StepContext,
    attrs: &Attrs,
    dep_key: &str,
    key: &str,
) -> Result<String, ProviderError> {
    let d = dep(ctx, attrs, dep_key)?;
    d.outputs
        .get(key)
        .and_then(Value::as_str)
        .map(String::from)
        .ok_or_else(|| ProviderError::Invalid(format!("{} has no `{key}` yet", d.address)))
}

/// An observation that keeps what was recorded and overlays what the cloud reports live.
pub(crate) fn observed(
    prior: &ResourceState,
    live: Attrs,
    outputs: Attrs,
    lifecycle: Lifecycle,
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

/// What a describe found, as the refresh of `prior` (which keeps what the cloud does not report).
pub(crate) fn refreshed<T>(
    prior: &ResourceState,
    found: Option<(Observed, T)>,
) -> Option<Observed> {
    found.map(|(o, _)| observed(prior, o.attrs, o.outputs, o.lifecycle))
}

/// The observation after an in-place update of `prior` to `config` succeeded.
pub(crate) fn applied(
    prior: &ResourceState,
    config: &ResourceConfig,
    outputs: Attrs,
    lifecycle: Lifecycle,
) -> Observed {
    let mut o = observed(prior, Attrs::new(), outputs, lifecycle);
    o.attrs = config.attrs.clone();
    o
}

/// The observation of a create or an update that just succeeded.
pub(crate) fn made(
    id: &str,
    config: &ResourceConfig,
    outputs: Attrs,
    lifecycle: Lifecycle,
) -> Observed {
    Observed {
        cloud_id: id.into(),
        attrs: config.attrs.clone(),
        outputs,
        lifecycle,
    }
}

/// Refuse a resource found by name unless `owner` made it.
pub(crate) fn claim(
    owner: &Ownership,
    what: impl Into<String>,
    tags: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    owner.claims(tags).map_err(|why| ProviderError::NotOwned {
        resource: what.into(),
        why,
    })
}

/// Tags for a new resource: ownership tags, the token, and a Name.
pub(crate) fn tag_map(ctx: &StepContext, name: &str) -> BTreeMap<String, String> {
    let mut t = ctx.tags.clone();
    t.insert(TOKEN_TAG.into(), ctx.token.clone());
    t.insert("Name".into(), name.into());
    t
}

/// A generated cloud name: `prefix-` and the first 8 characters of the token, so a
/// replacement can exist beside the resource it replaces.
pub(crate) fn token_name(prefix: &str, token: &str) -> String {
    format!("{prefix}-{}", &token[..8.min(token.len())])
}

#[async_trait]
impl Provider for AwsProvider {
    /// Each service throttles per account on its own.
    fn api(&self, kind: &str) -> &'static str {
        match kind {
            "eks_cluster" | "eks_addon" | "eks_access_entry" | "node_pool" => "eks",
            "iam_role" | "iam_oidc_provider" => "iam",
            "s3_bucket" => "s3",
            "log_group" => "logs",
            "controller_leftovers" => "elb",
            _ => "ec2",
        }
    }

    /// EC2 takes tens of mutating calls a second per account, EKS and CloudWatch Logs about
    /// ten, IAM a few: start below, and let the limiter find the rest.
    fn concurrency(&self, api: &str) -> hoist_provider::Concurrency {
        let (initial, max) = match api {
            "ec2" => (8, 32),
            "iam" => (2, 8),
            _ => (4, 16),
        };
        hoist_provider::Concurrency { initial, max }
    }

    fn name(&self) -> &str {
        "aws"
    }

    fn rules(&self, kind: &str) -> KindRules {
        rules::of(kind)
    }

    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>> {
        let Some(kind) = hoist_provider::batch_kind(resources) else {
            let mut out = Vec::with_capacity(resources.len());
            for r in resources {
                out.extend(self.read_many(std::slice::from_ref(r)).await);
            }
            return out;
        };
        // Kinds without a batch read: one call per resource, all at once.
        macro_rules! each {
            ($read:ident) => {
                futures::future::join_all(resources.iter().map(|r| self.$read(r))).await
            };
        }
        match kind {
            "iam_role" => {
                hoist_provider::per_resource(self.read_roles(resources).await, resources.len())
            }
            "eks_cluster" => each!(read_cluster),
            "iam_oidc_provider" => each!(read_oidc_provider),
            "s3_bucket" => each!(read_bucket),
            "eks_addon" => each!(read_addon),
            "eks_access_entry" => each!(read_access_entry),
            "node_pool" => each!(read_node_group),
            "log_group" => each!(read_log_group),
            "controller_leftovers" => each!(read_leftovers),
            _ => {
                hoist_provider::per_resource(self.read_ec2(kind, resources).await, resources.len())
            }
        }
    }

    async fn place(
        &self,
        config: &mut ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        match config.address.kind() {
            "node_pool" => self.place_node_group(config).await,
            "eks_cluster" => self.check_cluster_name(config, owner).await,
            "iam_role" => self.check_role_name(config, owner).await,
            "log_group" => self.check_log_group_name(config, owner).await,
            _ => Ok(Vec::new()),
        }
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        match config.address.kind() {
            "iam_role" => self.create_role(config, ctx).await,
            "iam_oidc_provider" => self.create_oidc_provider(config, ctx).await,
            "s3_bucket" => self.create_bucket(config, ctx).await,
            "eks_cluster" => self.create_cluster(config, ctx).await,
            "eks_addon" => self.create_addon(config, ctx).await,
            "eks_access_entry" => self.create_access_entry(config, ctx).await,
            "node_pool" => self.create_node_group(config, ctx).await,
            "log_group" => self.create_log_group(config, ctx).await,
            "controller_leftovers" => self.record_leftovers(config, ctx),
            kind => self.create_ec2(kind, config, ctx).await,
        }
    }

    async fn update(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        match prior.address.kind() {
            "node_pool" => self.update_node_group(prior, config).await,
            "eks_cluster" => self.update_cluster(prior, config).await,
            "eks_addon" => self.update_addon(prior, config).await,
            "eks_access_entry" => self.update_access_entry(prior, config).await,
            "iam_role" => self.update_role(prior, config, ctx).await,
            // The provider's URL and audience never change; an update finishes nothing.
            "iam_oidc_provider" => Ok(observed(
                prior,
                config.attrs.clone(),
                Attrs::new(),
                Lifecycle::Ready,
            )),
            "s3_bucket" => self.update_bucket(prior, config, ctx).await,
            "log_group" => self.update_log_group(prior, config).await,
            "controller_leftovers" => Ok(observed(
                prior,
                config.attrs.clone(),
                Attrs::new(),
                Lifecycle::Ready,
            )),
            kind => self.update_ec2(kind, prior, config, ctx).await,
        }
    }

    async fn delete(&self, prior: &ResourceState) -> Result<Vec<String>, ProviderError> {
        match prior.address.kind() {
            "iam_role" => self.delete_role(prior).await.map(|_| vec![]),
            "iam_oidc_provider" => self.delete_oidc_provider(prior).await.map(|_| vec![]),
            "s3_bucket" => self.delete_bucket(prior).await,
            "eks_cluster" => self.delete_cluster(prior).await.map(|_| vec![]),
            "eks_addon" => self.delete_addon(prior).await.map(|_| vec![]),
            "eks_access_entry" => self.delete_access_entry(prior).await.map(|_| vec![]),
            "node_pool" => self.delete_node_group(prior).await.map(|_| vec![]),
            "log_group" => self.delete_log_group(prior).await.map(|_| vec![]),
            "controller_leftovers" => self.sweep_leftovers(prior).await,
            kind => self.delete_ec2(kind, prior).await.map(|_| vec![]),
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
            "iam_oidc_provider" => self.find_oidc_provider_by_token(address, token).await,
            "s3_bucket" => self.find_bucket(address, token, owner).await,
            "eks_cluster" | "eks_addon" | "node_pool" => self.find_eks(address, token, owner).await,
            // Found by principal at the next create; a record of nothing to adopt.
            "eks_access_entry" | "controller_leftovers" => Ok(None),
            "log_group" => self.find_log_group(address, owner).await,
            kind => self.find_ec2(kind, token).await,
        }
    }

    /// EKS clusters are reached over HTTPS with tokens signed here, per cluster.
    async fn cluster_access(
        &self,
        cluster: &ResourceState,
    ) -> Result<hoist_provider::ClusterAccess, ProviderError> {
        if cluster.address.kind() != "eks_cluster" {
            return Err(ProviderError::Fatal(format!(
                "{} has no Kubernetes API that hoist can reach",
                cluster.address
            )));
        }
        self.eks_cluster_access(cluster).await
    }

    async fn list_owned(&self, env: &str) -> Result<Listing, ProviderError> {
        self.list_by(owner::Owner::Env(env)).await
    }

    async fn retag(
        &self,
        prior: &ResourceState,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<bool, ProviderError> {
        self.retag_resource(prior, tags).await
    }

    /// Every environment's: EC2 by tag key, the rest by their tags (roles named `*-eks-*`,
    /// log groups under `/aws/eks/`, and every bucket asked for its tags).
    async fn list_every_owned(&self) -> Result<Listing, ProviderError> {
        self.list_by(owner::Owner::Any).await
    }
}

impl AwsProvider {
    async fn list_by(&self, owner: owner::Owner<'_>) -> Result<Listing, ProviderError> {
        let (ec2, roles, eks, logs, oidc, buckets) = futures::join!(
            self.list_ec2(owner),
            self.list_roles(owner),
            self.list_eks(owner),
            self.list_log_groups(owner),
            self.list_oidc_providers(owner),
            self.list_buckets(owner)
        );
        let mut out = ec2?;
        out.extend(Listing::part("IAM roles", roles)?);
        out.extend(Listing::part("IAM OIDC providers", oidc)?);
        out.extend(Listing::part("S3 buckets", buckets)?);
        out.extend(Listing::part("EKS clusters, node groups and add-ons", eks)?);
        out.extend(Listing::part("CloudWatch log groups", logs)?);
        Ok(out)
    }
}

#[async_trait]
impl hoist_provider::Cloud for AwsModel {
    fn name(&self) -> &'static str {
        "aws"
    }

    /// AWS in the blueprint's region, with the standard credential chain (or `profile`).
    async fn connect(
        &self,
        settings: &hoist_provider::ProviderSettings,
    ) -> Result<std::sync::Arc<dyn Provider>, ProviderError> {
        let profile = settings.options.get("profile").map(String::as_str);
        Ok(std::sync::Arc::new(
            AwsProvider::connect(&settings.region, profile).await?,
        ))
    }

    fn backend_schemes(&self) -> &'static [&'static str] {
        &["s3"]
    }

    /// State in S3, with the standard credential chain and `AWS_ENDPOINT_URL`.
    fn open_backend(
        &self,
        url: &hoist_provider::BackendUrl,
    ) -> Result<std::sync::Arc<dyn hoist_provider::ObjectStore>, ProviderError> {
        backend::S3Store::open(url)
    }

    /// Tokens from `aws eks get-token`, with the blueprint's profile.
    fn kubeconfig(
        &self,
        env: &str,
        cluster: &ResourceState,
        settings: &hoist_provider::ProviderSettings,
    ) -> Option<String> {
        let out = |k: &str| text(&cluster.outputs, k).to_string();
        let (name, region) = (&cluster.cloud_id, &settings.region);
        let mut exec = vec![format!(
            "args: [eks, get-token, --cluster-name, {name}, --region, {region}, --output, json]"
        )];
        if let Some(p) = settings.options.get("profile") {
            exec.extend([
                "env:".to_string(),
                "  - name: AWS_PROFILE".to_string(),
                format!("    value: {p}"),
            ]);
        }
        Some(hoist_provider::exec_kubeconfig(
            env,
            &out("arn"),
            &out("endpoint"),
            &out("certificate_authority"),
            "aws",
            &exec,
        ))
    }
}
