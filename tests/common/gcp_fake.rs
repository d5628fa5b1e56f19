//! The GCP stand-in for end-to-end tests: the loopback fake in providers/gcp/fake (checked
//! against Google's discovery documents) on a free 127.0.0.1 port, stopped on drop. On drop
//! it also fails the test if the fake saw a request it could not validate or serve.

use std::process::Command;

use serde_json::Value;

use super::fake_process::FakeProcess;
use super::TestContext;

const FAKE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/providers/gcp/fake/fake_gcp.py"
);
pub const PROJECT: &str = "hoist-test";
pub const CLIENT_EMAIL: &str = "hoist-ci@hoist-test.iam.gserviceaccount.com";

pub struct GcpFake(FakeProcess);

impl std::ops::Deref for GcpFake {
    type Target = FakeProcess;
    fn deref(&self) -> &FakeProcess {
        &self.0
    }
}

impl GcpFake {
    pub fn start() -> GcpFake {
        GcpFake(FakeProcess::start(
            "GCP fake",
            FAKE,
            &["--project", PROJECT],
        ))
    }

    /// The discovery ids of the calls so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r["call"].as_str().map(String::from))
            .collect()
    }

    pub fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
    }

    /// Resources labelled (or described) `hoist-env=env`.
    pub fn labelled(&self, env: &str) -> Vec<Value> {
        self.http(
            "GET",
            &format!("/_fake/resources?label=hoist-env={env}"),
            "",
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Resize a pool behind hoist's back.
    pub fn resize(&self, location: &str, cluster: &str, pool: &str, per_zone: u32) {
        let body = serde_json::json!({"location": location, "cluster": cluster, "pool": pool, "nodeCount": per_zone});
        self.http("POST", "/_fake/resize", &body.to_string());
    }

    /// A test context whose hoist runs talk to this fake only, signing in with a service
    /// account key made for the test (self-signed JWTs: no token endpoint is called).
    pub fn context(&self) -> TestContext {
        let mut t = TestContext::new();
        let key = service_account_key(&t);
        for (k, v) in [
            ("HOIST_GCP_CONTAINER_ENDPOINT", self.endpoint()),
            ("HOIST_GCP_COMPUTE_ENDPOINT", self.endpoint()),
            ("HOIST_GCP_STORAGE_ENDPOINT", self.endpoint()),
            ("GOOGLE_APPLICATION_CREDENTIALS", key),
            ("GOOGLE_CLOUD_PROJECT", PROJECT.to_string()),
            ("CLOUDSDK_CONFIG", t.path("gcloud").display().to_string()),
        ] {
            t.env.push((k.into(), v));
        }
        t
    }

    /// gcloud, pointed at the fake, as an independent client; its stdout parsed as JSON.
    pub fn gcloud(&self, t: &TestContext, args: &[&str]) -> Value {
        let config = t.path("gcloud");
        std::fs::create_dir_all(&config).unwrap();
        // Without this file gcloud asks DNS for the metadata server once.
        std::fs::write(config.join("gce"), "False").unwrap();
        let out = Command::new("gcloud")
            .args(args)
            .arg("--format=json")
            .env("CLOUDSDK_CONFIG", &config)
            .env("CLOUDSDK_AUTH_ACCESS_TOKEN", "fake")
            .env("CLOUDSDK_CORE_PROJECT", PROJECT)
            .env("CLOUDSDK_CORE_DISABLE_USAGE_REPORTING", "true")
            .env("CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK", "true")
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER",
                format!("{}/", self.endpoint()),
            )
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE",
                format!("{}/compute/v1/", self.endpoint()),
            )
            .env(
                "CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE",
                format!("{}/storage/v1/", self.endpoint()),
            )
            .output()
            .expect("gcloud runs (Google's cloud CLI is on the machine image)");
        assert!(
            out.status.success(),
            "gcloud {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }
}

/// A service account key file for the test (an RSA key made with openssl), as the console
/// downloads it.
fn service_account_key(t: &TestContext) -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl makes a test key");
    assert!(out.status.success());
    t.write("sa-key.pem", &String::from_utf8_lossy(&out.stdout));
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": String::from_utf8(out.stdout).unwrap(),
        "client_email": CLIENT_EMAIL,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    });
    t.write("sa.json", &key.to_string()).display().to_string()
}

/// The public half of the context's service account key (PKCS#1 DER), to check its tokens.
pub fn public_key_der(t: &TestContext) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["rsa", "-in"])
        .arg(t.path("sa-key.pem"))
        .args(["-RSAPublicKey_out", "-outform", "DER"])
        .output()
        .expect("openssl reads the test key");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A GKE blueprint: a CPU system pool, a spot L4 pool and a TPU v5e pool, with `extra`
/// appended at the top level.
pub fn gke_blueprint(env: &str, l4_nodes: u32, extra: &str) -> String {
    format!(
        "apiVersion: hoist/v1\nname: {env}\nprovider:\n  cloud: gcp\n  region: us-central1\n  project: {PROJECT}\nnetwork:\n  cidr: 10.60.0.0/16\n  zones: [us-central1-a, us-central1-b, us-central1-c]\ncluster:\n  kubernetes_version: \"1.32\"\nnode_pools:\n  - name: system\n    instance_type: e2-standard-4\n    min: 3\n    max: 3\n  - name: l4\n    accelerator: L4:1\n    capacity: spot\n    min: 0\n    desired: {l4_nodes}\n    max: 4\n  - name: tpu\n    accelerator: tpu-v5e-8\n    min: 0\n    desired: 1\n    max: 1\n{extra}"
    )
}
