#![cfg(feature = "gcp")]
//! The GCP provider's lifecycle against the loopback fake in providers/gcp/fake, which checks
//! every request against Google's discovery documents: what an apply makes (looked at with
//! gcloud), in-place and replacing changes, drift, stockouts, quotas, crashes and destroy.

mod common;

use common::gcp_fake::{gke_blueprint, GcpFake};
use serde_json::{json, Value};

fn pools(fake: &GcpFake, t: &common::TestContext, env: &str) -> Vec<Value> {
    fake.gcloud(
        t,
        &[
            "container",
            "node-pools",
            "list",
            "--cluster",
            env,
            "--region",
            "us-central1",
        ],
    )
    .as_array()
    .cloned()
    .unwrap_or_default()
}

fn pool<'a>(pools: &'a [Value], prefix: &str) -> &'a Value {
    pools
        .iter()
        .find(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.starts_with(&format!("{prefix}-")))
        })
        .unwrap_or_else(|| panic!("a pool named {prefix}-…: {pools:#?}"))
}

#[test]
fn apply_builds_a_labelled_gke_environment_plans_empty_and_destroys_to_nothing() {
    let fake = GcpFake::start();
    let t = fake.context();
    t.write("hoist.yaml", &gke_blueprint("gke1", 1, ""));
    t.expect(&["apply", "--auto-approve"], 0);

    let networks = fake.gcloud(&t, &["compute", "networks", "list"]);
    assert_eq!(networks.as_array().unwrap().len(), 1, "{networks}");
    assert_eq!(networks[0]["autoCreateSubnetworks"], false);
    let subnets = fake.gcloud(&t, &["compute", "networks", "subnets", "list"]);
    let ranges: Vec<&str> = subnets[0]["secondaryIpRanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rangeName"].as_str().unwrap())
        .collect();
    assert_eq!(ranges, vec!["pods", "services"]);
    let routers = fake.gcloud(&t, &["compute", "routers", "list"]);
    assert_eq!(routers[0]["nats"][0]["natIpAllocateOption"], "AUTO_ONLY");

    let cluster = fake.gcloud(
        &t,
        &[
            "container",
            "clusters",
            "describe",
            "gke1",
            "--region",
            "us-central1",
        ],
    );
    assert_eq!(cluster["resourceLabels"]["hoist-env"], "gke1");
    assert_eq!(cluster["privateClusterConfig"]["enablePrivateNodes"], true);
    assert_eq!(
        cluster["workloadIdentityConfig"]["workloadPool"],
        "hoist-test.svc.id.goog"
    );
    assert_eq!(cluster["releaseChannel"]["channel"], "REGULAR");
    let pools = pools(&fake, &t, "gke1");
    assert!(
        pools.iter().all(|p| p["name"] != "default-pool"),
        "the bootstrap pool is gone: {pools:#?}"
    );
    let l4 = pool(&pools, "l4");
    assert_eq!(
        l4["config"]["machineType"], "g2-standard-4",
        "the cheapest L4 type"
    );
    assert_eq!(l4["config"]["spot"], true);
    assert_eq!(
        l4["config"]["accelerators"][0]["acceleratorType"],
        "nvidia-l4"
    );
    assert_eq!(l4["config"]["accelerators"][0]["acceleratorCount"], "1");
    assert_eq!(
        l4["config"]["accelerators"][0]["gpuDriverInstallationConfig"]["gpuDriverVersion"],
        "LATEST"
    );
    assert_eq!(l4["autoscaling"]["totalMaxNodeCount"], 4);
    assert_eq!(
        l4["config"]["resourceLabels"]["hoist-address"],
        "node_pool--l4"
    );
    let tpu = pool(&pools, "tpu");
    assert_eq!(tpu["config"]["machineType"], "ct5lp-hightpu-8t");
    assert_eq!(
        tpu["locations"],
        json!(["us-central1-a"]),
        "v5e-8 is offered in one zone"
    );
    let kinds: Vec<String> = fake
        .labelled("gke1")
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_string())
        .collect();
    for kind in ["network", "subnetwork", "router", "cluster", "nodePool"] {
        assert!(
            kinds.iter().any(|k| k.eq_ignore_ascii_case(kind)
                || k.to_ascii_lowercase().contains(&kind.to_ascii_lowercase())),
            "{kind} labelled: {kinds:?}"
        );
    }
    assert!(
        fake.requests()
            .iter()
            .all(|r| r["problems"].as_array().is_none_or(|p| p.is_empty())),
        "every request validated"
    );

    fake.reset_requests();
    t.expect(&["plan", "--detailed-exitcode"], 0);
    let calls = fake.calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.ends_with(".create") && !c.ends_with(".insert") && !c.ends_with(".delete")),
        "a no-op plan only reads: {calls:?}"
    );

    t.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(
        fake.labelled("gke1"),
        Vec::<Value>::new(),
        "nothing labelled for the environment is left"
    );
}
