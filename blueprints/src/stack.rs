//! The `stack` section: which MLOps components run on the cluster, and their settings.

use hoist_provider::{
    AutoscalerStack, GpuStack, GpuVariant, MlflowStack, MonitoringStack, ServingStack,
    ServingVariant, StackSpec,
};

use crate::diagnostic::did_you_mean;
use crate::model::NodePool;
use crate::schema::{ComponentFile, StackFile};
use crate::validate::Validator;

/// Settings beyond `enabled`/`variant`/`version`, and the components that take them.
const SETTINGS: [(&str, &[&str]); 8] = [
    ("retention", &["monitoring"]),
    ("storage_gib", &["monitoring", "mlflow"]),
    ("image", &["serving"]),
    ("pool", &["serving"]),
    ("gpus", &["serving"]),
    ("min_replicas", &["serving"]),
    ("max_replicas", &["serving"]),
    ("port", &["serving"]),
];

pub(crate) fn validate_stack(
    v: &mut Validator,
    s: Option<&StackFile>,
    pools: &[NodePool],
) -> StackSpec {
    let Some(s) = s else {
        return StackSpec::default();
    };
    let on = |c: &Option<ComponentFile>| c.as_ref().filter(|c| c.enabled).cloned();
    let mut out = StackSpec::default();
    if let Some(c) = on(&s.gpu) {
        check_settings(v, "gpu", &c);
        let variant = match variant(v, "gpu", &c, &["device-plugin", "gpu-operator"]) {
            Some("gpu-operator") => GpuVariant::GpuOperator,
            _ => GpuVariant::DevicePlugin,
        };
        out.gpu = Some(GpuStack {
            variant,
            version: c.version.clone(),
        });
    }
    if let Some(c) = on(&s.autoscaler) {
        check_settings(v, "autoscaler", &c);
        variant(v, "autoscaler", &c, &["cluster-autoscaler"]);
        out.autoscaler = Some(AutoscalerStack {
            version: c.version.clone(),
        });
    }
    if let Some(c) = on(&s.monitoring) {
        check_settings(v, "monitoring", &c);
        variant(v, "monitoring", &c, &["prometheus"]);
        out.monitoring = Some(MonitoringStack {
            version: c.version.clone(),
            retention: retention(v, &c),
            storage_gib: storage(v, "monitoring", &c, 50),
        });
    }
    if let Some(c) = on(&s.mlflow) {
        check_settings(v, "mlflow", &c);
        variant(v, "mlflow", &c, &["tracking-server"]);
        out.mlflow = Some(MlflowStack {
            version: c.version.clone(),
            storage_gib: storage(v, "mlflow", &c, 10),
        });
    }
    if let Some(c) = on(&s.serving) {
        check_settings(v, "serving", &c);
        out.serving = Some(serving(v, &c, pools));
    }
    out
}

/// The variant as written, when it is one of `known`.
fn variant<'a>(
    v: &mut Validator,
    name: &str,
    c: &'a ComponentFile,
    known: &[&str],
) -> Option<&'a str> {
    let var = c.variant.as_deref()?;
    if known.contains(&var) {
        return Some(var);
    }
    let hint = match did_you_mean(var, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("one of: {}", known.join(", ")),
    };
    v.err(
        &format!("stack.{name}.variant"),
        format!("unknown variant {var:?} for stack component `{name}`"),
        hint,
    );
    None
}

