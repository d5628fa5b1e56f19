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
    // Besides the single-host v5e-8 pool, a multi-host v5e-16 slice: 4 VMs in a 4x4 topology.
    let slice =
        "  - name: slice\n    accelerator: tpu-v5e-16\n    min: 0\n    desired: 1\n    max: 1\n";
    t.write("hoist.yaml", &gke_blueprint("gke1", 1, slice));
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
    assert!(
        tpu["placementPolicy"].is_null(),
        "a single-host slice needs no placement: {tpu}"
    );
    let slice = pool(&pools, "slice");
    assert_eq!(slice["config"]["machineType"], "ct5lp-hightpu-4t");
    assert_eq!(
        slice["placementPolicy"],
        json!({"type": "COMPACT", "tpuTopology": "4x4"})
    );
    assert_eq!(slice["initialNodeCount"], 4, "the whole slice: {slice}");
    assert_eq!(slice["locations"], json!(["us-central1-a"]));
    assert_eq!(
        slice["autoscaling"]["totalMaxNodeCount"], 4,
        "0 or the whole slice: {slice}"
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
    // Read: one list per network kind, the cluster, one list of its pools, and the three
    // zonal instance groups of the one fixed-size pool (system). Reconcile by labels: the
    // three network kinds, clusters (with their pools), buckets.
    assert_eq!(calls.len(), 13, "{calls:#?}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "compute.instanceGroupManagers.get")
            .count(),
        3
    );

    t.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(
        fake.labelled("gke1"),
        Vec::<Value>::new(),
        "nothing labelled for the environment is left"
    );
}

/// The pool whose name starts `prefix-`, by gcloud, in environment `env`.
fn live_pool(fake: &GcpFake, t: &common::TestContext, env: &str, prefix: &str) -> Value {
    pool(&pools(fake, t, env), prefix).clone()
}

#[test]
fn sizes_change_in_place_accelerators_replace_new_first_and_resizes_are_drift() {
    let fake = GcpFake::start();
    fake.configure(json!({"polls": 1}));
    let t = fake.context();
    t.write("hoist.yaml", &gke_blueprint("gke2", 1, ""));
    t.expect(&["apply", "--auto-approve"], 0);
    let system = live_pool(&fake, &t, "gke2", "system");
    assert_eq!(system["initialNodeCount"], 1, "3 nodes over 3 zones");

    // More system nodes: the same pool, resized.
    t.write(
        "hoist.yaml",
        &gke_blueprint("gke2", 1, "").replace("    min: 3\n    max: 3", "    min: 6\n    max: 6"),
    );
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("~ node_pool.system"),
        "{}",
        plan.stdout
    );
    fake.reset_requests();
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        fake.count("container.projects.locations.clusters.nodePools.setSize"),
        1
    );
    assert_eq!(
        fake.count("container.projects.locations.clusters.nodePools.create"),
        0
    );
    let resized = live_pool(&fake, &t, "gke2", "system");
    assert_eq!(resized["name"], system["name"], "the same pool");
    let set_size = fake
        .requests()
        .into_iter()
        .find(|r| r["call"] == "container.projects.locations.clusters.nodePools.setSize")
        .expect("a resize");
    assert_eq!(set_size["body"]["nodeCount"], 2, "6 nodes over 3 zones");
    // GKE keeps initialNodeCount as made; hoist reads the instance groups, so no drift.
    t.expect(&["drift", "--exit-code"], 0);

    // Someone resizes it with gcloud: drift names the pool and the field, apply puts it back.
    let name = resized["name"].as_str().unwrap().to_string();
    fake.gcloud(
        &t,
        &[
            "container",
            "clusters",
            "resize",
            "gke2",
            "--node-pool",
            &name,
            "--num-nodes",
            "1",
            "--region",
            "us-central1",
            "--quiet",
        ],
    );
    let drift = t.expect(&["drift", "--exit-code"], 2);
    assert!(
        drift.stdout.contains("node_pool.system")
            && drift.stdout.contains("desired: 6 (applied) → 3 (live)"),
        "{}",
        drift.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    t.expect(&["drift", "--exit-code"], 0);

    // Another GPU: a new pool, made before the old one goes.
    let old = live_pool(&fake, &t, "gke2", "l4")["name"]
        .as_str()
        .unwrap()
        .to_string();
    t.write(
        "hoist.yaml",
        &gke_blueprint("gke2", 1, "").replace("accelerator: L4:1", "accelerator: T4:1"),
    );
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("+/- node_pool.l4"),
        "create before destroy: {}",
        plan.stdout
    );
    fake.reset_requests();
    t.expect(&["apply", "--auto-approve"], 0);
    let calls = fake.calls();
    let created = calls
        .iter()
        .position(|c| c == "container.projects.locations.clusters.nodePools.create")
        .expect("a new pool");
    let deleted = calls
        .iter()
        .position(|c| c == "container.projects.locations.clusters.nodePools.delete")
        .expect("the old pool goes");
    assert!(created < deleted, "new before old: {calls:?}");
    let new = live_pool(&fake, &t, "gke2", "l4");
    assert_ne!(new["name"].as_str(), Some(old.as_str()));
    assert_eq!(
        new["config"]["accelerators"][0]["acceleratorType"],
        "nvidia-tesla-t4"
    );
    assert!(
        new["config"]["machineType"]
            .as_str()
            .unwrap()
            .starts_with("n1-"),
        "T4s attach to N1: {new}"
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);

    // A new Kubernetes minor upgrades the control plane in place.
    let bp = gke_blueprint("gke2", 1, "")
        .replace("accelerator: L4:1", "accelerator: T4:1")
        .replace("\"1.32\"", "\"1.33\"");
    t.write("hoist.yaml", &bp);
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("~ gke_cluster.gke2"),
        "{}",
        plan.stdout
    );
    fake.reset_requests();
    t.expect(&["apply", "--auto-approve"], 0);
    let update = fake
        .requests()
        .into_iter()
        .find(|r| r["call"] == "container.projects.locations.clusters.update")
        .expect("an upgrade");
    assert_eq!(update["body"]["update"]["desiredMasterVersion"], "1.33");
    let cluster = fake.gcloud(
        &t,
        &[
            "container",
            "clusters",
            "describe",
            "gke2",
            "--region",
            "us-central1",
        ],
    );
    assert!(
        cluster["currentMasterVersion"]
            .as_str()
            .unwrap_or_default()
            .starts_with("1.33"),
        "{cluster}"
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
}

