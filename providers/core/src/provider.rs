use std::collections::BTreeMap;

use async_trait::async_trait;

use std::sync::Arc;

use crate::{
    Address, CloudModel, ClusterAccess, KindRules, Listing, Observed, Ownership, ProviderError,
    ResourceConfig, ResourceState,
};

/// What a create or update needs beyond the resource's own configuration.
#[derive(Clone, Debug)]
pub struct StepContext {
    /// Idempotency token: a retried or recovered create with the same token must not make a
    /// second resource (updates get a fresh one per step, for APIs that take request tokens).
    pub token: String,
    /// Ownership and user tags to put on the resource.
    pub tags: BTreeMap<String, String>,
    /// The state of each resource this one depends on (their cloud ids and outputs).
    pub deps: BTreeMap<Address, ResourceState>,
}

/// A cloud. Methods take one resource (or a batch of the same call) and never a blueprint or plan.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name as written in state (`sim`, `aws`, ...).
    fn name(&self) -> &str;

    /// How attributes of `kind` are compared.
    fn rules(&self, kind: &str) -> KindRules;

    /// Which of the cloud's APIs (each throttled on its own) the calls on `kind` go to; the
    /// engine keeps one adaptive limiter per provider and API.
    fn api(&self, kind: &str) -> &'static str {
        let _ = kind;
        ""
    }

    /// How many calls `api` takes at once before it throttles: the engine starts at
    /// `initial`, widens while calls succeed and halves on throttling, never past `max`.
    fn concurrency(&self, api: &str) -> Concurrency {
        let _ = api;
        Concurrency::default()
    }

    /// Read many resources; one answer per input, in order. `Ok(None)` means gone.
    /// Providers batch by kind where the cloud allows.
    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>>;

    /// Narrow a configuration to what can be placed now (e.g. drop zones stocked out of its
    /// accelerator), and refuse what cannot be made (a name taken by a resource that `owner`
    /// did not create). Returns a note for each decision worth telling the user.
    async fn place(
        &self,
        config: &mut ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let _ = (config, owner);
        Ok(Vec::new())
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError>;

    /// Bring `prior` to `config` in place. Must be idempotent: it also finishes the setup of a
    /// resource that an interrupted create left half-done.
    async fn update(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError>;

    /// Start deleting; deleting something already gone succeeds. Returns a note for each
    /// thing worth telling the user (e.g. a load balancer a controller left, deleted first).
    async fn delete(&self, prior: &ResourceState) -> Result<Vec<String>, ProviderError>;

    /// Find what an interrupted create with `token` made, if anything.
    async fn find_by_token(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError>;

    /// How to reach the Kubernetes API of `cluster`, a cluster this provider made, for the
    /// stack's provider. Clouds without clusters keep the default.
    async fn cluster_access(
        &self,
        cluster: &ResourceState,
    ) -> Result<ClusterAccess, ProviderError> {
        Err(ProviderError::Fatal(format!(
            "{} has no Kubernetes API that hoist can reach",
            cluster.address
        )))
    }

    /// Rewrite the tags of `prior`, a resource this provider made, in place (a new expiry or
    /// new user tags): `Ok(false)` when its kind takes no tag change in place yet.
    async fn retag(
        &self,
        prior: &ResourceState,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<bool, ProviderError> {
        let _ = (prior, tags);
        Ok(false)
    }

    /// Everything in the cloud tagged with `hoist-env = env`.
    /// Parts that cannot be listed (no permission, no such API) are `skipped`, not errors.
    async fn list_owned(&self, env: &str) -> Result<Listing, ProviderError>;

    /// Everything in the cloud (in this provider's region) carrying any `hoist-env` tag: what
    /// `hoist sweep --expired` filters by expiry.
    async fn list_every_owned(&self) -> Result<Listing, ProviderError> {
        Err(ProviderError::Invalid(format!(
            "{} cannot list every environment's resources yet\n  = hint: sweep one environment at a time with `--env NAME`",
            self.name()
        )))
    }
}

/// One batch read's answer spread over the `n` resources it asked for: a failed call fails
/// every one of them.
pub fn per_resource(
    batch: Result<Vec<Option<Observed>>, ProviderError>,
    n: usize,
) -> Vec<Result<Option<Observed>, ProviderError>> {
    match batch {
        Ok(found) => found.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e); n],
    }
}

/// The kind every resource of a read batch has, or `None` for a mixed batch (which a
/// provider reads resource by resource: the engine batches per kind).
pub fn batch_kind<'a>(resources: &[&'a ResourceState]) -> Option<&'a str> {
    let kind = resources
        .first()
        .map(|r| r.address.kind())
        .unwrap_or_default();
    resources
        .iter()
        .all(|r| r.address.kind() == kind)
        .then_some(kind)
}

/// A provider's concurrency limits, for the engine's adaptive limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Concurrency {
    pub initial: usize,
    pub max: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Self {
            initial: 16,
            max: 64,
        }
    }
}

/// What a provider is opened with: the region and the blueprint's `provider` options for it
/// (`profile`, `latency`, ...), each cloud reading the ones it knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderSettings {
    pub region: String,
    pub options: BTreeMap<String, String>,
}

/// A cloud as hoist registers it: what it knows offline (its [`CloudModel`]) and how to
/// connect. Adding a cloud is one crate with one of these, and one line in the registry.
#[async_trait]
pub trait Cloud: CloudModel {
    /// The name blueprints use (`cloud: aws`) and state records.
    fn name(&self) -> &'static str;

    /// Open the cloud's API: credentials resolved once, so a missing one is a clear error.
    async fn connect(
        &self,
        settings: &ProviderSettings,
    ) -> Result<Arc<dyn Provider>, ProviderError>;

    /// A kubeconfig for a person to reach `cluster` (as just read, with its endpoint and CA):
    /// its user runs the cloud's own token command, so no credential is written anywhere.
    /// `None` for clouds whose clusters hoist cannot describe that way.
    fn kubeconfig(
        &self,
        env: &str,
        cluster: &ResourceState,
        settings: &ProviderSettings,
    ) -> Option<String> {
        let _ = (env, cluster, settings);
        None
    }

    /// The URL schemes of the state backends this cloud serves (`s3`).
    fn backend_schemes(&self) -> &'static [&'static str] {
        &[]
    }

    /// Open the state backend at `url` (one of [`Cloud::backend_schemes`]) with the cloud's
    /// standard credentials. Blocking, as the state layer is.
    fn open_backend(
        &self,
        url: &crate::BackendUrl,
    ) -> Result<Arc<dyn crate::ObjectStore>, ProviderError> {
        Err(ProviderError::Invalid(format!(
            "{} serves no state backend for {url}",
            self.name()
        )))
    }
}

/// A provider that can only be made once another resource of the same run exists: the
/// Kubernetes layer is configured from its cluster's endpoint and credentials. The engine
/// creates or reads `source` first, then configures this for the rest of the walk; when the
/// source is gone, so is everything this provider made.
#[async_trait]
pub trait ProviderFactory: Send + Sync {
    /// The name the resources of this provider record (`ResourceConfig::provider`).
    fn name(&self) -> &str;

    /// The resource whose outputs configure it.
    fn source(&self) -> &Address;

    /// A provider talking to what `source` (as last recorded, with its outputs) serves.
    async fn configure(&self, source: &ResourceState) -> Result<Arc<dyn Provider>, ProviderError>;
}
