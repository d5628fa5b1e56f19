//! The validated blueprint: what the engine works with. Every check here reports all of its
//! problems at once, each located at the value at fault.

use std::collections::BTreeMap;

use hoist_provider::{AccessGrant, Ipv4Cidr, NatMode};

use crate::check::Problem;
use crate::schema::*;
use crate::validate::{
    check_dns_name, validate_cluster, validate_network, validate_pools, Validator,
};
use crate::yaml::{Node, Pos, Value};

/// A validated environment description.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub name: String,
    pub cloud: Cloud,
    pub region: String,
    pub latency: Option<Latency>,
    /// aws: the named profile for credentials.
    pub profile: Option<String>,
    /// gcp: the project to make the environment in (else the credentials').
    pub project: Option<String>,
    /// azure: the subscription (else the credentials' default).
    pub subscription_id: Option<String>,
    /// azure: the resource group to use, created when it does not exist.
    pub resource_group: Option<String>,
    pub ttl: Option<chrono::Duration>,
    pub tags: BTreeMap<String, String>,
    pub network: Network,
    pub cluster: Cluster,
    pub node_pools: Vec<NodePool>,
    pub stack: hoist_provider::StackSpec,
    pub budget_hourly_usd: Option<f64>,
    /// Where state lives, as a URL (`s3://bucket/prefix`, `file:///path`), when the blueprint says.
    pub backend: Option<BackendSpec>,
    pub(crate) spans: Spans,
    pub(crate) origin: crate::Origin,
}

/// The blueprint's `backend` section, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendSpec {
    pub url: String,
    pub region: Option<String>,
    pub lock_lease: Option<std::time::Duration>,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub cidr: Ipv4Cidr,
    pub zones: Zones,
    /// NAT gateways: `single` (default), `per-zone` or `none`.
    pub nat: NatMode,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Zones {
    Count(u32),
    List(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub kubernetes_version: String,
    pub endpoint_access: EndpointAccess,
    pub access: Vec<AccessGrant>,
    pub addons: Addons,
}

/// An accelerator request such as `A100:8` or `tpu-v5e-8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accelerator {
    pub name: String,
    pub count: u32,
}

impl std::fmt::Display for Accelerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name.starts_with("tpu-") {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{}:{}", self.name, self.count)
        }
    }
}

#[derive(Debug, Clone)]
pub struct NodePool {
    pub name: String,
    pub instance_type: Option<String>,
    /// Alternatives in order of preference; empty for a CPU pool.
    pub accelerators: Vec<Accelerator>,
    pub capacity: Capacity,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<String>,
    pub zones: Option<Vec<String>>,
    pub disk_size_gib: Option<u32>,
    /// Index in `node_pools`, to locate later errors.
    pub index: usize,
}

/// Where each value of the file was written, found by path (`node_pools[0].min`, or
/// `labels.team#key` for a key) in the parsed tree, only when an error needs it.
#[derive(Debug, Clone)]
pub struct Spans(std::sync::Arc<Node>);

impl Default for Spans {
    fn default() -> Self {
        Spans(std::sync::Arc::new(Node {
            value: Value::Null,
            pos: Pos { line: 1, col: 1 },
            templated: false,
        }))
    }
}

impl Spans {
    pub fn from_tree(root: Node) -> Self {
        Spans(std::sync::Arc::new(root))
    }

    /// The position of `path`, or of its nearest written ancestor.
    pub fn at(&self, path: &str) -> Pos {
        let (mut rest, want_key) = match path.strip_suffix("#key") {
            Some(p) => (p, true),
            None => (path, false),
        };
        let mut node: &Node = &self.0;
        let mut key_pos = node.pos;
        loop {
            // After a dot comes a key, even an empty one (`tags.#key`).
            let dotted = rest.starts_with('.');
            rest = rest.strip_prefix('.').unwrap_or(rest);
            if rest.is_empty() && !dotted {
                return if want_key { key_pos } else { node.pos };
            }
            let next = match &node.value {
                Value::Map(entries) => child_by_key(entries, rest),
                Value::Seq(items) => child_by_index(items, rest).map(|(n, len)| (None, n, len)),
                _ => None,
            };
            let Some((key, child, len)) = next else {
                return node.pos;
            };
            key_pos = key.unwrap_or(child.pos);
            node = child;
            rest = &rest[len..];
        }
    }
}

