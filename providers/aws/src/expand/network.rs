//! The VPC: subnets sized for pod IPs, the internet gateway, NAT, routes, endpoints and the
//! security groups the cluster and EFA need.

use hoist_provider::{bits_for, Address, EnvSpec, Ipv4Cidr, NatMode, SpecProblem};
use serde_json::json;

use super::Graph;
use crate::families;

/// Interface endpoints private nodes need when the VPC has no NAT: EC2 and ECR to join and
/// pull images, STS and EKS Auth for pod identity, CloudWatch Logs, and the load balancer and
/// autoscaling APIs the stack's controllers call. S3 is a gateway endpoint in every VPC.
const INTERFACE_ENDPOINTS: &[&str] = &[
    "ec2",
    "ecr.api",
    "ecr.dkr",
    "sts",
    "eks-auth",
    "logs",
    "elasticloadbalancing",
    "autoscaling",
];

/// AWS's smallest subnet.
const SMALLEST_SUBNET: u8 = 28;

pub(crate) struct Subnet {
    pub zone: String,
    pub address: Address,
    pub cidr: Ipv4Cidr,
}

/// A private route table and the zones (and NAT gateway) it serves.
pub(crate) struct PrivateRoutes {
    pub address: Address,
    pub zones: Vec<String>,
    pub nat: Option<Address>,
}

/// The network's addresses, decided before any resource is written.
pub(crate) struct Network {
    pub vpc: Address,
    pub igw: Address,
    pub public: Vec<Subnet>,
    pub private: Vec<Subnet>,
    /// `(zone, NAT gateway, its elastic IP)`.
    pub nats: Vec<(String, Address, Address)>,
    pub public_routes: Address,
    pub private_routes: Vec<PrivateRoutes>,
    pub endpoints: Vec<Address>,
    pub cluster_sg: Address,
    pub efa_sg: Option<Address>,
    pub endpoint_sg: Option<Address>,
    pub security_groups: Vec<Address>,
}

/// Private subnets take one block each of the network split in a power of two larger than the
/// zone count; the last block is split again for the (small) public subnets. With 3 zones in a
/// /16 that is a /18 per private subnet (16k pod IPs) and a /20 per public one.
fn layout(cidr: Ipv4Cidr, zones: usize) -> Result<(Vec<Ipv4Cidr>, Vec<Ipv4Cidr>), SpecProblem> {
    let bits = bits_for(zones + 1).max(1);
    let private: Vec<Ipv4Cidr> = (0..zones).map(|i| cidr.subnet(bits, i as u32)).collect();
    let public_block = cidr.subnet(bits, (1u32 << bits) - 1);
    let public: Vec<Ipv4Cidr> = (0..zones)
        .map(|i| public_block.subnet(bits_for(zones), i as u32))
        .collect();
    if public[0].prefix > SMALLEST_SUBNET {
        return Err(SpecProblem::new(
            "network.cidr",
            format!(
                "{cidr} is too small for {zones} zones on aws: public subnets would be /{} and AWS's smallest is /{SMALLEST_SUBNET}",
                public[0].prefix
            ),
            Some("use a larger network (a /16 gives 16k pod IPs per zone) or fewer zones".into()),
        ));
    }
    Ok((private, public))
}

