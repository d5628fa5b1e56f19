//! The contract between hoist's engine and its cloud providers.
//!
//! Everything here is pure data and logic: no IO, no cloud SDKs. A provider sees one
//! resource at a time (a [`ResourceConfig`] it should make real, or a [`ResourceState`]
//! it made before) and never a blueprint, plan or state file. That keeps providers small
//! and lets the engine be tested against the simulated cloud alone.

mod address;
mod backend;
mod change;
mod cidr;
mod cluster_api;
mod diff;
mod error;
mod provider;
mod reference;
mod resource;
mod spec;
mod step;

pub use address::{Address, AddressError};
pub use backend::{BackendUrl, ObjectStore, Precondition, StoreError, StoredObject};
pub use change::{Action, Change, FieldDiff, ReplaceOrder};
pub use cidr::{bits_for, Ipv4Cidr};
pub use cluster_api::exec_kubeconfig;
pub use cluster_api::{ClusterAccess, KubeService, Token, TokenSource};
pub use diff::{diff_attrs, is_detail, AttrDiff, KindRules};
pub use error::ProviderError;
pub use provider::{
    batch_kind, per_resource, Cloud, Concurrency, Provider, ProviderFactory, ProviderSettings,
    StepContext,
};
pub use reference::{display_unknown, output_ref, references, resolve_refs, UNKNOWN};
pub use resource::{
    Attrs, CloudResource, Lifecycle, Listing, Observed, Ownership, PoolNodes, ResourceConfig,
    ResourceState,
};
pub use spec::{
    gpu_operator_node_labels, AcceleratorInfo, AccessGrant, AccessRole, Addons, ArtifactStore,
    AutoscalerStack, AutoscalerTarget, Capacity, CloudModel, ClusterSpec, EndpointAccess, EnvSpec,
    GpuStack, GpuVariant, MlflowStack, MonitoringStack, NatMode, NetworkSpec, PoolSpec,
    ServingStack, ServingVariant, SpecProblem, StackSpec, StackTarget, TpuShape,
};
pub use step::{claim, dep, dep_id, made, refreshed, text};

/// Tag keys every provider puts on what it creates. `sweep` and the destroy check rely on them.
pub mod tags {
    pub const ENV: &str = "hoist-env";
    pub const LINEAGE: &str = "hoist-lineage";
    pub const ADDRESS: &str = "hoist-address";
    pub const EXPIRES_AT: &str = "hoist-expires-at";
}
