//! AWS expansion: a VPC with public and private subnets per zone, an internet gateway, NAT,
//! route tables, a cluster security group, the EKS cluster and node IAM roles with their AWS
//! managed policies, the EKS cluster, its core add-ons, and one managed node group per pool.

use hoist_provider::{Address, ResourceConfig};
use serde_json::json;

use crate::expand::config;
use crate::{Blueprint, BlueprintError};

const CLUSTER_POLICIES: &[&str] = &["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"];
/// Sorted, as IAM lists them, so that a read compares equal.
const NODE_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
];
/// The add-ons every EKS cluster needs to run pods.
pub const CORE_ADDONS: &[&str] = &["vpc-cni", "coredns", "kube-proxy"];

impl Blueprint {
    pub(crate) fn expand_aws(
        &self,
        zones: &[String],
    ) -> Result<Vec<ResourceConfig>, BlueprintError> {
        let env = &self.name;
        let vpc = Address::new("vpc", env);
        let igw = Address::new("internet_gateway", env);
        let mut out = vec![config(
            vpc.clone(),
            json!({"cidr": self.network.cidr.to_string(), "region": self.region, "dns_hostnames": true}),
            vec![],
        )];
        let public = |z: &str| Address::new("subnet", format!("public-{z}"));
        let private = |z: &str| Address::new("subnet", format!("private-{z}"));
        for (i, z) in zones.iter().enumerate() {
            out.push(config(
                public(z),
                json!({"cidr": self.subnet_cidr(2 * zones.len(), i), "zone": z, "public": true}),
                vec![vpc.clone()],
            ));
            out.push(config(private(z), json!({"cidr": self.subnet_cidr(2 * zones.len(), zones.len() + i), "zone": z, "public": false}), vec![vpc.clone()]));
        }
        out.push(config(
            igw.clone(),
            json!({"vpc": vpc.to_string()}),
            vec![vpc.clone()],
        ));
        let public_subnets: Vec<Address> = zones.iter().map(|z| public(z)).collect();
        let mut deps = vec![vpc.clone(), igw.clone()];
        deps.extend(public_subnets.iter().cloned());
        out.push(config(Address::new("route_table", "public"), json!({"vpc": vpc.to_string(), "default_route": igw.to_string(), "subnets": public_subnets.iter().map(|a| a.to_string()).collect::<Vec<_>>()}), deps));
        // NAT: one shared (default), one per zone, or none (private subnets without internet).
        let nat = self.network.nat.as_deref().unwrap_or("single");
        let nat_zones: Vec<&String> = match nat {
            "per-zone" => zones.iter().collect(),
            "none" => vec![],
            _ => zones.iter().take(1).collect(),
        };
        for z in &nat_zones {
            // The address is its own resource so that it is released only after its NAT gateway is gone.
            let eip = Address::new("elastic_ip", z.as_str());
            out.push(config(eip.clone(), json!({"zone": z}), vec![]));
            out.push(config(
                Address::new("nat_gateway", z.as_str()),
                json!({"subnet": public(z).to_string(), "allocation": eip.to_string(), "zone": z}),
                vec![public(z), igw.clone(), eip],
            ));
        }
        let route_groups: Vec<(String, Vec<&String>, Option<Address>)> = match nat {
            "per-zone" => zones
                .iter()
                .map(|z| {
                    (
                        format!("private-{z}"),
                        vec![z],
                        Some(Address::new("nat_gateway", z.as_str())),
                    )
                })
                .collect(),
            _ => vec![(
                "private".to_string(),
                zones.iter().collect(),
                nat_zones
                    .first()
                    .map(|z| Address::new("nat_gateway", z.as_str())),
            )],
        };
        for (name, group, nat_gw) in route_groups {
            let subnets: Vec<Address> = group.iter().map(|z| private(z)).collect();
            let mut deps = vec![vpc.clone()];
            deps.extend(subnets.iter().cloned());
            deps.extend(nat_gw.iter().cloned());
            out.push(config(Address::new("route_table", name), json!({"vpc": vpc.to_string(), "default_route": nat_gw.map(|a| a.to_string()), "subnets": subnets.iter().map(|a| a.to_string()).collect::<Vec<_>>()}), deps));
        }
        let sg = Address::new("security_group", "cluster");
        out.push(config(
            sg.clone(),
            json!({"name": format!("{env}-cluster"), "vpc": vpc.to_string()}),
            vec![vpc.clone()],
        ));
        let cluster_role = Address::new("iam_role", "cluster");
        let node_role = Address::new("iam_role", "node");
        out.push(config(cluster_role.clone(), json!({"name": format!("{env}-eks-cluster"), "service": "eks.amazonaws.com", "policies": CLUSTER_POLICIES}), vec![]));
        out.push(config(node_role.clone(), json!({"name": format!("{env}-eks-node"), "service": "ec2.amazonaws.com", "policies": NODE_POLICIES}), vec![]));
        let cluster = Address::new("eks_cluster", env);
        let mut cluster_deps = vec![cluster_role.clone(), sg.clone()];
        for z in zones {
            cluster_deps.push(public(z));
            cluster_deps.push(private(z));
        }
        let (public_access, private_access) = match self.endpoint_access() {
            "public" => (true, false),
            "private" => (false, true),
            _ => (true, true),
        };
        out.push(config(
            cluster.clone(),
            json!({"name": env, "kubernetes_version": self.cluster.kubernetes_version, "endpoint_public": public_access, "endpoint_private": private_access, "logging": ["api", "audit", "authenticator"], "role": cluster_role.to_string(), "security_group": sg.to_string()}),
            cluster_deps,
        ));
        for addon in CORE_ADDONS {
            out.push(config(
                Address::new("eks_addon", *addon),
                json!({"name": addon, "cluster": cluster.to_string()}),
                vec![cluster.clone()],
            ));
        }
        let pools = self.pools(zones, |pool_zones| {
            let mut d = vec![cluster.clone(), node_role.clone()];
            d.extend(pool_zones.iter().map(|z| private(z)));
            d
        })?;
        for (address, mut attrs, deps) in pools {
            let gpu = attrs["accelerator"].is_string();
            attrs["ami_type"] = json!(if gpu {
                "AL2023_x86_64_NVIDIA"
            } else {
                "AL2023_x86_64_STANDARD"
            });
            attrs["cluster"] = json!(cluster.to_string());
            attrs["role"] = json!(node_role.to_string());
            out.push(config(address, attrs, deps));
        }
        Ok(out)
    }
}