#[test]
fn a_stocked_out_zone_moves_the_pool_and_throttling_is_retried() {
    let fake = GcpFake::start();
    fake.configure(json!({
        "polls": 1,
        "stockouts": {"g2-standard-4": ["us-central1-a"]},
        "faults": [
            {"call": "container.projects.locations.clusters.nodePools.create", "status": 429, "times": 2},
            {"call": "compute.subnetworks.insert", "status": 503, "times": 1},
        ],
    }));
    let t = fake.context();
    t.write("hoist.yaml", &gke_blueprint("gke3", 1, ""));
    let r = t.expect(&["apply", "--auto-approve"], 0);
    assert!(
        r.stdout.contains(
            "us-central1-a out of L4:1 capacity; retrying in us-central1-b, us-central1-c"
        ),
        "{}",
        r.stdout
    );
    let l4 = live_pool(&fake, &t, "gke3", "l4");
    assert_eq!(
        l4["locations"],
        json!(["us-central1-b", "us-central1-c"]),
        "{l4}"
    );
    assert_eq!(l4["status"], "RUNNING");
    let pools = pools(&fake, &t, "gke3");
    assert_eq!(
        pools.len(),
        3,
        "the stocked-out attempt left no pool behind: {pools:#?}"
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
}

#[test]
fn a_low_tpu_quota_fails_the_plan_before_any_create() {
    let fake = GcpFake::start();
    // The first read of the quotas is throttled: the retry reads them again.
    fake.configure(json!({
        "quotas": {"us-central1": {"TPU_LITE_PODSLICE_V5": {"limit": 4, "usage": 0}}},
        "faults": [{"call": "compute.regions.get", "status": 429, "times": 1}],
    }));
    let t = fake.context();
    t.write("hoist.yaml", &gke_blueprint("gke4", 1, ""));
    let r = t.expect(&["apply", "--auto-approve"], 1);
    assert!(
        r.stderr.contains("TPU_LITE_PODSLICE_V5") && r.stderr.contains("needs 8"),
        "{}",
        r.stderr
    );
    let calls = fake.calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.ends_with(".create") && !c.ends_with(".insert")),
        "nothing created: {calls:?}"
    );
}

#[test]
fn killed_during_apply_then_apply_again_makes_no_duplicates() {
    let fake = GcpFake::start();
    fake.configure(json!({"polls": 1}));
    let t = fake.context();
    t.write("hoist.yaml", &gke_blueprint("gke5", 1, ""));
    for point in [
        "after-create:gcp_network.main",
        "after-intent:gke_cluster.gke5",
        "after-create:node_pool.l4",
    ] {
        t.apply_killed_at(point);
        t.expect(&["apply", "--auto-approve"], 0);
        let clusters = fake.gcloud(
            &t,
            &["container", "clusters", "list", "--region", "us-central1"],
        );
        assert_eq!(clusters.as_array().unwrap().len(), 1, "{point}: {clusters}");
        assert_eq!(pools(&fake, &t, "gke5").len(), 3, "{point}");
        assert_eq!(
            fake.gcloud(&t, &["compute", "networks", "list"])
                .as_array()
                .unwrap()
                .len(),
            1,
            "{point}"
        );
        t.expect(&["plan", "--detailed-exitcode"], 0);
        t.expect(&["destroy", "--auto-approve"], 0);
    }
    // A real kill -9 while GKE is still making the pools.
    fake.configure(json!({"polls": 6}));
    t.apply_killed_when(
        "container.projects.locations.clusters.nodePools.create",
        || fake.count("container.projects.locations.clusters.nodePools.create") > 0,
    );
    fake.configure(json!({"polls": 1}));
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(pools(&fake, &t, "gke5").len(), 3, "adopted, not made again");
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(fake.labelled("gke5"), Vec::<Value>::new());
}

#[test]
fn kubeconfig_runs_gke_gcloud_auth_plugin_and_stores_no_token() {
    let fake = GcpFake::start();
    fake.configure(json!({"polls": 0}));
    let t = fake.context();
    t.write("hoist.yaml", &gke_blueprint("gke6", 0, ""));
    t.expect(&["apply", "--auto-approve"], 0);
    let k = t.expect(&["kubeconfig"], 0).stdout;
    assert!(!k.contains("token"), "no credential in the file: {k}");
    // kubectl reads it as gcloud's own: the plugin, the cluster's CA and endpoint.
    let view = t.kubectl_view(&k);
    let exec = &view["users"][0]["user"]["exec"];
    assert_eq!(exec["command"], "gke-gcloud-auth-plugin", "{view}");
    assert_eq!(exec["provideClusterInfo"], true, "{view}");
    assert_eq!(
        view["clusters"][0]["name"],
        "gke_hoist-test_us-central1_gke6"
    );
    assert!(view["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert!(
        !view["clusters"][0]["cluster"]["certificate-authority-data"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    t.expect(&["destroy", "--auto-approve"], 0);
}
