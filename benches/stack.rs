//! `hoist-bench stack`: the quickstart's whole MLOps stack on the simulated cloud (`instant`
//! latency): apply of cluster and stack in one run, a no-op plan (median of 5), how many calls
//! that plan makes to the cluster's Kubernetes API, and destroy.

use std::path::Path;

use hoist_sim::{LatencyProfile, SimCloud};

use super::{run, Measure};

const QUICKSTART: &str = include_str!("../blueprints/examples/quickstart.yaml");

/// Requests the environment's simulated cluster has answered so far.
fn api_calls(dir: &Path) -> u64 {
    let cloud = SimCloud::open(&dir.join("sim"), LatencyProfile::Instant).expect("open the sim");
    let cluster = cloud
        .list(Some("quickstart"))
        .expect("list the sim")
        .into_iter()
        .find(|r| r.kind == "cluster")
        .expect("the quickstart's cluster");
    cloud
        .kube_api(&cluster.cloud_id)
        .and_then(|api| api.requests())
        .expect("count the cluster's API calls")
}

pub fn bench(hoist: &Path) {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = QUICKSTART.replace("latency: demo", "latency: instant");
    std::fs::write(dir.path().join("hoist.yaml"), text).expect("write blueprint");
    let apply = run(hoist, dir.path(), &["apply", "--auto-approve"]);
    let objects = 26;
    let before = api_calls(dir.path());
    let mut plans: Vec<Measure> = (0..5)
        .map(|_| run(hoist, dir.path(), &["plan", "--detailed-exitcode"]))
        .collect();
    let calls = (api_calls(dir.path()) - before) / 5;
    plans.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let destroy = run(hoist, dir.path(), &["destroy", "--auto-approve"]);
    for (what, m) in [
        ("apply", &apply),
        ("plan", &plans[2]),
        ("destroy", &destroy),
    ] {
        if m.code != 0 {
            eprintln!("warning: {what} exited {}", m.code);
        }
    }
    println!("quickstart with the full stack ({objects} Kubernetes objects, 9 cloud resources):");
    println!(
        "  apply (cluster and stack, one run)  {:>7.3} s  {:>6.1} MB",
        apply.seconds, apply.peak_mb
    );
    println!(
        "  no-op plan (median of 5)            {:>7.3} s  {:>6.1} MB",
        plans[2].seconds, plans[2].peak_mb
    );
    println!("  Kubernetes API calls per no-op plan {calls:>7}    (one list per kind)");
    println!(
        "  destroy (stack first)               {:>7.3} s  {:>6.1} MB",
        destroy.seconds, destroy.peak_mb
    );
}
