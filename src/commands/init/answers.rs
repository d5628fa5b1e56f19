//! The answers a blueprint is written from, their defaults, and the commented text.

use anyhow::bail;
use hoist_catalog::{parse_request, Catalog, Offering};

use crate::cli::InitArgs;

pub const COMPONENTS: [(&str, &str); 5] = [
    ("gpu", "NVIDIA device plugin, DCGM exporter, GPU labels"),
    (
        "autoscaler",
        "cluster-autoscaler with scale-from-zero GPU node templates",
    ),
    ("monitoring", "Prometheus and Grafana with a GPU dashboard"),
    (
        "mlflow",
        "MLflow tracking server on the cloud's object storage",
    ),
    (
        "serving",
        "a model server on the GPU pool, behind a load balancer",
    ),
];

/// Nodes of the system pool: two, so the stack's services survive one node's loss.
pub const SYSTEM_NODES: u32 = 2;

#[derive(Debug, Clone)]
pub struct Answers {
    pub name: String,
    pub cloud: String,
    pub region: String,
    /// Canonical request, e.g. `A100:8`.
    pub accelerator: String,
    pub instance_type: String,
    pub unit_price: f64,
    pub capacity: String,
    pub min: u32,
    pub desired: u32,
    pub max: u32,
    pub stack: Vec<String>,
    pub ttl: Option<String>,
    pub budget: Option<f64>,
}

pub fn default_region(cloud: &str) -> Option<&'static str> {
    (cloud == "sim").then_some("sim-east1")
}

/// The cheapest offering of `request` in `region`, or why there is none.
pub fn offering<'a>(
    catalog: &'a Catalog,
    request: &str,
    region: &str,
    spot: bool,
) -> Result<&'a Offering, String> {
    let req = parse_request(request)?;
    if req.count.is_none() {
        return Err(format!(
            "say how many per node, e.g. {}:1 or {}:8",
            req.name, req.name
        ));
    }
    catalog
        .resolve(std::slice::from_ref(&req), region, None, spot)
        .map(|c| c.offering)
        .map_err(|e| {
            let nearby = if e.nearby.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.nearby.join("; "))
            };
            format!("{e}{nearby}")
        })
}

pub use hoist_blueprint::dns_name as check_name;

