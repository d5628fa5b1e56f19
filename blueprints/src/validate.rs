//! Section-by-section validation of a blueprint file: each check reports every problem it
//! finds, located at the value at fault, and returns what it could make of the section.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

use hoist_provider::{AccessGrant, AccessRole, Ipv4Cidr, NatMode};

use crate::check::Problem;
use crate::model::*;
use crate::schema::*;

pub(crate) struct Validator<'a> {
    pub(crate) spans: &'a Spans,
    pub(crate) problems: Vec<Problem>,
}

impl Validator<'_> {
    pub(crate) fn err(
        &mut self,
        path: &str,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) {
        self.problems.push(Problem {
            pos: self.spans.at(path),
            message: message.into(),
            hint: hint.into(),
        });
    }
}

pub(crate) fn check_dns_name(v: &mut Validator, path: &str, name: &str, what: &str) -> bool {
    dns_name(name)
        .map_err(|hint| v.err(path, format!("{what} {name:?} is not DNS-safe"), hint))
        .is_ok()
}

fn parse_cidr(text: &str) -> Result<Ipv4Cidr, String> {
    let (addr, prefix) = text.split_once('/').ok_or("missing `/PREFIX`")?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("`{addr}` is not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .map_err(|_| format!("`{prefix}` is not a prefix length"))?;
    if !(16..=24).contains(&prefix) {
        return Err(format!(
            "a /{prefix} network is outside the supported sizes /16 to /24"
        ));
    }
    let mask = u32::MAX << (32 - prefix);
    let base = u32::from(addr) & mask;
    if base != u32::from(addr) {
        return Err(format!(
            "host bits are set; the network address is {}/{prefix}",
            Ipv4Addr::from(base)
        ));
    }
    Ok(Ipv4Cidr { addr, prefix })
}

pub(crate) fn validate_network(v: &mut Validator, n: Option<&NetworkFile>) -> Network {
    let default_cidr = Ipv4Cidr {
        addr: Ipv4Addr::new(10, 0, 0, 0),
        prefix: 16,
    };
    let cidr = match n.and_then(|n| n.cidr.as_deref()) {
        None => default_cidr,
        Some(text) => parse_cidr(text).unwrap_or_else(|msg| {
            v.err(
                "network.cidr",
                format!("invalid network.cidr {text:?}: {msg}"),
                "write an IPv4 range such as 10.0.0.0/16".to_string(),
            );
            default_cidr
        }),
    };
    let zones = match n.and_then(|n| n.zones.clone()) {
        None => Zones::Count(2),
        Some(ZonesFile::Count(c)) => {
            if !(1..=8).contains(&c) {
                v.err(
                    "network.zones",
                    format!("network.zones must be between 1 and 8, found {c}"),
                    None,
                );
            }
            Zones::Count(c.clamp(1, 8))
        }
        Some(ZonesFile::List(list)) => {
            if list.is_empty() {
                v.err(
                    "network.zones",
                    "network.zones is an empty list",
                    "list at least one zone, or give a count".to_string(),
                );
            }
            let mut seen = HashSet::new();
            for (i, z) in list.iter().enumerate() {
                if !seen.insert(z) {
                    v.err(
                        &format!("network.zones[{i}]"),
                        format!("zone {z:?} is listed twice"),
                        None,
                    );
                }
            }
            Zones::List(list)
        }
    };
    let nat = match n.and_then(|n| n.nat.as_deref()) {
        None | Some("single") => NatMode::Single,
        Some("per-zone") => NatMode::PerZone,
        Some("none") => NatMode::None,
        Some(other) => {
            v.err(
                "network.nat",
                format!("unknown network.nat {other:?}"),
                "one of: single, per-zone, none".to_string(),
            );
            NatMode::Single
        }
    };
    Network { cidr, zones, nat }
}

pub(crate) fn validate_cluster(v: &mut Validator, c: Option<&ClusterFile>) -> Cluster {
    let version = c
        .and_then(|c| c.kubernetes_version.clone())
        .unwrap_or_else(|| "1.32".to_string());
    let ok = version.split_once('.').is_some_and(|(maj, min)| {
        maj == "1" && min.parse::<u32>().is_ok_and(|m| (27..=40).contains(&m))
    });
    if !ok {
        v.err(
            "cluster.kubernetes_version",
            format!("unsupported kubernetes_version {version:?}"),
            "write a minor version in quotes, e.g. \"1.32\"".to_string(),
        );
    }
    Cluster {
        kubernetes_version: version,
        endpoint_access: c
            .and_then(|c| c.endpoint_access)
            .unwrap_or(EndpointAccess::Public),
        access: validate_access(v, c.map(|c| c.access.as_slice()).unwrap_or_default()),
        addons: c.and_then(|c| c.addons).unwrap_or_default(),
    }
}

pub(crate) fn validate_access(v: &mut Validator, grants: &[AccessFile]) -> Vec<AccessGrant> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(grants.len());
    for (i, g) in grants.iter().enumerate() {
        let path = format!("cluster.access[{i}]");
        if g.principal.trim().is_empty() {
            v.err(
                &format!("{path}.principal"),
                "access principal is empty",
                "name the identity, e.g. arn:aws:iam::111122223333:role/ml-admins".to_string(),
            );
        } else if let Some(first) = seen.insert(&g.principal, i) {
            v.err(
                &format!("{path}.principal"),
                format!("principal {:?} is listed twice", g.principal),
                format!("cluster.access[{first}] already grants it a role; keep one"),
            );
        }
        let role = match g.role {
            AccessRoleFile::ClusterAdmin => AccessRole::ClusterAdmin,
            AccessRoleFile::Admin => AccessRole::Admin,
            AccessRoleFile::Edit => AccessRole::Edit,
            AccessRoleFile::View => AccessRole::View,
        };
        if role == AccessRole::ClusterAdmin && !g.namespaces.is_empty() {
            v.err(
                &format!("{path}.namespaces#key"),
                "`cluster-admin` is cluster-wide and takes no namespaces",
                "use `admin`, `edit` or `view` for namespaced access".to_string(),
            );
        }
        for (j, ns) in g.namespaces.iter().enumerate() {
            if dns_name(ns).is_err() || ns.len() > 63 {
                v.err(
                    &format!("{path}.namespaces[{j}]"),
                    format!("namespace {ns:?} is not a valid Kubernetes namespace"),
                    "lowercase letters, digits and `-`, starting with a letter".to_string(),
                );
            }
        }
        out.push(AccessGrant {
            principal: g.principal.clone(),
            role,
            namespaces: g.namespaces.clone(),
            path,
        });
    }
    out
}

