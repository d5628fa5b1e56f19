//! Opening Google Cloud: credentials, project and one client per service.

use google_cloud_auth::credentials::{self, AccessTokenCredentials, Credentials};
use google_cloud_compute_v1::client as compute;
use google_cloud_container_v1::client::ClusterManager;
use hoist_provider::ProviderError;
use tokio::sync::OnceCell;

use crate::quota::RegionQuotas;

/// Set to `anonymous` to send no credentials at all: for emulators only, never for Google.
pub const CREDENTIALS_VAR: &str = "HOIST_GCP_CREDENTIALS";
/// Per-service endpoint overrides (an emulator's `http://127.0.0.1:PORT`).
pub const CONTAINER_ENDPOINT_VAR: &str = "HOIST_GCP_CONTAINER_ENDPOINT";
pub const COMPUTE_ENDPOINT_VAR: &str = "HOIST_GCP_COMPUTE_ENDPOINT";
pub const STORAGE_ENDPOINT_VAR: &str = "HOIST_GCP_STORAGE_ENDPOINT";

const STORAGE_ENDPOINT: &str = "https://storage.googleapis.com";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The project's clients. Built once per run; the SDK clients share one HTTP connection pool each.
pub struct GcpProvider {
    pub(crate) gke: ClusterManager,
    pub(crate) networks: compute::Networks,
    pub(crate) subnetworks: compute::Subnetworks,
    pub(crate) routers: compute::Routers,
    pub(crate) regions: compute::Regions,
    /// A GKE pool's live size is its instance groups' target sizes.
    pub(crate) instance_groups: compute::InstanceGroupManagers,
    pub(crate) http: reqwest::Client,
    pub(crate) storage_endpoint: String,
    /// `None` with anonymous credentials (an emulator).
    pub(crate) tokens: Option<AccessTokenCredentials>,
    pub(crate) project: String,
    pub(crate) region: String,
    /// The region's quotas, read once per run by the first pool that needs them (a failed
    /// read is not kept: the next pool, or the retry of a throttled one, reads again).
    pub(crate) quotas: OnceCell<RegionQuotas>,
}

fn endpoint(var: &str) -> Option<String> {
    std::env::var(var)
        .ok()
        .map(|v| v.trim_end_matches('/').to_string())
        .filter(|v| !v.is_empty())
}

/// The credentials to send: none when asked for anonymous, else Application Default
/// Credentials, checked here so a missing login is one clear error before any call.
async fn resolve_credentials(
) -> Result<(Credentials, Option<AccessTokenCredentials>), ProviderError> {
    if std::env::var(CREDENTIALS_VAR).as_deref() == Ok("anonymous") {
        return Ok((credentials::anonymous::Builder::new().build(), None));
    }
    let no_login = |e: &dyn std::fmt::Display| {
        ProviderError::Fatal(format!(
            "no Google Cloud credentials: {e}\n  = hint: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, or run where the metadata server gives a service account"
        ))
    };
    let tokens = credentials::Builder::default()
        .with_scopes([CLOUD_PLATFORM])
        .build_access_token_credentials()
        .map_err(|e| no_login(&e))?;
    tokens.access_token().await.map_err(|e| no_login(&e))?;
    Ok((tokens.clone().into(), Some(tokens)))
}

/// The project: the blueprint's, else the environment's (`GOOGLE_CLOUD_PROJECT`,
/// `CLOUDSDK_CORE_PROJECT`), else the one the credentials file names.
fn resolve_project(configured: Option<&str>) -> Result<String, ProviderError> {
    if let Some(p) = configured.filter(|p| !p.is_empty()) {
        return Ok(p.to_string());
    }
    for var in ["GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"] {
        if let Some(p) = std::env::var(var).ok().filter(|p| !p.is_empty()) {
            return Ok(p);
        }
    }
    let from_file = std::env::var("GOOGLE_APPLICATION_CREDENTIALS")
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| {
            v.get("project_id")
                .or_else(|| v.get("quota_project_id"))
                .and_then(|p| p.as_str().map(String::from))
        });
    from_file.ok_or_else(|| {
        ProviderError::Fatal(
            "no Google Cloud project\n  = hint: set `provider.project` in the blueprint, or GOOGLE_CLOUD_PROJECT".into(),
        )
    })
}

fn sdk_error(service: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Fatal(format!("cannot open the {service} API client: {e}"))
}

macro_rules! client {
    ($builder:expr, $endpoint:expr, $credentials:expr, $service:expr) => {{
        let mut b = $builder.with_credentials($credentials.clone());
        if let Some(url) = &$endpoint {
            b = b.with_endpoint(url.clone());
        }
        b.build().await.map_err(|e| sdk_error($service, e))?
    }};
}

impl GcpProvider {
    /// Clients for `project` (or the credentials' project) in `region`.
    pub async fn connect(region: &str, project: Option<&str>) -> Result<Self, ProviderError> {
        let (creds, tokens) = resolve_credentials().await?;
        let project = resolve_project(project)?;
        let container = endpoint(CONTAINER_ENDPOINT_VAR);
        let compute_url = endpoint(COMPUTE_ENDPOINT_VAR);
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| sdk_error("Cloud Storage", e))?;
        Ok(Self {
            gke: client!(ClusterManager::builder(), container, creds, "GKE"),
            networks: client!(
                compute::Networks::builder(),
                compute_url,
                creds,
                "Compute Engine"
            ),
            subnetworks: client!(
                compute::Subnetworks::builder(),
                compute_url,
                creds,
                "Compute Engine"
            ),
            routers: client!(
                compute::Routers::builder(),
                compute_url,
                creds,
                "Compute Engine"
            ),
            regions: client!(
                compute::Regions::builder(),
                compute_url,
                creds,
                "Compute Engine"
            ),
            instance_groups: client!(
                compute::InstanceGroupManagers::builder(),
                compute_url,
                creds,
                "Compute Engine"
            ),
            http,
            storage_endpoint: endpoint(STORAGE_ENDPOINT_VAR)
                .unwrap_or_else(|| STORAGE_ENDPOINT.into()),
            tokens,
            project,
            region: region.into(),
            quotas: OnceCell::new(),
        })
    }

    /// A bearer token for calls made without the SDK (Cloud Storage, the cluster's API);
    /// `None` with anonymous credentials.
    pub(crate) async fn bearer(&self) -> Result<Option<String>, ProviderError> {
        match &self.tokens {
            None => Ok(None),
            Some(t) => t.access_token().await.map(|t| Some(t.token)).map_err(|e| {
                ProviderError::Fatal(format!("cannot get a Google Cloud access token: {e}"))
            }),
        }
    }
}
