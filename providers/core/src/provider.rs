use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::{
    Address, CloudResource, KindRules, Observed, Ownership, ProviderError, ResourceConfig,
    ResourceState,
};

/// What a create needs beyond the resource's own configuration.
#[derive(Clone, Debug)]
pub struct CreateContext {
    /// Idempotency token: a retried or recovered create with the same token must not make a second resource.
    pub token: String,
    /// Ownership and user tags to put on the resource.
    pub tags: BTreeMap<String, String>,
    /// The state of each resource this one depends on (their cloud ids and outputs).
    pub deps: BTreeMap<Address, ResourceState>,
}

/// Static facts about a cloud that need no request: used to validate and expand blueprints
/// before any call is made.
pub trait CloudInfo {
    /// The zones of `region`, or `None` when the region does not exist.
    fn zones(&self, region: &str) -> Option<Vec<String>>;
    /// Every region, for hints.
    fn regions(&self) -> Vec<String>;
}

/// A cloud. Methods take one resource (or a batch of the same call) and never a blueprint or plan.
#[async_trait]
pub trait Provider: CloudInfo + Send + Sync {
    /// The provider's name as written in state (`sim`, `aws`, ...).
    fn name(&self) -> &str;

    /// How attributes of `kind` are compared.
    fn rules(&self, kind: &str) -> KindRules;

    /// Read many resources; one answer per input, in order. `Ok(None)` means gone.
    /// Providers batch by kind where the cloud allows.
    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>>;

    /// Narrow a configuration to what can be placed now (e.g. drop zones stocked out of its
    /// accelerator). Returns a note for each decision worth telling the user.
    async fn place(&self, config: &mut ResourceConfig) -> Result<Vec<String>, ProviderError> {
        let _ = config;
        Ok(Vec::new())
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &CreateContext,
    ) -> Result<Observed, ProviderError>;

    async fn update(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError>;

    /// Start deleting; deleting something already gone succeeds.
    async fn delete(&self, prior: &ResourceState) -> Result<(), ProviderError>;

    /// Find what an interrupted create with `token` made, if anything.
    async fn find_by_token(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError>;

    /// Everything in the cloud tagged with `hoist-env = env`.
    async fn list_owned(&self, env: &str) -> Result<Vec<CloudResource>, ProviderError>;
}
