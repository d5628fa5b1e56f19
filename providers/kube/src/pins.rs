//! The versions hoist installs, pinned from the upstream releases as of August 2026
//! (NVIDIA/k8s-device-plugin, NVIDIA/gpu-operator, kubernetes/autoscaler, prometheus/prometheus,
//! grafana/grafana, mlflow/mlflow, kserve/kserve, kubernetes/ingress-nginx); each can be overridden per component with `version:` in
//! the blueprint.

/// NVIDIA device plugin, v0.20.0 (2026-08-19).
pub const DEVICE_PLUGIN: (&str, &str) = ("nvcr.io/nvidia/k8s-device-plugin", "v0.20.0");
/// DCGM exporter as the GPU operator v26.7.0 pins it (newer than the exporter's own last tag).
pub const DCGM_EXPORTER: (&str, &str) =
    ("nvcr.io/nvidia/k8s/dcgm-exporter", "4.6.0-4.8.3-distroless");
/// Prometheus v3.14.0 (2026-08-17).
pub const PROMETHEUS: (&str, &str) = ("prom/prometheus", "v3.14.0");
/// Grafana OSS, the 13.2 line.
pub const GRAFANA: (&str, &str) = ("grafana/grafana", "13.2.0");
/// MLflow's `-full` image: the plain one lacks the S3/GCS/Azure clients artifact stores need.
pub const MLFLOW: (&str, &str) = ("ghcr.io/mlflow/mlflow", "v3.9.0-full");
/// The NVIDIA GPU operator v26.7.0 (2026-08-20).
pub const GPU_OPERATOR: (&str, &str) = ("nvcr.io/nvidia/gpu-operator", "v26.7.0");
/// The driver and container toolkit the operator v26.7.0 installs where node images lack them.
pub const GPU_DRIVER: (&str, &str) = ("nvcr.io/nvidia/driver", "595.91.07");
pub const CONTAINER_TOOLKIT: (&str, &str) = ("nvcr.io/nvidia/k8s/container-toolkit", "v1.20.0");
/// KServe's controller, v0.20.0 (2026-08-06).
pub const KSERVE_CONTROLLER: (&str, &str) = ("kserve/kserve-controller", "v0.20.0");
/// KServe's init container and sidecars, at the controller's release.
pub const KSERVE_STORAGE_INITIALIZER: &str = "kserve/storage-initializer";
pub const KSERVE_AGENT: &str = "kserve/agent";
/// The in-cluster webhook certificate maker ingress-nginx ships, v1.6.9 (its chart's pin,
/// March 2026).
pub const WEBHOOK_CERTGEN: (&str, &str) = (
    "registry.k8s.io/ingress-nginx/kube-webhook-certgen",
    "v1.6.9",
);
/// The cluster-autoscaler image; its minor must match the cluster's Kubernetes minor.
pub const AUTOSCALER: &str = "registry.k8s.io/autoscaling/cluster-autoscaler";

/// The autoscaler release for a Kubernetes minor (`1.32`), as released upstream.
pub fn autoscaler_tag(kubernetes_version: &str) -> Option<&'static str> {
    let minor: String = kubernetes_version
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    Some(match minor.as_str() {
        "1.30" => "v1.30.4",
        "1.31" => "v1.31.2",
        "1.32" => "v1.32.1",
        "1.33" => "v1.33.0",
        "1.34" => "v1.34.5",
        "1.35" => "v1.35.2",
        "1.36" => "v1.36.1",
        _ => return None,
    })
}

/// `image:tag`, with the blueprint's `version` instead of the pin when given.
pub fn image((repo, tag): (&str, &str), version: Option<&str>) -> String {
    format!("{repo}:{}", version.unwrap_or(tag))
}
