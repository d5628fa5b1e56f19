//! Expansion: from intent (a network with N zones, pools of A100:8) to concrete resources
//! with explicit dependencies (network → subnets → cluster → node pools).

use hoist_provider::{Address, Attrs, CloudInfo, ResourceConfig};
use serde_json::{json, Value};

use crate::check::Problem;
use crate::model::{Blueprint, Zones};
use crate::{BlueprintError, Capacity, EndpointAccess};

impl Blueprint {
    /// The zones this environment uses, checked against the cloud's region.
    pub fn zones(&self, info: &dyn CloudInfo) -> Result<Vec<String>, BlueprintError> {
        let Some(region_zones) = info.zones(&self.region) else {
            let regions = info.regions();
            let hint = match crate::did_you_mean(&self.region, regions.iter().map(String::as_str)) {
                Some(r) => format!("did you mean `{r}`? regions: {}", regions.join(", ")),
                None => format!("regions of {}: {}", self.cloud.as_str(), regions.join(", ")),
            };
            return Err(self.error_at(
                "provider.region",
                format!(
                    "unknown region {:?} for cloud {}",
                    self.region,
                    self.cloud.as_str()
                ),
                Some(hint),
            ));
        };
        match &self.network.zones {
            Zones::Count(n) if *n as usize > region_zones.len() => Err(self.error_at(
                "network.zones",
                format!(
                    "network.zones asks for {n} zones but region {} has {}",
                    self.region,
                    region_zones.len()
                ),
                Some(format!(
                    "zones of {}: {}",
                    self.region,
                    region_zones.join(", ")
                )),
            )),
            Zones::Count(n) => Ok(region_zones[..*n as usize].to_vec()),
            Zones::List(list) => {
                let problems: Vec<Problem> = list
                    .iter()
                    .enumerate()
                    .filter(|(_, z)| !region_zones.contains(z))
                    .map(|(i, z)| Problem {
                        pos: self.spans.at(&format!("network.zones[{i}]")),
                        message: format!("zone {z:?} is not in region {}", self.region),
                        hint: Some(format!(
                            "zones of {}: {}",
                            self.region,
                            region_zones.join(", ")
                        )),
                    })
                    .collect();
                if problems.is_empty() {
                    Ok(list.clone())
                } else {
                    Err(self.origin.diagnostics(problems))
                }
            }
        }
    }

    /// Every resource of the environment, in dependency order.
    pub fn expand(&self, info: &dyn CloudInfo) -> Result<Vec<ResourceConfig>, BlueprintError> {
        let zones = self.zones(info)?;
        if self.cloud == crate::Cloud::Aws {
            return self.expand_aws(&zones);
        }
        let network = Address::new("network", &self.name);
        let cluster = Address::new("cluster", &self.name);
        let mut out = Vec::with_capacity(self.node_pools.len() + zones.len() + 2);
        out.push(config(
            network.clone(),
            json!({"cidr": self.network.cidr.to_string(), "region": self.region}),
            vec![],
        ));
        let mut subnets = Vec::new();
        for (i, zone) in zones.iter().enumerate() {
            let address = Address::new("subnet", zone);
            out.push(config(
                address.clone(),
                json!({"cidr": self.subnet_cidr(zones.len(), i), "zone": zone}),
                vec![network.clone()],
            ));
            subnets.push(address);
        }
        out.push(config(cluster.clone(), json!({"name": self.name, "region": self.region, "kubernetes_version": self.cluster.kubernetes_version, "endpoint_access": self.endpoint_access()}), subnets));
        let pools = self.pools(&zones, |_| vec![cluster.clone()])?;
        out.extend(
            pools
                .into_iter()
                .map(|(address, attrs, deps)| config(address, attrs, deps)),
        );
        Ok(out)
    }

    /// The `index`-th of `count` equal subnets of the network (at least four blocks).
    pub(crate) fn subnet_cidr(&self, count: usize, index: usize) -> String {
        let bits = if count <= 1 {
            0
        } else {
            (usize::BITS - (count - 1).leading_zeros()) as u8
        };
        self.network
            .cidr
            .subnet(bits.max(2), index as u32)
            .to_string()
    }

    pub(crate) fn endpoint_access(&self) -> &'static str {
        match self.cluster.endpoint_access {
            EndpointAccess::Public => "public",
            EndpointAccess::Private => "private",
            EndpointAccess::PublicAndPrivate => "public-and-private",
        }
    }

    /// Each node pool's address, attributes and dependencies (`deps` given its zones), with
    /// every pool zone outside the network reported at once.
    pub(crate) fn pools(
        &self,
        zones: &[String],
        deps: impl Fn(&[String]) -> Vec<Address>,
    ) -> Result<Vec<(Address, Value, Vec<Address>)>, BlueprintError> {
        let mut problems = Vec::new();
        let mut out = Vec::with_capacity(self.node_pools.len());
        for pool in &self.node_pools {
            let pool_zones = match &pool.zones {
                None => zones.to_vec(),
                Some(list) => {
                    for (i, z) in list.iter().enumerate().filter(|(_, z)| !zones.contains(z)) {
                        problems.push(Problem {
                            pos: self.spans.at(&format!("node_pools[{}].zones[{i}]", pool.index)),
                            message: format!("node pool {:?} asks for zone {z:?}, which the network does not use", pool.name),
                            hint: Some(format!("the network's zones: {}", zones.join(", "))),
                        });
                    }
                    list.clone()
                }
            };
            let attrs = json!({
                "name": pool.name,
                "accelerator": pool.accelerators.first().map(|a| a.to_string()),
                "instance_type": pool.instance_type,
                "capacity": match pool.capacity { Capacity::OnDemand => "on-demand", Capacity::Spot => "spot" },
                "min": pool.min,
                "max": pool.max,
                "desired": pool.desired,
                "labels": pool.labels,
                "taints": pool.taints,
                "zones": pool_zones,
            });
            let d = deps(&pool_zones);
            out.push((Address::new("node_pool", &pool.name), attrs, d));
        }
        if !problems.is_empty() {
            return Err(self.origin.diagnostics(problems));
        }
        Ok(out)
    }
}

pub(crate) fn config(address: Address, attrs: Value, depends_on: Vec<Address>) -> ResourceConfig {
    let attrs: Attrs = match attrs {
        Value::Object(m) => m.into_iter().collect(),
        _ => Attrs::new(),
    };
    ResourceConfig::new(address, attrs, depends_on)
}
