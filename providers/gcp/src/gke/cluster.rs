//! The GKE cluster. GKE will not make a cluster without a node pool, so it is made with a
//! one-node `default-pool` that is removed once the cluster runs (as terraform-google's
//! `remove_default_node_pool` does); the environment's pools are their own resources.

use google_cloud_container_v1::model::{CreateClusterRequest, UpdateClusterRequest};
use hoist_provider::{
    Attrs, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig, ResourceState,
    StepContext,
};
use serde_json::{json, Value};

use super::{cluster_name, parent, SERVICE};
use crate::body;
use crate::compute::{network_url, subnetwork_url};
use crate::errors::{classify, is_conflict, is_not_found};
use crate::{claim, dep_id, labels, made, refreshed, text, GcpProvider};

/// The node pool GKE is made with, removed after.
const BOOTSTRAP_POOL: &str = "default-pool";
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

fn location(attrs: &Attrs) -> &str {
    text(attrs, "location")
}

fn flag(attrs: &Attrs, key: &str) -> bool {
    attrs.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// What hoist records of a live cluster.
pub(crate) fn observed(c: &Value) -> (Observed, std::collections::BTreeMap<String, String>) {
    let s = |p: &str| {
        c.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut attrs = Attrs::new();
    attrs.insert("name".into(), json!(s("/name")));
    attrs.insert("location".into(), json!(s("/location")));
    if let Some(l) = c.get("locations") {
        attrs.insert("node_locations".into(), l.clone());
    }
    attrs.insert(
        "private_nodes".into(),
        json!(c
            .pointer("/privateClusterConfig/enablePrivateNodes")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    let status = s("/status");
    let lifecycle = match status.as_str() {
        "RUNNING" => Lifecycle::Ready,
        "PROVISIONING" => Lifecycle::Provisioning,
        "RECONCILING" => Lifecycle::Updating,
        "STOPPING" => Lifecycle::Deleting,
        _ => Lifecycle::Failed {
            reason: format!("{status}: {}", s("/statusMessage")),
        },
    };
    let mut outputs = Attrs::new();
    outputs.insert("endpoint".into(), json!(s("/endpoint")));
    outputs.insert(
        "certificate_authority".into(),
        json!(s("/masterAuth/clusterCaCertificate")),
    );
    outputs.insert("version".into(), json!(s("/currentMasterVersion")));
    // `…/v1/projects/P/locations/L/clusters/C`: the project, for kubeconfig's names.
    let link = s("/selfLink");
    if let Some(project) = link
        .split("/projects/")
        .nth(1)
        .and_then(|r| r.split('/').next())
    {
        outputs.insert("project".into(), json!(project));
    }
    let tags = labels::from_json(c.get("resourceLabels"));
    (
        Observed {
            cloud_id: s("/name"),
            attrs,
            outputs,
            lifecycle,
        },
        tags,
    )
}

/// The version to record for a cluster asked to run `asked` (`1.32`) that runs `live`
/// (`1.32.4-gke.1234`): what was asked while the live version is of it, else the live minor.
fn version_seen(asked: &str, live: &str) -> String {
    let minor: String = live.split('.').take(2).collect::<Vec<_>>().join(".");
    if live.is_empty()
        || live == asked
        || live.starts_with(&format!("{asked}."))
        || minor.is_empty()
    {
        asked.to_string()
    } else {
        minor
    }
}

impl GcpProvider {
    fn cluster_body(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Value, ProviderError> {
        let a = &config.attrs;
        let labels = labels::to_labels(&ctx.tags, Some(&ctx.token));
        let mut cluster = json!({
            "name": text(a, "name"),
            "description": format!("hoist environment {}", text(a, "name")),
            "resourceLabels": labels,
            "locations": a.get("node_locations").cloned().unwrap_or(json!([])),
            "network": network_url(&self.project, &dep_id(ctx, a, "network")?),
            "subnetwork": subnetwork_url(&self.project, &self.region, &dep_id(ctx, a, "subnetwork")?),
            "ipAllocationPolicy": {"useIpAliases": true, "clusterSecondaryRangeName": text(a, "pods_range"), "servicesSecondaryRangeName": text(a, "services_range")},
            "releaseChannel": {"channel": text(a, "release_channel")},
            "initialClusterVersion": text(a, "kubernetes_version"),
            "workloadIdentityConfig": {"workloadPool": format!("{}.svc.id.goog", self.project)},
            "loggingService": "logging.googleapis.com/kubernetes",
            "monitoringService": "monitoring.googleapis.com/kubernetes",
            "shieldedNodes": {"enabled": true},
            "nodePools": [{
                "name": BOOTSTRAP_POOL,
                "initialNodeCount": 1,
                "config": {"machineType": "e2-small", "diskSizeGb": 30, "oauthScopes": [CLOUD_PLATFORM], "resourceLabels": labels::to_labels(&ctx.tags, Some(&ctx.token))},
            }],
        });
        if flag(a, "private_nodes") {
            cluster["privateClusterConfig"] = json!({
                "enablePrivateNodes": true,
                "enablePrivateEndpoint": !flag(a, "public_endpoint"),
                "masterIpv4CidrBlock": text(a, "master_cidr"),
            });
        }
        Ok(json!({"parent": parent(&self.project, location(a)), "cluster": cluster}))
    }

    pub(crate) async fn create_cluster(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let name = text(&config.attrs, "name").to_string();
        let loc = location(&config.attrs).to_string();
        let what = format!("creation of GKE cluster {name}");
        let request: CreateClusterRequest = body(&what, self.cluster_body(config, ctx)?)?;
        match self.gke.create_cluster().with_request(request).send().await {
            Ok(op) => {
                self.wait(op, &loc, &what).await?;
            }
            Err(e) if is_conflict(&e) => {
                // Made by an earlier try of this step, or by someone else.
                let owner = Ownership::from_tags(&ctx.tags);
                if let Some((_, tags)) = self.get_cluster(&loc, &name).await? {
                    claim(&owner, format!("GKE cluster {name}"), &tags)?;
                }
            }
            Err(e) => return Err(classify(SERVICE, &what, e)),
        }
        self.finish_cluster(&loc, &name, config).await
    }

    /// Remove the bootstrap pool (idempotent) and report the running cluster.
    async fn finish_cluster(
        &self,
        loc: &str,
        name: &str,
        config: &ResourceConfig,
    ) -> Result<Observed, ProviderError> {
        let pool = format!(
            "{}/nodePools/{BOOTSTRAP_POOL}",
            cluster_name(&self.project, loc, name)
        );
        let what = format!("removal of GKE cluster {name}'s bootstrap node pool");
        match self.gke.delete_node_pool().set_name(&pool).send().await {
            Ok(op) => {
                self.wait(op, loc, &what).await?;
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(classify(SERVICE, &what, e)),
        }
        let (live, _) = self
            .get_cluster(loc, name)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("GKE cluster {name}")))?;
        Ok(made(name, config, live.outputs))
    }

    /// The live cluster and its ownership labels.
    pub(crate) async fn get_cluster(
        &self,
        loc: &str,
        name: &str,
    ) -> Result<Option<(Observed, std::collections::BTreeMap<String, String>)>, ProviderError> {
        match self
            .gke
            .get_cluster()
            .set_name(cluster_name(&self.project, loc, name))
            .send()
            .await
        {
            Ok(c) => Ok(Some(observed(&super::cluster_json(&c)))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(classify(SERVICE, &format!("get of GKE cluster {name}"), e)),
        }
    }

    pub(crate) async fn read_cluster(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        let found = self.get_cluster(location(&r.attrs), &r.cloud_id).await?;
        Ok(found.map(|(live, _)| {
            let live_version = text(&live.outputs, "version").to_string();
            let mut o = refreshed(r, live);
            o.attrs.insert(
                "kubernetes_version".into(),
                json!(version_seen(
                    text(&r.attrs, "kubernetes_version"),
                    &live_version
                )),
            );
            o
        }))
    }

    /// A new Kubernetes version upgrades the control plane (node pools follow on auto-upgrade);
    /// an update also finishes an interrupted create.
    pub(crate) async fn update_cluster(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        _ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let (loc, name) = (location(&prior.attrs).to_string(), prior.cloud_id.clone());
        let want = text(&config.attrs, "kubernetes_version");
        let live = self
            .get_cluster(&loc, &name)
            .await?
            .map(|(o, _)| text(&o.outputs, "version").to_string());
        if let Some(live) = live.filter(|v| !v.is_empty() && version_seen(want, v) != want) {
            let what = format!("upgrade of GKE cluster {name} from {live} to {want}");
            let request: UpdateClusterRequest = body(
                &what,
                json!({"name": cluster_name(&self.project, &loc, &name), "update": {"desiredMasterVersion": want}}),
            )?;
            let op = self
                .gke
                .update_cluster()
                .with_request(request)
                .send()
                .await
                .map_err(|e| classify(SERVICE, &what, e))?;
            self.wait(op, &loc, &what).await?;
        }
        self.finish_cluster(&loc, &name, config).await
    }

    pub(crate) async fn delete_cluster(
        &self,
        prior: &ResourceState,
    ) -> Result<Vec<String>, ProviderError> {
        let loc = location(&prior.attrs).to_string();
        let what = format!("deletion of GKE cluster {}", prior.cloud_id);
        match self
            .gke
            .delete_cluster()
            .set_name(cluster_name(&self.project, &loc, &prior.cloud_id))
            .send()
            .await
        {
            Ok(op) => self.wait(op, &loc, &what).await.map(|_| Vec::new()),
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(classify(SERVICE, &what, e)),
        }
    }

    /// A cluster with the environment's name must be the environment's.
    pub(crate) async fn check_cluster_name(
        &self,
        config: &ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let name = text(&config.attrs, "name");
        if let Some((_, tags)) = self.get_cluster(location(&config.attrs), name).await? {
            claim(owner, format!("GKE cluster {name}"), &tags)?;
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::version_seen;

    #[test]
    fn a_cluster_runs_the_asked_version_while_its_patch_is_of_it() {
        assert_eq!(version_seen("1.32", "1.32.4-gke.1234"), "1.32");
        assert_eq!(version_seen("1.32", "1.33.1-gke.200"), "1.33");
        assert_eq!(version_seen("1.32", ""), "1.32");
    }
}