/// The entry whose key starts `rest` (the longest, as keys may hold dots: `nvidia.com/gpu`).
fn child_by_key<'a>(
    entries: &'a [(Node, Node)],
    rest: &str,
) -> Option<(Option<Pos>, &'a Node, usize)> {
    entries
        .iter()
        .filter_map(|(k, v)| {
            let key = k.key_text();
            let tail = rest.strip_prefix(key.as_str())?;
            (tail.is_empty() || tail.starts_with(['.', '['])).then_some((Some(k.pos), v, key.len()))
        })
        .max_by_key(|(_, _, len)| *len)
}

/// The item `[i]` at the start of `rest`, with the length of `[i]`.
fn child_by_index<'a>(items: &'a [Node], rest: &str) -> Option<(&'a Node, usize)> {
    let inner = rest.strip_prefix('[')?;
    let end = inner.find(']')?;
    let i: usize = inner[..end].parse().ok()?;
    Some((items.get(i)?, end + 2))
}

/// Turn a well-formed file into a validated blueprint, or every problem found.
pub fn validate(
    file: BlueprintFile,
    spans: Spans,
    origin: crate::Origin,
) -> Result<Blueprint, Vec<Problem>> {
    let mut v = Validator {
        spans: &spans,
        problems: Vec::new(),
    };
    if file.api_version != "hoist/v1" {
        v.err(
            "apiVersion",
            format!("unsupported apiVersion {:?}", file.api_version),
            "this hoist reads `apiVersion: hoist/v1`".to_string(),
        );
    }
    check_dns_name(&mut v, "name", &file.name, "environment name");
    let p = &file.provider;
    if p.region.trim().is_empty() {
        v.err(
            "provider.region",
            "`provider.region` is empty",
            "name the region to deploy to, e.g. sim-east1 or us-east-1".to_string(),
        );
    }
    for (key, set, cloud) in [
        ("latency", p.latency.is_some(), Cloud::Sim),
        ("profile", p.profile.is_some(), Cloud::Aws),
        ("project", p.project.is_some(), Cloud::Gcp),
        ("subscription_id", p.subscription_id.is_some(), Cloud::Azure),
        ("resource_group", p.resource_group.is_some(), Cloud::Azure),
    ] {
        if set && p.cloud != cloud {
            v.err(
                &format!("provider.{key}#key"),
                format!(
                    "`provider.{key}` applies only to cloud `{}`, not `{}`",
                    cloud.as_str(),
                    p.cloud.as_str()
                ),
                "remove it, or change `provider.cloud`".to_string(),
            );
        }
    }
    let ttl = file.ttl.as_deref().and_then(|t| match parse_duration(t) {
        Ok(d) => Some(d),
        Err(msg) => {
            v.err(
                "ttl",
                format!("invalid ttl {t:?}: {msg}"),
                "write a duration such as 30m, 8h, 2d or 1h30m".to_string(),
            );
            None
        }
    });
    for (key, value) in &file.tags {
        if key.trim().is_empty() || key.len() > 128 || value.len() > 256 {
            v.err(
                &format!("tags.{key}#key"),
                format!("tag {key:?} is not a valid tag"),
                "keys are 1 to 128 characters, values at most 256 (the clouds' limits)".to_string(),
            );
        }
        if key.starts_with("hoist-") {
            v.err(
                &format!("tags.{key}#key"),
                format!("tag `{key}` uses the reserved prefix `hoist-`"),
                "hoist sets hoist-* tags itself; pick another key".to_string(),
            );
        }
    }
    let network = validate_network(&mut v, file.network.as_ref());
    let cluster = validate_cluster(&mut v, file.cluster.as_ref());
    let node_pools = validate_pools(&mut v, &file.node_pools);
    let stack = crate::stack::validate_stack(&mut v, file.stack.as_ref(), &node_pools);
    if let Some(b) = &file.budget {
        if b.max_hourly_usd.is_nan() || b.max_hourly_usd <= 0.0 {
            v.err(
                "budget.max_hourly_usd",
                format!(
                    "budget.max_hourly_usd must be positive, found {}",
                    b.max_hourly_usd
                ),
                None,
            );
        }
    }
    let backend = file
        .backend
        .as_ref()
        .and_then(|b| validate_backend(&mut v, b));
    let problems = v.problems;
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Blueprint {
        name: file.name,
        cloud: p.cloud,
        region: p.region.clone(),
        latency: p.latency,
        profile: p.profile.clone(),
        project: p.project.clone(),
        subscription_id: p.subscription_id.clone(),
        resource_group: p.resource_group.clone(),
        ttl,
        tags: file.tags,
        network,
        cluster,
        node_pools,
        stack,
        budget_hourly_usd: file.budget.map(|b| b.max_hourly_usd),
        backend,
        spans,
        origin,
    })
}

