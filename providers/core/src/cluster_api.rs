//! How hoist reaches the Kubernetes API of a cluster a cloud provider made.
//!
//! The cloud that made a cluster knows how to talk to it (endpoint, CA, how a token is made),
//! and the Kubernetes layer knows what to say. This is the seam between them, with no
//! Kubernetes client in it: a cloud answers [`Provider::cluster_access`](crate::Provider) with
//! one of these, and the kube provider builds its client from it.

use std::sync::Arc;

use async_trait::async_trait;


/// A Kubernetes API served inside this process (the simulated cloud's clusters): requests go
/// to it as plain HTTP messages, without a socket.
#[async_trait]
pub trait KubeService: Send + Sync {
    /// Answer one request. Paths are the API server's (`/api/v1/namespaces/x/pods`); errors
    /// are answered as Kubernetes `Status` objects with their HTTP code, as a server would.
    async fn call(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>>;
}

/// How to reach one cluster's Kubernetes API.
#[derive(Clone)]
pub enum ClusterAccess {
    /// In this process, through the cloud's own server.
    InProcess(Arc<dyn KubeService>),
}

impl std::fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterAccess::InProcess(_) => f.write_str("ClusterAccess::InProcess"),
        }
    }
}