impl Answers {
    /// Answers from flags and defaults, for scripts and non-terminals.
    pub fn from_flags(a: &InitArgs) -> anyhow::Result<Answers> {
        let name = a.name.clone().unwrap_or_else(|| "demo".into());
        check_name(&name).map_err(|e| anyhow::anyhow!("invalid --name {name:?}: {e}"))?;
        let cloud = a.cloud.clone().unwrap_or_else(|| "sim".into());
        let catalog = Catalog::of(&cloud).map_err(|e| anyhow::anyhow!("invalid --cloud: {e}"))?;
        let Some(region) = a
            .region
            .clone()
            .or_else(|| default_region(&cloud).map(String::from))
        else {
            bail!(
                "--region is required for --cloud {cloud}\n  = hint: regions with GPUs: {}",
                catalog.regions().join(", ")
            );
        };
        let capacity = a.capacity.clone().unwrap_or_else(|| "on-demand".into());
        if capacity != "on-demand" && capacity != "spot" {
            bail!("invalid --capacity {capacity:?}\n  = hint: on-demand or spot");
        }
        let accelerator = a.accelerator.clone().unwrap_or_else(|| "L4:1".into());
        let chosen = offering(catalog, &accelerator, &region, capacity == "spot")
            .map_err(|e| anyhow::anyhow!("invalid --accelerator {accelerator:?}: {e}"))?;
        let desired = a.nodes.or(a.min).unwrap_or(1);
        let min = a.min.unwrap_or(desired);
        let max = a.max.unwrap_or(desired.max(min));
        if min > desired || desired > max || max == 0 {
            bail!("node counts must satisfy min <= nodes <= max and max >= 1 (got min {min}, nodes {desired}, max {max})");
        }
        let stack = a.stack.clone().unwrap_or_else(|| vec!["gpu".into()]);
        for s in &stack {
            if !COMPONENTS.iter().any(|(c, _)| c == s) {
                bail!(
                    "unknown --stack component {s:?}\n  = hint: one of {}",
                    COMPONENTS
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        if let Some(t) = &a.ttl {
            hoist_blueprint::parse_duration(t)
                .map_err(|e| anyhow::anyhow!("invalid --ttl {t:?}: {e}"))?;
        }
        if a.budget.is_some_and(|b| b.is_nan() || b <= 0.0) {
            bail!("--budget must be a positive number of USD per hour");
        }
        Ok(Answers {
            name,
            cloud,
            region,
            accelerator: parse_request(&accelerator)
                .map_err(anyhow::Error::msg)?
                .to_string(),
            instance_type: chosen.instance_type.clone(),
            unit_price: chosen.hourly(capacity == "spot").unwrap_or(chosen.price),
            capacity,
            min,
            desired,
            max,
            stack,
            ttl: a.ttl.clone(),
            budget: a.budget,
        })
    }

    /// The small general-purpose pool the stack's services run on, when a chosen component
    /// has services (GPU nodes are tainted for GPU work): its instance type and unit price.
    pub fn system_pool(&self) -> Option<(&'static str, f64)> {
        let services = ["autoscaler", "monitoring", "mlflow"];
        if !self.stack.iter().any(|c| services.contains(&c.as_str())) {
            return None;
        }
        let instance_type = crate::ops::clouds::cloud(&self.cloud)?.system_instance_type()?;
        let price = Catalog::of(&self.cloud)
            .ok()
            .and_then(|c| c.instance(instance_type, &self.region))
            .map_or(0.0, |o| o.price);
        Some((instance_type, price))
    }

    /// USD/hour now and at max size.
    pub fn hourly(&self) -> (f64, f64) {
        let system = self
            .system_pool()
            .map_or(0.0, |(_, p)| p * SYSTEM_NODES as f64);
        (
            self.unit_price * self.desired as f64 + system,
            self.unit_price * self.max as f64 + system,
        )
    }

    /// The blueprint, commented for a first-time reader.
    pub fn render(&self) -> String {
        let (now, max) = self.hourly();
        let mut s = String::new();
        s.push_str("# hoist blueprint: what this environment should be.\n");
        s.push_str("#   hoist plan     shows what would change (and what it costs)\n");
        s.push_str("#   hoist apply    makes it so;  hoist destroy removes everything\n");
        s.push_str("apiVersion: hoist/v1\n");
        s.push_str(&format!("name: {}\n", self.name));
        s.push_str(&format!(
            "provider:\n  cloud: {}\n  region: {}\n",
            self.cloud, self.region
        ));
        match &self.ttl {
            Some(t) => s.push_str(&format!(
                "# Ephemeral: expires {t} after the first apply (see `hoist show`).\nttl: {t}\n"
            )),
            None => s.push_str("# ttl: 8h        # uncomment for an ephemeral environment\n"),
        }
        s.push_str("network:\n  cidr: 10.0.0.0/16\n  zones: 2\n");
        s.push_str("cluster:\n  kubernetes_version: \"1.32\"\n");
        s.push_str("node_pools:\n");
        s.push_str(&format!(
            "  # {} × {} ({}) ≈ ${now:.2}/h now, ${max:.2}/h at max size.\n",
            self.desired, self.instance_type, self.capacity
        ));
        s.push_str(&format!(
            "  - name: gpu\n    accelerator: \"{}\"\n    capacity: {}\n",
            self.accelerator, self.capacity
        ));
        if self.min < self.max {
            s.push_str("    # min < max: the cluster autoscaler owns the size between them.\n");
        }
        s.push_str(&format!(
            "    min: {}\n    desired: {}\n    max: {}\n",
            self.min, self.desired, self.max
        ));
        s.push_str("    labels:\n      workload: gpu\n    taints:\n      - nvidia.com/gpu=present:NoSchedule\n");
        if let Some((instance_type, price)) = self.system_pool() {
            s.push_str(&format!(
                "  # The stack's services (Prometheus, Grafana, MLflow, the autoscaler) run here, off the GPU nodes: ${:.2}/h.\n  - name: system\n    instance_type: {instance_type}\n    min: {SYSTEM_NODES}\n    max: {SYSTEM_NODES}\n",
                price * SYSTEM_NODES as f64
            ));
        }
        if self.stack.is_empty() {
            s.push_str("# stack: { gpu: {}, monitoring: {} }   # MLOps components to install\n");
        } else {
            s.push_str("stack:\n");
            for c in &self.stack {
                let about = COMPONENTS
                    .iter()
                    .find(|(n, _)| n == c)
                    .map(|(_, a)| *a)
                    .unwrap_or("");
                s.push_str(&format!("  {c}: {{}}        # {about}\n"));
            }
        }
        if let Some(b) = self.budget {
            s.push_str(&format!("# Plans fail when the node pools at max size would cost more per hour.\nbudget:\n  max_hourly_usd: {b}\n"));
        }
        s
    }
}
