//! What an environment is on GCP, decided without a call: the resources and their order.
//!
//! A custom-mode VPC network; one subnetwork in the region whose primary range holds the
//! nodes and whose secondary ranges hold pods and services (VPC-native, as GKE recommends);
//! a Cloud Router with Cloud NAT so private nodes reach the internet; the GKE cluster
//! (regional, or zonal when the network names one zone; private nodes, Workload Identity,
//! a release channel); a node pool per pool; and for MLflow a Cloud Storage bucket.
//! Destroy walks the order backwards: pools, then the cluster, then router, subnet, network.

mod pools;
mod regions;
mod stack;

use hoist_provider::{Address, CloudModel, EnvSpec, NatMode, ResourceConfig, SpecProblem};
use serde_json::{json, Value};

/// The GCP cloud known without a call: regions, zones, and expansion.
pub struct GcpModel;

/// The control plane's private range for private clusters (a /28 outside the network).
const MASTER_CIDR: &str = "172.16.0.0/28";
/// GKE's release channel: versions follow it, patches come automatically.
const RELEASE_CHANNEL: &str = "REGULAR";
/// Names of the subnetwork's secondary ranges that GKE takes pod and service IPs from.
pub(crate) const PODS_RANGE: &str = "pods";
pub(crate) const SERVICES_RANGE: &str = "services";
/// GKE's largest network prefix that still leaves room for nodes, pods and services.
const LARGEST_PREFIX: u8 = 20;

impl CloudModel for GcpModel {
    fn creation_order(&self) -> &'static [&'static str] {
        &[
            "gcp_network",
            "gcp_subnetwork",
            "gcp_router",
            "gcs_bucket",
            "gke_cluster",
            "node_pool",
        ]
    }

    fn zones(&self, region: &str) -> Option<Vec<String>> {
        regions::zones(region)
    }
    fn regions(&self) -> Vec<String> {
        regions::regions()
    }
    fn system_instance_type(&self) -> Option<&'static str> {
        Some("e2-standard-4")
    }
    fn cluster(&self, env: &str) -> Option<Address> {
        Some(cluster(env))
    }
    fn stack_target(&self, spec: &EnvSpec) -> Option<hoist_provider::StackTarget> {
        Some(stack::target(spec))
    }
    fn expand(&self, spec: &EnvSpec) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>> {
        let mut problems = check(spec);
        problems.extend(pools::check(spec));
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(expand(spec))
    }
}

pub(crate) fn cluster(env: &str) -> Address {
    Address::new("gke_cluster", env)
}

/// Problems only GCP has with a spec.
fn check(spec: &EnvSpec) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    if spec.network.cidr.prefix > LARGEST_PREFIX {
        problems.push(SpecProblem::new(
            "network.cidr",
            format!("{} is too small for a GKE network: nodes, pods and services each take a part of it", spec.network.cidr),
            Some(format!("use a /{LARGEST_PREFIX} or larger, e.g. 10.0.0.0/16")),
        ));
    }
    if spec.name.len() > 30 {
        problems.push(SpecProblem::new(
            "name",
            format!("{:?} is too long for GKE: cluster names are at most 40 characters and hoist adds suffixes", spec.name),
            Some("use a name of at most 30 characters".into()),
        ));
    }
    if spec
        .stack
        .gpu
        .as_ref()
        .is_some_and(|g| g.variant == hoist_provider::GpuVariant::GpuOperator)
    {
        // GKE's driver installer and device plugin own GPU nodes on COS; NVIDIA's operator
        // needs Ubuntu nodes with GKE's driver installation disabled.
        problems.push(SpecProblem::new(
            "stack.gpu.variant",
            "the GPU operator is not supported on GKE: GKE installs the NVIDIA driver and runs the device plugin on its GPU nodes itself",
            Some("use `variant: device-plugin` (hoist then adds only the DCGM exporter on GKE)".into()),
        ));
    }
    for grant in &spec.cluster.access {
        problems.push(SpecProblem::new(
            format!("{}.principal", grant.path),
            "GKE grants cluster access through IAM on the project, not per cluster".to_string(),
            Some("grant roles/container.developer or roles/container.admin to the principal on the project, and remove `cluster.access`".into()),
        ));
    }
    problems
}

/// Adds resources in order; each gets the attributes and dependencies given.
pub(crate) struct Graph(pub Vec<ResourceConfig>);

impl Graph {
    pub fn add(&mut self, address: &Address, attrs: Value, deps: Vec<Address>) {
        self.0
            .push(ResourceConfig::from_json(address.clone(), attrs, deps));
    }
}

/// The subnetwork's ranges out of the network's block: nodes and services a sixteenth each,
/// pods the upper half (with 110 pods a node, a /16 holds 128 nodes' pods).
fn ranges(spec: &EnvSpec) -> (String, String, String) {
    let cidr = spec.network.cidr;
    (
        cidr.subnet(4, 0).to_string(),
        cidr.subnet(1, 1).to_string(),
        cidr.subnet(4, 1).to_string(),
    )
}

fn expand(spec: &EnvSpec) -> Vec<ResourceConfig> {
    let env = &spec.name;
    let mut g = Graph(Vec::new());
    let network = Address::new("gcp_network", "main");
    g.add(
        &network,
        json!({"name": env, "routing_mode": "REGIONAL", "mtu": 1460}),
        vec![],
    );
    let subnet = Address::new("gcp_subnetwork", "nodes");
    let (nodes, pods, services) = ranges(spec);
    g.add(
        &subnet,
        json!({"name": format!("{env}-nodes"), "region": spec.region, "network": network.to_string(), "cidr": nodes, "pods_cidr": pods, "services_cidr": services, "private_google_access": true}),
        vec![network.clone()],
    );
    let mut cluster_deps = vec![network.clone(), subnet.clone()];
    let private_nodes = spec.network.nat != NatMode::None;
    if private_nodes {
        // One Cloud NAT serves every zone of the region (it is not a per-zone gateway), so
        // `nat: per-zone` needs nothing more here.
        let router = Address::new("gcp_router", "nat");
        g.add(
            &router,
            json!({"name": format!("{env}-router"), "region": spec.region, "network": network.to_string(), "nat": format!("{env}-nat")}),
            vec![network.clone()],
        );
        cluster_deps.push(router);
    }
    let cluster = cluster(env);
    let zonal = spec.zones.len() == 1;
    let (public, _) = spec.cluster.endpoint_access.switches();
    g.add(
        &cluster,
        json!({
            "name": env,
            "location": if zonal { spec.zones[0].clone() } else { spec.region.clone() },
            "node_locations": spec.zones,
            "network": network.to_string(),
            "subnetwork": subnet.to_string(),
            "pods_range": PODS_RANGE,
            "services_range": SERVICES_RANGE,
            "release_channel": RELEASE_CHANNEL,
            "kubernetes_version": spec.cluster.kubernetes_version,
            // Without NAT, nodes keep public IPs to reach the internet.
            "private_nodes": private_nodes,
            "public_endpoint": public,
            "master_cidr": MASTER_CIDR,
            "workload_identity": true,
        }),
        cluster_deps,
    );
    stack::add(&mut g, spec);
    pools::add(&mut g, spec, &cluster);
    g.0
}

#[cfg(test)]
mod tests;
