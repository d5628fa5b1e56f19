//! A kube-rs client for a cluster, from what its cloud says about reaching it. The client code
//! is the same for every cluster; only the transport under it differs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hoist_provider::{ClusterAccess, KubeService};

/// The client for `access`.
pub fn client(access: &ClusterAccess) -> kube::Client {
    match access {
        ClusterAccess::InProcess(service) => {
            kube::Client::new(InProcess(service.clone()), "default")
        }
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