impl Network {
    pub fn plan(spec: &EnvSpec) -> Result<Network, SpecProblem> {
        let (private_cidrs, public_cidrs) = layout(spec.network.cidr, spec.zones.len())?;
        let subnets = |kind: &str, cidrs: Vec<Ipv4Cidr>| -> Vec<Subnet> {
            spec.zones
                .iter()
                .zip(cidrs)
                .map(|(z, cidr)| Subnet {
                    zone: z.clone(),
                    address: Address::new("subnet", format!("{kind}-{z}")),
                    cidr,
                })
                .collect()
        };
        let nat_zones: Vec<&String> = match spec.network.nat {
            NatMode::PerZone => spec.zones.iter().collect(),
            NatMode::None => vec![],
            NatMode::Single => spec.zones.iter().take(1).collect(),
        };
        let nats: Vec<(String, Address, Address)> = nat_zones
            .iter()
            .map(|z| {
                (
                    z.to_string(),
                    Address::new("nat_gateway", z.as_str()),
                    Address::new("elastic_ip", z.as_str()),
                )
            })
            .collect();
        let private_routes = match spec.network.nat {
            NatMode::PerZone => spec
                .zones
                .iter()
                .zip(&nats)
                .map(|(z, (_, nat, _))| PrivateRoutes {
                    address: Address::new("route_table", format!("private-{z}")),
                    zones: vec![z.clone()],
                    nat: Some(nat.clone()),
                })
                .collect(),
            _ => vec![PrivateRoutes {
                address: Address::new("route_table", "private"),
                zones: spec.zones.clone(),
                nat: nats.first().map(|(_, nat, _)| nat.clone()),
            }],
        };
        let mut endpoints = vec![Address::new("vpc_endpoint", "s3")];
        let endpoint_sg = (spec.network.nat == NatMode::None).then(|| {
            endpoints.extend(
                INTERFACE_ENDPOINTS
                    .iter()
                    .map(|s| Address::new("vpc_endpoint", s.replace('.', "-"))),
            );
            Address::new("security_group", "endpoints")
        });
        let efa_sg = spec
            .node_pools
            .iter()
            .any(|p| families::efa_interfaces(&p.instance_type).is_some())
            .then(|| Address::new("security_group", "efa"));
        let cluster_sg = Address::new("security_group", "cluster");
        let mut security_groups = vec![cluster_sg.clone()];
        security_groups.extend(efa_sg.iter().cloned());
        security_groups.extend(endpoint_sg.iter().cloned());
        Ok(Network {
            vpc: Address::new("vpc", spec.name.as_str()),
            igw: Address::new("internet_gateway", spec.name.as_str()),
            public: subnets("public", public_cidrs),
            private: subnets("private", private_cidrs),
            nats,
            public_routes: Address::new("route_table", "public"),
            private_routes,
            endpoints,
            cluster_sg,
            efa_sg,
            endpoint_sg,
            security_groups,
        })
    }

    pub fn all_subnets(&self) -> Vec<Address> {
        self.public
            .iter()
            .chain(&self.private)
            .map(|s| s.address.clone())
            .collect()
    }

    pub fn private_subnets_in(&self, zones: &[String]) -> Vec<Address> {
        self.private
            .iter()
            .filter(|s| zones.contains(&s.zone))
            .map(|s| s.address.clone())
            .collect()
    }

    /// What traffic from private subnets in `zones` goes through: their route tables, NAT
    /// gateways and endpoints. Nodes wait for these, and destroy removes them after the nodes.
    pub fn egress_for(&self, zones: &[String]) -> Vec<Address> {
        let mut out = Vec::new();
        for r in self
            .private_routes
            .iter()
            .filter(|r| r.zones.iter().any(|z| zones.contains(z)))
        {
            out.push(r.address.clone());
            out.extend(r.nat.iter().cloned());
        }
        out.extend(self.endpoints.iter().cloned());
        out
    }

    fn route_tables(&self) -> Vec<Address> {
        let mut out = vec![self.public_routes.clone()];
        out.extend(self.private_routes.iter().map(|r| r.address.clone()));
        out
    }

