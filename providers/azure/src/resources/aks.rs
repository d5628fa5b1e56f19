//! The AKS cluster, with its system pool inline: AKS makes a cluster only with one.

use hoist_provider::{
    Observed, Ownership, ProviderError, ResourceConfig, ResourceState, StepContext,
};
use serde_json::{json, Value};

use super::profile;
use crate::arm::api;
use crate::{dep, text, AzureProvider};

/// `1.32.4` → `1.32`: the blueprint names a minor version; AKS picks and patches the rest.
fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The cluster's system pool as AKS reports it.
fn system_profile<'a>(c: &'a Value, name: &str) -> Option<&'a Value> {
    c["properties"]["agentPoolProfiles"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name || (name.is_empty() && p["mode"] == "System"))
}

pub(super) fn observed(c: &Value) -> Observed {
    let p = &c["properties"];
    let mut o = Observed {
        cloud_id: super::id_of(c, ""),
        attrs: Default::default(),
        outputs: Default::default(),
        lifecycle: super::lifecycle(c),
    };
    let version = p["currentKubernetesVersion"]
        .as_str()
        .or(p["kubernetesVersion"].as_str())
        .unwrap_or_default();
    o.attrs.insert("name".into(), c["name"].clone());
    o.attrs
        .insert("kubernetes_version".into(), json!(minor(version)));
    o.attrs.insert("sku_tier".into(), c["sku"]["tier"].clone());
    o.attrs.insert(
        "admin_groups".into(),
        json!(crate::strings(&p["aadProfile"]["adminGroupObjectIDs"])),
    );
    o.attrs.insert(
        "private_cluster".into(),
        json!(p["apiServerAccessProfile"]["enablePrivateCluster"]
            .as_bool()
            .unwrap_or(false)),
    );
    o.attrs.insert(
        "upgrade_channel".into(),
        p["autoUpgradeProfile"]["upgradeChannel"].clone(),
    );
    o.attrs.insert(
        "node_os_upgrade_channel".into(),
        p["autoUpgradeProfile"]["nodeOSUpgradeChannel"].clone(),
    );
    if let Some(system) = system_profile(c, "") {
        o.attrs.insert("system_name".into(), system["name"].clone());
        o.attrs.extend(profile::live_pool_attrs(system, "system_"));
    }
    for (k, v) in [
        ("fqdn", &p["fqdn"]),
        ("private_fqdn", &p["privateFQDN"]),
        ("node_resource_group", &p["nodeResourceGroup"]),
        ("oidc_issuer", &p["oidcIssuerProfile"]["issuerURL"]),
    ] {
        if !v.is_null() {
            o.outputs.insert(k.into(), v.clone());
        }
    }
    o
}

