#![cfg(feature = "azure")]
//! The MLOps stack on AKS, against the Azure fake: the cluster's endpoint (from
//! `listClusterUserCredential`) is the loopback Kubernetes API in tests/common/kube_api.rs,
//! which accepts only the Entra ID token hoist's credentials give. One apply makes the cloud
//! side and the stack; AKS's managed autoscaler stands in for hoist's, AKS installs the
//! NVIDIA driver so hoist runs the device plugin; MLflow's artifacts go to the storage
//! account's container; destroy takes the stack down before the cluster and leaves nothing
//! tagged.

mod common;
#[path = "common/kube_api.rs"]
mod kube_api;

use base64::Engine;
use common::azure_fake::{AzureFake, TOKEN};
use kube_api::KubeApi;
use serde_json::{json, Value};

/// The example blueprint, applied as it is.
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/blueprints/examples/azure-aks-a100.yaml"
);
const ENV: &str = "aks-a100";

#[test]
fn the_example_makes_aks_and_the_stack_in_one_apply_and_destroy_takes_the_stack_down_first() {
    let fake = AzureFake::start();
    let t = fake.context();
    let api = KubeApi::start_aks(TOKEN);
    let ca_pem = base64::engine::general_purpose::STANDARD
        .decode(&api.ca_data)
        .expect("the CA's PEM");
    fake.configure(json!({
        "polls": 1,
        "kube": {"server": api.url, "ca_pem": String::from_utf8(ca_pem).unwrap()},
    }));
    api.set_witness_of(
        &fake.endpoint(),
        "/_fake/requests",
        "ManagedClusters_Delete",
    );
    t.write("hoist.yaml", &std::fs::read_to_string(EXAMPLE).unwrap());
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(api.problems(), Vec::<String>::new());
    assert_eq!(api.rejected(), 0, "hoist's Entra ID token was accepted");

    // AKS installs the driver and runs the autoscaler; hoist runs NVIDIA's device plugin.
    let plugin = api
        .object("apps/v1", "DaemonSet", "hoist-gpu", "nvidia-device-plugin")
        .expect("the device plugin");
    assert!(
        plugin
            .to_string()
            .contains("kubernetes.azure.com/accelerator"),
        "the plugin runs on AKS's GPU nodes: {plugin}"
    );
    assert!(api
        .object(
            "apps/v1",
            "Deployment",
            "hoist-autoscaler",
            "cluster-autoscaler"
        )
        .is_none());
    assert!(api
        .object("apps/v1", "Deployment", "hoist-monitoring", "prometheus")
        .is_some());
    let tagged = fake.tagged(ENV);
    let cluster_id = tagged
        .iter()
        .find(|r| r["type"] == "Microsoft.ContainerService/managedClusters")
        .and_then(|r| r["id"].as_str())
        .expect("the cluster is tagged");
    let cluster = fake.arm_get(cluster_id, "2026-10-01");
    let gpu_pool = fake.pool(ENV, "a100");
    assert_eq!(
        (
            gpu_pool["properties"]["enableAutoScaling"].as_bool(),
            gpu_pool["properties"]["minCount"].as_u64()
        ),
        (Some(true), Some(0))
    );
    assert!(
        cluster["properties"]["autoScalerProfile"].is_object(),
        "{cluster}"
    );

    // MLflow writes to the account's container, over HTTPS, with Entra ID (no keys).
    let mlflow = api
        .object("apps/v1", "Deployment", "hoist-mlflow", "mlflow")
        .expect("the MLflow Deployment");
    let args = common::container_args(&mlflow);
    let at = args
        .iter()
        .position(|a| a == "--artifacts-destination")
        .expect("an artifact destination");
    let uri = &args[at + 1];
    let account = uri
        .strip_prefix("wasbs://mlflow@")
        .and_then(|r| r.strip_suffix(".blob.core.windows.net/"))
        .unwrap_or_else(|| panic!("a blob container: {uri}"));
    assert!(account.starts_with("aksa100"), "{account}");
    let stored_id = tagged
        .iter()
        .find(|r| r["name"] == account)
        .and_then(|r| r["id"].as_str())
        .expect("the storage account is tagged");
    let stored = fake.arm_get(stored_id, "2025-01-01");
    assert_eq!(stored["properties"]["allowSharedKeyAccess"], false);
    assert_eq!(stored["properties"]["minimumTlsVersion"], "TLS1_2");
    assert_eq!(
        fake.count("BlobContainers_Create"),
        1,
        "{:?}",
        fake.operations()
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);

    t.expect(&["destroy", "--auto-approve"], 0);
    let deletes = api.with(|w| w.deletes_after_cluster.clone());
    assert!(!deletes.is_empty(), "the stack's objects were deleted");
    assert!(
        deletes.iter().all(|after| !after),
        "every stack object went before the cluster: {deletes:?}"
    );
    assert_eq!(api.count_objects(), 0, "nothing left in the cluster");
    assert_eq!(
        fake.tagged(ENV),
        Vec::<Value>::new(),
        "nothing tagged is left"
    );
    assert_eq!(api.problems(), Vec::<String>::new());
}
