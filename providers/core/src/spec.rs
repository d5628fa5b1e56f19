//! The validated, cloud-neutral description of one environment, as providers expand it.
//!
//! The blueprint crate turns YAML into an [`EnvSpec`] (parsing, interpolation, validation and
//! zone checks stay there); the root crate resolves accelerator requests into offerings; each
//! cloud's [`CloudModel`] then turns the spec into its own resources. A provider that finds a
//! problem only it can see (an option its cloud lacks) returns a [`SpecProblem`] naming the
//! blueprint path at fault, and the blueprint crate locates it in the file.

use std::collections::BTreeMap;

use crate::{Address, Ipv4Cidr, ResourceConfig};

/// One environment, validated, with its zones checked against the region and every node pool
/// resolved to an instance type.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvSpec {
    /// DNS-safe; names cloud resources and tags them as `hoist-env`.
    pub name: String,
    pub cloud: String,
    pub region: String,
    /// The zones the environment uses, in order.
    pub zones: Vec<String>,
    pub network: NetworkSpec,
    pub cluster: ClusterSpec,
    pub node_pools: Vec<PoolSpec>,
    /// The user's own tags (ownership tags are added per resource at create time).
    pub tags: BTreeMap<String, String>,
    pub stack: StackSpec,
    /// The blueprint's cloud-specific `provider` settings that shape resources (Azure's
    /// `resource_group`), by their blueprint key; credentials-only settings are not here.
    pub provider_options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkSpec {
    pub cidr: Ipv4Cidr,
    pub nat: NatMode,
}

/// How private nodes reach the internet (clouds with managed NAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NatMode {
    /// One NAT gateway for the whole network (cheapest).
    #[default]
    Single,
    /// One per zone, so a zone outage does not cut the others off.
    PerZone,
    /// No NAT: nodes reach cloud services through private endpoints only.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    pub kubernetes_version: String,
    pub endpoint_access: EndpointAccess,
    /// Principals given access to the Kubernetes API besides the creator.
    pub access: Vec<AccessGrant>,
    pub addons: Addons,
}

/// Who keeps the cluster's networking, proxy and DNS add-ons up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Addons {
    /// hoist, through the cloud's managed add-ons.
    #[default]
    Managed,
    /// The cluster's own defaults, installed at creation; the user upgrades them.
    SelfManaged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointAccess {
    Public,
    Private,
    PublicAndPrivate,
}

impl EndpointAccess {
    /// `(public, private)` endpoint switches.
    pub fn switches(self) -> (bool, bool) {
        match self {
            EndpointAccess::Public => (true, false),
            EndpointAccess::Private => (false, true),
            EndpointAccess::PublicAndPrivate => (true, true),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EndpointAccess::Public => "public",
            EndpointAccess::Private => "private",
            EndpointAccess::PublicAndPrivate => "public-and-private",
        }
    }
}

/// A principal (an IAM role or user ARN on AWS) and what it may do in the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessGrant {
    pub principal: String,
    pub role: AccessRole,
    /// Empty for the whole cluster.
    pub namespaces: Vec<String>,
    /// Where the grant is written (`cluster.access[0]`), for located errors.
    pub path: String,
}

/// Kubernetes' user-facing roles, which every cloud maps to its own access policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRole {
    ClusterAdmin,
    Admin,
    Edit,
    View,
}

impl AccessRole {
    pub const ALL: [(&'static str, AccessRole); 4] = [
        ("cluster-admin", AccessRole::ClusterAdmin),
        ("admin", AccessRole::Admin),
        ("edit", AccessRole::Edit),
        ("view", AccessRole::View),
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(n, _)| *n)
            .unwrap_or("view")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    OnDemand,
    Spot,
}

impl Capacity {
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::OnDemand => "on-demand",
            Capacity::Spot => "spot",
        }
    }
}

/// What one node of a pool carries, from the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceleratorInfo {
    /// Canonical name, e.g. `A100`, `H100`, `L4`, `tpu-v5e`.
    pub name: String,
    pub count: u32,
    pub memory_gib: Option<f64>,
    /// For a TPU slice, how the cloud makes it; `None` for GPUs.
    pub tpu: Option<TpuShape>,
}

