//! Each stack component as the templates it renders and the values they need. All cloud
//! knowledge arrives through the cloud's [`StackTarget`]; none is written here.

use std::collections::BTreeMap;

use hoist_provider::{
    output_ref, EnvSpec, GpuVariant, PoolSpec, ServingVariant, SpecProblem, StackTarget,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::pins;
use crate::render::{RenderError, Templates, GPU_DASHBOARD};

/// One component's objects, in the order its templates list them.
pub struct Component {
    pub name: &'static str,
    pub objects: Vec<Value>,
}

pub const GPU_NS: &str = "hoist-gpu";
pub const AUTOSCALER_NS: &str = "hoist-autoscaler";
pub const MONITORING_NS: &str = "hoist-monitoring";
pub const MLFLOW_NS: &str = "hoist-mlflow";
pub const SERVING_NS: &str = "hoist-serving";

/// Components whose services (Deployments not pinned to a pool) need a node that takes
/// ordinary pods: Prometheus, Grafana, MLflow, the cluster-autoscaler, KServe's controller.
fn needs_general_nodes(spec: &EnvSpec, target: &StackTarget) -> Option<&'static str> {
    let stack = &spec.stack;
    if stack.monitoring.is_some() {
        Some("monitoring")
    } else if stack.mlflow.is_some() {
        Some("mlflow")
    } else if stack.autoscaler.is_some() && target.autoscaler.is_some() {
        Some("autoscaler")
    } else if stack
        .serving
        .as_ref()
        .is_some_and(|s| s.variant == ServingVariant::Kserve)
    {
        Some("serving")
    } else {
        None
    }
}

/// A stack whose services could never be scheduled is refused at plan time, not after the
/// apply waited for them to become available.
fn check_schedulable(spec: &EnvSpec, target: &StackTarget) -> Result<(), SpecProblem> {
    let Some(component) = needs_general_nodes(spec, target) else {
        return Ok(());
    };
    if spec
        .node_pools
        .iter()
        .any(|p| p.max > 0 && !p.repels_pods())
    {
        return Ok(());
    }
    Err(SpecProblem::new(
        format!("stack.{component}"),
        format!("`{component}` runs services that need a node without a NoSchedule taint, and every node pool repels ordinary pods"),
        Some("add a small general-purpose pool for the stack, e.g. `- { name: system, instance_type: …, min: 2, max: 2 }`".into()),
    ))
}

