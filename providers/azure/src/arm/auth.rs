//! Bearer tokens on every ARM request. azure_core's own policy refuses tokens over plain
//! HTTP; hoist allows HTTP to loopback addresses only, so the tests' emulator can run
//! without TLS while a token can never leave the machine unencrypted.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request, Url};
use hoist_provider::ProviderError;

#[derive(Debug)]
pub(super) struct ArmAuth {
    credential: Arc<dyn TokenCredential>,
    scope: &'static str,
}

impl ArmAuth {
    pub fn new(credential: Arc<dyn TokenCredential>, scope: &'static str) -> Self {
        Self { credential, scope }
    }
}

/// Whether `url` may carry a bearer token: HTTPS, or HTTP to this machine.
pub(crate) fn may_carry_token(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}

/// The endpoint check done once at connect, so a wrong endpoint fails before any call.
pub(super) fn check_scheme(url: &Url) -> Result<(), ProviderError> {
    if may_carry_token(url) {
        return Ok(());
    }
    Err(ProviderError::Invalid(format!(
        "{} would carry Entra ID tokens without TLS\n  = hint: use https, or http://127.0.0.1:PORT for an emulator on this machine",
        url
    )))
}

#[async_trait]
impl Policy for ArmAuth {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        if !may_carry_token(request.url()) {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                format!("refusing to send a token to {} without TLS", request.url()),
            ));
        }
        let token = self.credential.get_token(&[self.scope], None).await?;
        request.insert_header("authorization", format!("Bearer {}", token.token.secret()));
        next[0].send(ctx, request, &next[1..]).await
    }
}