/// How a TPU slice is built from VMs (from the catalog): what a GKE node pool needs to ask
/// for it and to scale it as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpuShape {
    /// The VM type of each host, e.g. `ct5lp-hightpu-4t`.
    pub machine_type: String,
    pub chips: u32,
    pub chips_per_host: u32,
    /// VMs per slice; more than one is a multi-host slice, placed together and scaled as one.
    pub hosts: u32,
    /// `2x4`, `4x4x8`.
    pub topology: String,
    /// The cloud's own name for the TPU type on nodes (GKE's `tpu-v5-lite-podslice`).
    pub node_accelerator: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    pub name: String,
    /// Where the pool is written (`node_pools[1]`), for located errors.
    pub path: String,
    /// The accelerator request that was resolved (`A100:8`), for pools written with one.
    pub request: Option<String>,
    /// The instance type, as written or resolved from the request.
    pub instance_type: String,
    /// More types with the same accelerator, cheapest first, for clouds that can mix them
    /// (spot pools diversify to ride out a stockout of one type).
    pub alternatives: Vec<String>,
    /// The accelerator of `instance_type`, when the catalog knows one.
    pub accelerator: Option<AcceleratorInfo>,
    pub capacity: Capacity,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub labels: BTreeMap<String, String>,
    /// `key=value:Effect` or `key:Effect`.
    pub taints: Vec<String>,
    /// The zones the pool may use (its own list, else the network's).
    pub zones: Vec<String>,
    /// The subset of `zones` that offers `instance_type`, when resolution narrowed it.
    pub placement_zones: Option<Vec<String>>,
    /// Root disk size; `None` lets the provider pick a default for the kind of pool.
    pub disk_size_gib: Option<u32>,
}

impl PoolSpec {
    /// A pool whose nodes carry an accelerator (by request or by instance type).
    pub fn has_accelerator(&self) -> bool {
        self.accelerator.is_some() || self.request.is_some()
    }

    /// `min < max`: the node count belongs to an autoscaler.
    pub fn autoscaled(&self) -> bool {
        self.min < self.max
    }

    /// Taints that keep ordinary pods off the pool's nodes.
    pub fn repels_pods(&self) -> bool {
        self.taints
            .iter()
            .any(|t| t.ends_with(":NoSchedule") || t.ends_with(":NoExecute"))
    }
}

/// A problem a provider found in a spec, at a blueprint path such as `node_pools[1].zones`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecProblem {
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl SpecProblem {
    pub fn new(path: impl Into<String>, message: impl Into<String>, hint: Option<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            hint,
        }
    }
}

/// What hoist knows about a cloud without asking it: its regions and zones, and how an
/// environment becomes its resources. No IO, so blueprints are checked before any call.
pub trait CloudModel: Send + Sync {
    /// The zones of `region`, or `None` when the region does not exist.
    fn zones(&self, region: &str) -> Option<Vec<String>>;
    /// Every region, for hints.
    fn regions(&self) -> Vec<String>;
    /// The environment's resources with their dependencies, or every problem found.
    fn expand(&self, spec: &EnvSpec) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>>;

    /// The cloud's kinds in the order an environment creates them: `hoist sweep`, which has
    /// no state to order by, deletes later kinds first. Kinds not listed go first.
    fn creation_order(&self) -> &'static [&'static str] {
        &[]
    }

    /// A general-purpose instance type for a small system pool (the stack's services run
    /// there, off the tainted GPU nodes), for the wizard to offer.
    fn system_instance_type(&self) -> Option<&'static str> {
        None
    }

    /// The cluster resource of environment `env`: the source the stack's provider is
    /// configured from. `None` for clouds that make no cluster.
    fn cluster(&self, env: &str) -> Option<Address> {
        let _ = env;
        None
    }

    /// What the stack needs from this cloud to run on the environment's cluster; `None` when
    /// the cloud cannot run one (the blueprint's `stack` is then an error).
    fn stack_target(&self, spec: &EnvSpec) -> Option<StackTarget> {
        let _ = spec;
        None
    }
}

/// The MLOps stack the environment runs on its cluster: each component optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StackSpec {
    pub gpu: Option<GpuStack>,
    pub autoscaler: Option<AutoscalerStack>,
    pub monitoring: Option<MonitoringStack>,
    pub mlflow: Option<MlflowStack>,
    pub serving: Option<ServingStack>,
}

impl StackSpec {
    pub fn is_empty(&self) -> bool {
        self == &StackSpec::default()
    }
}