/// A setting written for a component that does not take it is an error, not ignored.
fn check_settings(v: &mut Validator, name: &str, c: &ComponentFile) {
    let given = [
        ("retention", c.retention.is_some()),
        ("storage_gib", c.storage_gib.is_some()),
        ("image", c.image.is_some()),
        ("pool", c.pool.is_some()),
        ("gpus", c.gpus.is_some()),
        ("min_replicas", c.min_replicas.is_some()),
        ("max_replicas", c.max_replicas.is_some()),
        ("port", c.port.is_some()),
    ];
    for (setting, set) in given {
        let Some((_, owners)) = SETTINGS.iter().find(|(s, _)| *s == setting) else {
            continue;
        };
        if set && !owners.contains(&name) {
            let mine: Vec<&str> = SETTINGS
                .iter()
                .filter(|(_, o)| o.contains(&name))
                .map(|(s, _)| *s)
                .collect();
            let hint = match mine.is_empty() {
                true => format!("`{name}` takes only enabled, variant and version"),
                false => format!(
                    "`{name}` takes enabled, variant, version, {}; `{setting}` belongs to {}",
                    mine.join(", "),
                    owners.join(", ")
                ),
            };
            v.err(
                &format!("stack.{name}.{setting}"),
                format!("`{setting}` is not a setting of stack component `{name}`"),
                hint,
            );
        }
    }
}

fn retention(v: &mut Validator, c: &ComponentFile) -> String {
    let Some(text) = &c.retention else {
        return "15d".into();
    };
    let number = text.trim_end_matches(['s', 'm', 'h', 'd', 'w', 'y']);
    let unit_len = text.len() - number.len();
    if unit_len != 1 || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        v.err(
            "stack.monitoring.retention",
            format!("retention {text:?} is not a Prometheus duration"),
            "a whole number and one unit of s, m, h, d, w, y: `15d`, `36h`".to_string(),
        );
        return "15d".into();
    }
    text.clone()
}

fn storage(v: &mut Validator, name: &str, c: &ComponentFile, default: u32) -> u32 {
    match c.storage_gib {
        Some(0) => {
            v.err(
                &format!("stack.{name}.storage_gib"),
                "a volume of 0 GiB cannot hold anything",
                format!("leave it out for the default of {default}"),
            );
            default
        }
        Some(n) => n,
        None => default,
    }
}

fn serving(v: &mut Validator, c: &ComponentFile, pools: &[NodePool]) -> ServingStack {
    let variant = match variant(v, "serving", c, &["model-server", "kserve"]) {
        Some("kserve") => ServingVariant::Kserve,
        _ => ServingVariant::ModelServer,
    };
    let pool = match &c.pool {
        Some(name) if !pools.iter().any(|p| &p.name == name) => {
            let names: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
            let hint = match did_you_mean(name, names.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("node pools: {}", names.join(", ")),
            };
            v.err(
                "stack.serving.pool",
                format!("no node pool is named {name:?}"),
                hint,
            );
            None
        }
        Some(name) => pools.iter().find(|p| &p.name == name),
        None => pools.iter().find(|p| !p.accelerators.is_empty()),
    };
    let on_gpus = pool.is_some_and(|p| !p.accelerators.is_empty());
    let gpus = c.gpus.unwrap_or(u32::from(on_gpus));
    if gpus > 0 && pool.is_some_and(|p| p.accelerators.is_empty() && p.instance_type.is_some()) {
        v.err(
            "stack.serving.gpus",
            format!(
                "the model server asks for {gpus} GPU(s) on pool `{}`, which has no accelerator",
                pool.map(|p| p.name.as_str()).unwrap_or_default()
            ),
            "set `gpus: 0`, or `pool:` an accelerator pool".to_string(),
        );
    }
    let (min, max) = (c.min_replicas.unwrap_or(1), c.max_replicas.unwrap_or(3));
    if min == 0 || min > max {
        v.err(
            "stack.serving.min_replicas",
            format!("min_replicas {min} and max_replicas {max} do not make a range"),
            "1 <= min_replicas <= max_replicas (a HorizontalPodAutoscaler cannot scale to zero)"
                .to_string(),
        );
    }
    ServingStack {
        variant,
        version: c.version.clone(),
        image: c
            .image
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL_IMAGE.to_string()),
        pool: pool.map(|p| p.name.clone()),
        gpus,
        min_replicas: min,
        max_replicas: max.max(min),
        port: c.port.unwrap_or(8080),
    }
}

/// The model server run when the blueprint names no image: MLflow's own server image.
const DEFAULT_MODEL_IMAGE: &str = "ghcr.io/mlflow/mlflow:v3.9.0";
