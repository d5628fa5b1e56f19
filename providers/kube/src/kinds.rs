//! The kinds of object the stack is made of, so that an address alone
//! (`manifest.monitoring.deployment.prometheus`) says where its object lives.

use hoist_provider::Address;

use crate::components::{AUTOSCALER_NS, GPU_NS, MLFLOW_NS, MONITORING_NS, SERVING_NS};

/// `(lowercase kind, apiVersion, Kind, namespaced)`.
pub const KINDS: &[(&str, &str, &str, bool)] = &[
    ("namespace", "v1", "Namespace", false),
    (
        "customresourcedefinition",
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        false,
    ),
    ("runtimeclass", "node.k8s.io/v1", "RuntimeClass", false),
    (
        "clusterrole",
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        false,
    ),
    (
        "clusterrolebinding",
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        false,
    ),
    ("serviceaccount", "v1", "ServiceAccount", true),
    ("role", "rbac.authorization.k8s.io/v1", "Role", true),
    (
        "rolebinding",
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        true,
    ),
    ("configmap", "v1", "ConfigMap", true),
    ("persistentvolumeclaim", "v1", "PersistentVolumeClaim", true),
    ("service", "v1", "Service", true),
    ("deployment", "apps/v1", "Deployment", true),
    ("daemonset", "apps/v1", "DaemonSet", true),
    (
        "horizontalpodautoscaler",
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        true,
    ),
    ("job", "batch/v1", "Job", true),
    (
        "mutatingwebhookconfiguration",
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        false,
    ),
    (
        "validatingwebhookconfiguration",
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        false,
    ),
    // Kinds of the CRDs hoist applies: listing one whose CRD is absent finds nothing.
    ("clusterpolicy", "nvidia.com/v1", "ClusterPolicy", false),
    (
        "inferenceservice",
        "serving.kserve.io/v1beta1",
        "InferenceService",
        true,
    ),
];

/// The namespace each component's namespaced objects live in.
pub fn namespace_of(component: &str) -> Option<&'static str> {
    Some(match component {
        "gpu" => GPU_NS,
        "autoscaler" => AUTOSCALER_NS,
        "monitoring" => MONITORING_NS,
        "mlflow" => MLFLOW_NS,
        "serving" => SERVING_NS,
        _ => return None,
    })
}

/// Where an object lives in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Identity {
    /// From an address `manifest.COMPONENT.KIND.NAME`.
    pub fn of(address: &Address) -> Option<Identity> {
        let mut parts = address.name().splitn(3, '.');
        let (component, lower, name) = (parts.next()?, parts.next()?, parts.next()?);
        let (_, api_version, kind, namespaced) = KINDS.iter().find(|k| k.0 == lower)?;
        let namespace = match namespaced {
            true => Some(namespace_of(component)?.to_string()),
            false => None,
        };
        Some(Identity {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace,
            name: name.to_string(),
        })
    }

    /// How state records it: `Kind/namespace/name` or `Kind/name`.
    pub fn cloud_id(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}
