use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::{
    Address, CloudModel, CloudResource, KindRules, Observed, Ownership, ProviderError,
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
pub trait Provider: CloudModel + Send + Sync {
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

    /// Everything in the cloud tagged with `hoist-env = env`.
    async fn list_owned(&self, env: &str) -> Result<Vec<CloudResource>, ProviderError>;
}
