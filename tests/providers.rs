//! Many providers in one run, through the engine's public API: a small key-value provider
//! configured from the simulated cluster's endpoint, as the Kubernetes layer will be. Its
//! objects live "inside" the cluster: when the cluster goes, they go, and their endpoint stops
//! answering (any call to it fails the test's provider loudly).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::TestContext;
use hoist::engine::{ApplyOptions, EnvSettings, Plan, Providers, Session, Silent};
use hoist::ops::{expand_offline, load_blueprint, store, Files};
use hoist_provider::{
    output_ref, Action, Address, Attrs, CloudResource, KindRules, Lifecycle, Listing, Observed,
    Ownership, Provider, ProviderError, ProviderFactory, ResourceConfig, ResourceState,
    StepContext,
};
use hoist_sim::{LatencyProfile, SimCloud};
use serde_json::{json, Value};

/// The objects of each live endpoint (an API server per cluster), and every call made.
#[derive(Default)]
struct Servers {
    objects: Mutex<HashMap<String, BTreeMap<String, Attrs>>>,
    calls: Mutex<Vec<String>>,
}

impl Servers {
    fn start(&self, endpoint: &str) {
        self.objects
            .lock()
            .unwrap()
            .entry(endpoint.into())
            .or_default();
    }
    /// The cluster behind `endpoint` is gone: so is its API server.
    fn stop(&self, endpoint: &str) {
        self.objects.lock().unwrap().remove(endpoint);
    }
    fn objects(&self, endpoint: &str) -> Option<BTreeMap<String, Attrs>> {
        self.objects.lock().unwrap().get(endpoint).cloned()
    }
}

struct KvFactory {
    source: Address,
    servers: Arc<Servers>,
}

#[async_trait]
impl ProviderFactory for KvFactory {
    fn name(&self) -> &str {
        "kv"
    }
    fn source(&self) -> &Address {
        &self.source
    }
    async fn configure(&self, source: &ResourceState) -> Result<Arc<dyn Provider>, ProviderError> {
        let endpoint = source.outputs.get("endpoint").and_then(Value::as_str);
        let endpoint = endpoint.ok_or_else(|| ProviderError::Invalid("no endpoint".into()))?;
        self.servers.start(endpoint);
        Ok(Arc::new(Kv {
            endpoint: endpoint.into(),
            servers: self.servers.clone(),
        }))
    }
}

/// A provider bound to one endpoint; objects are keyed by name, their id is `endpoint/name`.
struct Kv {
    endpoint: String,
    servers: Arc<Servers>,
}

impl Kv {
    fn call<T>(
        &self,
        what: &str,
        f: impl FnOnce(&mut BTreeMap<String, Attrs>) -> T,
    ) -> Result<T, ProviderError> {
        self.servers
            .calls
            .lock()
            .unwrap()
            .push(format!("{what} {}", self.endpoint));
        let mut all = self.servers.objects.lock().unwrap();
        let objects = all.get_mut(&self.endpoint).ok_or_else(|| {
            ProviderError::Fatal(format!("Kubernetes cluster unreachable: {}", self.endpoint))
        })?;
        Ok(f(objects))
    }
    fn observed(&self, name: &str, attrs: &Attrs) -> Observed {
        let mut attrs = attrs.clone();
        attrs.retain(|k, _| k != "tags");
        Observed {
            cloud_id: format!("{}/{name}", self.endpoint),
            attrs,
            outputs: Attrs::new(),
            lifecycle: Lifecycle::Ready,
        }
    }
}