impl AzureProvider {
    fn cluster_path(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<String, ProviderError> {
        let group = dep(ctx, &config.attrs, "resource_group")?;
        Ok(format!(
            "{}/providers/Microsoft.ContainerService/managedClusters/{}",
            group.cloud_id,
            text(&config.attrs, "name")
        ))
    }

    /// The cluster's name is taken by a cluster this environment did not make?
    pub(crate) async fn check_cluster_name(
        &self,
        config: &ResourceConfig,
        owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let path = self.cluster_id(&owner.env);
        let what = format!("AKS cluster {}", text(&config.attrs, "name"));
        if let Some(found) = self
            .arm
            .get(&path, api::AKS)
            .await
            .map_err(|e| e.for_resource(&what, &self.location))?
        {
            crate::claim(owner, what, &crate::tags_of(&found))?;
        }
        Ok(Vec::new())
    }

    /// The cluster's body: what hoist decides, nothing AKS reports.
    fn cluster_body(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
        tags: &std::collections::BTreeMap<String, String>,
        update: bool,
    ) -> Result<Value, ProviderError> {
        let a = &config.attrs;
        let subnet = dep(ctx, a, "subnet")?.cloud_id.clone();
        let zones = crate::strings(
            config
                .placement
                .get("system_zones")
                .unwrap_or(&a["system_zones"]),
        );
        let mut system = profile::properties(a, "system_", &subnet, &zones, tags, update);
        system.insert("name".into(), a["system_name"].clone());
        let mut props = json!({
            "kubernetesVersion": a["kubernetes_version"],
            "dnsPrefix": a["dns_prefix"],
            "enableRBAC": true,
            "agentPoolProfiles": [system],
            "networkProfile": {
                "networkPlugin": a["network_plugin"],
                "networkPluginMode": a["network_plugin_mode"],
                "networkDataplane": a["network_dataplane"],
                "networkPolicy": a["network_dataplane"],
                "podCidr": a["pod_cidr"],
                "serviceCidr": a["service_cidr"],
                "dnsServiceIP": a["dns_service_ip"],
                "outboundType": a["outbound_type"],
                "loadBalancerSku": "standard",
            },
            // Entra ID sign-in with Kubernetes RBAC: the admin groups are cluster-admin.
            "aadProfile": {"managed": true, "enableAzureRBAC": false, "adminGroupObjectIDs": a["admin_groups"]},
            "apiServerAccessProfile": {"enablePrivateCluster": a["private_cluster"]},
            "autoUpgradeProfile": {"upgradeChannel": a["upgrade_channel"], "nodeOSUpgradeChannel": a["node_os_upgrade_channel"]},
            "oidcIssuerProfile": {"enabled": true},
            "securityProfile": {"workloadIdentity": {"enabled": true}},
        });
        if let Some(profile) = a.get("autoscaler_profile").filter(|p| p.is_object()) {
            props["autoScalerProfile"] = profile.clone();
        }
        Ok(json!({
            "location": a["location"],
            "tags": tags,
            "sku": {"name": "Base", "tier": a["sku_tier"]},
            "identity": {"type": "SystemAssigned"},
            "properties": props,
        }))
    }

    pub(crate) async fn create_cluster(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let path = self.cluster_path(config, ctx)?;
        let what = format!("AKS cluster {}", text(&config.attrs, "name"));
        let fail = |e: crate::arm::ArmError| e.for_resource(&what, &self.location);
        if let Some(found) = self.arm.get(&path, api::AKS).await.map_err(fail)? {
            crate::claim(
                &Ownership::from_tags(&ctx.tags),
                &what,
                &crate::tags_of(&found),
            )?;
        }
        let body = self.cluster_body(config, ctx, &crate::create_tags(ctx), false)?;
        let c = self.arm.put(&path, api::AKS, &body).await.map_err(fail)?;
        self.settled_cluster(config, &c).await
    }

    /// Put the cluster as configured (an upgrade, the system pool's size, admin groups).
    pub(crate) async fn update_cluster(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let what = prior.address.to_string();
        let fail = |e: crate::arm::ArmError| e.for_resource(&what, &self.location);
        let live = self
            .arm
            .get(&prior.cloud_id, api::AKS)
            .await
            .map_err(fail)?;
        let mut tags = ctx.tags.clone();
        if let Some(t) = live
            .as_ref()
            .and_then(|l| crate::tags_of(l).get(crate::TOKEN_TAG).cloned())
        {
            tags.insert(crate::TOKEN_TAG.into(), t);
        }
        let body = self.cluster_body(config, ctx, &tags, true)?;
        let c = self
            .arm
            .put(&prior.cloud_id, api::AKS, &body)
            .await
            .map_err(fail)?;
        self.settled_cluster(config, &c).await
    }

    /// The cluster as made, with how to reach its API (server and CA, not secret).
    async fn settled_cluster(
        &self,
        config: &ResourceConfig,
        c: &Value,
    ) -> Result<Observed, ProviderError> {
        let live = observed(c);
        let mut outputs = live.outputs.clone();
        let id = live.cloud_id.clone();
        let creds = self.user_kubeconfig(&id).await?;
        outputs.insert("server".into(), json!(creds.server));
        outputs.insert("certificate_authority".into(), json!(creds.ca_data));
        Ok(crate::made(&id, config, outputs))
    }
}
