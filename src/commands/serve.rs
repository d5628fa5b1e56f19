//! `hoist sim serve`: the simulated clusters' Kubernetes APIs on 127.0.0.1, so that a real
//! kubectl can look at (and change behind hoist's back) what an apply made. Each cluster is
//! under `/clusters/CLUSTER-ID/`; `hoist kubeconfig` writes the matching entry.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use hoist_provider::KubeService;
use hoist_sim::{LatencyProfile, SimCloud, SimKubeApi};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use crate::printer::Printer;

pub async fn serve(printer: &Printer, port: u16) -> anyhow::Result<u8> {
    let latency: LatencyProfile = std::env::var("HOIST_SIM_LATENCY")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().map_err(anyhow::Error::msg))
        .transpose()?
        .unwrap_or(LatencyProfile::Demo);
    let dir = SimCloud::default_dir();
    let cloud = Arc::new(Clusters {
        cloud: SimCloud::open(&dir, latency)?,
        apis: Mutex::new(HashMap::new()),
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    hoist_sim::write_serve_address(&dir, &addr.to_string())?;
    printer.out(&format!(
        "Serving the simulated clusters' Kubernetes APIs on http://{addr}/clusters/CLUSTER-ID\n  `hoist kubeconfig` writes a kubeconfig for an environment's cluster; Ctrl-C stops"
    ));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let cloud = cloud.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| answer(cloud.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    hoist_sim::clear_serve_address(&dir);
    Ok(0)
}

/// The simulated cloud, and an API (with its own database connection) per cluster asked for.
struct Clusters {
    cloud: SimCloud,
    apis: Mutex<HashMap<String, SimKubeApi>>,
}

impl Clusters {
    fn api(&self, cluster: &str) -> Result<SimKubeApi, hoist_sim::SimError> {
        let mut apis = self.apis.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(api) = apis.get(cluster) {
            return Ok(api.clone());
        }
        let api = self.cloud.kube_api(cluster)?;
        apis.insert(cluster.to_string(), api.clone());
        Ok(api)
    }
}

/// One request, to the cluster its path names.
async fn answer(
    cloud: Arc<Clusters>,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let (mut parts, body) = request.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let Some((cluster, rest)) = path.strip_prefix("/clusters/").map(|p| {
        p.split_once('/')
            .map_or((p, "/".to_string()), |(c, r)| (c, format!("/{r}")))
    }) else {
        return Ok(status(404, "paths are /clusters/CLUSTER-ID/…".into()));
    };
    let api = match cloud.api(cluster.split('?').next().unwrap_or(cluster)) {
        Ok(api) => api,
        Err(e) => return Ok(status(404, e.to_string())),
    };
    parts.uri = match rest.parse() {
        Ok(uri) => uri,
        Err(_) => return Ok(status(400, format!("cannot read the path {rest:?}"))),
    };
    let answer = api
        .call(http::Request::from_parts(parts, bytes.to_vec()))
        .await;
    Ok(answer.map(|b| Full::new(Bytes::from(b))))
}

/// A Kubernetes `Status` for requests that reach no cluster.
fn status(code: u16, message: String) -> hyper::Response<Full<Bytes>> {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": "NotFound", "code": code,
    });
    let mut r = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::NOT_FOUND);
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    r
}
