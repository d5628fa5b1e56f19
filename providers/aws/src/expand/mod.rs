//! What an environment is on AWS, decided without a call: the resources and their order.
//!
//! A VPC with a small public and a large private subnet per zone (pods take their IPs from the
//! private ones), an internet gateway, NAT, route tables, an S3 gateway endpoint (and interface
//! endpoints when there is no NAT), the cluster's IAM roles and log group, the EKS cluster with
//! API access entries, its add-ons, and per node pool a launch template (gp3 root disk, IMDSv2,
//! EFA interfaces and a placement group for multi-card training types) and a managed node
//! group. The order encodes what must exist first: vpc-cni and the routes before nodes,
//! coredns after the nodes that can host it; destroy walks it backwards, so in-cluster
//! controllers' load balancers go after the cluster and before the network.

mod network;
mod pools;
mod regions;
mod stack;

use hoist_provider::{
    AccessRole, Addons, Address, CloudModel, EndpointAccess, EnvSpec, NatMode, ResourceConfig,
    SpecProblem,
};
use serde_json::{json, Value};

pub(crate) use network::Network;

/// The AWS cloud known without a call: regions, zones, and expansion.
pub struct AwsModel;

const CLUSTER_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"];
/// Sorted, as IAM lists them, so that a read compares equal. SSM lets operators reach GPU
/// nodes without SSH keys, as eksctl sets up.
const NODE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
];
/// Add-ons nodes need before they join: pod networking, service routing, pod identity.
const NODE_ADDONS: &[&str] = &["vpc-cni", "kube-proxy", "eks-pod-identity-agent"];
/// Control-plane logs the cluster sends to its log group.
const LOG_TYPES: &[&str] = &["api", "audit", "authenticator"];
/// Days control-plane logs are kept (EKS's own group never expires and is billed for ever).
const LOG_RETENTION_DAYS: u32 = 90;

/// The VPC CNI settings for large GPU nodes: prefix delegation gives each node /28 blocks
/// instead of one secondary IP per pod, so a p5 does not drain the subnet of addresses.
fn vpc_cni_configuration() -> Value {
    json!({"env": {"ENABLE_PREFIX_DELEGATION": "true", "WARM_PREFIX_TARGET": "1"}})
}

impl CloudModel for AwsModel {
    fn creation_order(&self) -> &'static [&'static str] {
        &[
            "vpc",
            "internet_gateway",
            "subnet",
            "elastic_ip",
            "nat_gateway",
            "route_table",
            "security_group",
            "vpc_endpoint",
            "iam_role",
            "log_group",
            "s3_bucket",
            "eks_cluster",
            "iam_oidc_provider",
            "eks_access_entry",
            "eks_addon",
            "launch_template",
            "placement_group",
            "node_pool",
            "controller_leftovers",
        ]
    }

    fn zones(&self, region: &str) -> Option<Vec<String>> {
        regions::zones(region)
    }
    fn regions(&self) -> Vec<String> {
        regions::regions()
    }
    fn cluster(&self, env: &str) -> Option<Address> {
        Some(Address::new("eks_cluster", env))
    }
    fn stack_target(&self, spec: &EnvSpec) -> Option<hoist_provider::StackTarget> {
        Some(stack::target(spec))
    }
    fn expand(&self, spec: &EnvSpec) -> Result<Vec<ResourceConfig>, Vec<SpecProblem>> {
        let mut problems = check(spec);
        let network = match Network::plan(spec) {
            Ok(n) => Some(n),
            Err(p) => {
                problems.push(p);
                None
            }
        };
        match network {
            Some(network) if problems.is_empty() => Ok(expand(spec, &network)),
            _ => Err(problems),
        }
    }
}

/// Problems only AWS has with a spec.
fn check(spec: &EnvSpec) -> Vec<SpecProblem> {
    let mut problems = Vec::new();
    if spec.network.nat == NatMode::None && spec.cluster.endpoint_access == EndpointAccess::Public {
        problems.push(SpecProblem::new(
            "cluster.endpoint_access",
            "with `network.nat: none` the nodes cannot reach a public-only API endpoint",
            Some("set `endpoint_access: private` or `public-and-private`, or use NAT".into()),
        ));
    }
    for grant in &spec.cluster.access {
        if !is_iam_principal(&grant.principal) {
            problems.push(SpecProblem::new(
                format!("{}.principal", grant.path),
                format!("{:?} is not an IAM role or user ARN", grant.principal),
                Some("write e.g. arn:aws:iam::111122223333:role/ml-admins".into()),
            ));
        }
    }
    problems
}

fn is_iam_principal(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && (parts[5].starts_with("role/") || parts[5].starts_with("user/"))
}

