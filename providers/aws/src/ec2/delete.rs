//! Deleting EC2 resources; what is already gone counts as deleted.

use hoist_provider::{ProviderError, ResourceState};
use serde_json::Value;

use super::{call, filter};
use crate::errors::gone_is_none;
use crate::AwsProvider;

impl AwsProvider {
    pub(crate) async fn delete_ec2(
        &self,
        kind: &str,
        prior: &ResourceState,
    ) -> Result<(), ProviderError> {
        let c = &self.ec2;
        let id = prior.cloud_id.as_str();
        let result = match kind {
            "vpc" => call!("DeleteVpc", c.delete_vpc().vpc_id(id)).map(drop),
            "subnet" => call!("DeleteSubnet", c.delete_subnet().subnet_id(id)).map(drop),
            "internet_gateway" => self.detach_and_delete_gateway(id).await,
            "elastic_ip" => {
                call!("ReleaseAddress", c.release_address().allocation_id(id)).map(drop)
            }
            "nat_gateway" => call!(
                "DeleteNatGateway",
                c.delete_nat_gateway().nat_gateway_id(id)
            )
            .map(drop),
            "route_table" => self.disassociate_and_delete_table(id).await,
            "security_group" => call!(
                "DeleteSecurityGroup",
                c.delete_security_group().group_id(id)
            )
            .map(drop),
            "vpc_endpoint" => call!(
                "DeleteVpcEndpoints",
                c.delete_vpc_endpoints().vpc_endpoint_ids(id)
            )
            .map(drop),
            "launch_template" => call!(
                "DeleteLaunchTemplate",
                c.delete_launch_template().launch_template_id(id)
            )
            .map(drop),
            "placement_group" => {
                let name = prior
                    .outputs
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                call!(
                    "DeletePlacementGroup",
                    c.delete_placement_group().group_name(name)
                )
                .map(drop)
            }
            other => Err(ProviderError::Invalid(format!(
                "unknown AWS resource kind {other}"
            ))),
        };
        gone_is_none(result).map(drop)
    }

    async fn detach_and_delete_gateway(&self, id: &str) -> Result<(), ProviderError> {
        let c = &self.ec2;
        let found = self
            .describe(
                "internet_gateway",
                vec![filter("internet-gateway-id", vec![id.into()])],
            )
            .await?;
        for f in &found {
            for vpc in f
                .extra
                .get("attached_to")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                gone_is_none(call!(
                    "DetachInternetGateway",
                    c.detach_internet_gateway()
                        .internet_gateway_id(id)
                        .vpc_id(vpc)
                ))?;
            }
        }
        call!(
            "DeleteInternetGateway",
            c.delete_internet_gateway().internet_gateway_id(id)
        )
        .map(drop)
    }

    async fn disassociate_and_delete_table(&self, id: &str) -> Result<(), ProviderError> {
        let c = &self.ec2;
        let found = self
            .describe(
                "route_table",
                vec![filter("route-table-id", vec![id.into()])],
            )
            .await?;
        for f in &found {
            for assoc in f
                .extra
                .get("associations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                gone_is_none(call!(
                    "DisassociateRouteTable",
                    c.disassociate_route_table().association_id(assoc)
                ))?;
            }
        }
        call!(
            "DeleteRouteTable",
            c.delete_route_table().route_table_id(id)
        )
        .map(drop)
    }
}
