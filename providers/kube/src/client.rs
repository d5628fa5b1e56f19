//! A kube-rs client for a cluster, from what its cloud says about reaching it. The client code
//! is the same for every cluster; only the transport under it differs: a server in this
//! process (the simulated cloud), or HTTPS to a real API server with a bearer token that the
//! cloud makes and that is renewed before it expires (EKS tokens live 15 minutes, an apply
//! can take longer).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hoist_provider::{ClusterAccess, KubeService, ProviderError, Token, TokenSource};
use http_body_util::{BodyExt, Full};
use serde_json::json;

/// A token is renewed this long before it expires, so that no request carries one the
/// server refuses on arrival (clock skew, a slow request).
pub const RENEW_BEFORE_SECS: u64 = 60;

/// The client for `access`.
pub async fn client(access: &ClusterAccess) -> Result<kube::Client, ProviderError> {
    match access {
        ClusterAccess::InProcess(service) => {
            Ok(kube::Client::new(InProcess(service.clone()), "default"))
        }
        ClusterAccess::Https {
            url,
            ca_data,
            token,
        } => https(url, ca_data, token.clone()).await,
    }
}

/// kube-rs' own HTTPS stack (rustls, its timeouts and retries) trusting exactly `ca_data`,
/// with the bearer token added by [`Bearer`] on the way out. The CA is read the way a
/// kubeconfig's `certificate-authority-data` is, by building one in memory; nothing is
/// written to disk.
async fn https(
    url: &str,
    ca_data: &str,
    tokens: Arc<dyn TokenSource>,
) -> Result<kube::Client, ProviderError> {
    // kube and the AWS SDK enable different rustls crypto providers; with more than one
    // compiled in, rustls needs a process default. The first one installed stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        ProviderError::Invalid(format!("the Kubernetes API at {url}: {what}: {e}"))
    };
    let kubeconfig: kube::config::Kubeconfig = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "hoist",
        "clusters": [{"name": "hoist", "cluster": {"server": url, "certificate-authority-data": ca_data}}],
        "users": [{"name": "hoist", "user": {}}],
        "contexts": [{"name": "hoist", "context": {"cluster": "hoist", "user": "hoist"}}],
    }))
    .map_err(|e| invalid("its address", &e))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| invalid("its address or certificate authority", &e))?;
    let builder =
        kube::client::ClientBuilder::try_from(config).map_err(|e| invalid("the client", &e))?;
    Ok(builder
        .with_layer(&BearerLayer(Arc::new(TokenCache::new(tokens))))
        .build())
}

/// The token in use and where the next one comes from.
struct TokenCache {
    source: Arc<dyn TokenSource>,
    current: std::sync::Mutex<Option<Token>>,
}

impl TokenCache {
    fn new(source: Arc<dyn TokenSource>) -> Self {
        Self {
            source,
            current: std::sync::Mutex::new(None),
        }
    }

    /// The cached token's header value while it has more than `min_left` seconds left.
    fn header(&self, min_left: u64) -> Option<http::HeaderValue> {
        let now = now_secs();
        let current = self.current.lock().ok()?;
        let token = current.as_ref().filter(|t| t.expires_at > now + min_left)?;
        let mut value = http::HeaderValue::from_str(&format!("Bearer {}", token.value)).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    fn store(&self, token: Token) {
        if let Ok(mut current) = self.current.lock() {
            *current = Some(token);
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Clone)]
struct BearerLayer(Arc<TokenCache>);

impl<S> tower::Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Bearer<S> {
        Bearer {
            inner,
            tokens: self.0.clone(),
            renewing: None,
        }
    }
}

type Renewal = Pin<Box<dyn Future<Output = Result<Token, ProviderError>> + Send>>;

/// Adds `Authorization: Bearer` to every request. A token that is about to expire is
/// renewed in `poll_ready`, before the request that would carry it is accepted, so the
/// service under it (kube's, which cannot be cloned) is called in order and once.
struct Bearer<S> {
    inner: S,
    tokens: Arc<TokenCache>,
    renewing: Option<Renewal>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, B> tower::Service<http::Request<B>> for Bearer<S>
where
    S: tower::Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        while self.tokens.header(RENEW_BEFORE_SECS).is_none() {
            let renewing = self.renewing.get_or_insert_with(|| {
                let source = self.tokens.source.clone();
                Box::pin(async move { source.token().await })
            });
            match renewing.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => {
                    self.renewing = None;
                    let token = result.map_err(|e| -> BoxError { Box::new(e) })?;
                    if token.expires_at <= now_secs() + RENEW_BEFORE_SECS {
                        return Poll::Ready(Err(Box::new(ProviderError::Fatal(format!(
                            "the cluster's token source made a token that expires in under {RENEW_BEFORE_SECS} s"
                        )))));
                    }
                    self.tokens.store(token);
                }
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // `poll_ready` made the token fresh; one accepted right at the edge of the renewal
        // window still has about a minute left.
        if let Some(value) = self.tokens.header(0) {
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        let answer = self.inner.call(request);
        Box::pin(async move { answer.await.map_err(Into::into) })
    }
}

/// Requests handed to a server in this process, as a tower service kube-rs can sit on.
#[derive(Clone)]
struct InProcess(Arc<dyn KubeService>);

type Answer = http::Response<Full<Bytes>>;

impl tower::Service<http::Request<kube::client::Body>> for InProcess {
    type Response = Answer;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        let service = self.0.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await?.to_bytes();
            let answer = service
                .call(http::Request::from_parts(parts, bytes.to_vec()))
                .await;
            Ok::<_, Self::Error>(answer.map(|b| Full::new(Bytes::from(b))))
        })
    }
}

#[cfg(test)]
mod tests;
