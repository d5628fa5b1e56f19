//! The versions hoist installs, pinned from the upstream releases as of August 2026
//! (NVIDIA/k8s-device-plugin, NVIDIA/gpu-operator, kubernetes/autoscaler, prometheus/prometheus,
//! grafana/grafana, mlflow/mlflow); each can be overridden per component with `version:` in
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