fn validate_backend(v: &mut Validator, b: &BackendFile) -> Option<BackendSpec> {
    let lock_lease = b
        .lock_lease
        .as_deref()
        .and_then(|t| match parse_duration(t) {
            Ok(d) if d.num_seconds() >= 1 => {
                Some(std::time::Duration::from_secs(d.num_seconds() as u64))
            }
            Ok(_) => {
                v.err(
                    "backend.lock_lease",
                    format!("lock lease {t:?} is shorter than a second"),
                    "write e.g. 3m".to_string(),
                );
                None
            }
            Err(msg) => {
                v.err(
                    "backend.lock_lease",
                    format!("invalid lock lease {t:?}: {msg}"),
                    "write a duration such as 90s or 3m".to_string(),
                );
                None
            }
        });
    match (&b.s3, &b.file) {
        (Some(s3), None) => {
            if s3.bucket.trim().is_empty() || s3.bucket.contains('/') {
                v.err(
                    "backend.s3.bucket",
                    format!("{:?} is not a bucket name", s3.bucket),
                    "name the bucket only; put the path in `prefix`".to_string(),
                );
                return None;
            }
            let prefix = s3.prefix.as_deref().unwrap_or("").trim_matches('/');
            let url = if prefix.is_empty() {
                format!("s3://{}", s3.bucket)
            } else {
                format!("s3://{}/{prefix}", s3.bucket)
            };
            Some(BackendSpec {
                url,
                region: s3.region.clone(),
                lock_lease,
            })
        }
        (None, Some(f)) => Some(BackendSpec {
            url: format!("file://{}", f.path),
            region: None,
            lock_lease,
        }),
        _ => {
            v.err(
                "backend",
                "`backend` names exactly one of `s3` and `file`",
                "e.g. `backend: {s3: {bucket: my-hoist-state, prefix: ml}}`".to_string(),
            );
            None
        }
    }
}

/// Check a name used in DNS labels and cloud resource names; the error is a hint with a suggestion.
pub fn dns_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        return Ok(());
    }
    let suggestion: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let suggestion = suggestion.trim_matches('-');
    let rule =
        "use lowercase letters, digits and `-`, starting with a letter, at most 40 characters";
    Err(if suggestion.is_empty() {
        rule.to_string()
    } else {
        format!("{rule}, e.g. {suggestion:?}")
    })
}

/// Parse `30m`, `8h`, `2d`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let mut total = 0i64;
    let mut digits = String::new();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if digits.is_empty() {
            return Err(format!("expected a number before `{c}`"));
        }
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("`{digits}` is too large"))?;
        digits.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => return Err(format!("unknown unit `{c}`")),
        };
        total = total
            .checked_add(n.checked_mul(unit).ok_or("too long")?)
            .ok_or("too long")?;
    }
    if !digits.is_empty() {
        return Err(format!("`{digits}` has no unit"));
    }
    if total < 60 {
        return Err("shorter than one minute".into());
    }
    if total > 366 * 86400 {
        return Err("longer than a year".into());
    }
    Ok(chrono::Duration::seconds(total))
}
