//! What an environment is on Azure, decided without a call: the resources and their order.
//!
//! A resource group (the blueprint's `provider.resource_group`, else `{env}-rg`); a virtual
//! network with one subnet for the nodes; the AKS cluster, whose system pool is the
//! blueprint's first plain pool (AKS needs one at creation); an agent pool per other pool;
//! and for MLflow a storage account with a blob container. Pods get addresses from Azure CNI
//! Overlay, outside the network, so the subnet holds nodes only.

mod cluster;
mod pools;
mod regions;
mod stack;

use hoist_provider::{Address, CloudModel, EnvSpec, ResourceConfig, SpecProblem};
use serde_json::{json, Value};

pub(crate) use pools::{aks_name, POOL_LABEL, SPOT_LABEL, SPOT_TAINT};
pub(crate) use stack::CONTAINER;

/// The Azure cloud known without a call: locations, zones, and expansion.
pub struct AzureModel;

/// The smallest network: a /24 leaves a /25 of node addresses (about 120 nodes).
const SMALLEST_PREFIX: u8 = 24;

impl CloudModel for AzureModel {
    fn creation_order(&self) -> &'static [&'static str] {
        &[
            "resource_group",
            "virtual_network",
            "subnet",
            "storage_account",
            "aks_cluster",
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
        Some("Standard_D4ds_v5")
    }
    fn cluster(&self, env: &str) -> Option<Address> {
        Some(cluster_address(env))
    }
    fn stack_target(&self, spec: &EnvSpec) -> Option<hoist_provider::StackTarget> {
        Some(stack::target(spec))
    }
    fn expand(&self, spec: &EnvSpec) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>> {
        let mut problems = check(spec);
        problems.extend(cluster::check(spec));
        let names = pools::names(spec);
        let system = pools::system_pool(spec);
        match (&names, &system) {
            (Ok(_), Ok(_)) => {}
            (n, s) => {
                problems.extend(n.clone().err().unwrap_or_default());
                problems.extend(s.clone().err());
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let (names, system) = (names.unwrap_or_default(), system.ok());
        Ok(expand(spec, &names, system))
    }
}

pub(crate) fn cluster_address(env: &str) -> Address {
    Address::new("aks_cluster", env)
}

pub(crate) fn resource_group() -> Address {
    Address::new("resource_group", "main")
}

/// Problems only Azure has with a spec.
fn check(spec: &EnvSpec) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    if spec.network.cidr.prefix > SMALLEST_PREFIX {
        problems.push(SpecProblem::new(
            "network.cidr",
            format!("{} is too small for an AKS network", spec.network.cidr),
            Some(format!(
                "use a /{SMALLEST_PREFIX} or larger, e.g. 10.0.0.0/16"
            )),
        ));
    }
    if spec.name.len() > 40 {
        problems.push(SpecProblem::new(
            "name",
            format!("{:?} is too long for AKS: the cluster's DNS prefix and node resource group are built from it", spec.name),
            Some("use a name of at most 40 characters".into()),
        ));
    }
    if spec.network.nat == hoist_provider::NatMode::None {
        problems.push(SpecProblem::new(
            "network.nat",
            "AKS nodes need outbound access (images, the control plane); `nat: none` would need a firewall and user-defined routes, which hoist does not make",
            Some("use `nat: single`: egress through the cluster's standard load balancer, which spans every zone".into()),
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

fn expand(
    spec: &EnvSpec,
    names: &pools::PoolNames,
    system: Option<&hoist_provider::PoolSpec>,
) -> Vec<ResourceConfig> {
    let env = &spec.name;
    let mut g = Graph(Vec::new());
    let group = resource_group();
    let named = spec.provider_options.get("resource_group");
    g.add(
        &group,
        json!({
            "name": named.cloned().unwrap_or_else(|| format!("{env}-rg")),
            "location": spec.region,
            // A group the blueprint names may exist already: hoist then uses it and leaves it.
            "use_existing": named.is_some(),
        }),
        vec![],
    );
    let vnet = Address::new("virtual_network", "main");
    g.add(
        &vnet,
        json!({"name": format!("{env}-vnet"), "resource_group": group.to_string(), "location": spec.region, "cidr": spec.network.cidr.to_string()}),
        vec![group.clone()],
    );
    let subnet = Address::new("subnet", "nodes");
    g.add(
        &subnet,
        json!({"name": "nodes", "virtual_network": vnet.to_string(), "cidr": spec.network.cidr.subnet(1, 0).to_string()}),
        vec![vnet.clone()],
    );
    let cluster = cluster_address(env);
    if let Some(system) = system {
        cluster::add(&mut g, spec, &cluster, [&group, &subnet], system, names);
    }
    stack::add(&mut g, spec, &group);
    pools::add(&mut g, spec, &cluster, &subnet, names, system);
    g.0
}

#[cfg(test)]
mod tests;
