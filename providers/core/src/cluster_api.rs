//! How hoist reaches the Kubernetes API of a cluster a cloud provider made.
//!
//! The cloud that made a cluster knows how to talk to it (endpoint, CA, how a token is made),
//! and the Kubernetes layer knows what to say. This is the seam between them, with no
//! Kubernetes client in it: a cloud answers [`Provider::cluster_access`](crate::Provider) with
//! one of these, and the kube provider builds its client from it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ProviderError;

/// A Kubernetes API served inside this process (the simulated cloud's clusters): requests go
/// to it as plain HTTP messages, without a socket.
#[async_trait]
pub trait KubeService: Send + Sync {
    /// Answer one request. Paths are the API server's (`/api/v1/namespaces/x/pods`); errors
    /// are answered as Kubernetes `Status` objects with their HTTP code, as a server would.
    async fn call(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>>;
}

/// A bearer token for a cluster's API and when it stops being accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The `Authorization: Bearer` value. Held in memory only, never in state or on disk.
    pub value: String,
    /// Unix seconds after which the server refuses it; clients renew before then.
    pub expires_at: u64,
}

impl std::fmt::Debug for Token {
    /// Never prints the value: a token in a log is a credential in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Makes short-lived tokens for one cluster (on EKS, a presigned STS `GetCallerIdentity`).
/// Asked again whenever the last token is close to expiring, so it must be cheap to call
/// and must not cache past `expires_at` itself.
#[async_trait]
pub trait TokenSource: Send + Sync {
    async fn token(&self) -> Result<Token, ProviderError>;
}

/// How to reach one cluster's Kubernetes API.
#[derive(Clone)]
pub enum ClusterAccess {
    /// In this process, through the cloud's own server.
    InProcess(Arc<dyn KubeService>),
    /// Over HTTPS, trusting exactly one CA, with bearer tokens from `token`.
    Https {
        /// The API server's URL (`https://….eks.amazonaws.com`).
        url: String,
        /// The CA that signed the server's certificate: base64 of its PEM, as kubeconfig's
        /// `certificate-authority-data` and EKS's `certificateAuthority.data` carry it.
        ca_data: String,
        token: Arc<dyn TokenSource>,
    },
}

impl std::fmt::Debug for ClusterAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterAccess::InProcess(_) => f.write_str("ClusterAccess::InProcess"),
            ClusterAccess::Https { url, .. } => write!(f, "ClusterAccess::Https({url})"),
        }
    }
}

/// A kubeconfig whose one user runs `exec` for tokens (`command` then its YAML lines, such as
/// `args: [...]` or `provideClusterInfo: true`), so no credential is written: what each
/// cloud's own CLI writes, with the cluster named `cluster` and the context `context`.
pub fn exec_kubeconfig(
    context: &str,
    cluster: &str,
    server: &str,
    ca_data: &str,
    command: &str,
    exec_lines: &[String],
) -> String {
    let mut exec = format!(
        "      exec:\n        apiVersion: client.authentication.k8s.io/v1beta1\n        command: {command}\n"
    );
    for line in exec_lines {
        exec.push_str(&format!("        {line}\n"));
    }
    exec.push_str("        interactiveMode: Never\n");
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n  - name: {cluster}\n    cluster:\n      server: {server}\n      certificate-authority-data: {ca_data}\ncontexts:\n  - name: {context}\n    context:\n      cluster: {cluster}\n      user: {cluster}\ncurrent-context: {context}\nusers:\n  - name: {cluster}\n    user:\n{exec}"
    )
}
