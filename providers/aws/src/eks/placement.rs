//! Plan-time checks of a node group: the zones that offer its type, one zone for a pool in a
//! placement group, and the account's GPU vCPU quota.

use aws_sdk_ec2::types::{Filter, LocationType};
use hoist_provider::{ProviderError, ResourceConfig};
use serde_json::json;

use super::int;
use crate::{text, AwsProvider};

/// GPU vCPU quota codes of EC2 (Service Quotas), by instance family and capacity type.
fn quota_code(instance_type: &str, spot: bool) -> Option<(&'static str, &'static str)> {
    match (instance_type.chars().next()?, spot) {
        ('p', false) => Some(("L-417A185B", "Running On-Demand P instances")),
        ('p', true) => Some(("L-7212CCBC", "All P Spot Instance Requests")),
        ('g', false) => Some(("L-DB2E81BA", "Running On-Demand G and VT instances")),
        ('g', true) => Some(("L-3819A6DF", "All G and VT Spot Instance Requests")),
        _ => None,
    }
}

impl AwsProvider {
    /// Narrow a node group to zones offering its instance type, and check the GPU vCPU quota.
    pub(crate) async fn place_node_group(
        &self,
        config: &mut ResourceConfig,
    ) -> Result<Vec<String>, ProviderError> {
        let instance_type = text(&config.attrs, "instance_type").to_string();
        let offered: Vec<String> = crate::every!(
            "ec2",
            "DescribeInstanceTypeOfferings",
            self.ec2
                .describe_instance_type_offerings()
                .location_type(LocationType::AvailabilityZone)
                .filters(
                    Filter::builder()
                        .name("instance-type")
                        .values(&instance_type)
                        .build(),
                )
        )?
        .iter()
        .filter_map(|o| o.location().map(String::from))
        .collect();
        let zones = config.zones();
        let usable: Vec<String> = zones
            .iter()
            .filter(|z| offered.contains(z))
            .cloned()
            .collect();
        if usable.is_empty() {
            return Err(ProviderError::Capacity {
                accelerator: instance_type,
                region: self.region.clone(),
                zones,
            });
        }
        let mut notes = Vec::new();
        if usable.len() < zones.len() {
            notes.push(format!(
                "{instance_type} is offered only in {} of {}",
                usable.join(", "),
                zones.join(", ")
            ));
        }
        if config.attrs.get("single_zone") == Some(&json!(true)) && usable.len() > 1 {
            notes.push(format!(
                "{instance_type} nodes share one cluster placement group (EFA): placing them in {} first, the other zones on a stockout",
                usable[0]
            ));
        }
        if usable.len() < zones.len() {
            config.placement.insert("zones".into(), json!(usable));
        }
        match self.check_quota(config, &instance_type).await {
            Ok(()) => {}
            Err(e @ ProviderError::Quota { .. }) => return Err(e),
            // A check that cannot run (no permission, no Service Quotas API at this endpoint,
            // no such quota, the call failing after the SDK's retries) is a warning: only a
            // quota known to be too low stops the plan.
            Err(e) => notes.push(format!(
                "warning: skipped the GPU vCPU quota check for {instance_type}: {e}; if the quota is too low, the node group fails when it is created"
            )),
        }
        Ok(notes)
    }

    async fn check_quota(
        &self,
        config: &ResourceConfig,
        instance_type: &str,
    ) -> Result<(), ProviderError> {
        let spot = text(&config.attrs, "capacity") == "spot";
        let Some((code, title)) = quota_code(instance_type, spot) else {
            return Ok(());
        };
        let types = crate::send!(
            "ec2",
            "DescribeInstanceTypes",
            self.ec2
                .describe_instance_types()
                .instance_types(aws_sdk_ec2::types::InstanceType::from(instance_type))
        )?;
        let vcpus = types
            .instance_types()
            .first()
            .and_then(|t| t.v_cpu_info())
            .and_then(|v| v.default_v_cpus())
            .unwrap_or(0) as f64;
        let quota = crate::send!(
            "servicequotas",
            "GetServiceQuota",
            self.quotas
                .get_service_quota()
                .service_code("ec2")
                .quota_code(code)
        )?;
        let Some(limit) = quota.quota().and_then(|q| q.value()) else {
            return Ok(());
        };
        let max = int(&config.attrs, "max") as f64;
        if max * vcpus > limit {
            return Err(ProviderError::Quota {
                region: self.region.clone(),
                message: format!("{} needs up to {} vCPUs ({max} × {instance_type} at {vcpus} vCPUs) but quota {code} \"{title}\" is {limit}; request an increase in Service Quotas or lower max", config.address, max * vcpus),
            });
        }
        Ok(())
    }
}
