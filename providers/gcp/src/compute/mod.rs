//! The network: a custom-mode VPC network, its subnetwork with secondary ranges for pods and
//! services, and a Cloud Router with Cloud NAT. None of these take labels, so ownership is
//! written in their description (see [`crate::labels`]); inserts carry the create's token as
//! Compute Engine's `requestId`, so a retried insert never makes a second one.

mod list;

use google_cloud_compute_v1::model::{Network, Operation, Router, Subnetwork};
use google_cloud_lro::Poller;
use hoist_provider::{
    Address, Attrs, Observed, Ownership, ProviderError, ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use crate::errors::{classify, is_conflict, is_not_found};
use crate::{as_json, body, claim, dep_id, labels, made, refreshed, text, GcpProvider};

const SERVICE: &str = "Compute Engine";

/// The three kinds this module makes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Network,
    Subnetwork,
    Router,
}

impl Part {
    pub(crate) fn of(kind: &str) -> Result<Part, ProviderError> {
        match kind {
            "gcp_network" => Ok(Part::Network),
            "gcp_subnetwork" => Ok(Part::Subnetwork),
            "gcp_router" => Ok(Part::Router),
            _ => Err(ProviderError::Invalid(format!(
                "gcp has no resource kind `{kind}`"
            ))),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Part::Network => "VPC network",
            Part::Subnetwork => "subnetwork",
            Part::Router => "Cloud Router",
        }
    }
}

/// The partial URL Compute Engine and GKE accept for a network.
pub(crate) fn network_url(project: &str, name: &str) -> String {
    format!("projects/{project}/global/networks/{name}")
}

pub(crate) fn subnetwork_url(project: &str, region: &str, name: &str) -> String {
    format!("projects/{project}/regions/{region}/subnetworks/{name}")
}

/// A finished operation's error, if it failed.
fn failed(what: &str, op: &Operation) -> Result<(), ProviderError> {
    let op = as_json(op);
    let errors = op.pointer("/error/errors").and_then(Value::as_array);
    match errors.filter(|e| !e.is_empty()) {
        None => Ok(()),
        Some(errors) => {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("{} ({})", text_of(e, "message"), text_of(e, "code")))
                .collect();
            let joined = text.join("; ");
            if joined.contains("QUOTA") || joined.contains("quota") {
                Err(ProviderError::Quota {
                    region: String::new(),
                    message: format!("{what}: {joined}"),
                })
            } else if joined.contains("RESOURCE_IN_USE") || joined.contains("resourceInUse") {
                Err(ProviderError::NotReady {
                    what: what.into(),
                    message: joined,
                })
            } else {
                Err(ProviderError::Fatal(format!(
                    "{SERVICE} {what} failed: {joined}"
                )))
            }
        }
    }
}

fn text_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A live resource as hoist records it: its attributes and who owns it.
pub(crate) struct Found {
    pub observed: Observed,
    pub tags: std::collections::BTreeMap<String, String>,
}

/// What hoist records of a live network, subnetwork or router.
pub(crate) fn found(part: Part, v: &Value) -> Found {
    let name = text_of(v, "name").to_string();
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(name));
    match part {
        Part::Network => {
            attrs.insert(
                "routing_mode".into(),
                v.pointer("/routingConfig/routingMode")
                    .cloned()
                    .unwrap_or(json!("REGIONAL")),
            );
            attrs.insert("mtu".into(), v.get("mtu").cloned().unwrap_or(json!(1460)));
        }
        Part::Subnetwork => {
            attrs.insert("cidr".into(), json!(text_of(v, "ipCidrRange")));
            attrs.insert(
                "private_google_access".into(),
                json!(v
                    .get("privateIpGoogleAccess")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)),
            );
            for r in v
                .get("secondaryIpRanges")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = match text_of(r, "rangeName") {
                    crate::expand::PODS_RANGE => "pods_cidr",
                    crate::expand::SERVICES_RANGE => "services_cidr",
                    _ => continue,
                };
                attrs.insert(key.into(), json!(text_of(r, "ipCidrRange")));
            }
        }
        Part::Router => {
            if let Some(nat) = v.pointer("/nats/0/name") {
                attrs.insert("nat".into(), nat.clone());
            }
        }
    }
    let mut outputs = Attrs::new();
    outputs.insert("self_link".into(), json!(text_of(v, "selfLink")));
    Found {
        observed: Observed {
            cloud_id: name,
            attrs,
            outputs,
            lifecycle: hoist_provider::Lifecycle::Ready,
        },
        tags: labels::from_description(text_of(v, "description")),
    }
}

