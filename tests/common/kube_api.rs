//! A loopback Kubernetes API server for the EKS tests: TLS on a free 127.0.0.1 port with a CA
//! made at start, accepting only bearer tokens that are presigned STS `GetCallerIdentity`
//! URLs for its cluster (the signature recomputed here, with the emulator's known secret), and
//! holding objects in memory. It serves only what hoist's stack provider uses (GET, LIST with
//! a label selector, server-side apply, DELETE) on the kinds hoist applies; anything else is
//! answered 404/405 and recorded, and every applied object is checked against the strict
//! schema of its kind. Tests read `problems()` and fail on any.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use ring::{digest, hmac};
use serde_json::{json, Value};

#[path = "../../providers/kube/tests/validate/mod.rs"]
mod validate;

/// plural → (apiVersion, kind, namespaced): the kinds hoist's stack applies.
const KINDS: &[(&str, &str, &str, bool)] = &[
    ("namespaces", "v1", "Namespace", false),
    // Listed by destroy's final check; this stack applies none (no schema is kept for them).
    (
        "customresourcedefinitions",
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        false,
    ),
    ("runtimeclasses", "node.k8s.io/v1", "RuntimeClass", false),
    // Listed by the ownership check; this stack (device plugin, model server) applies none.
    ("jobs", "batch/v1", "Job", true),
    (
        "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        false,
    ),
    (
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        false,
    ),
    (
        "clusterroles",
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        false,
    ),
    (
        "clusterrolebindings",
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        false,
    ),
    ("serviceaccounts", "v1", "ServiceAccount", true),
    ("roles", "rbac.authorization.k8s.io/v1", "Role", true),
    (
        "rolebindings",
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        true,
    ),
    ("configmaps", "v1", "ConfigMap", true),
    (
        "persistentvolumeclaims",
        "v1",
        "PersistentVolumeClaim",
        true,
    ),
    ("services", "v1", "Service", true),
    ("deployments", "apps/v1", "Deployment", true),
    ("daemonsets", "apps/v1", "DaemonSet", true),
    (
        "horizontalpodautoscalers",
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        true,
    ),
];

/// What the server saw, in order.
#[derive(Default)]
pub struct World {
    /// `(api_version, kind, namespace, name)` → object.
    pub objects: BTreeMap<(String, String, String, String), Value>,
    /// `METHOD path?query` of every authorized request.
    pub log: Vec<String>,
    /// Requests it did not know, bodies that broke their schema, bad tokens.
    pub problems: Vec<String>,
    pub rejected: usize,
    /// For each DELETE: whether the emulator had already seen eks:DeleteCluster.
    pub deletes_after_cluster: Vec<bool>,
    generation: u64,
}

struct Shared {
    world: Mutex<World>,
    region: String,
    cluster: String,
    access_key: String,
    secret: String,
    /// The cloud emulator asked at each DELETE whether it has seen the cluster's deletion:
    /// its endpoint, the path that lists its calls, and the call.
    witness: Mutex<Option<(String, String, String)>>,
    /// For a GKE cluster: the service account whose self-signed JWTs are accepted, and its
    /// RSA public key (DER); `None` for EKS's presigned STS tokens.
    google: Option<(String, Vec<u8>)>,
    /// For an AKS cluster: the one Entra ID token accepted (an emulator's static token).
    bearer: Option<String>,
}

