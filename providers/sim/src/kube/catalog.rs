//! The kinds a simulated cluster serves: the built-in ones every cluster has, and those its
//! CustomResourceDefinitions add, with the discovery documents clients read to find them.

use std::cmp::Ordering;

use serde_json::{json, Value};

use super::store::Stored;

/// One kind at one version, as discovery describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    /// Whether writes to the object keep its status (it has a `/status` subresource).
    pub status: bool,
    /// Whether it has a `/scale` subresource (Deployments, StatefulSets).
    pub scale: bool,
}

impl ResourceType {
    /// The `apiVersion` objects of this type carry.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, as messages name a resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// (group, version, kind, plural, namespaced, short names, has status, has scale)
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
    bool,
);

#[rustfmt::skip]
const BUILTIN: &[Builtin] = &[
    ("", "v1", "Namespace", "namespaces", false, &["ns"], true, false),
    ("", "v1", "Node", "nodes", false, &["no"], true, false),
    ("", "v1", "Service", "services", true, &["svc"], true, false),
    ("", "v1", "ConfigMap", "configmaps", true, &["cm"], false, false),
    ("", "v1", "Secret", "secrets", true, &[], false, false),
    ("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"], false, false),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, &["pvc"], true, false),
    ("", "v1", "PersistentVolume", "persistentvolumes", false, &["pv"], true, false),
    ("", "v1", "Pod", "pods", true, &["po"], true, false),
    ("", "v1", "Endpoints", "endpoints", true, &["ep"], false, false),
    ("", "v1", "Event", "events", true, &["ev"], false, false),
    ("apps", "v1", "Deployment", "deployments", true, &["deploy"], true, true),
    ("apps", "v1", "DaemonSet", "daemonsets", true, &["ds"], true, false),
    ("apps", "v1", "StatefulSet", "statefulsets", true, &["sts"], true, true),
    ("apps", "v1", "ReplicaSet", "replicasets", true, &["rs"], true, true),
    ("batch", "v1", "Job", "jobs", true, &[], true, false),
    ("batch", "v1", "CronJob", "cronjobs", true, &["cj"], true, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "Role", "roles", true, &[], false, false),
    ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true, &[], false, false),
    ("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", false, &[], false, false),
    ("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false, &["pc"], false, false),
    ("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, &["hpa"], true, false),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, &["pdb"], true, false),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true, &["netpol"], false, false),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true, &["ing"], true, false),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false, &[], false, false),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false, &["sc"], false, false),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false, &["crd", "crds"], true, false),
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false, &[], false, false),
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false, &[], false, false),
    ("coordination.k8s.io", "v1", "Lease", "leases", true, &[], false, false),
];

/// The group and kind CRDs are stored under.
pub const CRD_GROUP: &str = "apiextensions.k8s.io";
pub const CRD_KIND: &str = "CustomResourceDefinition";

/// Every type a cluster serves right now.
pub struct Catalog {
    pub types: Vec<ResourceType>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The types one CRD defines (one per served version); none when its spec is incomplete.
pub fn crd_types(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let (Some(group), Some(plural), Some(kind)) = (
        spec["group"].as_str(),
        names["plural"].as_str(),
        names["kind"].as_str(),
    ) else {
        return Vec::new();
    };
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut versions: Vec<&Value> = spec["versions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|v| v["served"].as_bool().unwrap_or(true))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by(|a, b| {
        version_order(
            a["name"].as_str().unwrap_or(""),
            b["name"].as_str().unwrap_or(""),
        )
    });
    versions
        .into_iter()
        .filter_map(|v| {
            Some(ResourceType {
                group: group.to_string(),
                version: v["name"].as_str()?.to_string(),
                kind: kind.to_string(),
                plural: plural.to_string(),
                singular: names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| kind.to_ascii_lowercase()),
                namespaced,
                short_names: strings(&names["shortNames"]),
                status: v["subresources"].get("status").is_some(),
                scale: v["subresources"].get("scale").is_some(),
            })
        })
        .collect()
}

