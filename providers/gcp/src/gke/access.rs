//! Reaching a GKE cluster's API: its endpoint over HTTPS, trusting the cluster's own CA, with
//! the caller's Google access token as the bearer (what gke-gcloud-auth-plugin sends). The
//! token comes from the credentials each time it is asked for and is never stored.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use google_cloud_auth::credentials::AccessTokenCredentials;
use hoist_provider::{ClusterAccess, ProviderError, ResourceState, Token, TokenSource};
use serde_json::Value;

use crate::GcpProvider;

/// How long hoist treats a token as good: Google's access tokens last an hour; the
/// credentials cache and refresh them, so asking again is cheap.
const TOKEN_SECS: u64 = 5 * 60;

struct GoogleTokens {
    credentials: AccessTokenCredentials,
    cluster: String,
}

#[async_trait]
impl TokenSource for GoogleTokens {
    async fn token(&self) -> Result<Token, ProviderError> {
        let t = self.credentials.access_token().await.map_err(|e| {
            ProviderError::Fatal(format!(
                "no Google Cloud access token for GKE cluster {}: {e}",
                self.cluster
            ))
        })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Token {
            value: t.token,
            expires_at: now + TOKEN_SECS,
        })
    }
}

impl GcpProvider {
    pub(crate) async fn gke_cluster_access(
        &self,
        cluster: &ResourceState,
    ) -> Result<ClusterAccess, ProviderError> {
        let recorded = |k: &str| {
            cluster
                .outputs
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let mut found = (recorded("endpoint"), recorded("certificate_authority"));
        if found.0.is_none() || found.1.is_none() {
            if let Some((live, _)) = self
                .get_cluster(crate::text(&cluster.attrs, "location"), &cluster.cloud_id)
                .await?
            {
                let live_out = |k: &str| {
                    live.outputs
                        .get(k)
                        .and_then(Value::as_str)
                        .filter(|v| !v.is_empty())
                        .map(String::from)
                };
                found = (live_out("endpoint"), live_out("certificate_authority"));
            }
        }
        let (Some(endpoint), Some(ca_data)) = found else {
            return Err(ProviderError::NotReady {
                what: format!("GKE cluster {}", cluster.cloud_id),
                message: "it has no API endpoint or certificate authority yet".into(),
            });
        };
        let credentials = self.tokens.clone().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "GKE cluster {}: no credentials to reach its API with (HOIST_GCP_CREDENTIALS=anonymous sends none)\n  = hint: unset HOIST_GCP_CREDENTIALS to use Application Default Credentials",
                cluster.cloud_id
            ))
        })?;
        Ok(ClusterAccess::Https {
            url: format!("https://{endpoint}"),
            ca_data,
            token: Arc::new(GoogleTokens {
                credentials,
                cluster: cluster.cloud_id.clone(),
            }),
        })
    }
}