pub struct KubeApi {
    pub url: String,
    /// Base64 of the CA's PEM, as EKS's `certificateAuthority.data`.
    pub ca_data: String,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl KubeApi {
    /// A server for EKS cluster `cluster` in `region`, trusting tokens signed with the
    /// emulator's test credentials.
    pub fn start(region: &str, cluster: &str) -> KubeApi {
        Self::serve(region, cluster, None, None)
    }

    /// A server for a GKE cluster, trusting Google access tokens that `issuer` signed with
    /// the key whose public half is `public_der` (self-signed service account JWTs).
    pub fn start_gke(issuer: &str, public_der: Vec<u8>) -> KubeApi {
        Self::serve("", "", Some((issuer.to_string(), public_der)), None)
    }

    /// A server for an AKS cluster with Entra ID, accepting exactly `token`.
    pub fn start_aks(token: &str) -> KubeApi {
        Self::serve("", "", None, Some(token.to_string()))
    }

    fn serve(
        region: &str,
        cluster: &str,
        google: Option<(String, Vec<u8>)>,
        bearer: Option<String>,
    ) -> KubeApi {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("CA params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "hoist test cluster CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
        let key = rcgen::KeyPair::generate().expect("server key");
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).expect("params");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let cert = params
            .signed_by(&key, &ca, &ca_key)
            .expect("server certificate");
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("TLS config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a free port");
        let port = listener.local_addr().expect("port").port();
        let shared = Arc::new(Shared {
            world: Mutex::new(World::default()),
            region: region.into(),
            cluster: cluster.into(),
            access_key: "testing".into(),
            secret: "testing".into(),
            witness: Mutex::new(None),
            google,
            bearer,
        });
        let s = shared.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, s) = (acceptor.clone(), s.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        let s = s.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&s, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        KubeApi {
            url: format!("https://127.0.0.1:{port}"),
            ca_data: base64::engine::general_purpose::STANDARD.encode(ca.pem()),
            shared,
            _runtime: runtime,
        }
    }

    pub fn set_witness(&self, emulator_endpoint: &str) {
        self.set_witness_of(emulator_endpoint, "/_hoist/calls", "eks:DeleteCluster");
    }

    /// Ask `endpoint`'s `calls_path` at each DELETE whether `call` (the cluster's deletion)
    /// was made already.
    pub fn set_witness_of(&self, endpoint: &str, calls_path: &str, call: &str) {
        *self.shared.witness.lock().unwrap() =
            Some((endpoint.into(), calls_path.into(), call.into()));
    }

    pub fn with<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.shared.world.lock().unwrap())
    }

    pub fn problems(&self) -> Vec<String> {
        self.with(|w| w.problems.clone())
    }

    pub fn object(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let key = (api_version.into(), kind.into(), ns.into(), name.into());
        self.with(|w| w.objects.get(&key).cloned())
    }

    pub fn count_objects(&self) -> usize {
        self.with(|w| w.objects.len())
    }

    /// Requests refused for their token (none expected from hoist).
    pub fn rejected(&self) -> usize {
        self.with(|w| w.rejected)
    }
}

type Answer = hyper::Response<Full<Bytes>>;

fn answer(code: u16, body: Value) -> Answer {
    hyper::Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_default()
}

fn status(code: u16, reason: &str, message: &str) -> Answer {
    answer(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": if code < 300 { "Success" } else { "Failure" }, "reason": reason, "message": message, "code": code}),
    )
}

/// apiVersion, kind, namespaced, namespace and name of a request.
type Route = (
    &'static str,
    &'static str,
    bool,
    Option<String>,
    Option<String>,
);

/// `/api/v1[/namespaces/NS]/PLURAL[/NAME]` or `/apis/G/V[/namespaces/NS]/PLURAL[/NAME]`.
fn route(path: &str) -> Option<Route> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (api_version, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("v1".to_string(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return None,
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, plural, rest @ ..] => {
            (Some(ns.to_string()), [&[*plural][..], rest].concat())
        }
        rest => (None, rest.to_vec()),
    };
    let (plural, name) = match rest.as_slice() {
        [plural] => (*plural, None),
        [plural, name] => (*plural, Some(name.to_string())),
        _ => return None,
    };
    // `/api/v1/namespaces/NAME` is the Namespace itself.
    let (plural, ns, name) = match (plural, &ns, &name) {
        (p, Some(n), None) if api_version == "v1" && parts.len() == 4 && p == n => {
            ("namespaces", None, Some(n.clone()))
        }
        _ => (plural, ns, name),
    };
    let &(_, av, kind, namespaced) = KINDS
        .iter()
        .find(|(p, av, _, _)| *p == plural && *av == api_version)?;
    if !namespaced && ns.is_some() {
        return None;
    }
    Some((av, kind, namespaced, ns, name))
}