/// Parse `A100:8`, `a100-80gb:4`, or a TPU slice `tpu-v5e-8`.
pub fn parse_accelerator(text: &str) -> Result<Accelerator, String> {
    let t = text.trim();
    if t.to_ascii_lowercase().starts_with("tpu-") {
        let name = t.to_ascii_lowercase();
        let ok = name.len() > 4
            && name[4..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name
                .rsplit('-')
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok());
        return if ok {
            Ok(Accelerator { name, count: 1 })
        } else {
            Err("a TPU slice is written like tpu-v5e-8 (type and chip count)".into())
        };
    }
    let (name, count) = t
        .split_once(':')
        .ok_or("expected NAME:COUNT, e.g. A100:8")?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("`{name}` is not an accelerator name"));
    }
    let count: u32 = count
        .parse()
        .map_err(|_| format!("`{count}` is not a whole number of accelerators"))?;
    if !(1..=16).contains(&count) {
        return Err(format!("{count} accelerators per node is outside 1..=16"));
    }
    Ok(Accelerator {
        name: name.to_ascii_uppercase(),
        count,
    })
}

pub(crate) fn validate_pools(v: &mut Validator, pools: &[NodePoolFile]) -> Vec<NodePool> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut out = Vec::with_capacity(pools.len());
    for (i, p) in pools.iter().enumerate() {
        let at = |f: &str| format!("node_pools[{i}].{f}");
        if check_dns_name(v, &at("name"), &p.name, "node pool name") {
            if let Some(first) = names.insert(&p.name, i) {
                v.err(
                    &at("name"),
                    format!("duplicate node pool name {:?}", p.name),
                    format!("node_pools[{first}] already uses it; pool names must be unique"),
                );
            }
        }
        let accelerators: Vec<Accelerator> = match &p.accelerator {
            None => Vec::new(),
            Some(AcceleratorFile::One(a)) => parse_one_accelerator(v, &at("accelerator"), a)
                .into_iter()
                .collect(),
            Some(AcceleratorFile::Alternatives(list)) => {
                if list.is_empty() {
                    v.err(
                        &at("accelerator"),
                        "accelerator alternatives list is empty",
                        "list at least one, e.g. [H100:8, A100-80GB:8]".to_string(),
                    );
                }
                list.iter()
                    .enumerate()
                    .filter_map(|(j, a)| {
                        parse_one_accelerator(v, &format!("{}[{j}]", at("accelerator")), a)
                    })
                    .collect()
            }
        };
        match (&p.instance_type, &p.accelerator) {
            (None, None) => v.err(
                &at("name"),
                format!(
                    "node pool {:?} has neither `accelerator` nor `instance_type`",
                    p.name
                ),
                "add e.g. `accelerator: A100:8` or `instance_type: m5.xlarge`".to_string(),
            ),
            (Some(_), Some(_)) => v.err(
                &at("instance_type#key"),
                format!(
                    "node pool {:?} sets both `accelerator` and `instance_type`",
                    p.name
                ),
                "keep one: the accelerator is resolved to an instance type".to_string(),
            ),
            (Some(t), None) if t.trim().is_empty() => {
                v.err(&at("instance_type"), "instance_type is empty", None)
            }
            _ => {}
        }
        let min = p.min.or(p.desired).unwrap_or(1);
        let desired = p.desired.unwrap_or(min);
        let max = p.max.unwrap_or(desired.max(min));
        if min > max {
            v.err(
                &at(if p.min.is_some() { "min" } else { "max" }),
                format!(
                    "node pool {:?}: min ({min}) is greater than max ({max})",
                    p.name
                ),
                "set min <= desired <= max".to_string(),
            );
        } else if desired < min || desired > max {
            v.err(
                &at("desired"),
                format!(
                    "node pool {:?}: desired ({desired}) is outside min..max ({min}..{max})",
                    p.name
                ),
                "set min <= desired <= max".to_string(),
            );
        }
        if max == 0 {
            v.err(
                &at("max"),
                format!("node pool {:?} has max 0", p.name),
                "a pool needs room for at least one node".to_string(),
            );
        }
        if max > 1000 {
            v.err(
                &at("max"),
                format!(
                    "node pool {:?}: max {max} is above the limit of 1000 nodes",
                    p.name
                ),
                None,
            );
        }
        for (key, value) in &p.labels {
            if !is_label_key(key) {
                v.err(
                    &format!("{}#key", at(&format!("labels.{key}"))),
                    format!("label key {key:?} is not a valid Kubernetes label key"),
                    "use [prefix/]name with letters, digits, `-`, `_`, `.`".to_string(),
                );
            }
            if value.len() > 63
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                v.err(
                    &at(&format!("labels.{key}")),
                    format!("label value {value:?} is not a valid Kubernetes label value"),
                    "at most 63 letters, digits, `-`, `_`, `.`".to_string(),
                );
            }
        }
        let taints = p
            .taints
            .iter()
            .enumerate()
            .filter_map(|(j, t)| validate_taint(v, &format!("{}[{j}]", at("taints")), t))
            .collect();
        if let Some(size) = p.disk_size_gib {
            if !(20..=16384).contains(&size) {
                v.err(
                    &at("disk_size_gib"),
                    format!(
                        "node pool {:?}: disk_size_gib {size} is outside 20..=16384",
                        p.name
                    ),
                    "GPU images need room: 200 is a good size for accelerator pools".to_string(),
                );
            }
        }
        if let Some(zones) = &p.zones {
            if zones.is_empty() {
                v.err(
                    &at("zones"),
                    format!("node pool {:?} has an empty zones list", p.name),
                    "remove `zones` to use the network's zones".to_string(),
                );
            }
        }
        out.push(NodePool {
            name: p.name.clone(),
            instance_type: p.instance_type.clone(),
            accelerators,
            capacity: p.capacity.unwrap_or(Capacity::OnDemand),
            min,
            max,
            desired,
            labels: p.labels.clone(),
            taints,
            zones: p.zones.clone(),
            disk_size_gib: p.disk_size_gib,
            index: i,
        });
    }
    out
}

