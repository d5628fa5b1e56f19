//! The AWS stand-in for end-to-end tests: moto (an independent AWS emulator) behind the
//! loopback layer in tests/aws/fake_aws.py, on a free 127.0.0.1 port, stopped on drop. On drop
//! it also fails the test if the layer saw a request it could not validate or serve.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::TestContext;

const LAYER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/fake_aws.py");
const STATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/emulator_state.py");

pub struct Emulator {
    child: Child,
    port: u16,
    /// Whether hoist's test layer is in front of moto (it validates every request).
    layer: bool,
}

impl Emulator {
    pub fn start() -> Emulator {
        Self::start_with(&[])
    }

    /// The layer with `env` in its environment (e.g. the loopback Kubernetes API that EKS
    /// clusters answer with: HOIST_FAKE_KUBE_URL, HOIST_FAKE_KUBE_CA).
    pub fn start_with(env: &[(&str, &str)]) -> Emulator {
        let mut child = Command::new("python3")
            .arg(LAYER)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the AWS emulator (pip install 'moto[server]')");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the emulator prints its port");
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the emulator did not start: {line:?}"));
        Emulator {
            child,
            port,
            layer: true,
        }
    }

    /// moto alone, as a user would run it (`moto_server`), without hoist's layer: what moto
    /// lacks stays missing. Only AWS's managed IAM policies are loaded, as moto documents.
    pub fn start_plain() -> Emulator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs moto (pip install 'moto[server]')");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Emulator {
            child,
            port,
            layer: false,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn http(&self, method: &str, path: &str, body: &str) -> String {
        super::loopback_http(self.port, method, path, body)
    }

    /// Merge `json` into the layer's config (faults, stockouts, quotas, paging).
    pub fn configure(&self, json: &str) {
        let answer: Value = serde_json::from_str(&self.http("POST", "/_hoist/config", json))
            .expect("the layer answers JSON");
        // A refusal is `{"message": ...}`; an accepted change answers the whole config.
        assert!(
            answer.get("throttle").is_some(),
            "the layer refused {json}: {answer}"
        );
    }

    pub fn reset_calls(&self) {
        self.http("POST", "/_hoist/calls/reset", "");
    }

    pub fn calls(&self) -> Vec<String> {
        serde_json::from_str(&self.http("GET", "/_hoist/calls", "")).unwrap()
    }

    pub fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| *c == call).count()
    }

    /// The parameters of every `op` request since the last reset.
    pub fn requests(&self, op: &str) -> Vec<Value> {
        let all: Vec<Value> =
            serde_json::from_str(&self.http("GET", "/_hoist/requests", "")).unwrap();
        all.into_iter()
            .filter(|r| r["op"] == op)
            .map(|r| r["params"].clone())
            .collect()
    }

    /// Requests the layer could not validate or serve (tests expect none).
    pub fn errors(&self) -> Vec<String> {
        serde_json::from_str(&self.http("GET", "/_hoist/errors", "")).unwrap()
    }

    /// Wait until a call configured with `hang_ops` is being held.
    pub fn wait_hanging(&self, call: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let held: Vec<String> =
                serde_json::from_str(&self.http("GET", "/_hoist/hanging", "")).unwrap();
            if held.iter().any(|c| c == call) {
                return;
            }
            assert!(Instant::now() < deadline, "{call} never arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Answer held calls with an error without letting them reach moto.
    pub fn drop_held(&self) {
        self.http("POST", "/_hoist/release", r#"{"drop": true}"#);
    }

    /// What the emulator holds for `env`, read through boto3.
    pub fn state(&self, env: &str) -> Value {
        let out = Command::new("python3")
            .arg(STATE)
            .arg(self.endpoint())
            .arg(env)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    /// A boto3 call against the emulator, behind hoist's back; its stdout.
    pub fn boto(&self, code: &str) -> String {
        let script = format!("import boto3, json\nc = lambda s: boto3.client(s, endpoint_url='{}', region_name='us-east-1', aws_access_key_id='testing', aws_secret_access_key='testing')\n{code}\n", self.endpoint());
        let out = Command::new("python3")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into()
    }

    /// A test context whose hoist runs talk to this emulator only.
    pub fn context(&self) -> TestContext {
        let mut t = TestContext::new();
        for (k, v) in [
            ("AWS_ENDPOINT_URL", self.endpoint().as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_MAX_ATTEMPTS", "1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ] {
            t.env.push((k.into(), v.into()));
        }
        t
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let errors = if std::thread::panicking() || !self.layer {
            Vec::new()
        } else {
            self.errors()
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        assert!(
            errors.is_empty(),
            "the AWS layer saw requests it does not know or could not serve: {errors:#?}"
        );
    }
}

/// An EKS blueprint: a GPU pool and an autoscaled CPU pool, with `extra` appended to the GPU
/// pool (indented as its keys) for variants.
pub fn eks_blueprint(env: &str, gpu: &str, nodes: u32, max: u32, extra: &str) -> String {
    format!(
        "apiVersion: hoist/v1\nname: {env}\nprovider:\n  cloud: aws\n  region: us-east-1\nnetwork:\n  cidr: 10.50.0.0/16\n  zones: [us-east-1a, us-east-1b, us-east-1c]\ncluster:\n  kubernetes_version: \"1.32\"\nnode_pools:\n  - name: gpu\n    {gpu}\n    min: {nodes}\n    desired: {nodes}\n    max: {max}\n    labels:\n      workload: training\n    taints:\n      - nvidia.com/gpu=present:NoSchedule\n{extra}  - name: system\n    instance_type: m5.large\n    min: 1\n    max: 3\n"
    )
}