/// Render every component the spec enables.
pub fn render(spec: &EnvSpec, target: &StackTarget) -> Result<Vec<Component>, Vec<SpecProblem>> {
    check_schedulable(spec, target).map_err(|p| vec![p])?;
    let templates = Templates::new().map_err(|e| vec![problem("stack", e)])?;
    let parts = [
        gpu(&templates, spec, target),
        autoscaler(&templates, spec, target),
        monitoring(&templates, spec, target),
        mlflow(&templates, spec, target),
        serving(&templates, spec, target),
    ];
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for part in parts {
        match part {
            Ok(Some(c)) => out.push(c),
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

type Part = Result<Option<Component>, SpecProblem>;

/// The component's objects from its templates, in order.
fn component(templates: &Templates, name: &'static str, ctx: &Value, files: &[&str]) -> Part {
    let mut objects = Vec::new();
    for file in files {
        objects.extend(
            templates
                .objects(file, ctx)
                .map_err(|e| problem(&format!("stack.{name}"), e))?,
        );
    }
    Ok(Some(Component { name, objects }))
}

fn gpu(templates: &Templates, spec: &EnvSpec, target: &StackTarget) -> Part {
    let Some(gpu) = &spec.stack.gpu else {
        return Ok(None);
    };
    let mut ctx = gpu_context(spec, target, gpu.version.as_deref());
    // An exporter that opens the GPUs' device files itself runs privileged.
    ctx["privileged"] = Value::Bool(target.gpu_driver_host_dir.is_some());
    match gpu.variant {
        // Where the cloud runs the device plugin itself, only the exporter is hoist's.
        GpuVariant::DevicePlugin if target.gpu_plugin_managed => component(
            templates,
            "gpu",
            &ctx,
            &[
                "common/namespace.yaml",
                "gpu/service.yaml",
                "gpu/dcgm-daemonset.yaml",
            ],
        ),
        GpuVariant::DevicePlugin => component(
            templates,
            "gpu",
            &ctx,
            &[
                "common/namespace.yaml",
                "gpu/runtimeclass.yaml",
                "gpu/service.yaml",
                "gpu/daemonset.yaml",
                "gpu/dcgm-daemonset.yaml",
            ],
        ),
        // The operator makes the RuntimeClass, plugin and exporter itself.
        GpuVariant::GpuOperator => {
            ctx["privileged"] = Value::Bool(true);
            component(
                templates,
                "gpu",
                &ctx,
                &[
                    "common/namespace.yaml",
                    "gpu/operator/customresourcedefinition.yaml",
                    "gpu/operator/serviceaccount.yaml",
                    "gpu/operator/clusterrole.yaml",
                    "gpu/operator/clusterrolebinding.yaml",
                    "gpu/operator/role.yaml",
                    "gpu/operator/rolebinding.yaml",
                    "gpu/operator/deployment.yaml",
                    "gpu/operator/clusterpolicy.yaml",
                ],
            )
        }
    }
}

/// On clouds whose node pools autoscale themselves the component renders nothing: the
/// pools' own settings do the work.
fn autoscaler(templates: &Templates, spec: &EnvSpec, target: &StackTarget) -> Part {
    let (Some(a), Some(t)) = (&spec.stack.autoscaler, &target.autoscaler) else {
        return Ok(None);
    };
    let tag = match (&a.version, pins::autoscaler_tag(&spec.cluster.kubernetes_version)) {
        (Some(v), _) => v.clone(),
        (None, Some(tag)) => tag.to_string(),
        (None, None) => {
            return Err(SpecProblem::new(
                "cluster.kubernetes_version",
                format!("hoist pins no cluster-autoscaler release for Kubernetes {}", spec.cluster.kubernetes_version),
                Some("use Kubernetes 1.30 to 1.36, or set `stack.autoscaler.version` to an autoscaler tag".into()),
            ))
        }
    };
    let ctx = json!({
        "namespace": AUTOSCALER_NS, "image": format!("{}:{tag}", pins::AUTOSCALER),
        // Whole flags: values are rendered as quoted scalars, which must not land mid-word.
        "cloud_provider_flag": format!("--cloud-provider={}", t.cloud_provider),
        "args": t.args, "service_account_annotations": t.service_account_annotations,
        "env": t.env,
    });
    component(
        templates,
        "autoscaler",
        &ctx,
        &[
            "common/namespace.yaml",
            "autoscaler/serviceaccount.yaml",
            "autoscaler/clusterrole.yaml",
            "autoscaler/clusterrolebinding.yaml",
            "autoscaler/role.yaml",
            "autoscaler/rolebinding.yaml",
            "autoscaler/deployment.yaml",
        ],
    )
}

fn monitoring(templates: &Templates, spec: &EnvSpec, target: &StackTarget) -> Part {
    let Some(m) = &spec.stack.monitoring else {
        return Ok(None);
    };
    let has_autoscaler = spec.stack.autoscaler.is_some() && target.autoscaler.is_some();
    let ctx = monitoring_context(templates, target, m, has_autoscaler)
        .map_err(|e| problem("stack.monitoring", e))?;
    component(
        templates,
        "monitoring",
        &ctx,
        &[
            "common/namespace.yaml",
            "monitoring/serviceaccount.yaml",
            "monitoring/clusterrole.yaml",
            "monitoring/clusterrolebinding.yaml",
            "monitoring/configmap.yaml",
            "monitoring/persistentvolumeclaim.yaml",
            "monitoring/service.yaml",
            "monitoring/deployment.yaml",
        ],
    )
}

fn mlflow(templates: &Templates, spec: &EnvSpec, target: &StackTarget) -> Part {
    let Some(m) = &spec.stack.mlflow else {
        return Ok(None);
    };
    let Some(store) = &target.artifacts else {
        return Err(SpecProblem::new(
            "stack.mlflow",
            format!(
                "cloud `{}` has no object storage hoist can give MLflow",
                spec.cloud
            ),
            None,
        ));
    };
    let ctx = json!({
        "namespace": MLFLOW_NS,
        "image": pins::image(pins::MLFLOW, m.version.as_deref()),
        "artifact_uri": output_ref(&store.bucket, &store.uri_output),
        "env": store.env,
        "service_account_annotations": store.service_account_annotations,
        "storage": format!("{}Gi", m.storage_gib),
        "storage_class": target.storage_class,
    });
    component(
        templates,
        "mlflow",
        &ctx,
        &[
            "common/namespace.yaml",
            "mlflow/serviceaccount.yaml",
            "mlflow/persistentvolumeclaim.yaml",
            "mlflow/service.yaml",
            "mlflow/deployment.yaml",
        ],
    )
}

fn serving(templates: &Templates, spec: &EnvSpec, target: &StackTarget) -> Part {
    let Some(s) = &spec.stack.serving else {
        return Ok(None);
    };
    let pool = s
        .pool
        .as_ref()
        .and_then(|p| spec.node_pools.iter().find(|x| &x.name == p));
    let mut node_selector = BTreeMap::new();
    if let Some(p) = pool {
        node_selector.insert(target.pool_label.clone(), p.name.clone());
    }
    let ctx = json!({
        "namespace": SERVING_NS, "image": s.image, "port": s.port, "gpus": s.gpus,
        "min_replicas": s.min_replicas, "max_replicas": s.max_replicas,
        "node_selector": node_selector,
        "tolerations": pool.map(tolerations).unwrap_or_default(),
    });
    match s.variant {
        ServingVariant::ModelServer => component(
            templates,
            "serving",
            &ctx,
            &[
                "common/namespace.yaml",
                "serving/service.yaml",
                "serving/deployment.yaml",
                "serving/horizontalpodautoscaler.yaml",
            ],
        ),
        ServingVariant::Kserve => kserve(templates, s, ctx),
    }
}

/// KServe in Standard mode, its webhooks' certificate made in the cluster, and the model as
/// an InferenceService.
fn kserve(templates: &Templates, s: &hoist_provider::ServingStack, ctx: Value) -> Part {
    let tag = s.version.as_deref().unwrap_or(pins::KSERVE_CONTROLLER.1);
    let mut out = Vec::new();
    for file in [
        "common/namespace.yaml",
        "serving/kserve/customresourcedefinition.yaml",
    ] {
        out.extend(serving_objects(templates, file, &ctx)?);
    }
    let config = kserve_config(tag);
    let certgen = pins::image(pins::WEBHOOK_CERTGEN, None);
    let service = format!("kserve-webhook-server-service.{SERVING_NS}.svc");
    let patches: Vec<Value> = KSERVE_WEBHOOKS
        .iter()
        .map(|(name, mutating)| {
            json!({"container": format!("patch-{}", name.split('.').next().unwrap_or(name)),
                   "args": ["patch", format!("--webhook-name={name}"), format!("--namespace={SERVING_NS}"),
                            "--secret-name=kserve-webhook-server-cert", format!("--patch-mutating={mutating}"),
                            "--patch-failure-policy=Fail"]})
        })
        .collect();
    let control = json!({
        "namespace": SERVING_NS,
        "image": pins::image(pins::KSERVE_CONTROLLER, s.version.as_deref()),
        "name": "kserve-webhook-certs",
        "host_flag": format!("--host=kserve-webhook-server-service,{service}"),
        "namespace_flag": format!("--namespace={SERVING_NS}"),
        "patches": patches,
        "deploy": config["deploy"], "ingress": config["ingress"],
        "storage_initializer": config["storageInitializer"], "agent": config["agent"],
        "logger": config["logger"], "batcher": config["batcher"], "security": config["security"],
    });
    let mut job_ctx = control.clone();
    job_ctx["image"] = Value::from(certgen);
    for file in [
        "serving/kserve/serviceaccount.yaml",
        "serving/kserve/clusterrole.yaml",
        "serving/kserve/clusterrolebinding.yaml",
        "serving/kserve/role.yaml",
        "serving/kserve/rolebinding.yaml",
        "serving/kserve/configmap.yaml",
        "serving/kserve/service.yaml",
        "serving/kserve/mutatingwebhookconfiguration.yaml",
        "serving/kserve/validatingwebhookconfiguration.yaml",
        "serving/kserve/deployment.yaml",
    ] {
        out.extend(serving_objects(templates, file, &control)?);
    }
    for mut job in serving_objects(templates, "serving/kserve/job.yaml", &job_ctx)? {
        // A Job's template is immutable: a changed Job is a new Job, named by its content.
        let name = format!(
            "kserve-webhook-certs-{}",
            &short_hash(&job.to_string())[..8]
        );
        job["metadata"]["name"] = Value::from(name);
        out.push(job);
    }
    out.extend(serving_objects(
        templates,
        "serving/kserve/inferenceservice.yaml",
        &ctx,
    )?);
    Ok(Some(Component {
        name: "serving",
        objects: out,
    }))
}

/// KServe's webhook configurations, by name, and whether a mutating one shares the name.
const KSERVE_WEBHOOKS: &[(&str, bool)] = &[
    ("inferenceservice.serving.kserve.io", true),
    ("trainedmodel.serving.kserve.io", false),
    ("inferencegraph.serving.kserve.io", false),
    ("clusterservingruntime.serving.kserve.io", false),
    ("servingruntime.serving.kserve.io", false),
];

/// The `inferenceservice-config` entries, each a JSON document as KServe parses it. The
/// sidecar entries need their resources: KServe's pod mutator refuses a pod without them.
fn kserve_config(tag: &str) -> Value {
    let sidecar = |image: &str, memory: (&str, &str), cpu: (&str, &str)| {
        json!({"image": format!("{image}:{tag}"), "memoryRequest": memory.0, "memoryLimit": memory.1,
               "cpuRequest": cpu.0, "cpuLimit": cpu.1})
    };
    let mut logger = sidecar(pins::KSERVE_AGENT, ("100Mi", "1Gi"), ("100m", "1"));
    logger["defaultUrl"] = json!("http://default-broker");
    let mut batcher = sidecar(pins::KSERVE_AGENT, ("1Gi", "1Gi"), ("1", "1"));
    batcher["maxBatchSize"] = json!("32");
    batcher["maxLatency"] = json!("5000");
    let text = |v: Value| Value::from(v.to_string());
    json!({
        "deploy": text(json!({"defaultDeploymentMode": "Standard"})),
        "ingress": text(json!({"ingressGateway": "none", "ingressDomain": "svc.cluster.local",
                               "disableIstioVirtualHost": true, "disableIngressCreation": true})),
        "storageInitializer": text(sidecar(pins::KSERVE_STORAGE_INITIALIZER, ("100Mi", "1Gi"), ("100m", "1"))),
        "agent": text(sidecar(pins::KSERVE_AGENT, ("100Mi", "1Gi"), ("100m", "1"))),
        "logger": text(logger),
        "batcher": text(batcher),
        "security": text(json!({"autoMountServiceAccountToken": true})),
    })
}

fn serving_objects(
    templates: &Templates,
    file: &str,
    ctx: &Value,
) -> Result<Vec<Value>, SpecProblem> {
    templates
        .objects(file, ctx)
        .map_err(|e| problem("stack.serving", e))
}

fn problem(path: &str, e: RenderError) -> SpecProblem {
    SpecProblem::new(
        path,
        e.to_string(),
        Some("this is a bug in hoist's templates; please report it".into()),
    )
}

/// `key:Effect` tolerations for a pool's taints.
fn tolerations(pool: &PoolSpec) -> Vec<Value> {
    pool.taints
        .iter()
        .filter_map(|t| taint_toleration(t))
        .collect()
}

fn taint_toleration(taint: &str) -> Option<Value> {
    let (key_value, effect) = taint.rsplit_once(':')?;
    let key = key_value
        .split_once('=')
        .map(|(k, _)| k)
        .unwrap_or(key_value);
    Some(json!({"key": key, "effect": effect}))
}

/// The GPU DaemonSets tolerate every taint of every accelerator pool, and NVIDIA's own.
fn gpu_context(spec: &EnvSpec, target: &StackTarget, version: Option<&str>) -> Value {
    let mut seen = std::collections::BTreeSet::new();
    seen.insert(("nvidia.com/gpu".to_string(), "NoSchedule".to_string()));
    for pool in spec.node_pools.iter().filter(|p| p.has_accelerator()) {
        for t in tolerations(pool) {
            seen.insert((
                t["key"].as_str().unwrap_or_default().into(),
                t["effect"].as_str().unwrap_or_default().into(),
            ));
        }
    }
    let tolerations: Vec<Value> = seen
        .into_iter()
        .map(|(k, e)| json!({"key": k, "effect": e}))
        .collect();
    json!({
        "namespace": GPU_NS,
        "device_plugin_image": pins::image(pins::DEVICE_PLUGIN, version),
        "dcgm_image": pins::image(pins::DCGM_EXPORTER, None),
        "accelerator_label": target.accelerator_label,
        "driver_host_dir": target.gpu_driver_host_dir,
        "tolerations": tolerations,
        "privileged": false,
        // The operator's parts, as its ClusterPolicy names images.
        "operator_image": pins::image(pins::GPU_OPERATOR, version),
        "install_driver": !target.gpu_driver_preinstalled,
        "device_plugin": operand(pins::DEVICE_PLUGIN),
        "dcgm_exporter": operand(pins::DCGM_EXPORTER),
        "validator": operand((pins::GPU_OPERATOR.0, version.unwrap_or(pins::GPU_OPERATOR.1))),
        "driver": operand(pins::GPU_DRIVER),
        "toolkit": operand(pins::CONTAINER_TOOLKIT),
    })
}

/// An image as the ClusterPolicy spells it: repository, image name, version.
fn operand((path, version): (&str, &str)) -> Value {
    let (repository, image) = path.rsplit_once('/').unwrap_or(("", path));
    json!({"repository": repository, "image": image, "version": version})
}

fn monitoring_context(
    templates: &Templates,
    target: &StackTarget,
    m: &hoist_provider::MonitoringStack,
    has_autoscaler: bool,
) -> Result<Value, RenderError> {
    let pool_meta_label = format!(
        "__meta_kubernetes_node_label_{}",
        sanitize(&target.pool_label)
    );
    let config_ctx = json!({
        "namespace": MONITORING_NS, "gpu_namespace": GPU_NS, "pool_meta_label": pool_meta_label,
        "autoscaler_namespace": if has_autoscaler { Value::from(AUTOSCALER_NS) } else { Value::Bool(false) },
    });
    let prometheus_config = templates.text("monitoring/prometheus.yml", &config_ctx)?;
    let datasources = templates.text("monitoring/datasources.yaml", &config_ctx)?;
    let dashboards = templates.text("monitoring/dashboards.yaml", &config_ctx)?;
    Ok(json!({
        "namespace": MONITORING_NS,
        "prometheus_image": pins::image(pins::PROMETHEUS, m.version.as_deref()),
        "grafana_image": pins::image(pins::GRAFANA, None),
        "retention_flag": format!("--storage.tsdb.retention.time={}", m.retention),
        "storage": format!("{}Gi", m.storage_gib),
        "storage_class": target.storage_class,
        "prometheus_config_hash": short_hash(&prometheus_config),
        "grafana_config_hash": short_hash(&format!("{datasources}{dashboards}{GPU_DASHBOARD}")),
        "prometheus_config": prometheus_config,
        "grafana_datasources": datasources,
        "grafana_dashboards": dashboards,
        "gpu_dashboard": GPU_DASHBOARD,
    }))
}

/// How Prometheus' service discovery spells a Kubernetes label in a meta label name.
fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The first 16 hex digits of SHA-256: enough to tell contents apart, short enough to read.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