#[async_trait]
impl Provider for Kv {
    fn name(&self) -> &str {
        "kv"
    }
    fn rules(&self, _kind: &str) -> KindRules {
        KindRules::default()
    }
    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>> {
        resources
            .iter()
            .map(|r| {
                let name = r.address.name().to_string();
                self.call("read", |o| o.get(&name).map(|a| self.observed(&name, a)))
            })
            .collect()
    }
    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let name = config.address.name().to_string();
        let mut attrs = config.attrs.clone();
        attrs.insert("tags".into(), json!(ctx.tags));
        self.call("create", |o| o.insert(name.clone(), attrs))?;
        Ok(self.observed(&name, &config.attrs))
    }
    async fn update(
        &self,
        _prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        self.create(config, ctx).await
    }
    async fn delete(&self, prior: &ResourceState) -> Result<Vec<String>, ProviderError> {
        let name = prior.address.name().to_string();
        self.call("delete", |o| o.remove(&name))?;
        Ok(Vec::new())
    }
    async fn find_by_token(
        &self,
        _address: &Address,
        _token: &str,
        _owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }
    async fn list_owned(&self, env: &str) -> Result<Listing, ProviderError> {
        self.call("list", |o| {
            o.iter()
                .filter(|(_, a)| a["tags"][hoist_provider::tags::ENV] == json!(env))
                .map(|(name, a)| CloudResource {
                    cloud_id: format!("{}/{name}", self.endpoint),
                    kind: "kv_object".into(),
                    name: name.clone(),
                    region: String::new(),
                    status: "running".into(),
                    tags: serde_json::from_value(a["tags"].clone()).unwrap_or_default(),
                    outputs: Attrs::new(),
                })
                .collect()
        })
        .map(Listing::of)
    }
}

struct World {
    t: TestContext,
    servers: Arc<Servers>,
    files: Files,
}

const BLUEPRINT: &str = "apiVersion: hoist/v1\nname: layered\nprovider:\n  cloud: sim\n  region: sim-east1\nnetwork:\n  zones: 1\nnode_pools:\n  - name: cpu\n    instance_type: sim-standard-4\n    min: 1\n    max: 1\n";

impl World {
    fn new() -> Self {
        let t = TestContext::new();
        let file = t.write("hoist.yaml", BLUEPRINT);
        Self {
            t,
            servers: Arc::default(),
            files: Files {
                blueprint: file,
                state_dir: None,
                backend: None,
                vars: Vec::new(),
                var_files: Vec::new(),
            },
        }
    }

    fn cluster() -> Address {
        Address::new("cluster", "layered")
    }

    /// The sim's resources and two objects that name the cluster's endpoint.
    fn desired(&self) -> Vec<ResourceConfig> {
        let bp = load_blueprint(&self.files).expect("blueprint");
        let mut desired = expand_offline(&bp).expect("expands");
        for name in ["settings", "models"] {
            let mut c = ResourceConfig::from_json(
                Address::new("kv_object", name),
                json!({"data": format!("{name} data"), "server": output_ref(&Self::cluster(), "endpoint")}),
                vec![],
            );
            c.provider = "kv".into();
            desired.push(c);
        }
        desired
    }

    async fn session(&self, operation: &str) -> Session {
        let bp = load_blueprint(&self.files).unwrap();
        let sim = SimCloud::open(&self.t.sim_dir(), LatencyProfile::Instant).unwrap();
        let providers = Providers::new(Arc::new(sim)).with_deferred(Arc::new(KvFactory {
            source: Self::cluster(),
            servers: self.servers.clone(),
        }));
        let store = store(&self.files, &bp)
            .unwrap()
            .with_marks(self.t.path("data"));
        Session::open(
            &store,
            operation,
            EnvSettings::from_blueprint(&bp),
            providers,
            &Silent,
        )
        .await
        .expect("session opens")
    }

    async fn plan(&self, desired: Vec<ResourceConfig>) -> (Session, Plan) {
        let session = self.session("plan").await;
        let plan = session.plan(desired, true, &Silent).await.expect("plans");
        (session, plan)
    }

    async fn apply(&self, desired: Vec<ResourceConfig>) -> Plan {
        let (mut session, plan) = self.plan(desired).await;
        let opts = ApplyOptions {
            parallelism: None,
            cancel: Arc::new(AtomicBool::new(false)),
            timeout: None,
        };
        let report = session
            .apply(&plan, &opts, Arc::new(Silent))
            .await
            .expect("applies");
        assert!(report.ok(), "apply failed: {report:?}");
        plan
    }

    fn endpoint(&self) -> String {
        let state = self.t.state("layered");
        state["resources"]["cluster.layered"]["outputs"]["endpoint"]
            .as_str()
            .expect("the cluster has an endpoint")
            .to_string()
    }

