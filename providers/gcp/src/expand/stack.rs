//! What the MLOps stack needs from GCP: a Cloud Storage bucket for MLflow's artifacts that
//! MLflow's Kubernetes service account may use through Workload Identity, and the labels,
//! storage class and GPU facts of GKE.

use std::collections::BTreeMap;

use hoist_provider::{Address, ArtifactStore, EnvSpec, StackTarget};
use serde_json::json;

use super::pools::{GPU_LABEL, POOL_LABEL};
use super::Graph;

/// MLflow's service account (namespace, name), as the kube crate's templates name it.
const MLFLOW_SA: (&str, &str) = ("hoist-mlflow", "mlflow");
/// What MLflow's artifact proxy needs on its bucket: objects read, written, listed, deleted.
const MLFLOW_ROLE: &str = "roles/storage.objectUser";
/// Where GKE's driver installer puts the NVIDIA libraries and tools on GPU nodes.
const GKE_DRIVER_DIR: &str = "/home/kubernetes/bin/nvidia";
/// GKE's default StorageClass (the Persistent Disk CSI driver, balanced disks).
const STORAGE_CLASS: &str = "standard-rwo";

pub(crate) fn bucket() -> Address {
    Address::new("gcs_bucket", "mlflow")
}

/// The MLflow bucket, when the stack runs MLflow.
pub(super) fn add(g: &mut Graph, spec: &EnvSpec) {
    if spec.stack.mlflow.is_none() {
        return;
    }
    g.add(
        &bucket(),
        json!({
            "name_prefix": format!("{}-mlflow", spec.name),
            "location": spec.region,
            // Workload Identity Federation for GKE: the Kubernetes service account itself is
            // the principal, no Google service account or key in between.
            "object_users": [{"namespace": MLFLOW_SA.0, "service_account": MLFLOW_SA.1, "role": MLFLOW_ROLE}],
        }),
        vec![],
    );
}

/// The stack on GKE: node pools autoscale themselves, GKE runs NVIDIA's device plugin and
/// installs the driver, MLflow writes to the bucket as its own service account.
pub(super) fn target(spec: &EnvSpec) -> StackTarget {
    StackTarget {
        cluster: super::cluster(&spec.name),
        cluster_name: spec.name.clone(),
        accelerator_label: GPU_LABEL.into(),
        pool_label: POOL_LABEL.into(),
        autoscaler: None,
        artifacts: Some(ArtifactStore {
            bucket: bucket(),
            uri_output: "uri".into(),
            service_account_annotations: BTreeMap::new(),
            env: BTreeMap::new(),
        }),
        storage_class: Some(STORAGE_CLASS.into()),
        gpu_driver_preinstalled: true,
        gpu_plugin_managed: true,
        gpu_driver_host_dir: Some(GKE_DRIVER_DIR.into()),
    }
}