/// Kubernetes' version priority: GA before beta before alpha, higher numbers first.
pub fn version_order(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(u32, u8, u32)> {
        let rest = v.strip_prefix('v')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let major = digits.parse().ok()?;
        let tail = &rest[digits.len()..];
        let (level, num) = if tail.is_empty() {
            (3, 0)
        } else if let Some(n) = tail.strip_prefix("beta") {
            (2, n.parse().ok()?)
        } else if let Some(n) = tail.strip_prefix("alpha") {
            (1, n.parse().ok()?)
        } else {
            return None;
        };
        Some((major, level, num))
    }
    match (parse(a), parse(b)) {
        (Some((ma, la, na)), Some((mb, lb, nb))) => lb.cmp(&la).then(mb.cmp(&ma)).then(nb.cmp(&na)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl Catalog {
    /// The built-in types plus those of `crds` (the stored CRD objects).
    pub fn new(crds: &[Stored]) -> Self {
        let mut types: Vec<ResourceType> = BUILTIN
            .iter()
            .map(
                |&(group, version, kind, plural, namespaced, short, status, scale)| ResourceType {
                    group: group.into(),
                    version: version.into(),
                    kind: kind.into(),
                    plural: plural.into(),
                    singular: kind.to_ascii_lowercase(),
                    namespaced,
                    short_names: short.iter().map(|s| s.to_string()).collect(),
                    status,
                    scale,
                },
            )
            .collect();
        for crd in crds {
            for t in crd_types(&crd.body) {
                // A CRD cannot shadow a built-in kind.
                if !types
                    .iter()
                    .any(|b| b.group == t.group && b.plural == t.plural && b.version == t.version)
                {
                    types.push(t);
                }
            }
        }
        Self { types }
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// Whether a stored (group, kind) still has a type: objects of removed CRDs do not.
    pub fn knows_kind(&self, group: &str, kind: &str) -> bool {
        self.types
            .iter()
            .any(|t| t.group == group && t.kind == kind)
    }

    /// The API groups other than the core one, each with its versions in priority order.
    fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some((_, vs)) if !vs.contains(&t.version) => vs.push(t.version.clone()),
                Some(_) => {}
                None => out.push((t.group.clone(), vec![t.version.clone()])),
            }
        }
        for (_, vs) in &mut out {
            vs.sort_by(|a, b| version_order(a, b));
        }
        out
    }

    fn group_doc(name: &str, versions: &[String]) -> Value {
        let vs: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
            .collect();
        json!({"name": name, "versions": vs, "preferredVersion": vs.first().cloned().unwrap_or(json!({}))})
    }

    /// `GET /api`.
    pub fn api_versions() -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "sim.hoist.local:443"}],
        })
    }

    /// `GET /apis`.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .iter()
            .map(|(g, vs)| Self::group_doc(g, vs))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `GET /apis/{group}`.
    pub fn group(&self, name: &str) -> Option<Value> {
        let groups = self.groups();
        let (g, vs) = groups.iter().find(|(g, _)| g == name)?;
        let mut doc = Self::group_doc(g, vs);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        Some(doc)
    }

    /// `GET /api/v1` or `/apis/{group}/{version}`; None for a version nobody serves.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let mut resources = Vec::new();
        for t in self
            .types
            .iter()
            .filter(|t| t.group == group && t.version == version)
        {
            let mut r = json!({
                "name": t.plural,
                "singularName": t.singular,
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": VERBS,
            });
            if !t.short_names.is_empty() {
                r["shortNames"] = json!(t.short_names);
            }
            resources.push(r);
            let sub = |name: &str, kind: &str, group: &str, version: &str| {
                json!({"name": format!("{}/{name}", t.plural), "singularName": "", "namespaced": t.namespaced,
                       "group": group, "version": version, "kind": kind, "verbs": ["get", "patch", "update"]})
            };
            if t.status {
                resources.push(sub("status", &t.kind, &t.group, &t.version));
            }
            if t.scale {
                resources.push(sub("scale", "Scale", "autoscaling", "v1"));
            }
        }
        if resources.is_empty() {
            return None;
        }
        let group_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha1", "v1beta1", "v2", "v1", "v1beta2", "foo"];
        v.sort_by(|a, b| version_order(a, b));
        assert_eq!(v, ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]);
    }
}
