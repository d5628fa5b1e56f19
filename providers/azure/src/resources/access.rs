//! Reaching an AKS cluster's API: `listClusterUserCredential` gives the server and its CA
//! (and, for a cluster with Entra ID, a kubelogin entry rather than a secret); hoist then
//! sends its own Entra ID token for the AKS server application, fetched for each connection
//! and never stored.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use base64::Engine;
use hoist_provider::{ClusterAccess, ProviderError, ResourceState, Token, TokenSource};
use serde_json::json;

use crate::arm::api;
use crate::credentials::{self, AKS_SCOPE};
use crate::AzureProvider;

/// What hoist needs from the user kubeconfig AKS hands out.
pub(crate) struct UserCredential {
    pub server: String,
    /// Base64 of the CA's PEM, as kubeconfig carries it.
    pub ca_data: String,
    /// The kubeconfig signs in through Entra ID (kubelogin), not with a token of its own.
    pub entra: bool,
    /// A cluster without Entra ID hands out a bearer token; held in memory only.
    pub token: Option<String>,
}

/// The value of the first `key: value` line of a kubeconfig.
fn field(kubeconfig: &str, key: &str) -> Option<String> {
    kubeconfig.lines().find_map(|l| {
        let rest = l.trim_start().trim_start_matches("- ").strip_prefix(key)?;
        let v = rest.strip_prefix(':')?.trim().trim_matches('"');
        (!v.is_empty()).then(|| v.to_string())
    })
}

pub(crate) fn parse_user_kubeconfig(text: &str) -> Option<UserCredential> {
    Some(UserCredential {
        server: field(text, "server")?,
        ca_data: field(text, "certificate-authority-data")?,
        entra: text.contains("kubelogin") || text.contains("auth-provider"),
        token: field(text, "token"),
    })
}

struct EntraTokens {
    credential: Arc<dyn TokenCredential>,
}

#[async_trait]
impl TokenSource for EntraTokens {
    async fn token(&self) -> Result<Token, ProviderError> {
        let t = credentials::token(self.credential.as_ref(), AKS_SCOPE).await?;
        Ok(Token {
            value: t.token.secret().to_string(),
            expires_at: t.expires_on.unix_timestamp().max(0) as u64,
        })
    }
}

/// A bearer token a cluster without Entra ID handed out, for this run only.
struct HandedOut(String);

#[async_trait]
impl TokenSource for HandedOut {
    async fn token(&self) -> Result<Token, ProviderError> {
        Ok(Token {
            value: self.0.clone(),
            expires_at: u64::MAX,
        })
    }
}

impl AzureProvider {
    /// The cluster's user kubeconfig, read for its server, CA and how to sign in.
    pub(crate) async fn user_kubeconfig(
        &self,
        cluster_id: &str,
    ) -> Result<UserCredential, ProviderError> {
        let path = format!("{cluster_id}/listClusterUserCredential");
        let what = format!("the user credentials of AKS cluster {cluster_id}");
        let answer = self
            .arm
            .post(&path, api::AKS, &json!({}))
            .await
            .map_err(|e| e.for_resource(&what, &self.location))?;
        let encoded = answer["kubeconfigs"][0]["value"]
            .as_str()
            .unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        parse_user_kubeconfig(&decoded).ok_or_else(|| ProviderError::NotReady {
            what,
            message: "it has no API server or certificate authority yet".into(),
        })
    }

    pub(crate) async fn aks_access(
        &self,
        cluster: &ResourceState,
    ) -> Result<ClusterAccess, ProviderError> {
        let creds = self.user_kubeconfig(&cluster.cloud_id).await?;
        let token: Arc<dyn TokenSource> = match (creds.entra, creds.token) {
            (false, Some(t)) => Arc::new(HandedOut(t)),
            _ => Arc::new(EntraTokens {
                credential: self.credential.clone(),
            }),
        };
        Ok(ClusterAccess::Https {
            url: creds.server,
            ca_data: creds.ca_data,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_entra_id_user_kubeconfig() {
        let text = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://dev-abc.hcp.eastus.azmk8s.io:443\n  name: dev\nusers:\n- name: clusterUser_dev-rg_dev\n  user:\n    exec:\n      command: kubelogin\n";
        let c = parse_user_kubeconfig(text).unwrap();
        assert_eq!(c.server, "https://dev-abc.hcp.eastus.azmk8s.io:443");
        assert_eq!(c.ca_data, "Q0E=");
        assert!(c.entra && c.token.is_none());
    }
}
