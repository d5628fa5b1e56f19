//! Agent pools. A pool that fails for capacity (AKS leaves it `Failed`) is deleted before the
//! engine tries the zones left; a replacement takes a new name while the old pool runs.

use hoist_provider::{
    Observed, Ownership, ProviderError, ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use super::profile;
use crate::arm::{api, ArmError};
use crate::{dep, text, AzureProvider};

pub(super) fn observed(p: &Value) -> Observed {
    let mut o = Observed {
        cloud_id: super::id_of(p, ""),
        attrs: profile::live_pool_attrs(&p["properties"], ""),
        outputs: Default::default(),
        lifecycle: super::lifecycle(p),
    };
    // A replacement runs under a longer cloud name; the pool's name is the one its blueprint
    // pool maps to, read from hoist's pool label.
    let blueprint_pool = p["properties"]["nodeLabels"][crate::expand::POOL_LABEL].as_str();
    let name = blueprint_pool.and_then(|b| crate::expand::aks_name(b).ok());
    o.attrs.insert(
        "name".into(),
        name.map_or_else(|| p["name"].clone(), Value::from),
    );
    o.attrs
        .insert("mode".into(), p["properties"]["mode"].clone());
    o.outputs.insert("cloud_name".into(), p["name"].clone());
    o
}

/// The zone a capacity failure names (`... zone '2' ...`), if it names one of `zones`.
fn failed_zone(message: &str, zones: &[String]) -> Option<String> {
    zones
        .iter()
        .find(|z| {
            message.contains(&format!("zone '{z}'"))
                || message.contains(&format!("zone \"{z}\""))
                || message.contains(&format!("zone {z}"))
        })
        .cloned()
}

impl AzureProvider {
    /// The pool's name: its own, or, while a pool of that name still runs (the one this
    /// replaces), the first 8 characters and 4 of the token.
    async fn pool_name(
        &self,
        cluster: &str,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<String, ArmError> {
        let base = text(&config.attrs, "name").to_string();
        let Some(found) = self
            .arm
            .get(&format!("{cluster}/agentPools/{base}"), api::AKS)
            .await?
        else {
            return Ok(base);
        };
        let tags = crate::tags_of(&found["properties"]);
        if tags.get(crate::TOKEN_TAG) == Some(&ctx.token) {
            return Ok(base);
        }
        let suffix: String = ctx
            .token
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(4)
            .collect();
        Ok(format!("{}{suffix}", &base[..base.len().min(8)]))
    }

    pub(crate) async fn create_pool(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let cluster = dep(ctx, &config.attrs, "cluster")?.cloud_id.clone();
        let subnet = dep(ctx, &config.attrs, "subnet")?.cloud_id.clone();
        let what = config.address.to_string();
        let fail = |e: ArmError| e.for_resource(&what, &self.location);
        let name = self.pool_name(&cluster, config, ctx).await.map_err(fail)?;
        let path = format!("{cluster}/agentPools/{name}");
        if let Some(found) = self.arm.get(&path, api::AKS).await.map_err(fail)? {
            crate::claim(
                &Ownership::from_tags(&ctx.tags),
                format!("agent pool {name}"),
                &crate::tags_of(&found["properties"]),
            )?;
        }
        let zones = config.zones();
        let props = profile::properties(
            &config.attrs,
            "",
            &subnet,
            &zones,
            &crate::create_tags(ctx),
            false,
        );
        match self
            .arm
            .put(&path, api::AKS, &json!({"properties": props}))
            .await
        {
            Ok(p) => {
                let live = observed(&p);
                Ok(crate::made(&live.cloud_id, config, live.outputs))
            }
            Err(e) if e.is_capacity() => Err(self.capacity_failure(&path, config, &zones, e).await),
            Err(e) => Err(fail(e)),
        }
    }

    /// Delete the pool AKS left `Failed`, then tell the engine which zones have no room.
    async fn capacity_failure(
        &self,
        path: &str,
        config: &ResourceConfig,
        zones: &[String],
        e: ArmError,
    ) -> ProviderError {
        if let Err(d) = self.arm.delete(path, api::AKS).await {
            return d.for_resource(&format!("the failed {}", config.address), &self.location);
        }
        let short = failed_zone(&e.message, zones)
            .map(|z| vec![z])
            .unwrap_or_else(|| zones.to_vec());
        ProviderError::Capacity {
            accelerator: text(&config.attrs, "instance_type").to_string(),
            region: self.location.clone(),
            zones: short,
        }
    }

    /// Sizes, autoscaling limits, labels and taints change in place (the same PUT).
    pub(crate) async fn update_pool(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let subnet = dep(ctx, &config.attrs, "subnet")?.cloud_id.clone();
        let what = prior.address.to_string();
        let fail = |e: ArmError| e.for_resource(&what, &self.location);
        let live = self
            .arm
            .get(&prior.cloud_id, api::AKS)
            .await
            .map_err(fail)?;
        let mut tags = ctx.tags.clone();
        if let Some(t) = live.as_ref().and_then(|l| {
            crate::tags_of(&l["properties"])
                .get(crate::TOKEN_TAG)
                .cloned()
        }) {
            tags.insert(crate::TOKEN_TAG.into(), t);
        }
        let zones = crate::strings(
            live.as_ref()
                .map(|l| &l["properties"]["availabilityZones"])
                .unwrap_or(&Value::Null),
        );
        let props = profile::properties(&config.attrs, "", &subnet, &zones, &tags, true);
        let p = self
            .arm
            .put(&prior.cloud_id, api::AKS, &json!({"properties": props}))
            .await
            .map_err(fail)?;
        let live = observed(&p);
        Ok(crate::made(&prior.cloud_id, config, live.outputs))
    }
}
