//! The Azure stand-in for end-to-end tests: the loopback ARM fake in providers/azure/fake
//! (checked against Azure's published REST specs) on a free 127.0.0.1 port, stopped on drop,
//! which fails the test if the fake saw a request it could not validate or serve.

use serde_json::Value;

use super::fake_process::FakeProcess;
use super::TestContext;

const FAKE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/providers/azure/fake/fake_azure.py"
);
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
pub const TOKEN: &str = "static-test-token";
/// The Entra ID group the test blueprints make cluster-admin.
pub const ADMINS: &str = "11111111-2222-3333-4444-555555555555";

pub struct AzureFake(FakeProcess);

impl std::ops::Deref for AzureFake {
    type Target = FakeProcess;
    fn deref(&self) -> &FakeProcess {
        &self.0
    }
}

impl AzureFake {
    pub fn start() -> AzureFake {
        AzureFake(FakeProcess::start(
            "Azure fake",
            FAKE,
            &["--subscription", SUBSCRIPTION, "--token", TOKEN],
        ))
    }

    /// The ARM operation ids of the requests so far, in order (`AgentPools_CreateOrUpdate`).
    pub fn operations(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r["operation"].as_str().map(String::from))
            .collect()
    }

    pub fn count(&self, operation: &str) -> usize {
        self.operations().iter().filter(|o| *o == operation).count()
    }

    /// The requests of `operation`, in order.
    pub fn requests_of(&self, operation: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["operation"] == operation)
            .collect()
    }

    /// Resources tagged `hoist-env=env`.
    pub fn tagged(&self, env: &str) -> Vec<Value> {
        self.http("GET", &format!("/_fake/resources?tag=hoist-env={env}"), "")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// GET through ARM itself (what `az rest` would show), signed like hoist's requests.
    pub fn arm_get(&self, path: &str, api_version: &str) -> Value {
        let auth = format!("Authorization: Bearer {TOKEN}\r\n");
        let query = format!("{path}?api-version={api_version}");
        let answer = super::loopback_http_with(self.port, "GET", &query, &auth, "");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("GET {path}: {answer:?}: {e}"))
    }

    /// The agent pools of cluster `env` in resource group `{env}-rg`.
    pub fn pools(&self, env: &str) -> Vec<Value> {
        let path = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{env}-rg/providers/Microsoft.ContainerService/managedClusters/{env}/agentPools");
        self.arm_get(&path, "2026-10-01")["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The pool whose name starts with `prefix`.
    pub fn pool(&self, env: &str, prefix: &str) -> Value {
        let pools = self.pools(env);
        pools
            .iter()
            .find(|p| p["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .cloned()
            .unwrap_or_else(|| panic!("a pool named {prefix}…: {pools:#?}"))
    }

    /// Resize a pool behind hoist's back, as a person in the portal would.
    pub fn resize(&self, env: &str, pool: &str, count: u32) {
        let body = serde_json::json!({"resourceGroup": format!("{env}-rg"), "cluster": env, "pool": pool, "count": count});
        self.http("POST", "/_fake/resize", &body.to_string());
    }

    /// A test context whose hoist runs talk to this fake only, with the static test token.
    pub fn context(&self) -> TestContext {
        let mut t = TestContext::new();
        for (k, v) in [
            ("HOIST_AZURE_ENDPOINT", self.endpoint()),
            ("HOIST_AZURE_CREDENTIALS", TOKEN.to_string()),
            ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION.to_string()),
        ] {
            t.env.push((k.into(), v));
        }
        t
    }
}

/// An AKS blueprint: a fixed system pool, a fixed CPU user pool of `cpu_nodes`, and a spot
/// A100 pool scaling from zero over three zones, with `extra` appended at the top level.
pub fn aks_blueprint(env: &str, cpu_nodes: u32, extra: &str) -> String {
    format!(
        "apiVersion: hoist/v1\nname: {env}\nprovider:\n  cloud: azure\n  region: eastus\nnetwork:\n  cidr: 10.50.0.0/16\n  zones: [\"1\", \"2\", \"3\"]\ncluster:\n  kubernetes_version: \"1.32\"\n  access:\n    - principal: {ADMINS}\n      role: cluster-admin\nnode_pools:\n  - name: system\n    instance_type: Standard_D4ds_v5\n    min: 2\n    max: 2\n  - name: cpu\n    instance_type: Standard_D8ds_v5\n    min: {cpu_nodes}\n    max: {cpu_nodes}\n  - name: a100\n    accelerator: A100-80GB:1\n    capacity: spot\n    min: 0\n    desired: 1\n    max: 4\n    labels:\n      workload: training\n    taints:\n      - nvidia.com/gpu=present:NoSchedule\n{extra}"
    )
}
