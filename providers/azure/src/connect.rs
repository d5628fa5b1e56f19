//! Opening Azure: credentials, the subscription, the ARM client and the compute client.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use hoist_provider::ProviderError;
use tokio::sync::OnceCell;

use crate::arm::{Arm, ENDPOINT_VAR};
use crate::capacity::{Skus, Usages};
use crate::credentials::{self, ARM_SCOPE};

/// The compute client of the one API package hoist builds.
type Compute = azure_mgmt_compute::package_2024_07_01::Client;

/// The api-version of `Usage_List` hoist asks for: the Compute RP's 2025-04-01, whose
/// operation and `Usage` shape are those of the crate's own 2024-07-01 package.
const USAGE_API: &str = "2025-04-01";

/// One subscription and location's clients, built once per run.
pub struct AzureProvider {
    pub(crate) arm: Arm,
    /// `azure_mgmt_compute` for resource SKUs (api-version 2021-07-01, the crate's own).
    pub(crate) skus_client: Compute,
    /// The same crate for usages, asking for [`USAGE_API`].
    pub(crate) usage_client: Compute,
    pub(crate) credential: Arc<dyn TokenCredential>,
    pub(crate) location: String,
    /// The blueprint's `provider.resource_group`, else each environment's `{env}-rg`.
    pub(crate) group: Option<String>,
    /// What sizes the subscription may use where, read once per run by the first pool.
    pub(crate) skus: OnceCell<Skus>,
    pub(crate) usages: OnceCell<Usages>,
}

/// The subscription: the blueprint's, else `AZURE_SUBSCRIPTION_ID`.
fn resolve_subscription(configured: Option<&str>) -> Result<String, ProviderError> {
    configured
        .filter(|s| !s.is_empty())
        .map(String::from)
        .or_else(|| std::env::var("AZURE_SUBSCRIPTION_ID").ok().filter(|s| !s.is_empty()))
        .ok_or_else(|| {
            ProviderError::Invalid(
                "no Azure subscription: set `provider.subscription_id` in the blueprint or AZURE_SUBSCRIPTION_ID\n  = hint: `az account show --query id -o tsv` prints the current one".into(),
            )
        })
}

fn compute_client(
    credential: &Arc<dyn TokenCredential>,
    api_version: Option<&str>,
) -> Result<Compute, ProviderError> {
    let endpoint = std::env::var(ENDPOINT_VAR)
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "https://management.azure.com".into());
    let mut url = azure_core_compute::Url::parse(&endpoint)
        .map_err(|e| ProviderError::Invalid(format!("{ENDPOINT_VAR}: {e}")))?;
    if let Some(v) = api_version {
        // The crate keeps an api-version already on the endpoint's query.
        url.query_pairs_mut().append_pair("api-version", v);
    }
    Compute::builder(Arc::new(credentials::ForCompute(credential.clone())))
        .endpoint(url)
        .scopes(&[ARM_SCOPE])
        .retry(azure_core_compute::RetryOptions::none())
        .build()
        .map_err(|e| ProviderError::Invalid(format!("cannot build the compute client: {e}")))
}

impl AzureProvider {
    /// The ARM id of environment `env`'s resource group.
    pub(crate) fn group_id(&self, env: &str) -> String {
        let name = self.group.clone().unwrap_or_else(|| format!("{env}-rg"));
        self.arm.sub_path(&format!("/resourceGroups/{name}"))
    }

    /// Sign in (once, so a missing login is one clear error) and build the clients.
    pub async fn connect(
        location: &str,
        subscription: Option<&str>,
        group: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let credential = credentials::resolve()?;
        let subscription = resolve_subscription(subscription)?;
        credentials::token(credential.as_ref(), ARM_SCOPE).await?;
        Ok(Self {
            arm: Arm::new(credential.clone(), &subscription)?,
            skus_client: compute_client(&credential, None)?,
            usage_client: compute_client(&credential, Some(USAGE_API))?,
            credential,
            location: location.to_string(),
            group: group.map(String::from),
            skus: OnceCell::new(),
            usages: OnceCell::new(),
        })
    }
}