/// How GPU nodes get their device plugin and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpuVariant {
    /// NVIDIA's device plugin and DCGM exporter as DaemonSets; drivers come with the node image.
    DevicePlugin,
    /// NVIDIA's GPU operator, which installs drivers, toolkit, plugin and exporter itself.
    GpuOperator,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GpuStack {
    pub variant: GpuVariant,
    /// Overrides the pinned image tag of the main component.
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AutoscalerStack {
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MonitoringStack {
    pub version: Option<String>,
    /// How long Prometheus keeps samples, in its own syntax (`15d`, `12h`).
    pub retention: String,
    /// Size of Prometheus' volume.
    pub storage_gib: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MlflowStack {
    pub version: Option<String>,
    /// Size of the volume holding the SQLite backend store.
    pub storage_gib: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingVariant {
    /// A Deployment, Service and HorizontalPodAutoscaler for one model image.
    ModelServer,
    /// KServe's controller in raw-deployment mode.
    Kserve,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServingStack {
    pub variant: ServingVariant,
    pub version: Option<String>,
    /// The model server's image.
    pub image: String,
    /// The node pool it runs on (its labels and taints decide selectors and tolerations).
    pub pool: Option<String>,
    /// GPUs per replica.
    pub gpus: u32,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// The port the server listens on.
    pub port: u16,
}

/// What the stack needs from the cloud it runs on; each cloud's model says it, so the
/// Kubernetes layer stays free of cloud knowledge.
#[derive(Debug, Clone, PartialEq)]
pub struct StackTarget {
    /// The cluster whose outputs configure the Kubernetes provider.
    pub cluster: Address,
    /// The cluster's name in the cloud, for tools that discover by it (the autoscaler).
    pub cluster_name: String,
    /// The node label that names the accelerator type on accelerator nodes.
    pub accelerator_label: String,
    /// The node label that names a node's pool.
    pub pool_label: String,
    /// `None` when node pools autoscale by themselves (GKE, AKS, sim).
    pub autoscaler: Option<AutoscalerTarget>,
    /// Where MLflow keeps artifacts, when the environment runs MLflow.
    pub artifacts: Option<ArtifactStore>,
    /// The storage class for volumes (`None`: the cluster's default).
    pub storage_class: Option<String>,
    /// The GPU node image carries the NVIDIA driver and container toolkit (EKS's accelerated
    /// AMIs do), so the GPU operator must not install its own.
    pub gpu_driver_preinstalled: bool,
    /// The cloud runs NVIDIA's device plugin on GPU nodes itself (GKE does, from its node
    /// image), so hoist's device-plugin DaemonSet and RuntimeClass would compete with it.
    pub gpu_plugin_managed: bool,
    /// Where the node image keeps the NVIDIA driver's libraries and tools when no NVIDIA
    /// container runtime injects them (GKE: `/home/kubernetes/bin/nvidia`); GPU tools such
    /// as the DCGM exporter mount it themselves.
    pub gpu_driver_host_dir: Option<String>,
}

/// The node labels Node Feature Discovery would set that NVIDIA's GPU operator needs to
/// find GPU nodes: an NVIDIA PCI device present, and the node's OS. hoist runs no NFD; each
/// cloud puts these on its NVIDIA pools when the stack uses the operator, since it knows both
/// which pools have NVIDIA GPUs and what OS their image runs.
pub fn gpu_operator_node_labels(
    spec: &EnvSpec,
    os_id: &str,
    os_version: &str,
) -> BTreeMap<String, String> {
    let uses_operator = spec
        .stack
        .gpu
        .as_ref()
        .is_some_and(|g| g.variant == GpuVariant::GpuOperator);
    if !uses_operator {
        return BTreeMap::new();
    }
    [
        ("feature.node.kubernetes.io/pci-10de.present", "true"),
        ("feature.node.kubernetes.io/system-os_release.ID", os_id),
        (
            "feature.node.kubernetes.io/system-os_release.VERSION_ID",
            os_version,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// How the self-hosted cluster-autoscaler is told about this cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscalerTarget {
    /// `--cloud-provider`.
    pub cloud_provider: String,
    /// Further flags (auto-discovery of this cluster's node groups).
    pub args: Vec<String>,
    /// Annotations on its service account (cloud identity). Values are JSON so that one can
    /// be an [`output_ref`](crate::output_ref) to a role the same run makes.
    pub service_account_annotations: BTreeMap<String, serde_json::Value>,
    /// Environment of its container (the region, which a pod cut off from the instance
    /// metadata service cannot learn by itself).
    pub env: BTreeMap<String, String>,
}

/// A bucket the same run makes, and how MLflow reaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactStore {
    /// The bucket resource, and the output holding the URI MLflow is given (`s3://…`).
    pub bucket: Address,
    pub uri_output: String,
    /// Annotations on MLflow's service account (the identity that may use the bucket);
    /// values as in [`AutoscalerTarget::service_account_annotations`].
    pub service_account_annotations: BTreeMap<String, serde_json::Value>,
    /// Environment variables the server needs for the store (region, endpoint).
    pub env: BTreeMap<String, String>,
}
