//! MLflow's storage account and its blob container. Account names are global across Azure,
//! so hoist adds 8 characters of the create's token to the environment's prefix. The account
//! takes Entra ID only (no shared keys), HTTPS with TLS 1.2, and no anonymous access.

use hoist_provider::{Attrs, Observed, ProviderError, ResourceConfig, ResourceState, StepContext};
use serde_json::{json, Value};

use crate::arm::{api, ArmError};
use crate::{dep, text, AzureProvider};

fn outputs(account: &str, container: &str) -> Attrs {
    let mut o = Attrs::new();
    o.insert("account".into(), json!(account));
    o.insert(
        "uri".into(),
        json!(format!(
            "wasbs://{container}@{account}.blob.core.windows.net/"
        )),
    );
    o
}

pub(super) fn observed(a: &Value) -> Observed {
    let name = a["name"].as_str().unwrap_or_default();
    Observed {
        cloud_id: super::id_of(a, ""),
        attrs: Default::default(),
        outputs: outputs(name, crate::expand::CONTAINER),
        lifecycle: super::lifecycle(a),
    }
}

impl AzureProvider {
    pub(crate) async fn create_account(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let group = dep(ctx, &config.attrs, "resource_group")?;
        let token: String = ctx
            .token
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(8)
            .collect();
        let name = format!("{}{token}", text(&config.attrs, "name_prefix"));
        let path = format!(
            "{}/providers/Microsoft.Storage/storageAccounts/{name}",
            group.cloud_id
        );
        let body = json!({
            "location": config.attrs["location"],
            "tags": crate::create_tags(ctx),
            "sku": {"name": "Standard_LRS"},
            "kind": "StorageV2",
            "properties": {
                "minimumTlsVersion": "TLS1_2",
                "supportsHttpsTrafficOnly": true,
                "allowBlobPublicAccess": false,
                "allowSharedKeyAccess": false,
                "accessTier": "Hot",
            },
        });
        let what = format!("storage account {name}");
        let a = self
            .arm
            .put(&path, api::STORAGE, &body)
            .await
            .map_err(|e| e.for_resource(&what, &self.location))?;
        let id = super::id_of(&a, &path);
        self.put_container(&id, config).await?;
        Ok(crate::made(
            &id,
            config,
            outputs(&name, text(&config.attrs, "container")),
        ))
    }

    async fn put_container(
        &self,
        account_id: &str,
        config: &ResourceConfig,
    ) -> Result<(), ProviderError> {
        let container = text(&config.attrs, "container");
        let path = format!("{account_id}/blobServices/default/containers/{container}");
        self.arm
            .put(
                &path,
                api::STORAGE,
                &json!({"properties": {"publicAccess": "None"}}),
            )
            .await
            .map_err(|e: ArmError| {
                e.for_resource(&format!("blob container {container}"), &self.location)
            })?;
        Ok(())
    }

    /// Tags and the container again (idempotent): also what finishes an interrupted create.
    pub(crate) async fn update_account(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let what = prior.address.to_string();
        let live = self
            .arm
            .get(&prior.cloud_id, api::STORAGE)
            .await
            .map_err(|e| e.for_resource(&what, &self.location))?;
        let mut tags = ctx.tags.clone();
        if let Some(t) = live
            .as_ref()
            .and_then(|l| crate::tags_of(l).get(crate::TOKEN_TAG).cloned())
        {
            tags.insert(crate::TOKEN_TAG.into(), t);
        }
        self.arm
            .patch(&prior.cloud_id, api::STORAGE, &json!({"tags": tags}))
            .await
            .map_err(|e| e.for_resource(&what, &self.location))?;
        self.put_container(&prior.cloud_id, config).await?;
        Ok(crate::made(&prior.cloud_id, config, prior.outputs.clone()))
    }
}
