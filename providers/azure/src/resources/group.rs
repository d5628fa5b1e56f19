//! The resource group: created and tagged when hoist makes it; a group the blueprint names
//! that exists without hoist's tags is used as it is and left alone at destroy.

use hoist_provider::{
    Lifecycle, Observed, Ownership, ProviderError, ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use crate::arm::api;
use crate::{text, AzureProvider};

/// The observation of group `g`; `managed` says whether hoist made it.
pub(super) fn observed(g: &Value, managed: bool) -> Observed {
    let mut o = Observed {
        cloud_id: super::id_of(g, ""),
        attrs: Default::default(),
        outputs: Default::default(),
        lifecycle: Lifecycle::Ready,
    };
    o.attrs.insert("name".into(), g["name"].clone());
    o.attrs.insert("location".into(), g["location"].clone());
    o.outputs.insert("managed".into(), json!(managed));
    o
}

fn managed(prior: &ResourceState) -> bool {
    prior
        .outputs
        .get("managed")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

impl AzureProvider {
    fn group_path(&self, config: &ResourceConfig) -> String {
        self.arm
            .sub_path(&format!("/resourceGroups/{}", text(&config.attrs, "name")))
    }

    /// Whether the group can be used: hoist's own, absent, or named by the blueprint.
    pub(crate) async fn check_group(
        &self,
        config: &ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let path = self.group_path(config);
        let name = text(&config.attrs, "name");
        let found = self
            .arm
            .get(&path, api::RESOURCES)
            .await
            .map_err(|e| e.for_resource(name, &self.location))?;
        let Some(g) = found else {
            return Ok(Vec::new());
        };
        match owner.claims(&crate::tags_of(&g)) {
            Ok(()) => Ok(Vec::new()),
            Err(_) if config.attrs.get("use_existing") == Some(&json!(true)) => Ok(vec![format!(
                "resource group {name} exists and hoist did not create it: hoist makes its resources there and will not tag, change or delete the group"
            )]),
            Err(why) => Err(ProviderError::NotOwned { resource: format!("resource group {name}"), why }),
        }
    }

    pub(crate) async fn create_group(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let path = self.group_path(config);
        let name = text(&config.attrs, "name");
        let fail = |e: crate::arm::ArmError| {
            e.for_resource(&format!("resource group {name}"), &self.location)
        };
        if let Some(g) = self.arm.get(&path, api::RESOURCES).await.map_err(fail)? {
            let owner = Ownership::from_tags(&ctx.tags);
            if owner.claims(&crate::tags_of(&g)).is_err() {
                if config.attrs.get("use_existing") == Some(&json!(true)) {
                    return Ok(observed(&g, false));
                }
                crate::claim(
                    &owner,
                    format!("resource group {name}"),
                    &crate::tags_of(&g),
                )?;
            }
        }
        let body = json!({"location": config.attrs["location"], "tags": crate::create_tags(ctx)});
        let g = self
            .arm
            .put(&path, api::RESOURCES, &body)
            .await
            .map_err(fail)?;
        let mut o = observed(&g, true);
        o.attrs = config.attrs.clone();
        Ok(o)
    }

    /// Tags again (idempotent), for a group hoist made.
    pub(crate) async fn update_group(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        if !managed(prior) {
            return Ok(crate::made(&prior.cloud_id, config, prior.outputs.clone()));
        }
        let mut tags = ctx.tags.clone();
        if let Some(t) = self
            .arm
            .get(&prior.cloud_id, api::RESOURCES)
            .await
            .ok()
            .flatten()
        {
            tags.extend(
                crate::tags_of(&t)
                    .into_iter()
                    .filter(|(k, _)| k == crate::TOKEN_TAG),
            );
        }
        let body = json!({"location": config.attrs["location"], "tags": tags});
        self.arm
            .put(&prior.cloud_id, api::RESOURCES, &body)
            .await
            .map_err(|e| e.for_resource(&prior.address.to_string(), &self.location))?;
        Ok(crate::made(&prior.cloud_id, config, prior.outputs.clone()))
    }

    pub(crate) async fn delete_group(
        &self,
        prior: &ResourceState,
    ) -> Result<Vec<String>, ProviderError> {
        let name = text(&prior.attrs, "name");
        if !managed(prior) {
            return Ok(vec![format!(
                "kept resource group {name}: hoist did not create it"
            )]);
        }
        self.arm
            .delete(&prior.cloud_id, api::RESOURCES)
            .await
            .map_err(|e| e.for_resource(&format!("resource group {name}"), &self.location))?;
        Ok(Vec::new())
    }
}
