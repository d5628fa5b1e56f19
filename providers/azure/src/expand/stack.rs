//! What the MLOps stack needs from Azure: a storage account with a blob container for
//! MLflow's artifacts, and AKS's labels, storage class and GPU facts.

use std::collections::BTreeMap;

use hoist_provider::{Address, ArtifactStore, EnvSpec, GpuVariant, StackTarget};
use serde_json::json;

use super::pools::{GPU_LABEL, POOL_LABEL};
use super::Graph;

/// AKS's default StorageClass (the Azure Disk CSI driver, Premium SSD).
const STORAGE_CLASS: &str = "managed-csi-premium";
pub(crate) const CONTAINER: &str = "mlflow";

pub(crate) fn account() -> Address {
    Address::new("storage_account", "mlflow")
}

/// The storage account's name prefix: lowercase letters and digits of the environment (the
/// account name adds 8 characters of the create's token, to be unique across Azure).
fn name_prefix(env: &str) -> String {
    let mut p: String = env
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    p.truncate(16);
    if p.len() < 3 {
        p.insert_str(0, "hoist");
    }
    p
}

/// The MLflow storage account, when the stack runs MLflow.
pub(super) fn add(g: &mut Graph, spec: &EnvSpec, group: &Address) {
    if spec.stack.mlflow.is_none() {
        return;
    }
    g.add(
        &account(),
        json!({
            "name_prefix": name_prefix(&spec.name),
            "resource_group": group.to_string(),
            "location": spec.region,
            "container": CONTAINER,
        }),
        vec![group.clone()],
    );
}

/// The stack on AKS: pools autoscale themselves (AKS's managed cluster autoscaler), AKS
/// installs the NVIDIA driver and the container runtime hook (so the device plugin is
/// hoist's), MLflow writes to the account's container.
pub(super) fn target(spec: &EnvSpec) -> StackTarget {
    let operator = spec
        .stack
        .gpu
        .as_ref()
        .is_some_and(|g| g.variant == GpuVariant::GpuOperator);
    StackTarget {
        cluster: super::cluster_address(&spec.name),
        cluster_name: spec.name.clone(),
        accelerator_label: GPU_LABEL.into(),
        pool_label: POOL_LABEL.into(),
        autoscaler: None,
        artifacts: Some(ArtifactStore {
            bucket: account(),
            uri_output: "uri".into(),
            service_account_annotations: BTreeMap::new(),
            env: BTreeMap::new(),
        }),
        storage_class: Some(STORAGE_CLASS.into()),
        gpu_driver_preinstalled: !operator,
        gpu_plugin_managed: false,
        gpu_driver_host_dir: None,
    }
}
