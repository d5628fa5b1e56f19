//! The blueprint file format as serde types. This is only the shape of the file; what the
//! values mean is checked in `model`, and `hoist schema` prints this as a JSON Schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hoist blueprint",
    description = "What a GPU Kubernetes environment should be: cloud, network, cluster, node pools and MLOps stack."
)]
pub struct BlueprintFile {
    /// Format version; `hoist/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Environment name: DNS-safe, unique per state directory; written on every resource as `hoist-env`.
    pub name: String,
    pub provider: ProviderFile,
    /// Lifetime of an ephemeral environment, e.g. `8h`, `30m`, `2d`; recorded as an expiry time.
    #[serde(default)]
    pub ttl: Option<String>,
    /// Extra tags put on every resource.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub network: Option<NetworkFile>,
    #[serde(default)]
    pub cluster: Option<ClusterFile>,
    #[serde(default)]
    pub node_pools: Vec<NodePoolFile>,
    #[serde(default)]
    pub stack: Option<StackFile>,
    #[serde(default)]
    pub budget: Option<BudgetFile>,
    /// Values for `{{ var.NAME }}` in string values.
    #[serde(default)]
    pub variables: BTreeMap<String, serde_json::Value>,
    /// Where state lives (default: `.hoist/` beside the blueprint); `--backend` overrides it.
    #[serde(default)]
    pub backend: Option<BackendFile>,
}

/// Remote state, shared by every machine that runs this blueprint (CI jobs).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendFile {
    #[serde(default)]
    pub s3: Option<S3BackendFile>,
    /// A folder (for one machine, or a shared file system).
    #[serde(default)]
    pub file: Option<FileBackendFile>,
    /// How long a remote lock lasts when its holder stops renewing it (killed), e.g. `3m`.
    #[serde(default)]
    pub lock_lease: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3BackendFile {
    pub bucket: String,
    /// Key prefix for this blueprint's environments, e.g. `hoist/ml-platform`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// The bucket's region (else the AWS configuration's).
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileBackendFile {
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    Sim,
    Aws,
    Gcp,
    Azure,
}

impl Cloud {
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Sim => "sim",
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
            Cloud::Azure => "azure",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Latency {
    Instant,
    Demo,
    Realistic,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub cloud: Cloud,
    pub region: String,
    /// sim only: how long operations take (`instant`, `demo`, `realistic`).
    #[serde(default)]
    pub latency: Option<Latency>,
    /// aws only: the named profile to use.
    #[serde(default)]
    pub profile: Option<String>,
    /// gcp only: the project id.
    #[serde(default)]
    pub project: Option<String>,
    /// azure only: the subscription id.
    #[serde(default)]
    pub subscription_id: Option<String>,
    /// azure only: the resource group to create.
    #[serde(default)]
    pub resource_group: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ZonesFile {
    /// How many of the region's zones to use.
    Count(u32),
    /// Exactly these zones.
    List(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    /// The network's address range, e.g. `10.0.0.0/16` (a /16 to /24).
    #[serde(default)]
    pub cidr: Option<String>,
    #[serde(default)]
    pub zones: Option<ZonesFile>,
    /// aws only: NAT gateways (`single`, `per-zone`, `none`).
    #[serde(default)]
    pub nat: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointAccess {
    Public,
    Private,
    PublicAndPrivate,
}

/// Who keeps the cluster's networking, proxy and DNS add-ons: hoist, through the cloud's
/// managed add-ons (the default), or the cluster's own defaults, installed at creation and
/// upgraded by you (e.g. from GitOps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Addons {
    #[default]
    Managed,
    SelfManaged,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// Kubernetes minor version, e.g. `"1.32"`.
    #[serde(default)]
    pub kubernetes_version: Option<String>,
    #[serde(default)]
    pub endpoint_access: Option<EndpointAccess>,
    /// Who besides the creator may use the Kubernetes API, and with which role.
    #[serde(default)]
    pub access: Vec<AccessFile>,
    #[serde(default)]
    pub addons: Option<Addons>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    /// The cloud identity, e.g. an IAM role ARN on aws.
    pub principal: String,
    /// The Kubernetes role it gets.
    pub role: AccessRoleFile,
    /// Limit the role to these namespaces (not with `cluster-admin`).
    #[serde(default)]
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AccessRoleFile {
    ClusterAdmin,
    Admin,
    Edit,
    View,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Capacity {
    OnDemand,
    Spot,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AcceleratorFile {
    /// `NAME:COUNT`, e.g. `A100:8`, `L4:1`, `tpu-v5e-8`.
    One(String),
    /// Alternatives in order of preference.
    Alternatives(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TaintFile {
    /// `key=value:Effect` or `key:Effect`.
    Text(String),
    Object(TaintObject),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaintObject {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePoolFile {
    /// DNS-safe pool name, unique in the blueprint.
    pub name: String,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub accelerator: Option<AcceleratorFile>,
    #[serde(default)]
    pub capacity: Option<Capacity>,
    #[serde(default)]
    pub min: Option<u32>,
    #[serde(default)]
    pub max: Option<u32>,
    #[serde(default)]
    pub desired: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<TaintFile>,
    /// Allowed zones; defaults to the network's zones.
    #[serde(default)]
    pub zones: Option<Vec<String>>,
    /// Root disk per node in GiB (default: 200 for accelerator pools, 80 otherwise).
    #[serde(default)]
    pub disk_size_gib: Option<u32>,
}

/// One stack component. Every component takes `enabled`, `variant` and `version`; the other
/// settings belong to one component each (validation says which).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentFile {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Which implementation: `device-plugin` or `gpu-operator` for `gpu`; `model-server` or
    /// `kserve` for `serving`.
    #[serde(default)]
    pub variant: Option<String>,
    /// The image tag of the component's main image, instead of hoist's pin.
    #[serde(default)]
    pub version: Option<String>,
    /// monitoring: how long Prometheus keeps samples (`15d`, `12h`; default 15d).
    #[serde(default)]
    pub retention: Option<String>,
    /// monitoring (Prometheus' volume, default 50) and mlflow (its database volume, default 10).
    #[serde(default)]
    pub storage_gib: Option<u32>,
    /// serving: the model server's image.
    #[serde(default)]
    pub image: Option<String>,
    /// serving: the node pool it runs on (default: the first accelerator pool).
    #[serde(default)]
    pub pool: Option<String>,
    /// serving: GPUs per replica (default 1 on an accelerator pool, else 0).
    #[serde(default)]
    pub gpus: Option<u32>,
    /// serving: replicas the autoscaler keeps at least (default 1).
    #[serde(default)]
    pub min_replicas: Option<u32>,
    /// serving: replicas the autoscaler may go up to (default 3).
    #[serde(default)]
    pub max_replicas: Option<u32>,
    /// serving: the port the server listens on (default 8080).
    #[serde(default)]
    pub port: Option<u16>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    #[serde(default)]
    pub gpu: Option<ComponentFile>,
    #[serde(default)]
    pub autoscaler: Option<ComponentFile>,
    #[serde(default)]
    pub monitoring: Option<ComponentFile>,
    #[serde(default)]
    pub mlflow: Option<ComponentFile>,
    #[serde(default)]
    pub serving: Option<ComponentFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetFile {
    /// Fail the plan when the environment at max size would cost more per hour.
    pub max_hourly_usd: f64,
}

/// The JSON Schema of the blueprint format.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(BlueprintFile)).expect("schema serializes")
}
