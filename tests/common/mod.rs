//! The one helper for end-to-end tests: a temp directory with its own simulated cloud and
//! state, and the real `hoist` binary run against them.
#![allow(dead_code)]

pub mod azure_fake;
pub mod emulator;
pub mod fake_process;
pub mod gcp_fake;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The command and arguments of a Deployment's first container, as one list.
pub fn container_args(deployment: &Value) -> Vec<String> {
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    c["command"]
        .as_array()
        .into_iter()
        .chain(c["args"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect()
}

pub struct TestContext {
    pub dir: tempfile::TempDir,
    pub latency: &'static str,
    /// Extra environment for every hoist run (e.g. the AWS emulator's endpoint).
    pub env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Where `line` first appears in stdout, for asserting the order of steps.
    #[allow(dead_code)]
    pub fn position(&self, line: &str) -> usize {
        self.stdout
            .find(line)
            .unwrap_or_else(|| panic!("{line} in {}", self.all()))
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        }
    }
}

/// A blueprint for environment `name` with a GPU pool; tests edit the text for variants.
pub fn blueprint(name: &str, accelerator: &str, min: u32, desired: u32, max: u32) -> String {
    format!(
        "apiVersion: hoist/v1\nname: {name}\nprovider:\n  cloud: sim\n  region: sim-east1\nnetwork:\n  zones: 3\nnode_pools:\n  - name: gpu\n    accelerator: {accelerator}\n    min: {min}\n    desired: {desired}\n    max: {max}\n  - name: cpu\n    instance_type: sim-standard-4\n    min: 1\n    max: 1\n"
    )
}

impl TestContext {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
            latency: "instant",
            env: Vec::new(),
        }
    }

    /// Another CI job: a fresh working directory (no `.hoist/`) on the same simulated cloud,
    /// with this context's environment.
    pub fn job(&self) -> TestContext {
        let mut job = TestContext::new();
        job.latency = self.latency;
        job.env = self.env.clone();
        job.env
            .push(("HOIST_SIM_DIR".into(), self.sim_dir().display().to_string()));
        job
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn sim_dir(&self) -> PathBuf {
        self.path("sim")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn command(&self, args: &[&str]) -> Command {
        self.command_via(&[], args)
    }

    /// hoist run through `wrapper` (e.g. `unshare --pid --fork`), with the context's environment.
    pub fn command_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let hoist = env!("CARGO_BIN_EXE_hoist");
        let mut c = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(hoist);
                c
            }
            None => Command::new(hoist),
        };
        c.args(args)
            .current_dir(self.dir.path())
            .env("HOIST_SIM_DIR", self.sim_dir())
            .env("HOIST_DATA_DIR", self.path("data"))
            .env("HOIST_SIM_LATENCY", self.latency)
            .env("NO_COLOR", "1")
            .env_remove("HOIST_STATE_DIR")
            .env_remove("HOIST_BACKEND")
            .env_remove("HOIST_LOCK_LEASE")
            .env_remove("HOIST_FAILPOINT")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn hoist(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run hoist").into()
    }

    /// Run and insist on `code`, showing the output when it differs.
    pub fn expect(&self, args: &[&str], code: i32) -> Run {
        let r = self.hoist(args);
        assert_eq!(
            r.code, code,
            "hoist {args:?} exited {} (wanted {code})\nstdout:\n{}\nstderr:\n{}",
            r.code, r.stdout, r.stderr
        );
        r
    }

    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut c = self.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hoist")
    }

    /// Apply until failpoint `point` kills the process (SIGKILL), as a crash there would.
    pub fn apply_killed_at(&self, point: &str) {
        let r = self
            .command(&["apply", "--auto-approve"])
            .env("HOIST_FAILPOINT", point)
            .output()
            .expect("hoist runs");
        assert_eq!(
            r.status.code(),
            None,
            "{point}: killed\n{}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
    }

    /// Start an apply and kill -9 it once `sent` says the call it waits for was made.
    pub fn apply_killed_when(&self, what: &str, sent: impl Fn() -> bool) {
        let mut run = self.spawn(&["apply", "--auto-approve"], &[]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        while !sent() {
            assert!(std::time::Instant::now() < deadline, "{what} was not sent");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        run.kill().expect("kill");
        run.wait().expect("reaped");
    }

    /// Run `args` in `n` processes at once; each must exit 0. Their stdout and stderr.
    pub fn together(&self, args: &[&str], n: usize) -> Vec<String> {
        let runs: Vec<Child> = (0..n).map(|_| self.spawn(args, &[])).collect();
        runs.into_iter()
            .map(|c| {
                let o = c.wait_with_output().expect("hoist ran");
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                assert_eq!(o.status.code(), Some(0), "{args:?}: {text}");
                text
            })
            .collect()
    }

    /// A kubeconfig as kubectl reads it (`kubectl config view --raw -o json`).
    pub fn kubectl_view(&self, kubeconfig: &str) -> Value {
        self.write("kube.yaml", kubeconfig);
        let view = Command::new(kubectl_binary())
            .args(["config", "view", "--raw", "-o", "json", "--kubeconfig"])
            .arg(self.path("kube.yaml"))
            .output()
            .expect("kubectl runs");
        assert!(
            view.status.success(),
            "{}",
            String::from_utf8_lossy(&view.stderr)
        );
        serde_json::from_slice(&view.stdout).expect("kubectl's JSON")
    }

    /// The simulated cloud's resources tagged for `env`: cloud id → address tag.
    pub fn inventory(&self, env: &str) -> BTreeMap<String, String> {
        let r = self.expect(&["sim", "list", "--env", env, "--json"], 0);
        let rows: Vec<Value> = serde_json::from_str(&r.stdout).expect("sim list json");
        rows.iter()
            .map(|r| {
                (
                    r["cloud_id"].as_str().unwrap().to_string(),
                    r["tags"]["hoist-address"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                )
            })
            .collect()
    }

    /// The state file of `env`, as JSON.
    pub fn state(&self, env: &str) -> Value {
        let text = std::fs::read_to_string(self.state_path(env)).expect("state file");
        serde_json::from_str(&text).expect("state json")
    }

    pub fn state_path(&self, env: &str) -> PathBuf {
        self.path(&format!(".hoist/{env}.state.json"))
    }

    /// State's cloud resources (and deposed ones), not the stack's Kubernetes objects: cloud
    /// id → address.
    pub fn state_inventory(&self, env: &str) -> BTreeMap<String, String> {
        let s = self.state(env);
        let mut out: BTreeMap<String, String> = s["resources"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["provider"] != "kube")
            .map(|r| {
                (
                    r["cloud_id"].as_str().unwrap().to_string(),
                    r["address"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for r in s["deposed"].as_array().into_iter().flatten() {
            out.insert(
                r["cloud_id"].as_str().unwrap().to_string(),
                r["address"].as_str().unwrap().to_string(),
            );
        }
        out
    }

    /// The cloud holds exactly what state records, one resource per address (what in-cluster
    /// controllers made, untagged with an address, is theirs).
    pub fn assert_converged(&self, env: &str) {
        let mut cloud = self.inventory(env);
        cloud.retain(|_, address| !address.is_empty());
        let state = self.state_inventory(env);
        assert_eq!(
            cloud, state,
            "cloud inventory (left) differs from state (right)"
        );
        let mut addresses: Vec<&String> = cloud.values().collect();
        let n = addresses.len();
        addresses.sort();
        addresses.dedup();
        assert_eq!(
            addresses.len(),
            n,
            "duplicate resources for one address: {cloud:?}"
        );
    }

    pub fn exists(&self, rel: &str) -> bool {
        Path::new(&self.path(rel)).exists()
    }
}

/// A real kubectl, to look at what hoist made as a person would: `HOIST_TEST_KUBECTL`, else
/// the one on `PATH`, else the one Google's cloud CLI package ships.
pub fn kubectl_binary() -> String {
    if let Ok(k) = std::env::var("HOIST_TEST_KUBECTL") {
        return k;
    }
    for candidate in ["kubectl", "/usr/lib/google-cloud-sdk/bin/kubectl"] {
        let found = Command::new(candidate)
            .args(["version", "--client"])
            .output()
            .is_ok_and(|o| o.status.success());
        if found {
            return candidate.to_string();
        }
    }
    panic!("these tests need kubectl (1.27-1.33): install it or set HOIST_TEST_KUBECTL");
}

/// One HTTP/1.1 request to a loopback test server (a fake's control API), and the body of
/// its answer; a chunked answer (small, so one chunk) is unwrapped.
pub fn loopback_http(port: u16, method: &str, path: &str, body: &str) -> String {
    loopback_http_with(port, method, path, "", body)
}

/// [`loopback_http`] with more header lines (each ending in `\r\n`), e.g. an Authorization.
pub fn loopback_http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return body.to_string();
    }
    body.split_once("\r\n")
        .map(|(_, rest)| rest)
        .unwrap_or(body)
        .rsplit_once("\r\n0\r\n")
        .map(|(b, _)| b)
        .unwrap_or(body)
        .to_string()
}

/// The strings of a JSON array (empty for anything else).
pub fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
