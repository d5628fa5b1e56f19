//! Entra ID tokens: the chain `DefaultAzureCredential` walks in Azure's other SDKs (the Rust
//! `azure_identity` 1.x has each credential but no chain), a fixed token for emulators, and
//! the adapter that lends them to `azure_mgmt_compute`, which is built on azure_core 0.21.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_identity::{
    AzureCliCredential, ClientSecretCredential, ManagedIdentityCredential,
    WorkloadIdentityCredential,
};
use hoist_provider::ProviderError;
use tokio::sync::Mutex;

/// Set to `static-test-token` to send that fixed bearer token: for emulators only.
pub const CREDENTIALS_VAR: &str = "HOIST_AZURE_CREDENTIALS";
pub const STATIC_TEST_TOKEN: &str = "static-test-token";
/// The scope of Azure Resource Manager tokens.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
/// The scope of tokens for AKS clusters with Entra ID (the AKS AAD server application, the
/// `--server-id` that kubelogin passes).
pub const AKS_SERVER_ID: &str = "6dae42f8-4368-4678-94ff-3960e28e3630";
pub const AKS_SCOPE: &str = "6dae42f8-4368-4678-94ff-3960e28e3630/.default";

/// The credentials hoist signs in with: the static test token when asked for, else the chain.
pub fn resolve() -> Result<Arc<dyn TokenCredential>, ProviderError> {
    match std::env::var(CREDENTIALS_VAR).as_deref() {
        Ok(STATIC_TEST_TOKEN) => Ok(Arc::new(StaticToken)),
        Ok(other) if !other.is_empty() => Err(ProviderError::Invalid(format!(
            "{CREDENTIALS_VAR}={other:?} is not understood\n  = hint: unset it to use Entra ID credentials (`{STATIC_TEST_TOKEN}` is for emulators only)"
        ))),
        _ => Ok(Arc::new(Chain::new()?)),
    }
}

/// One fixed token that never expires, for an emulator that checks it.
#[derive(Debug)]
struct StaticToken;

#[async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            STATIC_TEST_TOKEN,
            time::OffsetDateTime::now_utc() + time::Duration::hours(1),
        ))
    }
}

/// Environment service principal, workload identity, Azure CLI, managed identity: the first
/// that gives a token is kept for the run. The CLI comes before managed identity because off
/// Azure the instance metadata endpoint only times out; on Azure VMs without a CLI login,
/// managed identity answers.
#[derive(Debug)]
struct Chain {
    candidates: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    chosen: Mutex<Option<usize>>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Chain {
    fn new() -> Result<Self, ProviderError> {
        let fail = |what: &str, e: azure_core::Error| {
            ProviderError::Invalid(format!("cannot set up the {what} credential: {e}"))
        };
        let mut candidates: Vec<(&'static str, Arc<dyn TokenCredential>)> = Vec::new();
        if let (Some(tenant), Some(client), Some(secret)) = (
            env("AZURE_TENANT_ID"),
            env("AZURE_CLIENT_ID"),
            env("AZURE_CLIENT_SECRET"),
        ) {
            let c = ClientSecretCredential::new(&tenant, client, Secret::new(secret), None)
                .map_err(|e| fail("service principal", e))?;
            candidates.push(("environment service principal", c));
        }
        if env("AZURE_FEDERATED_TOKEN_FILE").is_some() {
            let c =
                WorkloadIdentityCredential::new(None).map_err(|e| fail("workload identity", e))?;
            candidates.push(("workload identity", c));
        }
        if let Ok(c) = AzureCliCredential::new(None) {
            candidates.push(("Azure CLI", c));
        }
        if let Ok(c) = ManagedIdentityCredential::new(None) {
            candidates.push(("managed identity", c));
        }
        Ok(Self {
            candidates,
            chosen: Mutex::new(None),
        })
    }
}

#[async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut chosen = self.chosen.lock().await;
        if let Some(i) = *chosen {
            return self.candidates[i].1.get_token(scopes, options).await;
        }
        let mut failures = Vec::new();
        for (i, (name, c)) in self.candidates.iter().enumerate() {
            match c.get_token(scopes, options.clone()).await {
                Ok(t) => {
                    *chosen = Some(i);
                    return Ok(t);
                }
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!("no credential gave a token ({})", failures.join("; ")),
        ))
    }
}

/// A token for `scope`, with the hint a person needs when there is none.
pub async fn token(
    credential: &dyn TokenCredential,
    scope: &str,
) -> Result<AccessToken, ProviderError> {
    credential.get_token(&[scope], None).await.map_err(|e| {
        ProviderError::Fatal(format!(
            "no Entra ID token for {scope}: {e}\n  = hint: run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal (workload and managed identities are used where they exist)"
        ))
    })
}

/// The same credentials as azure_core 0.21's trait, which `azure_mgmt_compute` takes.
#[derive(Debug)]
pub struct ForCompute(pub Arc<dyn TokenCredential>);

#[async_trait]
impl azure_core_compute::auth::TokenCredential for ForCompute {
    async fn get_token(
        &self,
        scopes: &[&str],
    ) -> azure_core_compute::Result<azure_core_compute::auth::AccessToken> {
        let t = self.0.get_token(scopes, None).await.map_err(|e| {
            azure_core_compute::Error::full(
                azure_core_compute::error::ErrorKind::Credential,
                e,
                "no Entra ID token",
            )
        })?;
        Ok(azure_core_compute::auth::AccessToken::new(
            t.token.secret().to_string(),
            t.expires_on,
        ))
    }

    async fn clear_cache(&self) -> azure_core_compute::Result<()> {
        Ok(())
    }
}