    pub fn add_to(&self, g: &mut Graph, spec: &EnvSpec) {
        let vpc = &self.vpc;
        let cidr = spec.network.cidr.to_string();
        g.add(
            vpc,
            json!({"cidr": cidr, "region": spec.region, "dns_hostnames": true}),
            vec![],
        );
        for (subnets, public) in [(&self.public, true), (&self.private, false)] {
            for s in subnets {
                // The load balancer controller and the cloud controller pick subnets by these tags.
                let role = if public { "elb" } else { "internal-elb" };
                g.add(
                    &s.address,
                    json!({"cidr": s.cidr.to_string(), "zone": s.zone, "public": public, "lb_role": role, "vpc": vpc.to_string()}),
                    vec![vpc.clone()],
                );
            }
        }
        g.add(
            &self.igw,
            json!({"vpc": vpc.to_string(), "attached": true}),
            vec![vpc.clone()],
        );
        let public_subnets: Vec<Address> = self.public.iter().map(|s| s.address.clone()).collect();
        let mut deps = vec![vpc.clone(), self.igw.clone()];
        deps.extend(public_subnets.iter().cloned());
        g.add(
            &self.public_routes,
            json!({"vpc": vpc.to_string(), "default_route": self.igw.to_string(), "subnets": names(&public_subnets)}),
            deps,
        );
        for (zone, nat, eip) in &self.nats {
            // Its own resource, so that it is released only after its NAT gateway is gone.
            g.add(eip, json!({"zone": zone}), vec![]);
            let public = Address::new("subnet", format!("public-{zone}"));
            g.add(
                nat,
                json!({"subnet": public.to_string(), "allocation": eip.to_string(), "zone": zone}),
                vec![public, self.igw.clone(), eip.clone()],
            );
        }
        for r in &self.private_routes {
            let subnets = self.private_subnets_in(&r.zones);
            let mut deps = vec![vpc.clone()];
            deps.extend(subnets.iter().cloned());
            deps.extend(r.nat.iter().cloned());
            g.add(
                &r.address,
                json!({"vpc": vpc.to_string(), "default_route": r.nat.as_ref().map(|a| a.to_string()), "subnets": names(&subnets)}),
                deps,
            );
        }
        self.add_security_groups(g, spec);
        self.add_endpoints(g, spec);
    }

    fn add_security_groups(&self, g: &mut Graph, spec: &EnvSpec) {
        let vpc = &self.vpc;
        let env = &spec.name;
        let all_out = "egress:-1:0.0.0.0/0";
        g.add(
            &self.cluster_sg,
            json!({"name": format!("{env}-cluster"), "vpc": vpc.to_string(), "description": format!("hoist: EKS cluster {env}"), "rules": [all_out]}),
            vec![vpc.clone()],
        );
        if let Some(efa) = &self.efa_sg {
            // EFA needs every protocol to and from the group's own members.
            g.add(
                efa,
                json!({"name": format!("{env}-efa"), "vpc": vpc.to_string(), "description": format!("hoist: EFA traffic between the nodes of {env}"), "rules": ["egress:-1:0.0.0.0/0", "egress:-1:self", "ingress:-1:self"]}),
                vec![vpc.clone()],
            );
        }
        if let Some(sg) = &self.endpoint_sg {
            let https = format!("ingress:tcp:443:{}", spec.network.cidr);
            g.add(
                sg,
                json!({"name": format!("{env}-endpoints"), "vpc": vpc.to_string(), "description": format!("hoist: HTTPS to the private endpoints of {env}"), "rules": [all_out, https]}),
                vec![vpc.clone()],
            );
        }
    }

    fn add_endpoints(&self, g: &mut Graph, spec: &EnvSpec) {
        let vpc = &self.vpc;
        let tables = self.route_tables();
        let mut deps = vec![vpc.clone()];
        deps.extend(tables.iter().cloned());
        // Datasets, checkpoints and ECR image layers come from S3: free through a gateway.
        g.add(
            &self.endpoints[0],
            json!({"service": format!("com.amazonaws.{}.s3", spec.region), "type": "Gateway", "vpc": vpc.to_string(), "route_tables": names(&tables)}),
            deps,
        );
        let Some(sg) = &self.endpoint_sg else { return };
        let subnets: Vec<Address> = self.private.iter().map(|s| s.address.clone()).collect();
        for (address, service) in self.endpoints[1..].iter().zip(INTERFACE_ENDPOINTS) {
            let mut deps = vec![vpc.clone(), sg.clone()];
            deps.extend(subnets.iter().cloned());
            g.add(
                address,
                json!({"service": format!("com.amazonaws.{}.{service}", spec.region), "type": "Interface", "vpc": vpc.to_string(), "subnets": names(&subnets), "security_group": sg.to_string(), "private_dns": true}),
                deps,
            );
        }
    }
}

pub(crate) fn names(addresses: &[Address]) -> Vec<String> {
    addresses.iter().map(|a| a.to_string()).collect()
}