fn parse_one_accelerator(v: &mut Validator, path: &str, text: &str) -> Option<Accelerator> {
    parse_accelerator(text)
        .map_err(|msg| {
            v.err(
                path,
                format!("invalid accelerator {text:?}: {msg}"),
                "write NAME:COUNT such as A100:8 or L4:1, or a TPU slice such as tpu-v5e-8"
                    .to_string(),
            )
        })
        .ok()
}

fn is_label_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

pub(crate) fn validate_taint(v: &mut Validator, path: &str, t: &TaintFile) -> Option<String> {
    let (key, value, effect) = match t {
        TaintFile::Object(o) => (o.key.clone(), o.value.clone(), o.effect.clone()),
        TaintFile::Text(s) => {
            let Some((kv, effect)) = s.rsplit_once(':') else {
                v.err(
                    path,
                    format!("invalid taint {s:?}"),
                    "write key=value:Effect, e.g. nvidia.com/gpu=present:NoSchedule".to_string(),
                );
                return None;
            };
            let (k, val) = match kv.split_once('=') {
                Some((k, val)) => (k.to_string(), Some(val.to_string())),
                None => (kv.to_string(), None),
            };
            (k, val, effect.to_string())
        }
    };
    let mut ok = true;
    if !is_label_key(&key) {
        v.err(
            path,
            format!("taint key {key:?} is not valid"),
            "use [prefix/]name with letters, digits, `-`, `_`, `.`".to_string(),
        );
        ok = false;
    }
    if !EFFECTS.contains(&effect.as_str()) {
        let hint = match crate::diagnostic::did_you_mean(&effect, EFFECTS) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("one of: {}", EFFECTS.join(", ")),
        };
        v.err(path, format!("unknown taint effect {effect:?}"), hint);
        ok = false;
    }
    ok.then(|| match value {
        Some(val) => format!("{key}={val}:{effect}"),
        None => format!("{key}:{effect}"),
    })
}
