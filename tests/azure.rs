#![cfg(feature = "azure")]
//! The Azure provider's lifecycle against the loopback ARM fake in providers/azure/fake,
//! which checks every request against Azure's published REST specs: what an apply makes,
//! in-place and replacing changes, drift, zonal allocation failures, SKU restrictions,
//! quotas, throttling, crashes and destroy.

mod common;

use common::azure_fake::{aks_blueprint, AzureFake, ADMINS, SUBSCRIPTION};
use serde_json::{json, Value};

fn kinds(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["type"].as_str().unwrap_or_default().to_ascii_lowercase())
        .collect()
}

#[test]
fn apply_builds_a_tagged_aks_environment_plans_empty_and_destroys_to_nothing() {
    let fake = AzureFake::start();
    fake.configure(json!({"polls": 1}));
    let t = fake.context();
    t.write("hoist.yaml", &aks_blueprint("aks1", 1, ""));
    t.expect(&["apply", "--auto-approve"], 0);

    let group = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/aks1-rg");
    let rg = fake.arm_get(&group, "2025-04-01");
    assert_eq!(rg["tags"]["hoist-env"], "aks1", "{rg}");
    let vnet = fake.arm_get(
        &format!("{group}/providers/Microsoft.Network/virtualNetworks/aks1-vnet"),
        "2025-01-01",
    );
    assert_eq!(
        vnet["properties"]["addressSpace"]["addressPrefixes"],
        json!(["10.50.0.0/16"])
    );
    assert_eq!(
        vnet["properties"]["subnets"][0]["properties"]["addressPrefix"],
        "10.50.0.0/17"
    );
    let cluster = fake.arm_get(
        &format!("{group}/providers/Microsoft.ContainerService/managedClusters/aks1"),
        "2026-10-01",
    );
    let p = &cluster["properties"];
    assert_eq!(cluster["tags"]["hoist-address"], "aks_cluster.aks1");
    assert_eq!(p["networkProfile"]["networkPluginMode"], "overlay");
    assert_eq!(
        p["networkProfile"]["podCidr"], "192.168.0.0/16",
        "outside the network"
    );
    assert_eq!(p["aadProfile"]["managed"], true);
    assert_eq!(p["aadProfile"]["adminGroupObjectIDs"], json!([ADMINS]));
    assert_eq!(p["securityProfile"]["workloadIdentity"]["enabled"], true);
    assert_eq!(
        p["autoScalerProfile"]["expander"], "least-waste",
        "a pool autoscales"
    );
    assert_eq!(cluster["sku"]["tier"], "Standard");
    let system: Vec<&Value> = p["agentPoolProfiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["mode"] == "System")
        .collect();
    assert_eq!(system.len(), 1);
    assert_eq!(system[0]["name"], "system");
    assert_eq!(system[0]["vmSize"], "Standard_D4ds_v5");

    let gpu = fake.pool("aks1", "a100");
    let gp = &gpu["properties"];
    assert_eq!(
        gp["vmSize"], "Standard_NC24ads_A100_v4",
        "the cheapest A100-80GB size"
    );
    assert_eq!(gp["mode"], "User");
    assert_eq!(gp["scaleSetPriority"], "Spot");
    assert_eq!(gp["scaleSetEvictionPolicy"], "Delete");
    assert_eq!(gp["enableAutoScaling"], true);
    assert_eq!(
        (gp["minCount"].as_u64(), gp["maxCount"].as_u64()),
        (Some(0), Some(4))
    );
    assert_eq!(gp["availabilityZones"], json!(["1", "2", "3"]));
    assert_eq!(gp["nodeLabels"]["workload"], "training");
    assert_eq!(gp["nodeLabels"]["hoist.dev/node-pool"], "a100");
    let taints = common::strings(&gp["nodeTaints"]);
    assert!(
        taints.contains(&"nvidia.com/gpu=present:NoSchedule".to_string()),
        "{taints:?}"
    );
    assert!(
        taints.contains(&"kubernetes.azure.com/scalesetpriority=spot:NoSchedule".to_string()),
        "AKS's own spot taint: {taints:?}"
    );
    assert_eq!(gp["gpuProfile"]["driver"], "Install");
    assert_eq!(gp["tags"]["hoist-env"], "aks1");
    let tagged = kinds(&fake.tagged("aks1"));
    for kind in [
        "resourcegroups",
        "virtualnetworks",
        "managedclusters",
        "agentpools",
    ] {
        assert!(
            tagged.iter().any(|k| k.contains(kind)),
            "{kind} tagged: {tagged:?}"
        );
    }
    assert!(
        fake.requests()
            .iter()
            .all(|r| r["problems"].as_array().is_none_or(|p| p.is_empty())),
        "every request validated"
    );

    // A second plan is empty and only reads: one GET each (group, network, subnet,
    // cluster), one list of the cluster's agent pools, then the listings by tag.
    fake.reset_requests();
    t.expect(&["plan", "--detailed-exitcode"], 0);
    let requests = fake.requests();
    assert!(
        requests.iter().all(|r| r["method"] == "GET"),
        "a no-op plan only reads: {:#?}",
        fake.operations()
    );
    let mut operations = fake.operations();
    operations.sort();
    // Refresh: the group, network, subnet and cluster, and one list of the cluster's pools.
    // The ownership listing: the group, the lists of networks, clusters and storage
    // accounts, and the pools of each cluster found.
    assert_eq!(
        operations,
        [
            "AgentPools_List",
            "AgentPools_List",
            "ManagedClusters_Get",
            "ManagedClusters_ListByResourceGroup",
            "ResourceGroups_Get",
            "ResourceGroups_Get",
            "StorageAccounts_ListByResourceGroup",
            "Subnets_Get",
            "VirtualNetworks_Get",
            "VirtualNetworks_List",
        ]
    );

    t.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(
        fake.tagged("aks1"),
        Vec::<Value>::new(),
        "nothing tagged is left"
    );
}

#[test]
fn counts_change_in_place_sizes_replace_new_first_and_resizes_are_drift() {
    let fake = AzureFake::start();
    fake.configure(json!({"polls": 0}));
    let t = fake.context();
    t.write("hoist.yaml", &aks_blueprint("aks2", 1, ""));
    t.expect(&["apply", "--auto-approve"], 0);

    // Two CPU nodes: the same pool, with a new count.
    t.write("hoist.yaml", &aks_blueprint("aks2", 2, ""));
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("~ node_pool.cpu"), "{}", plan.stdout);
    fake.reset_requests();
    t.expect(&["apply", "--auto-approve"], 0);
    let puts = fake.requests_of("AgentPools_CreateOrUpdate");
    assert_eq!(puts.len(), 1, "{:?}", fake.operations());
    assert!(puts[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("/agentPools/cpu"));
    assert_eq!(puts[0]["body"]["properties"]["count"], 2);
    assert_eq!(fake.count("AgentPools_Delete"), 0);
    t.expect(&["drift", "--exit-code"], 0);

    // Someone scales it in the portal: drift names the pool and the field; apply puts it back.
    fake.resize("aks2", "cpu", 1);
    let drift = t.expect(&["drift", "--exit-code"], 2);
    assert!(
        drift.stdout.contains("node_pool.cpu")
            && drift.stdout.contains("desired: 2 (applied) → 1 (live)"),
        "{}",
        drift.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(fake.pool("aks2", "cpu")["properties"]["count"], 2);
    t.expect(&["drift", "--exit-code"], 0);

    // A bigger VM size: a new pool, made before the old one goes.
    t.write(
        "hoist.yaml",
        &aks_blueprint("aks2", 2, "").replace("A100-80GB:1", "A100-80GB:2"),
    );
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("+/- node_pool.a100"),
        "create before destroy: {}",
        plan.stdout
    );
    fake.reset_requests();
    t.expect(&["apply", "--auto-approve"], 0);
    let ops: Vec<(String, String)> = fake
        .requests()
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| {
            (
                r["operation"].as_str().unwrap_or_default().to_string(),
                r["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let created = ops
        .iter()
        .position(|(o, _)| o == "AgentPools_CreateOrUpdate")
        .expect("a new pool");
    let deleted = ops
        .iter()
        .position(|(o, p)| o == "AgentPools_Delete" && p.ends_with("/agentPools/a100"))
        .expect("the old pool goes");
    assert!(created < deleted, "new before old: {ops:?}");
    let new = fake.pool("aks2", "a100");
    assert_ne!(new["name"], "a100", "a new name while the old pool ran");
    assert!(new["name"].as_str().unwrap().len() <= 12);
    assert_eq!(new["properties"]["vmSize"], "Standard_NC48ads_A100_v4");
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(fake.tagged("aks2"), Vec::<Value>::new());
}

#[test]
fn a_zone_without_capacity_moves_the_pool_and_throttling_and_errors_are_retried() {
    let fake = AzureFake::start();
    fake.configure(json!({
        "polls": 1,
        "allocation_failures": {"Standard_NC24ads_A100_v4": ["1"]},
        "faults": [
            {"operation": "AgentPools_CreateOrUpdate", "status": 429, "count": 1, "retry_after": 1},
            {"operation": "VirtualNetworks_CreateOrUpdate", "status": 500, "count": 1},
        ],
    }));
    let t = fake.context();
    t.write("hoist.yaml", &aks_blueprint("aks3", 1, ""));
    let r = t.expect(&["apply", "--auto-approve"], 0);
    assert!(r.stdout.contains("retrying in 2, 3"), "{}", r.stdout);
    let gpu = fake.pool("aks3", "a100");
    assert_eq!(
        gpu["properties"]["availabilityZones"],
        json!(["2", "3"]),
        "{gpu}"
    );
    assert_eq!(gpu["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        fake.pools("aks3").len(),
        3,
        "the failed attempt left no pool behind"
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
}

#[test]
fn a_restricted_zone_is_dropped_at_plan_and_a_low_quota_fails_the_plan_before_any_create() {
    let fake = AzureFake::start();
    fake.configure(
        json!({"polls": 0, "sku_restrictions": {"Standard_NC24ads_A100_v4": {"eastus": ["3"]}}}),
    );
    let t = fake.context();
    t.write("hoist.yaml", &aks_blueprint("aks4", 1, ""));
    let plan = t.expect(&["plan"], 0);
    assert!(
        plan.stdout.contains("cannot be placed in zone 3 (restricted: NotAvailableForSubscription) of eastus; placing in zones 1, 2"),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        fake.pool("aks4", "a100")["properties"]["availabilityZones"],
        json!(["1", "2"])
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);

    // 4 × 24 vCPUs of spot at the pool's largest size, and 40 spot vCPUs free.
    fake.configure(
        json!({"quotas": {"eastus": {"lowPriorityCores": {"limit": 48, "current": 8}}}}),
    );
    fake.reset_requests();
    let r = t.expect(&["apply", "--auto-approve"], 1);
    assert!(
        r.stderr.contains("lowPriorityCores")
            && r.stderr.contains("needs 96 vCPUs")
            && r.stderr.contains("40 of 48 free"),
        "{}",
        r.stderr
    );
    let writes: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| r["operation"].to_string())
        .collect();
    assert_eq!(writes, Vec::<String>::new(), "nothing created");
}

#[test]
fn killed_during_apply_then_apply_again_makes_no_duplicates() {
    let fake = AzureFake::start();
    fake.configure(json!({"polls": 0}));
    let t = fake.context();
    t.write("hoist.yaml", &aks_blueprint("aks5", 1, ""));
    let clusters = |fake: &AzureFake| {
        kinds(&fake.tagged("aks5"))
            .iter()
            .filter(|k| k.ends_with("/managedclusters"))
            .count()
    };
    for point in [
        "after-create:virtual_network.main",
        "after-intent:aks_cluster.aks5",
        "after-create:node_pool.a100",
    ] {
        t.apply_killed_at(point);
        t.expect(&["apply", "--auto-approve"], 0);
        assert_eq!(clusters(&fake), 1, "{point}");
        assert_eq!(
            fake.pools("aks5").len(),
            3,
            "{point}: {:#?}",
            fake.pools("aks5")
        );
        t.expect(&["plan", "--detailed-exitcode"], 0);
        t.expect(&["destroy", "--auto-approve"], 0);
    }
    // A real kill -9 while AKS is still making the pools.
    fake.configure(json!({"polls": 8}));
    t.apply_killed_when("AgentPools_CreateOrUpdate", || {
        fake.count("AgentPools_CreateOrUpdate") > 0
    });
    fake.configure(json!({"polls": 0}));
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(fake.pools("aks5").len(), 3, "adopted, not made again");
    assert_eq!(clusters(&fake), 1);
    t.expect(&["plan", "--detailed-exitcode"], 0);
    t.expect(&["destroy", "--auto-approve"], 0);
    assert_eq!(fake.tagged("aks5"), Vec::<Value>::new());
}

#[test]
fn kubeconfig_runs_kubelogin_and_stores_no_token() {
    let fake = AzureFake::start();
    fake.configure(json!({"polls": 0}));
    let t = fake.context();
    t.write("hoist.yaml", &aks_blueprint("aks6", 1, ""));
    t.expect(&["apply", "--auto-approve"], 0);
    let k = t.expect(&["kubeconfig"], 0).stdout;
    assert!(!k.contains("token:"), "no credential in the file: {k}");
    let view = t.kubectl_view(&k);
    let exec = &view["users"][0]["user"]["exec"];
    assert_eq!(exec["command"], "kubelogin", "{view}");
    assert_eq!(
        exec["args"],
        json!([
            "get-token",
            "--login",
            "azurecli",
            "--server-id",
            "6dae42f8-4368-4678-94ff-3960e28e3630"
        ])
    );
    assert!(view["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    t.expect(&["destroy", "--auto-approve"], 0);
}
