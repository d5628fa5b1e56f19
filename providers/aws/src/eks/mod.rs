//! EKS: the cluster, its add-ons and access entries, and managed node groups.

mod access;
mod addon;
mod cluster;
mod list;
mod nodegroup;
mod placement;
mod token;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_eks::types::{Taint, TaintEffect};
use hoist_provider::{Address, Attrs, Observed, Ownership, ProviderError, StepContext};
use serde_json::Value;

use crate::{tag_map, AwsProvider, TOKEN_TAG};

pub(crate) const SERVICE: &str = "eks";

/// One EKS call.
macro_rules! eks {
    ($what:expr, $req:expr) => {
        crate::send!(crate::eks::SERVICE, $what, $req)
    };
}

/// Every item of a paginated EKS list.
macro_rules! eks_all {
    ($what:expr, $req:expr) => {
        crate::every!(crate::eks::SERVICE, $what, $req)
    };
}
pub(crate) use {eks, eks_all};

fn hash_tags(ctx: &StepContext, name: &str) -> HashMap<String, String> {
    tag_map(ctx, name).into_iter().collect()
}

fn sorted(tags: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn int(a: &Attrs, k: &str) -> i32 {
    a.get(k).and_then(Value::as_i64).unwrap_or(0) as i32
}

fn labels(a: &Attrs) -> HashMap<String, String> {
    a.get("labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn effect(text: &str) -> TaintEffect {
    match text {
        "NoExecute" => TaintEffect::NoExecute,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        _ => TaintEffect::NoSchedule,
    }
}

/// `key=value:Effect` strings (as blueprints write them) to EKS taints.
fn taints(a: &Attrs) -> Vec<Taint> {
    a.get("taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|t| {
            let (kv, eff) = t.rsplit_once(':')?;
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            Some(Taint::builder().key(k).value(v).effect(effect(eff)).build())
        })
        .collect()
}

fn taint_text(t: &Taint) -> String {
    let eff = match t.effect().map(|e| e.as_str()) {
        Some("NO_EXECUTE") => "NoExecute",
        Some("PREFER_NO_SCHEDULE") => "PreferNoSchedule",
        _ => "NoSchedule",
    };
    match t.value().filter(|v| !v.is_empty()) {
        Some(v) => format!("{}={v}:{eff}", t.key().unwrap_or_default()),
        None => format!("{}:{eff}", t.key().unwrap_or_default()),
    }
}

/// A health issue as people read it: `Code: message`.
fn issue_text(code: Option<&str>, message: Option<&str>) -> String {
    format!(
        "{}: {}",
        code.unwrap_or("issue"),
        message.unwrap_or_default()
    )
}

/// Node group, add-on and access entry ids are `CLUSTER/NAME`.
fn split(id: &str) -> (&str, &str) {
    id.split_once('/').unwrap_or((id, ""))
}

/// The token recorded on a found object, for adoption by token.
fn token_of(tags: &BTreeMap<String, String>) -> Option<&str> {
    tags.get(TOKEN_TAG).map(String::as_str)
}

impl AwsProvider {
    /// The cluster's endpoint and CA as recorded (asked of EKS when the record has none
    /// yet), and tokens signed with this provider's credentials.
    pub(crate) async fn eks_cluster_access(
        &self,
        cluster: &hoist_provider::ResourceState,
    ) -> Result<hoist_provider::ClusterAccess, ProviderError> {
        let recorded = |outputs: &Attrs, k: &str| {
            outputs
                .get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let mut found = (
            recorded(&cluster.outputs, "endpoint"),
            recorded(&cluster.outputs, "certificate_authority"),
        );
        if found.0.is_none() || found.1.is_none() {
            if let Some((live, _)) = self.describe_cluster(&cluster.cloud_id).await? {
                found = (
                    recorded(&live.outputs, "endpoint"),
                    recorded(&live.outputs, "certificate_authority"),
                );
            }
        }
        let (Some(url), Some(ca_data)) = found else {
            return Err(ProviderError::NotReady {
                what: format!("EKS cluster {}", cluster.cloud_id),
                message: "it has no API endpoint or certificate authority yet".into(),
            });
        };
        let credentials = self.credentials.clone().ok_or_else(|| {
            ProviderError::Fatal(format!(
                "no AWS credentials to sign tokens for EKS cluster {}",
                cluster.cloud_id
            ))
        })?;
        Ok(hoist_provider::ClusterAccess::Https {
            url,
            ca_data,
            token: std::sync::Arc::new(token::EksTokens::new(
                credentials,
                &self.region,
                &cluster.cloud_id,
            )),
        })
    }

    pub(crate) async fn find_eks(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let found = match address.kind() {
            "eks_cluster" => self.describe_cluster(&owner.env).await?,
            "eks_addon" => {
                self.describe_addon(&format!("{}/{}", owner.env, address.name()))
                    .await?
            }
            _ => {
                // Node group names embed their token.
                let id = format!("{}/{}", owner.env, crate::token_name(address.name(), token));
                return Ok(self.describe_node_group(&id).await?.map(|(o, _)| o));
            }
        };
        Ok(found
            .filter(|(_, tags)| token_of(tags) == Some(token))
            .map(|(o, _)| o))
    }
}
