//! Quota preflight: before a pool is made, the region's GPU or TPU quota (Compute Engine's
//! regional quotas, the preemptible ones for spot) must hold its largest size. A known
//! shortfall fails the plan before anything is created; a check that cannot run is a note.

use std::collections::BTreeMap;

use hoist_provider::{ProviderError, ResourceConfig};
use serde_json::Value;

use crate::errors::classify;
use crate::{as_json, text, GcpProvider};

/// `metric → (limit, usage)` of one region.
#[derive(Clone, Debug, Default)]
pub struct RegionQuotas(BTreeMap<String, (f64, f64)>);

/// The regional quota metric that counts `gpu_type` GPUs (GKE's accelerator type names).
fn gpu_metric(gpu_type: &str) -> Option<&'static str> {
    Some(match gpu_type {
        "nvidia-tesla-a100" => "NVIDIA_A100_GPUS",
        "nvidia-a100-80gb" => "NVIDIA_A100_80GB_GPUS",
        "nvidia-h100-80gb" => "NVIDIA_H100_GPUS",
        "nvidia-h100-mega-80gb" => "NVIDIA_H100_MEGA_GPUS",
        "nvidia-h200-141gb" => "NVIDIA_H200_GPUS",
        "nvidia-b200" => "NVIDIA_B200_GPUS",
        "nvidia-l4" => "NVIDIA_L4_GPUS",
        "nvidia-tesla-t4" => "NVIDIA_T4_GPUS",
        "nvidia-tesla-v100" => "NVIDIA_V100_GPUS",
        "nvidia-tesla-p100" => "NVIDIA_P100_GPUS",
        "nvidia-tesla-p4" => "NVIDIA_P4_GPUS",
        _ => return None,
    })
}

/// The regional quota metric that counts the chips of a TPU machine type.
fn tpu_metric(machine_type: &str) -> Option<&'static str> {
    let family = machine_type.split('-').next()?;
    Some(match family {
        "ct5lp" => "TPU_LITE_PODSLICE_V5",
        "ct5l" => "TPU_LITE_DEVICE_V5",
        "ct4p" => "TPU_PODSLICE_V4",
        "ct5p" => "TPU_V5P",
        "ct6e" => "TPU_V6E",
        _ => return None,
    })
}

/// The metric a pool draws on and how much of it at its largest size.
pub(crate) fn demand(config: &ResourceConfig) -> Option<(String, f64)> {
    let a = &config.attrs;
    let n = |k: &str| a.get(k).and_then(Value::as_u64).unwrap_or(0) as f64;
    let max = n("max");
    let (metric, amount) = if let Some(gpu) = a.get("gpu_type").and_then(Value::as_str) {
        (gpu_metric(gpu)?, max * n("gpu_count"))
    } else if !a.get("tpu_topology").unwrap_or(&Value::Null).is_null() {
        (
            tpu_metric(text(a, "machine_type"))?,
            max * n("tpu_hosts").max(1.0) * n("tpu_chips_per_host").max(1.0),
        )
    } else {
        return None;
    };
    let spot = text(a, "capacity") == "spot";
    Some((
        if spot {
            format!("PREEMPTIBLE_{metric}")
        } else {
            metric.to_string()
        },
        amount,
    ))
}

impl GcpProvider {
    async fn region_quotas(&self) -> Result<RegionQuotas, ProviderError> {
        self.quotas
            .get_or_try_init(|| async {
                let region = self
                    .regions
                    .get()
                    .set_project(self.project.clone())
                    .set_region(self.region.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        classify(
                            "Compute Engine",
                            &format!("get of region {}", self.region),
                            e,
                        )
                    })?;
                let v = as_json(&region);
                let quotas = v
                    .get("quotas")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                Ok(RegionQuotas(
                    quotas
                        .iter()
                        .filter_map(|q| {
                            let metric = q.get("metric")?.as_str()?.to_string();
                            let f = |k: &str| q.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                            Some((metric, (f("limit"), f("usage"))))
                        })
                        .collect(),
                ))
            })
            .await
            .cloned()
    }

    /// Refuse a pool the region's quota cannot hold at its largest size.
    pub(crate) async fn check_quota(
        &self,
        config: &ResourceConfig,
    ) -> Result<Vec<String>, ProviderError> {
        let Some((metric, needed)) = demand(config) else {
            return Ok(Vec::new());
        };
        let quotas = match self.region_quotas().await {
            Ok(q) => q,
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => {
                return Ok(vec![format!(
                    "quota check skipped: the region's quotas could not be read ({e})"
                )])
            }
        };
        let Some((limit, usage)) = quotas.0.get(&metric) else {
            return Ok(vec![format!(
                "quota check skipped: region {} reports no {metric} quota",
                self.region
            )]);
        };
        let free = limit - usage;
        if free + 1e-9 < needed {
            return Err(ProviderError::Quota {
                region: self.region.clone(),
                message: format!(
                    "{} needs {needed} of quota {metric} at its largest size, and {free} of {limit} are free (in use: {usage})\n  = hint: request more at https://console.cloud.google.com/iam-admin/quotas (metric compute.googleapis.com/{}), lower the pool's `max`, or use another region",
                    config.address,
                    metric.to_ascii_lowercase()
                ),
            });
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hoist_provider::Address;

    #[test]
    fn pools_draw_on_their_accelerators_quota() {
        let gpu = ResourceConfig::from_json(
            Address::new("node_pool", "gpu"),
            serde_json::json!({"gpu_type": "nvidia-l4", "gpu_count": 2, "max": 3, "capacity": "spot"}),
            vec![],
        );
        assert_eq!(
            demand(&gpu),
            Some(("PREEMPTIBLE_NVIDIA_L4_GPUS".into(), 6.0))
        );
        let tpu = ResourceConfig::from_json(
            Address::new("node_pool", "tpu"),
            serde_json::json!({"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "4x4", "tpu_hosts": 4, "tpu_chips_per_host": 4, "max": 1, "capacity": "on-demand"}),
            vec![],
        );
        assert_eq!(demand(&tpu), Some(("TPU_LITE_PODSLICE_V5".into(), 16.0)));
        let cpu = ResourceConfig::from_json(
            Address::new("node_pool", "sys"),
            serde_json::json!({"max": 3}),
            vec![],
        );
        assert_eq!(demand(&cpu), None);
    }
}
