//! The MLOps stack on the simulated cloud, through the real binary: one apply makes the
//! cluster and its stack; a real kubectl, against `hoist sim serve`, sees what hoist made and
//! changes it behind hoist's back; drift names the object, apply restores it, a changed value is
//! an in-place apply, a removed component is pruned, and destroy removes the stack first.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::{kubectl_binary, TestContext};
use serde_json::Value;

const QUICKSTART: &str = include_str!("../blueprints/examples/quickstart.yaml");

/// `hoist sim serve` for the test's cloud, and a kubeconfig for its environment.
struct Served {
    child: Child,
    kubeconfig: PathBuf,
    kubectl: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(t: &TestContext) -> Served {
        let mut child = t
            .command(&["sim", "serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hoist sim serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("hoist sim serve prints its address");
        assert!(line.contains("http://127.0.0.1:"), "{line}");
        let kubeconfig = t.path("kubeconfig");
        t.expect(
            &[
                "kubeconfig",
                "-f",
                "hoist.yaml",
                "--out",
                kubeconfig.to_str().unwrap(),
            ],
            0,
        );
        Served {
            child,
            kubeconfig,
            kubectl: kubectl_binary(),
        }
    }

    fn kubectl(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .expect("run kubectl")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.kubectl(args);
        assert!(
            o.status.success(),
            "kubectl {args:?}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn items(&self, args: &[&str]) -> Vec<Value> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let list: Value = serde_json::from_str(&self.ok(&all)).expect("kubectl json");
        list["items"].as_array().cloned().unwrap_or_default()
    }
}

fn names(items: &[Value]) -> Vec<String> {
    let mut n: Vec<String> = items
        .iter()
        .map(|i| {
            i["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    n.sort();
    n
}

/// After a run that was killed or faulted and one more apply: one record per object in state,
/// and one of each workload and Service in the cluster.
fn assert_one_of_each(t: &TestContext) {
    let state = t.state("quickstart");
    let records = state["resources"].as_object().unwrap();
    let manifests = records
        .keys()
        .filter(|k| k.starts_with("manifest."))
        .count();
    assert_eq!(manifests, 26, "one record per object");
    let served = Served::start(t);
    let deployments = served.items(&["get", "deployments", "-A"]);
    assert_eq!(
        names(&deployments),
        ["grafana", "mlflow", "model-server", "prometheus"]
    );
    let services = served.items(&["get", "services", "-A"]);
    assert_eq!(
        services.len(),
        5,
        "one of each Service: {:?}",
        names(&services)
    );
}

/// One more apply finishes what an interrupted or faulted run left, and then nothing is left
/// to do and nothing is doubled.
fn converges_without_duplicates(t: &TestContext) {
    t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    t.expect(&["plan", "-f", "hoist.yaml", "--detailed-exitcode"], 0);
    assert_one_of_each(t);
}

fn quickstart(t: &TestContext) {
    t.write("hoist.yaml", QUICKSTART);
}

#[test]
fn the_quickstart_stack_applies_in_one_run_and_kubectl_sees_it() {
    let t = TestContext::new();
    quickstart(&t);
    let applied = t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    assert!(
        applied.stdout.contains("Apply complete"),
        "{}",
        applied.all()
    );
    let served = Served::start(&t);

    let daemon_sets = served.items(&["get", "daemonsets", "-A"]);
    assert_eq!(
        names(&daemon_sets),
        ["dcgm-exporter", "nvidia-device-plugin"]
    );
    let nodes = served.items(&["get", "nodes"]);
    let gpu_nodes: Vec<&Value> = nodes
        .iter()
        .filter(|n| !n["metadata"]["labels"]["sim.hoist.dev/accelerator"].is_null())
        .collect();
    assert_eq!(gpu_nodes.len(), 2, "one train node and one infer node");
    for ds in &daemon_sets {
        assert_eq!(
            ds["status"]["desiredNumberScheduled"], 2,
            "GPU nodes only: {ds}"
        );
        assert_eq!(ds["status"]["numberReady"], 2);
    }
    for n in &nodes {
        let gpus = &n["status"]["allocatable"]["nvidia.com/gpu"];
        let is_gpu = !n["metadata"]["labels"]["sim.hoist.dev/accelerator"].is_null();
        assert_eq!(
            !gpus.is_null(),
            is_gpu,
            "nvidia.com/gpu on GPU nodes only: {n}"
        );
    }
    let deployments = served.items(&["get", "deployments", "-A"]);
    assert_eq!(
        names(&deployments),
        ["grafana", "mlflow", "model-server", "prometheus"]
    );
    for d in &deployments {
        assert_eq!(d["status"]["availableReplicas"], 1, "{d}");
    }
    let mlflow = deployments
        .iter()
        .find(|d| d["metadata"]["name"] == "mlflow")
        .unwrap();
    let command = mlflow["spec"]["template"]["spec"]["containers"][0]["command"].to_string();
    assert!(
        command.contains("sim://bucket-"),
        "artifacts in the environment's bucket: {command}"
    );
    let table = served.ok(&["get", "deployments", "-n", "hoist-monitoring"]);
    assert!(
        table.contains("prometheus") && table.contains("1/1"),
        "{table}"
    );

    // Someone deletes a Deployment behind hoist's back.
    served.ok(&[
        "delete",
        "deployment",
        "model-server",
        "-n",
        "hoist-serving",
    ]);
    let drift = t.expect(&["drift", "-f", "hoist.yaml", "--exit-code"], 2);
    assert!(
        drift
            .stdout
            .contains("manifest.serving.deployment.model-server")
            && drift.stdout.contains("deleted outside hoist"),
        "{}",
        drift.all()
    );
    t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    let back = served.items(&["get", "deployments", "-n", "hoist-serving"]);
    assert_eq!(names(&back), ["model-server"]);
    t.expect(&["drift", "-f", "hoist.yaml", "--exit-code"], 0);

    // The model server's LoadBalancer Service made a cloud load balancer tagged for the
    // environment; destroy deletes the stack first, so it goes before the network.
    let balancers: Vec<String> = t
        .inventory("quickstart")
        .keys()
        .filter(|id| id.starts_with("lb-"))
        .cloned()
        .collect();
    assert_eq!(balancers.len(), 1);
    let destroyed = t.expect(&["destroy", "-f", "hoist.yaml", "--auto-approve"], 0);
    let at = |s: &str| destroyed.position(s);
    assert!(
        at("manifest.serving.service.model-server: deleted") < at("network.quickstart: deleted")
    );
    assert!(
        destroyed
            .stdout
            .contains("Verified: nothing tagged hoist-env=quickstart remains"),
        "{}",
        destroyed.all()
    );
    assert!(t.inventory("quickstart").is_empty());
}

#[test]
fn a_changed_value_applies_in_place_and_a_removed_component_is_pruned() {
    let t = TestContext::new();
    quickstart(&t);
    t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    let uid = |t: &TestContext| {
        let s = t.state("quickstart");
        s["resources"]["manifest.monitoring.deployment.prometheus"]["cloud_id"].clone()
    };
    let before = uid(&t);

    t.write(
        "hoist.yaml",
        &QUICKSTART.replace("retention: 15d", "retention: 30d"),
    );
    let plan = t.expect(&["plan", "-f", "hoist.yaml", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("~ manifest.monitoring.deployment.prometheus"),
        "{}",
        plan.all()
    );
    assert!(
        plan.stdout.contains("--storage.tsdb.retention.time=30d"),
        "{}",
        plan.all()
    );
    assert!(
        plan.stdout
            .contains("0 to add, 1 to change, 0 to replace, 0 to destroy"),
        "{}",
        plan.all()
    );
    t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    assert_eq!(uid(&t), before);
    t.expect(&["plan", "-f", "hoist.yaml", "--detailed-exitcode"], 0);

    let without_serving = QUICKSTART.replace("retention: 15d", "retention: 30d");
    let cut = without_serving.find("  serving:").unwrap();
    let end = without_serving[cut..].find("budget:").unwrap() + cut;
    let text = format!("{}{}", &without_serving[..cut], &without_serving[end..]);
    t.write("hoist.yaml", &text);
    let plan = t.expect(&["plan", "-f", "hoist.yaml", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout
            .contains("0 to add, 0 to change, 0 to replace, 4 to destroy"),
        "{}",
        plan.all()
    );
    t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    let state = t.state("quickstart");
    let left: Vec<&String> = state["resources"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("manifest.serving."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        !t.inventory("quickstart")
            .keys()
            .any(|id| id.starts_with("lb-")),
        "the load balancer went with its Service"
    );
}

#[test]
fn killed_during_the_stack_phase_the_next_apply_converges_without_duplicates() {
    for point in [
        // The object was applied; state never heard of it.
        "after-create:manifest.monitoring.deployment.prometheus",
        // The intent is in the journal; the object was never sent.
        "after-intent:manifest.mlflow.deployment.mlflow",
    ] {
        let t = TestContext::new();
        quickstart(&t);
        let r = t
            .command(&["apply", "-f", "hoist.yaml", "--auto-approve"])
            .env("HOIST_FAILPOINT", point)
            .output()
            .expect("run hoist");
        assert_eq!(r.status.code(), None, "{point}: killed by signal");
        converges_without_duplicates(&t);
    }
}

#[test]
fn an_api_server_that_throttles_conflicts_and_drops_answers_still_converges() {
    let t = TestContext::new();
    quickstart(&t);
    // Every call, to the cloud and to the cluster's API, may be throttled (429), fail (503 or
    // a 409 conflict) or be applied with its answer lost. Retries absorb most; a step that runs
    // out of them fails the run, and the next run finishes the job without duplicates.
    t.expect(
        &["sim", "faults", "--transient", "0.15", "--throttle", "0.15"],
        0,
    );
    let faulted = t.hoist(&["apply", "-f", "hoist.yaml", "--auto-approve"]);
    assert!(faulted.code == 0 || faulted.code == 1, "{}", faulted.all());
    t.expect(&["sim", "faults", "--transient", "0", "--throttle", "0"], 0);
    converges_without_duplicates(&t);
}

#[test]
fn stack_settings_in_the_wrong_place_are_located_errors() {
    let t = TestContext::new();
    let cases = [
        (
            "retention: 15d",
            "retention: two weeks",
            "is not a Prometheus duration",
        ),
        (
            "gpu: { variant: device-plugin }",
            "gpu: { variant: device-plugin, retention: 1d }",
            "`retention` is not a setting of stack component `gpu`",
        ),
        (
            "pool: infer",
            "pool: inference",
            "no node pool is named \"inference\"",
        ),
    ];
    for (from, to, message) in cases {
        t.write("hoist.yaml", &QUICKSTART.replace(from, to));
        let r = t.expect(&["plan", "-f", "hoist.yaml"], 1);
        assert!(r.stderr.contains(message), "{to}: {}", r.all());
        assert!(r.stderr.contains("hoist.yaml:"), "located: {}", r.all());
    }
    // Only tainted GPU nodes: Prometheus and Grafana could never be scheduled.
    let pools = QUICKSTART.find("  - name: system").unwrap();
    let train = QUICKSTART.find("  - name: train").unwrap();
    let infer = QUICKSTART.find("  - name: infer").unwrap();
    let stack = QUICKSTART.find("stack:").unwrap();
    let text = format!(
        "{}{}{}",
        &QUICKSTART[..pools],
        &QUICKSTART[train..infer],
        &QUICKSTART[stack..].replace("pool: infer", "pool: train")
    );
    t.write("hoist.yaml", &text);
    let r = t.expect(&["plan", "-f", "hoist.yaml"], 1);
    assert!(
        r.stderr.contains("every node pool repels ordinary pods"),
        "{}",
        r.all()
    );
}

#[test]
fn the_gpu_operator_and_kserve_variants_apply_and_their_controllers_do_the_rest() {
    let t = TestContext::new();
    t.write(
        "hoist.yaml",
        &QUICKSTART
            .replace("variant: device-plugin", "variant: gpu-operator")
            .replace("variant: model-server", "variant: kserve"),
    );
    let applied = t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    // The model waits for the operator's ClusterPolicy, which is ready once its plugin runs.
    let at = |s: &str| applied.position(s);
    assert!(
        at("manifest.gpu.clusterpolicy.cluster-policy: created")
            < at("manifest.serving.inferenceservice.model: created")
    );
    let served = Served::start(&t);
    let policy = served.items(&["get", "clusterpolicies"]);
    assert_eq!(policy[0]["status"]["state"], "ready", "{policy:?}");
    // The operator, not hoist, made the operands: hoist's own DaemonSets are not there.
    let daemon_sets = served.items(&["get", "daemonsets", "-n", "hoist-gpu"]);
    assert_eq!(
        names(&daemon_sets),
        ["nvidia-dcgm-exporter", "nvidia-device-plugin-daemonset"]
    );
    for n in served.items(&["get", "nodes"]) {
        let is_gpu = !n["metadata"]["labels"]["sim.hoist.dev/accelerator"].is_null();
        assert_eq!(
            !n["status"]["allocatable"]["nvidia.com/gpu"].is_null(),
            is_gpu,
            "{n}"
        );
        if is_gpu {
            assert_eq!(
                n["metadata"]["labels"]["feature.node.kubernetes.io/pci-10de.present"],
                "true"
            );
        }
    }
    let isvc = served.items(&["get", "inferenceservices", "-n", "hoist-serving"]);
    let ready = isvc[0]["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(ready, "{isvc:?}");
    let deployments = served.items(&["get", "deployments", "-n", "hoist-serving"]);
    assert_eq!(
        names(&deployments),
        ["kserve-controller-manager", "model-predictor"]
    );
    let jobs = served.items(&["get", "jobs", "-n", "hoist-serving"]);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["status"]["succeeded"], 1);
    t.expect(&["plan", "-f", "hoist.yaml", "--detailed-exitcode"], 0);

    // The InferenceService deleted behind hoist's back is drift; KServe's objects go with it.
    served.ok(&["delete", "inferenceservice", "model", "-n", "hoist-serving"]);
    let drift = t.expect(&["drift", "-f", "hoist.yaml", "--exit-code"], 2);
    assert!(
        drift
            .stdout
            .contains("manifest.serving.inferenceservice.model"),
        "{}",
        drift.all()
    );
    let left = served.items(&["get", "deployments", "-n", "hoist-serving"]);
    assert_eq!(names(&left), ["kserve-controller-manager"]);
    t.expect(&["apply", "-f", "hoist.yaml", "--auto-approve"], 0);
    t.expect(&["drift", "-f", "hoist.yaml", "--exit-code"], 0);

    let destroyed = t.expect(&["destroy", "-f", "hoist.yaml", "--auto-approve"], 0);
    assert!(
        destroyed
            .stdout
            .contains("Verified: nothing tagged hoist-env=quickstart remains"),
        "{}",
        destroyed.all()
    );
    assert!(t.inventory("quickstart").is_empty());
}
