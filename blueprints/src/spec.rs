//! From a validated blueprint to the cloud-neutral [`EnvSpec`] that providers expand: the zones
//! checked against the cloud's region, each pool's zones checked against the network's, and
//! problems that a provider finds later located back in the file.

use hoist_provider::{CloudModel, EnvSpec, NetworkSpec, PoolSpec, SpecProblem};

use crate::check::Problem;
use crate::model::{Blueprint, Zones};
use crate::{BlueprintError, Capacity, EndpointAccess};

impl Blueprint {
    /// The zones this environment uses, checked against the cloud's region.
    pub fn zones(&self, model: &dyn CloudModel) -> Result<Vec<String>, BlueprintError> {
        let Some(region_zones) = model.zones(&self.region) else {
            let regions = model.regions();
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
        let zones_hint = || {
            Some(format!(
                "zones of {}: {}",
                self.region,
                region_zones.join(", ")
            ))
        };
        match &self.network.zones {
            Zones::Count(n) if *n as usize > region_zones.len() => Err(self.error_at(
                "network.zones",
                format!(
                    "network.zones asks for {n} zones but region {} has {}",
                    self.region,
                    region_zones.len()
                ),
                zones_hint(),
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
                        hint: zones_hint(),
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

    /// The environment as providers see it. Accelerator pools still need resolving: their
    /// `instance_type` is empty until the catalog picks one.
    pub fn spec(&self, model: &dyn CloudModel) -> Result<EnvSpec, BlueprintError> {
        let zones = self.zones(model)?;
        let mut problems = Vec::new();
        let mut pools = Vec::with_capacity(self.node_pools.len());
        for pool in &self.node_pools {
            let path = format!("node_pools[{}]", pool.index);
            let pool_zones = match &pool.zones {
                None => zones.clone(),
                Some(list) => {
                    for (i, z) in list.iter().enumerate().filter(|(_, z)| !zones.contains(z)) {
                        problems.push(Problem {
                            pos: self.spans.at(&format!("{path}.zones[{i}]")),
                            message: format!("node pool {:?} asks for zone {z:?}, which the network does not use", pool.name),
                            hint: Some(format!("the network's zones: {}", zones.join(", "))),
                        });
                    }
                    list.clone()
                }
            };
            pools.push(PoolSpec {
                name: pool.name.clone(),
                path,
                request: None,
                instance_type: pool.instance_type.clone().unwrap_or_default(),
                alternatives: Vec::new(),
                accelerator: None,
                capacity: match pool.capacity {
                    Capacity::OnDemand => hoist_provider::Capacity::OnDemand,
                    Capacity::Spot => hoist_provider::Capacity::Spot,
                },
                min: pool.min,
                max: pool.max,
                desired: pool.desired,
                labels: pool.labels.clone(),
                taints: pool.taints.clone(),
                zones: pool_zones,
                placement_zones: None,
                disk_size_gib: pool.disk_size_gib,
            });
        }
        if !problems.is_empty() {
            return Err(self.origin.diagnostics(problems));
        }
        Ok(EnvSpec {
            name: self.name.clone(),
            cloud: self.cloud.as_str().into(),
            region: self.region.clone(),
            zones,
            network: NetworkSpec {
                cidr: self.network.cidr,
                nat: self.network.nat,
            },
            cluster: hoist_provider::ClusterSpec {
                kubernetes_version: self.cluster.kubernetes_version.clone(),
                endpoint_access: match self.cluster.endpoint_access {
                    EndpointAccess::Public => hoist_provider::EndpointAccess::Public,
                    EndpointAccess::Private => hoist_provider::EndpointAccess::Private,
                    EndpointAccess::PublicAndPrivate => {
                        hoist_provider::EndpointAccess::PublicAndPrivate
                    }
                },
                access: self.cluster.access.clone(),
                addons: match self.cluster.addons {
                    crate::schema::Addons::Managed => hoist_provider::Addons::Managed,
                    crate::schema::Addons::SelfManaged => hoist_provider::Addons::SelfManaged,
                },
            },
            node_pools: pools,
            tags: self.tags.clone(),
            stack: self.stack.clone(),
            provider_options: self
                .resource_group
                .iter()
                .map(|g| ("resource_group".to_string(), g.clone()))
                .collect(),
        })
    }

    /// Problems a provider found in the spec, each located at its blueprint path.
    pub fn locate(&self, problems: Vec<SpecProblem>) -> BlueprintError {
        self.origin.diagnostics(
            problems
                .into_iter()
                .map(|p| Problem {
                    pos: self.spans.at(&p.path),
                    message: p.message,
                    hint: p.hint,
                })
                .collect(),
        )
    }
}