/// Adds resources in order; each gets the attributes and dependencies given.
pub(crate) struct Graph(pub Vec<ResourceConfig>);

impl Graph {
    pub fn add(&mut self, address: &Address, attrs: Value, deps: Vec<Address>) {
        self.0
            .push(ResourceConfig::from_json(address.clone(), attrs, deps));
    }
}

fn expand(spec: &EnvSpec, net: &Network) -> Vec<ResourceConfig> {
    let env = &spec.name;
    let mut g = Graph(Vec::new());
    net.add_to(&mut g, spec);
    let cluster_role = Address::new("iam_role", "cluster");
    let node_role = Address::new("iam_role", "node");
    g.add(&cluster_role, json!({"name": format!("{env}-eks-cluster"), "service": "eks.amazonaws.com", "policies": CLUSTER_POLICIES}), vec![]);
    g.add(&node_role, json!({"name": format!("{env}-eks-node"), "service": "ec2.amazonaws.com", "policies": NODE_POLICIES}), vec![]);
    let log_group = Address::new("log_group", "cluster");
    g.add(
        &log_group,
        json!({"name": format!("/aws/eks/{env}/cluster"), "retention_days": LOG_RETENTION_DAYS}),
        vec![],
    );
    // Deleted after the cluster (its controllers are gone) and before the network it blocks.
    let leftovers = Address::new("controller_leftovers", env.as_str());
    let mut leftover_deps = vec![net.vpc.clone()];
    leftover_deps.extend(net.all_subnets());
    leftover_deps.extend(net.security_groups.iter().cloned());
    g.add(
        &leftovers,
        json!({"vpc": net.vpc.to_string(), "cluster": env}),
        leftover_deps,
    );
    let cluster = Address::new("eks_cluster", env.as_str());
    let mut cluster_deps = vec![
        cluster_role.clone(),
        net.cluster_sg.clone(),
        log_group,
        leftovers,
    ];
    cluster_deps.extend(net.all_subnets());
    let (public, private) = spec.cluster.endpoint_access.switches();
    let mut cluster_attrs = json!({"name": env, "kubernetes_version": spec.cluster.kubernetes_version, "endpoint_public": public, "endpoint_private": private, "logging": LOG_TYPES, "authentication_mode": "API_AND_CONFIG_MAP", "role": cluster_role.to_string(), "security_group": net.cluster_sg.to_string()});
    let managed = spec.cluster.addons == Addons::Managed;
    if !managed {
        // EKS installs its default vpc-cni, kube-proxy and coredns at creation; the user
        // keeps them up to date. Only set when asked, so existing clusters do not change.
        cluster_attrs["self_managed_addons"] = json!(true);
    }
    g.add(&cluster, cluster_attrs, cluster_deps);
    let mut node_addons = Vec::new();
    for name in NODE_ADDONS.iter().filter(|_| managed) {
        let address = Address::new("eks_addon", *name);
        let configuration = (*name == "vpc-cni").then(vpc_cni_configuration);
        g.add(
            &address,
            json!({"name": name, "cluster": cluster.to_string(), "configuration": configuration}),
            vec![cluster.clone()],
        );
        node_addons.push(address);
    }
    add_access(&mut g, spec, &cluster);
    stack::add(&mut g, spec, &cluster);
    let hosts = pools::add(&mut g, spec, net, &cluster, &node_role, &node_addons);
    if !managed {
        return g.0;
    }
    let mut coredns_deps = vec![cluster.clone()];
    coredns_deps.extend(hosts);
    g.add(
        &Address::new("eks_addon", "coredns"),
        json!({"name": "coredns", "cluster": cluster.to_string(), "configuration": null}),
        coredns_deps,
    );
    g.0
}

/// The EKS access policy that carries a Kubernetes role.
fn access_policy(role: AccessRole) -> &'static str {
    match role {
        AccessRole::ClusterAdmin => {
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        }
        AccessRole::Admin => "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy",
        AccessRole::Edit => "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy",
        AccessRole::View => "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
    }
}

fn add_access(g: &mut Graph, spec: &EnvSpec, cluster: &Address) {
    let mut used: Vec<String> = Vec::new();
    for grant in &spec.cluster.access {
        // Named after the principal's last path segment, made unique.
        let base: String = grant
            .principal
            .rsplit('/')
            .next()
            .unwrap_or("principal")
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        used.push(name.clone());
        let mut namespaces = grant.namespaces.clone();
        namespaces.sort();
        g.add(
            &Address::new("eks_access_entry", name),
            json!({"principal": grant.principal, "cluster": cluster.to_string(), "policy": access_policy(grant.role), "namespaces": namespaces}),
            vec![cluster.clone()],
        );
    }
}

#[cfg(test)]
mod tests;
