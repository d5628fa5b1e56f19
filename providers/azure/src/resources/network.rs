//! The virtual network and its node subnet. A network's tags change with a PATCH: a PUT
//! without its subnets would ask ARM to delete them.

use hoist_provider::{
    Observed, Ownership, ProviderError, ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use crate::arm::api;
use crate::{dep, text, AzureProvider};

pub(super) fn observed_vnet(v: &Value) -> Observed {
    let mut o = Observed {
        cloud_id: super::id_of(v, ""),
        attrs: Default::default(),
        outputs: Default::default(),
        lifecycle: super::lifecycle(v),
    };
    o.attrs.insert("name".into(), v["name"].clone());
    let prefixes = crate::strings(&v["properties"]["addressSpace"]["addressPrefixes"]);
    o.attrs.insert("cidr".into(), json!(prefixes.first()));
    o
}

pub(super) fn observed_subnet(s: &Value) -> Observed {
    let mut o = Observed {
        cloud_id: super::id_of(s, ""),
        attrs: Default::default(),
        outputs: Default::default(),
        lifecycle: super::lifecycle(s),
    };
    o.attrs.insert("name".into(), s["name"].clone());
    o.attrs
        .insert("cidr".into(), s["properties"]["addressPrefix"].clone());
    o
}

impl AzureProvider {
    pub(crate) async fn create_vnet(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let group = dep(ctx, &config.attrs, "resource_group")?;
        let name = text(&config.attrs, "name");
        let path = format!(
            "{}/providers/Microsoft.Network/virtualNetworks/{name}",
            group.cloud_id
        );
        let what = format!("virtual network {name}");
        let fail = |e: crate::arm::ArmError| e.for_resource(&what, &self.location);
        if let Some(found) = self.arm.get(&path, api::NETWORK).await.map_err(fail)? {
            crate::claim(
                &Ownership::from_tags(&ctx.tags),
                &what,
                &crate::tags_of(&found),
            )?;
            return Ok(crate::made(
                &super::id_of(&found, &path),
                config,
                Default::default(),
            ));
        }
        let body = json!({
            "location": config.attrs["location"],
            "tags": crate::create_tags(ctx),
            "properties": {"addressSpace": {"addressPrefixes": [config.attrs["cidr"]]}},
        });
        let v = self
            .arm
            .put(&path, api::NETWORK, &body)
            .await
            .map_err(fail)?;
        Ok(crate::made(
            &super::id_of(&v, &path),
            config,
            Default::default(),
        ))
    }

    /// Only tags change in place (every other attribute replaces the network).
    pub(crate) async fn update_vnet(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        self.arm
            .patch(&prior.cloud_id, api::NETWORK, &json!({"tags": ctx.tags}))
            .await
            .map_err(|e| e.for_resource(&prior.address.to_string(), &self.location))?;
        Ok(crate::made(&prior.cloud_id, config, prior.outputs.clone()))
    }

    /// Create or put back the subnet (idempotent: the same PUT either way).
    pub(crate) async fn put_subnet(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let vnet = dep(ctx, &config.attrs, "virtual_network")?;
        let name = text(&config.attrs, "name");
        let path = format!("{}/subnets/{name}", vnet.cloud_id);
        let body = json!({"properties": {"addressPrefix": config.attrs["cidr"]}});
        let s = self
            .arm
            .put(&path, api::NETWORK, &body)
            .await
            .map_err(|e| e.for_resource(&format!("subnet {name}"), &self.location))?;
        Ok(crate::made(
            &super::id_of(&s, &path),
            config,
            Default::default(),
        ))
    }
}