impl GcpProvider {
    fn region_of<'a>(&'a self, attrs: &'a Attrs) -> &'a str {
        Some(text(attrs, "region"))
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.region)
    }

    /// The request body of a new network part.
    fn part_body(
        &self,
        part: Part,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Value, ProviderError> {
        let a = &config.attrs;
        let description = labels::to_description(&ctx.tags, &ctx.token);
        Ok(match part {
            Part::Network => json!({
                "name": text(a, "name"),
                "description": description,
                "autoCreateSubnetworks": false,
                "routingConfig": {"routingMode": text(a, "routing_mode")},
                "mtu": a.get("mtu").and_then(Value::as_i64).unwrap_or(1460),
            }),
            Part::Subnetwork => json!({
                "name": text(a, "name"),
                "description": description,
                "network": network_url(&self.project, &dep_id(ctx, a, "network")?),
                "region": self.region_of(a),
                "ipCidrRange": text(a, "cidr"),
                "privateIpGoogleAccess": a.get("private_google_access").and_then(Value::as_bool).unwrap_or(true),
                "secondaryIpRanges": [
                    {"rangeName": crate::expand::PODS_RANGE, "ipCidrRange": text(a, "pods_cidr")},
                    {"rangeName": crate::expand::SERVICES_RANGE, "ipCidrRange": text(a, "services_cidr")},
                ],
            }),
            Part::Router => json!({
                "name": text(a, "name"),
                "description": description,
                "network": network_url(&self.project, &dep_id(ctx, a, "network")?),
                "region": self.region_of(a),
                "nats": [{
                    "name": text(a, "nat"),
                    "natIpAllocateOption": "AUTO_ONLY",
                    "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
                    "logConfig": {"enable": true, "filter": "ERRORS_ONLY"},
                }],
            }),
        })
    }

    /// Insert and wait; a name already taken is adopted when it is ours, refused otherwise.
    pub(crate) async fn create_network_part(
        &self,
        kind: &str,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let part = Part::of(kind)?;
        let v = self.part_body(part, config, ctx)?;
        let name = text(&config.attrs, "name").to_string();
        let region = self.region_of(&config.attrs).to_string();
        let what = format!("{} {name}", part.noun());
        let (p, token) = (self.project.clone(), ctx.token.clone());
        let op = match part {
            Part::Network => {
                self.networks
                    .insert()
                    .set_project(p)
                    .set_request_id(token)
                    .set_body(body::<Network>(&what, v)?)
                    .poller()
                    .until_done()
                    .await
            }
            Part::Subnetwork => {
                self.subnetworks
                    .insert()
                    .set_project(p)
                    .set_region(region)
                    .set_request_id(token)
                    .set_body(body::<Subnetwork>(&what, v)?)
                    .poller()
                    .until_done()
                    .await
            }
            Part::Router => {
                self.routers
                    .insert()
                    .set_project(p)
                    .set_region(region)
                    .set_request_id(token)
                    .set_body(body::<Router>(&what, v)?)
                    .poller()
                    .until_done()
                    .await
            }
        };
        match op {
            Ok(op) => failed(&format!("insert of {what}"), &op)?,
            Err(e) if is_conflict(&e) => {
                let owner = hoist_provider::Ownership::from_tags(&ctx.tags);
                let found = self
                    .get_part(part, &name, &config.attrs)
                    .await?
                    .ok_or_else(|| ProviderError::NotReady {
                        what: what.clone(),
                        message: "it exists but cannot be read yet".into(),
                    })?;
                claim(&owner, what, &found.tags)?;
            }
            Err(e) => return Err(classify(SERVICE, &format!("insert of {what}"), e)),
        }
        let self_link = format!(
            "https://www.googleapis.com/compute/v1/{}",
            match part {
                Part::Network => network_url(&self.project, &name),
                Part::Subnetwork =>
                    subnetwork_url(&self.project, self.region_of(&config.attrs), &name),
                Part::Router => format!(
                    "projects/{}/regions/{}/routers/{name}",
                    self.project,
                    self.region_of(&config.attrs)
                ),
            }
        );
        Ok(made(
            &name,
            config,
            Attrs::from_iter([("self_link".to_string(), json!(self_link))]),
        ))
    }

    /// The live resource named `name`, `None` when there is none.
    pub(crate) async fn get_part(
        &self,
        part: Part,
        name: &str,
        attrs: &Attrs,
    ) -> Result<Option<Found>, ProviderError> {
        let (p, region) = (self.project.clone(), self.region_of(attrs).to_string());
        let what = format!("get of {} {name}", part.noun());
        let got = match part {
            Part::Network => self
                .networks
                .get()
                .set_project(p)
                .set_network(name)
                .send()
                .await
                .map(|n| as_json(&n)),
            Part::Subnetwork => self
                .subnetworks
                .get()
                .set_project(p)
                .set_region(region)
                .set_subnetwork(name)
                .send()
                .await
                .map(|n| as_json(&n)),
            Part::Router => self
                .routers
                .get()
                .set_project(p)
                .set_region(region)
                .set_router(name)
                .send()
                .await
                .map(|n| as_json(&n)),
        };
        match got {
            Ok(v) => Ok(Some(found(part, &v))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(SERVICE, &what, e)),
        }
    }

    /// Nothing of these changes in place (every attribute forces a new one).
    pub(crate) async fn update_network_part(
        &self,
        _kind: &str,
        prior: &ResourceState,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        Ok(made(&prior.cloud_id, config, prior.outputs.clone()))
    }

    pub(crate) async fn delete_network_part(
        &self,
        kind: &str,
        prior: &ResourceState,
    ) -> Result<Vec<String>, ProviderError> {
        let part = Part::of(kind)?;
        let (p, region, name) = (
            self.project.clone(),
            self.region_of(&prior.attrs).to_string(),
            prior.cloud_id.clone(),
        );
        let what = format!("delete of {} {name}", part.noun());
        let op = match part {
            Part::Network => {
                self.networks
                    .delete()
                    .set_project(p)
                    .set_network(&name)
                    .poller()
                    .until_done()
                    .await
            }
            Part::Subnetwork => {
                self.subnetworks
                    .delete()
                    .set_project(p)
                    .set_region(region)
                    .set_subnetwork(&name)
                    .poller()
                    .until_done()
                    .await
            }
            Part::Router => {
                self.routers
                    .delete()
                    .set_project(p)
                    .set_region(region)
                    .set_router(&name)
                    .poller()
                    .until_done()
                    .await
            }
        };
        match op {
            Ok(op) => failed(&what, &op).map(|_| Vec::new()),
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            // In use: GKE is still tearing down what it made in the network.
            Err(e)
                if e.to_string().contains("resourceInUseByAnotherResource")
                    || e.to_string().contains("being used by") =>
            {
                Err(ProviderError::NotReady {
                    what,
                    message: e.to_string(),
                })
            }
            Err(e) => Err(classify(SERVICE, &what, e)),
        }
    }

    /// A resource with the name hoist needs must be this environment's, or not exist.
    pub(crate) async fn check_network_name(
        &self,
        config: &ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let part = Part::of(config.address.kind())?;
        let name = text(&config.attrs, "name");
        if let Some(f) = self.get_part(part, name, &config.attrs).await? {
            claim(owner, format!("{} {name}", part.noun()), &f.tags)?;
        }
        Ok(Vec::new())
    }

    /// What an interrupted insert with `token` made: the resource by its name, when its
    /// description names this environment.
    pub(crate) async fn find_network_part(
        &self,
        kind: &str,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let part = Part::of(kind)?;
        let found = self.list_parts(part, None).await?;
        Ok(found
            .into_iter()
            .find(|f| {
                f.tags.get(labels::TOKEN).map(String::as_str) == Some(token)
                    && owner.claims(&f.tags).is_ok()
                    && f.tags.get(hoist_provider::tags::ADDRESS) == Some(&address.to_string())
            })
            .map(|f| f.observed))
    }

    /// Refresh: one list per kind with a name filter.
    pub(crate) async fn read_parts(
        &self,
        part: Part,
        resources: &[&ResourceState],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let names: Vec<&str> = resources.iter().map(|r| r.cloud_id.as_str()).collect();
        let found = self.list_parts(part, Some(&names)).await?;
        Ok(resources
            .iter()
            .map(|r| {
                found
                    .iter()
                    .find(|f| f.observed.cloud_id == r.cloud_id)
                    .map(|f| refreshed(r, f.observed.clone()))
            })
            .collect())
    }
}
