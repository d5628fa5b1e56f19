//! Security group rules as short strings (`ingress:tcp:443:10.0.0.0/16`, `egress:-1:self`),
//! so that what a group should allow is an attribute compared like any other.

use aws_sdk_ec2::types::{IpPermission, IpRange, SecurityGroup, UserIdGroupPair};

/// One rule: direction, protocol (`-1` for all), port or `FROM-TO` range, and peer (a CIDR,
/// a group id, or `self`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rule {
    pub ingress: bool,
    pub protocol: String,
    pub ports: Option<(i32, i32)>,
    pub peer: String,
}

impl Rule {
    pub fn parse(text: &str) -> Option<Rule> {
        let parts: Vec<&str> = text.split(':').collect();
        let (dir, protocol, ports, peer) = match parts.as_slice() {
            [d, p, peer] => (*d, *p, None, *peer),
            [d, p, ports, peer] => {
                let (from, to) = ports.split_once('-').unwrap_or((ports, ports));
                (*d, *p, Some((from.parse().ok()?, to.parse().ok()?)), *peer)
            }
            _ => return None,
        };
        Some(Rule {
            ingress: dir == "ingress",
            protocol: protocol.into(),
            ports,
            peer: peer.into(),
        })
    }

    pub fn text(&self) -> String {
        let dir = if self.ingress { "ingress" } else { "egress" };
        match self.ports {
            Some((a, b)) if a == b => format!("{dir}:{}:{a}:{}", self.protocol, self.peer),
            Some((a, b)) => format!("{dir}:{}:{a}-{b}:{}", self.protocol, self.peer),
            None => format!("{dir}:{}:{}", self.protocol, self.peer),
        }
    }

    /// The EC2 permission for this rule in group `own`.
    pub fn permission(&self, own: &str) -> IpPermission {
        let mut p = IpPermission::builder().ip_protocol(&self.protocol);
        if let Some((from, to)) = self.ports {
            p = p.from_port(from).to_port(to);
        }
        p = match self.peer.as_str() {
            "self" => p.user_id_group_pairs(UserIdGroupPair::builder().group_id(own).build()),
            peer if peer.starts_with("sg-") => {
                p.user_id_group_pairs(UserIdGroupPair::builder().group_id(peer).build())
            }
            cidr => p.ip_ranges(IpRange::builder().cidr_ip(cidr).build()),
        };
        p.build()
    }
}

fn rules_in(perms: &[IpPermission], ingress: bool, own: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1").to_string();
        let ports = match (protocol.as_str(), p.from_port(), p.to_port()) {
            ("-1", _, _) => None,
            (_, Some(a), Some(b)) => Some((a, b)),
            _ => None,
        };
        let peers = p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id())
            .map(|g| {
                if g == own {
                    "self".to_string()
                } else {
                    g.to_string()
                }
            })
            .chain(
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip())
                    .map(String::from),
            );
        for peer in peers {
            out.push(Rule {
                ingress,
                protocol: protocol.clone(),
                ports,
                peer,
            });
        }
    }
    out
}

/// Every rule of `group`, sorted, as text.
pub(crate) fn rules_of(group: &SecurityGroup) -> Vec<String> {
    let own = group.group_id().unwrap_or_default();
    let mut rules = rules_in(group.ip_permissions(), true, own);
    rules.extend(rules_in(group.ip_permissions_egress(), false, own));
    let mut text: Vec<String> = rules.iter().map(Rule::text).collect();
    text.sort();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_through_text() {
        for t in [
            "ingress:tcp:443:10.0.0.0/16",
            "egress:-1:self",
            "ingress:tcp:1000-2000:sg-1",
        ] {
            assert_eq!(Rule::parse(t).unwrap().text(), t);
        }
        assert!(Rule::parse("nonsense").is_none());
    }
}
