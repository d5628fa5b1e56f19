//! The clouds this build of hoist knows. Adding one is its crate (with a [`Cloud`]), a cargo
//! feature, and one line in [`clouds`].

use std::sync::Arc;

use hoist_provider::{Cloud, Provider, ProviderSettings};

use crate::engine::{EnvSettings, Providers};

/// Every registered cloud.
pub fn clouds() -> Vec<&'static dyn Cloud> {
    vec![
        &hoist_sim::SimModel,
        #[cfg(feature = "aws")]
        &hoist_aws::AwsModel,
        #[cfg(feature = "gcp")]
        &hoist_gcp::GcpModel,
        #[cfg(feature = "azure")]
        &hoist_azure::AzureModel,
    ]
}

/// The cloud named `name` (`cloud:` in a blueprint), when this build has it.
pub fn cloud(name: &str) -> Option<&'static dyn Cloud> {
    clouds().into_iter().find(|c| c.name() == name)
}

/// What a cloud is opened with, from the environment's settings.
pub fn settings(env: &EnvSettings) -> ProviderSettings {
    let mut options = std::collections::BTreeMap::new();
    if let Some(l) = &env.latency {
        options.insert("latency".to_string(), l.clone());
    }
    if let Some(p) = &env.profile {
        options.insert("profile".to_string(), p.clone());
    }
    for (key, value) in [
        ("project", &env.project),
        ("subscription_id", &env.subscription_id),
        ("resource_group", &env.resource_group),
    ] {
        if let Some(v) = value {
            options.insert(key.to_string(), v.clone());
        }
    }
    ProviderSettings {
        region: env.region.clone(),
        options,
    }
}

/// Connect to the environment's cloud: the run's primary provider.
pub async fn connect(env: &EnvSettings) -> anyhow::Result<Arc<dyn Provider>> {
    let Some(cloud) = cloud(&env.cloud) else {
        anyhow::bail!("the `{}` provider is not part of this build of hoist\n  = hint: use `cloud: sim` to try hoist without an account, or build with the `{}` feature", env.cloud, env.cloud);
    };
    Ok(cloud.connect(&settings(env)).await?)
}

/// The providers of a run on `env`: its cloud, and the stack's Kubernetes provider, made
/// from the environment's cluster once that exists.
pub async fn providers(env: &EnvSettings) -> anyhow::Result<Providers> {
    let cloud = connect(env).await?;
    let mut providers = Providers::new(cloud.clone());
    if let Some(cluster) = self::cloud(&env.cloud).and_then(|c| c.cluster(&env.name)) {
        let kube = hoist_kube::KubeFactory::new(cloud, cluster, &env.name);
        providers = providers.with_deferred(std::sync::Arc::new(kube));
    }
    Ok(providers)
}
