//! The AKS cluster: Entra ID sign-in with Kubernetes RBAC (admin groups from
//! `cluster.access`), Azure CNI Overlay with Cilium, the standard load balancer for egress,
//! the Standard tier (the uptime SLA), patch auto-upgrades, workload identity, and the system
//! pool inline (AKS creates a cluster with its system pool).

use hoist_provider::{AccessRole, Address, EnvSpec, Ipv4Cidr, PoolSpec, SpecProblem};
use serde_json::json;

use super::pools::{self, PoolNames};
use super::Graph;

/// Candidates for the service and pod ranges, which must not overlap the network.
const SERVICE_RANGES: &[&str] = &["172.16.0.0/16", "172.17.0.0/16", "10.255.0.0/16"];
const POD_RANGES: &[&str] = &["192.168.0.0/16", "172.18.0.0/16", "100.64.0.0/16"];

/// Problems with the cluster only AKS has.
pub(super) fn check(spec: &EnvSpec) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    for grant in &spec.cluster.access {
        if !is_object_id(&grant.principal) {
            problems.push(SpecProblem::new(
                format!("{}.principal", grant.path),
                format!("{:?} is not an Entra ID group object id", grant.principal),
                Some("AKS gives cluster access to Entra ID groups: `az ad group show --group NAME --query id -o tsv` prints a group's id".into()),
            ));
        }
        if grant.role != AccessRole::ClusterAdmin || !grant.namespaces.is_empty() {
            problems.push(SpecProblem::new(
                format!("{}.role", grant.path),
                "AKS's Entra ID integration makes admin groups (cluster-admin on the whole cluster) only".to_string(),
                Some("use `role: cluster-admin` without namespaces, and bind narrower roles with Kubernetes RoleBindings".into()),
            ));
        }
    }
    if !spec.stack.is_empty() && spec.cluster.access.is_empty() {
        problems.push(SpecProblem::new(
            "cluster.access",
            "hoist deploys the stack with your Entra ID identity, and an AKS cluster admits only its admin groups",
            Some("list an Entra ID group you are in: `access: [{principal: <group object id>, role: cluster-admin}]`".into()),
        ));
    }
    problems
}

fn is_object_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn overlaps(a: Ipv4Cidr, b: Ipv4Cidr) -> bool {
    let prefix = a.prefix.min(b.prefix);
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(a.addr) & mask) == (u32::from(b.addr) & mask)
}

/// The first candidate that overlaps none of `taken`.
fn free_range(candidates: &[&str], taken: &[Ipv4Cidr]) -> Ipv4Cidr {
    let parsed = candidates.iter().filter_map(|c| {
        let (addr, prefix) = c.split_once('/')?;
        Some(Ipv4Cidr {
            addr: addr.parse().ok()?,
            prefix: prefix.parse().ok()?,
        })
    });
    let mut last = None;
    for c in parsed {
        if taken.iter().all(|t| !overlaps(c, *t)) {
            return c;
        }
        last = Some(c);
    }
    last.unwrap_or(taken[0])
}

pub(super) fn add(
    g: &mut Graph,
    spec: &EnvSpec,
    cluster: &Address,
    [group, subnet]: [&Address; 2],
    system: &PoolSpec,
    names: &PoolNames,
) {
    let services = free_range(SERVICE_RANGES, &[spec.network.cidr]);
    let pods = free_range(POD_RANGES, &[spec.network.cidr, services]);
    let dns_ip = std::net::Ipv4Addr::from(u32::from(services.addr) + 10);
    let autoscales = spec.node_pools.iter().any(|p| p.autoscaled());
    let admins: Vec<&str> = spec
        .cluster
        .access
        .iter()
        .map(|a| a.principal.as_str())
        .collect();
    let mut attrs = json!({
        "name": spec.name,
        "resource_group": group.to_string(),
        "location": spec.region,
        "kubernetes_version": spec.cluster.kubernetes_version,
        "dns_prefix": spec.name,
        "subnet": subnet.to_string(),
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "network_dataplane": "cilium",
        "pod_cidr": pods.to_string(),
        "service_cidr": services.to_string(),
        "dns_service_ip": dns_ip.to_string(),
        "outbound_type": "loadBalancer",
        "private_cluster": spec.cluster.endpoint_access == hoist_provider::EndpointAccess::Private,
        "sku_tier": "Standard",
        "upgrade_channel": "patch",
        "node_os_upgrade_channel": "NodeImage",
        "admin_groups": admins,
        // The cluster-wide autoscaler settings, when a pool autoscales: GPU nodes take
        // long to boot, and similar pools in several zones scale together.
        "autoscaler_profile": autoscales.then(|| json!({
            "balance-similar-node-groups": "true",
            "expander": "least-waste",
            "max-node-provision-time": "20m",
            "scale-down-unneeded-time": "10m",
            "scan-interval": "20s",
        })),
    });
    let pool = pools::profile_attrs(spec, system, names);
    for (k, v) in pool.as_object().into_iter().flatten() {
        attrs[format!("system_{k}")] = v.clone();
    }
    g.add(cluster, attrs, vec![group.clone(), subnet.clone()]);
}