fn query(uri: &hyper::Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(s: &Shared, req: hyper::Request<hyper::body::Incoming>) -> Answer {
    let method = req.method().as_str().to_string();
    let uri = req.uri().clone();
    let what = format!("{method} {}", uri);
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_string();
    if let Err(why) = check_token(s, &token) {
        let mut w = s.world.lock().unwrap();
        w.rejected += 1;
        if !token.is_empty() {
            w.problems.push(format!("{what}: token refused: {why}"));
        }
        return status(401, "Unauthorized", &format!("Unauthorized: {why}"));
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return status(400, "BadRequest", "unreadable body"),
    };
    let witness = if method == "DELETE" {
        s.witness.lock().unwrap().clone()
    } else {
        None
    };
    let after_cluster = match witness {
        Some((endpoint, path, call)) => {
            tokio::task::spawn_blocking(move || emulator_saw(&endpoint, &path, &call))
                .await
                .unwrap_or(false)
        }
        None => false,
    };
    let mut w = s.world.lock().unwrap();
    w.log.push(what.clone());
    // Groups of CRDs this server has not installed (the operator's, KServe's): a real server
    // answers 404 for them, which is what hoist must expect.
    let uninstalled = ["/apis/nvidia.com/", "/apis/serving.kserve.io/"];
    let not_found = || {
        status(
            404,
            "NotFound",
            &format!(
                "the server could not find the requested resource: {}",
                uri.path()
            ),
        )
    };
    if method == "GET" && uninstalled.iter().any(|g| uri.path().starts_with(g)) {
        return not_found();
    }
    let Some((api_version, kind, _namespaced, ns, name)) = route(uri.path()) else {
        w.problems
            .push(format!("{what}: no such path on this server"));
        return not_found();
    };
    let q = query(&uri);
    let key = |name: &str| {
        (
            api_version.to_string(),
            kind.to_string(),
            ns.clone().unwrap_or_default(),
            name.to_string(),
        )
    };
    match (method.as_str(), name) {
        ("GET", Some(name)) => match w.objects.get(&key(&name)) {
            Some(o) => answer(200, o.clone()),
            None => status(404, "NotFound", &format!("{kind} \"{name}\" not found")),
        },
        ("GET", None) => {
            let selector = q.get("labelSelector").cloned().unwrap_or_default();
            let items: Vec<Value> = w
                .objects
                .iter()
                .filter(|((av, k, n, _), _)| {
                    av == api_version && k == kind && ns.as_ref().is_none_or(|ns| ns == n)
                })
                .map(|(_, o)| o.clone())
                .filter(|o| matches(&selector, &o["metadata"]["labels"]))
                .collect();
            answer(
                200,
                json!({"apiVersion": api_version, "kind": format!("{kind}List"), "metadata": {"resourceVersion": w.generation.to_string()}, "items": items}),
            )
        }
        ("PATCH", Some(name)) => {
            if content_type != "application/apply-patch+yaml"
                || q.get("fieldManager").map(String::as_str) != Some("hoist")
                || q.get("force").map(String::as_str) != Some("true")
            {
                w.problems.push(format!(
                    "{what}: not a forced server-side apply by hoist (content type {content_type})"
                ));
                return status(
                    415,
                    "UnsupportedMediaType",
                    "only forced server-side apply is served here",
                );
            }
            let Ok(mut object) = serde_json::from_slice::<Value>(&body) else {
                w.problems.push(format!("{what}: the body is not JSON"));
                return status(400, "BadRequest", "the body is not JSON");
            };
            if kind == "CustomResourceDefinition" {
                w.problems
                    .push(format!("{what}: this server keeps no schema for CRDs"));
                return status(422, "Invalid", "CRDs are not served here");
            }
            let errors = validate::validate(&validate::schema_for(api_version, kind), &object);
            if !errors.is_empty() {
                w.problems.push(format!(
                    "{what}: {kind}/{name} breaks its schema: {errors:?}"
                ));
                return status(422, "Invalid", &errors.join("; "));
            }
            if object["metadata"]["name"] != json!(name)
                || object["kind"] != json!(kind)
                || object["apiVersion"] != json!(api_version)
            {
                w.problems
                    .push(format!("{what}: the body names another object"));
                return status(400, "BadRequest", "the body names another object");
            }
            w.generation += 1;
            let previous = w.objects.get(&key(&name)).cloned();
            let generation = match &previous {
                Some(p) if p["spec"] == object["spec"] => {
                    p["metadata"]["generation"].as_i64().unwrap_or(1)
                }
                Some(p) => p["metadata"]["generation"].as_i64().unwrap_or(1) + 1,
                None => 1,
            };
            let meta = &mut object["metadata"];
            meta["generation"] = json!(generation);
            meta["resourceVersion"] = json!(w.generation.to_string());
            meta["uid"] = previous
                .as_ref()
                .map(|p| p["metadata"]["uid"].clone())
                .unwrap_or_else(|| json!(format!("uid-{}", w.generation)));
            if let Some(ns) = &ns {
                meta["namespace"] = json!(ns);
            }
            object["status"] = status_for(kind, &object, generation);
            w.objects.insert(key(&name), object.clone());
            answer(200, object)
        }
        ("DELETE", Some(name)) => match w.objects.remove(&key(&name)) {
            Some(_) => {
                w.deletes_after_cluster.push(after_cluster);
                status(200, "", "deleted")
            }
            None => status(404, "NotFound", &format!("{kind} \"{name}\" not found")),
        },
        _ => {
            w.problems.push(format!("{what}: method not served"));
            status(405, "MethodNotAllowed", "method not served here")
        }
    }
}

/// `a=b,c=d` against `labels`.
fn matches(selector: &str, labels: &Value) -> bool {
    selector
        .split(',')
        .filter(|p| !p.is_empty())
        .all(|p| match p.split_once('=') {
            Some((k, v)) => labels[k.trim_end_matches('=')] == json!(v),
            None => labels.get(p).is_some(),
        })
}

/// What the controllers would report once the object settled, with no nodes in the cluster.
fn status_for(kind: &str, object: &Value, generation: i64) -> Value {
    match kind {
        "Deployment" => {
            let n = object["spec"]["replicas"].as_i64().unwrap_or(1);
            json!({"observedGeneration": generation, "replicas": n, "updatedReplicas": n, "readyReplicas": n, "availableReplicas": n,
                "conditions": [{"type": "Available", "status": "True"}]})
        }
        "DaemonSet" => {
            json!({"observedGeneration": generation, "desiredNumberScheduled": 0, "currentNumberScheduled": 0, "numberReady": 0, "updatedNumberScheduled": 0, "numberMisscheduled": 0})
        }
        "Service" if object["spec"]["type"] == "LoadBalancer" => {
            json!({"loadBalancer": {"ingress": [{"hostname": "k8s-fake.elb.us-east-1.amazonaws.com"}]}})
        }
        _ => json!({}),
    }
}

/// Whether the AWS emulator's layer has recorded `call`.
fn emulator_saw(endpoint: &str, path: &str, call: &str) -> bool {
    use std::io::{Read, Write};
    let Some(addr) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.contains(&format!("\"{call}\""))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 3986 encoding, as SigV4 canonicalises query strings.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether `token` is what `aws eks get-token` makes for this server's cluster, signed with
/// the emulator's credentials: the checks the EKS authenticator makes before asking STS.
fn check_token(s: &Shared, token: &str) -> Result<(), String> {
    if let Some((issuer, key)) = &s.google {
        return check_google_token(issuer, key, token);
    }
    if let Some(want) = &s.bearer {
        return (token == want)
            .then_some(())
            .ok_or_else(|| "not the cluster's Entra ID token".to_string());
    }
    let body = token
        .strip_prefix("k8s-aws-v1.")
        .ok_or("no k8s-aws-v1. prefix")?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| format!("not base64url without padding: {e}"))?;
    let url = String::from_utf8(raw).map_err(|_| "not UTF-8")?;
    let host = format!("sts.{}.amazonaws.com", s.region);
    let rest = url
        .strip_prefix(&format!("https://{host}/?"))
        .ok_or_else(|| format!("not a URL of {host}: {url}"))?;
    let params: Vec<(String, String)> = rest
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let want = |k: &str, v: &str| {
        if get(k) == v {
            Ok(())
        } else {
            Err(format!("{k} is {:?}, not {v:?}", get(k)))
        }
    };
    want("Action", "GetCallerIdentity")?;
    want("Version", "2011-06-15")?;
    want("X-Amz-Algorithm", "AWS4-HMAC-SHA256")?;
    want("X-Amz-Expires", "60")?;
    let date = get("X-Amz-Date");
    let day = date.get(..8).ok_or("no X-Amz-Date")?;
    let scope = format!("{day}/{}/sts/aws4_request", s.region);
    want("X-Amz-Credential", &format!("{}/{scope}", s.access_key))?;
    let signed = get("X-Amz-SignedHeaders");
    if !signed.split(';').any(|h| h == "x-k8s-aws-id") {
        return Err(format!("x-k8s-aws-id is not signed ({signed})"));
    }
    let values: BTreeMap<&str, &str> = [
        ("host", host.as_str()),
        ("x-k8s-aws-id", s.cluster.as_str()),
    ]
    .into();
    let mut canonical_headers = String::new();
    for h in signed.split(';') {
        let v = values
            .get(h)
            .ok_or_else(|| format!("signed header {h} is not one the authenticator knows"))?;
        canonical_headers.push_str(&format!("{h}:{v}\n"));
    }
    let mut query: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (encode(k), encode(v)))
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    let empty = hex(digest::digest(&digest::SHA256, b"").as_ref());
    let canonical = format!(
        "GET\n/\n{}\n{canonical_headers}\n{signed}\n{empty}",
        query.join("&")
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mac = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k = mac(format!("AWS4{}", s.secret).as_bytes(), day);
    let k = mac(k.as_ref(), &s.region);
    let k = mac(k.as_ref(), "sts");
    let k = mac(k.as_ref(), "aws4_request");
    let signature = hex(mac(k.as_ref(), &to_sign).as_ref());
    if get("X-Amz-Signature") != signature {
        return Err("the signature does not match (wrong cluster, region or credentials)".into());
    }
    Ok(())
}

/// Whether `token` is a service account's self-signed JWT (what Google's auth libraries send
/// for a key file): RS256, issued by `issuer`, unexpired, signed with `key`.
fn check_google_token(issuer: &str, key: &[u8], token: &str) -> Result<(), String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("not a JWT (three dot-separated parts)".into());
    };
    let b64 = |p: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|e| format!("not base64url: {e}"))
    };
    let header: Value = serde_json::from_slice(&b64(header)?).map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&b64(claims)?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg is {}, not RS256", header["alg"]));
    }
    if claims["iss"] != issuer || claims["sub"] != issuer {
        return Err(format!("issued by {}, not {issuer}", claims["iss"]));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if claims["exp"].as_u64().unwrap_or(0) <= now {
        return Err("expired".into());
    }
    let signed = format!("{}.{}", parts[0], parts[1]);
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &b64(signature)?)
        .map_err(|_| "the signature does not verify with the service account's key".to_string())
}