    /// Delete the cluster behind hoist's back; its API server goes with it.
    fn delete_cluster(&self) {
        let endpoint = self.endpoint();
        let id = self.t.state("layered")["resources"]["cluster.layered"]["cloud_id"]
            .as_str()
            .unwrap()
            .to_string();
        self.t.expect(&["sim", "delete", &id], 0);
        self.servers.stop(&endpoint);
    }

    fn recorded(&self, address: &str) -> bool {
        self.t.state("layered")["resources"].get(address).is_some()
    }
}

fn action(plan: &Plan, address: &str) -> Action {
    plan.changes
        .iter()
        .find(|c| c.address.to_string() == address)
        .map(|c| c.action)
        .unwrap_or(Action::NoOp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_configured_from_a_cluster_follows_it_through_create_loss_and_destroy() {
    let w = World::new();

    // First plan: the objects' server is known only once the cluster exists.
    let (_, first) = w.plan(w.desired()).await;
    let text = hoist::printer::render_plan(&first, false);
    assert_eq!(action(&first, "kv_object.models"), Action::Create);
    assert!(
        text.contains("server: (known after apply)"),
        "the plan shows the unknown endpoint:\n{text}"
    );
    assert!(
        w.servers.calls.lock().unwrap().is_empty(),
        "no call before the cluster exists"
    );

    // Apply configures the provider mid-run, from the cluster it just made.
    w.apply(w.desired()).await;
    let endpoint = w.endpoint();
    let objects = w
        .servers
        .objects(&endpoint)
        .expect("objects on the new cluster");
    assert_eq!(objects.len(), 2);
    assert_eq!(objects["models"]["server"], json!(endpoint));
    assert_eq!(
        w.t.state("layered")["resources"]["kv_object.models"]["provider"],
        "kv"
    );

    // Nothing left to do.
    let (_, again) = w.plan(w.desired()).await;
    assert!(!again.has_changes(), "second plan: {:?}", again.changes);

    // The cluster is deleted behind hoist's back: its objects are gone with it.
    w.delete_cluster();
    let (_, lost) = w.plan(w.desired()).await;
    assert_eq!(action(&lost, "cluster.layered"), Action::Create);
    assert_eq!(action(&lost, "kv_object.models"), Action::Create);
    assert_eq!(
        lost.dropped.len(),
        2,
        "both objects are forgotten: {:?}",
        lost.dropped
    );
    let text = hoist::printer::render_plan(&lost, false);
    assert!(
        text.contains(
            "~ kv_object.models  # forget: kv_object.models is gone with cluster.layered"
        ) && text.contains("2 to forget from state"),
        "the plan says what is forgotten and why:\n{text}"
    );
    let calls_before = w.servers.calls.lock().unwrap().len();
    w.apply(w.desired()).await;
    let calls = w.servers.calls.lock().unwrap()[calls_before..].to_vec();
    assert!(
        !calls.iter().any(|c| c.ends_with(&endpoint)),
        "the old cluster's endpoint was called: {calls:?}"
    );
    let new_endpoint = w.endpoint();
    assert_ne!(new_endpoint, endpoint, "a new cluster");
    assert_eq!(w.servers.objects(&new_endpoint).unwrap().len(), 2);
    let (_, settled) = w.plan(w.desired()).await;
    assert!(
        !settled.has_changes(),
        "after re-creating: {:?}",
        settled.changes
    );

    // Destroy with the cluster already gone drops the objects and finishes.
    w.delete_cluster();
    let destroyed = w.apply(Vec::new()).await;
    assert_eq!(destroyed.dropped.len(), 2);
    assert!(!w.recorded("kv_object.models") && !w.recorded("cluster.layered"));
    let session = w.session("destroy").await;
    let left = session.leftovers().await.unwrap();
    assert!(left.mine.is_empty(), "left: {:?}", left.mine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_deletes_what_a_cluster_serves_before_the_cluster() {
    let w = World::new();
    w.apply(w.desired()).await;
    let endpoint = w.endpoint();
    w.apply(Vec::new()).await;
    assert_eq!(
        w.servers.objects(&endpoint).map(|o| o.len()),
        Some(0),
        "objects deleted through the live cluster"
    );
    let calls = w.servers.calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("delete")).count(),
        2,
        "{calls:?}"
    );
    assert!(!w.recorded("cluster.layered"));
}
