//! Listing networks, subnetworks and routers: by name for refresh, by description for what
//! an environment owns.

use google_cloud_gax::paginator::ItemPaginator;
use hoist_provider::{tags, CloudResource, ProviderError};

use super::{found, Found, Part, SERVICE};
use crate::as_json;
use crate::errors::classify;
use crate::GcpProvider;

/// Compute Engine's filter for any of `names`.
fn name_filter(names: &[&str]) -> String {
    match names {
        [one] => format!("name = \"{one}\""),
        _ => names
            .iter()
            .map(|n| format!("(name = \"{n}\")"))
            .collect::<Vec<_>>()
            .join(" OR "),
    }
}

macro_rules! every {
    ($what:expr, $builder:expr) => {{
        let mut items = $builder.by_item();
        let mut out = Vec::new();
        while let Some(item) = items.next().await {
            out.push(as_json(&item.map_err(|e| classify(SERVICE, $what, e))?));
        }
        out
    }};
}

impl GcpProvider {
    /// Every network part of `part`'s kind in the project (and region), or those named.
    pub(crate) async fn list_parts(
        &self,
        part: Part,
        names: Option<&[&str]>,
    ) -> Result<Vec<Found>, ProviderError> {
        let filter = names.map(name_filter).unwrap_or_default();
        let (p, r) = (self.project.clone(), self.region.clone());
        let items = match part {
            Part::Network => every!(
                "list of VPC networks",
                self.networks.list().set_project(p).set_filter(filter)
            ),
            Part::Subnetwork => every!(
                "list of subnetworks",
                self.subnetworks
                    .list()
                    .set_project(p)
                    .set_region(r)
                    .set_filter(filter)
            ),
            Part::Router => every!(
                "list of Cloud Routers",
                self.routers
                    .list()
                    .set_project(p)
                    .set_region(r)
                    .set_filter(filter)
            ),
        };
        Ok(items.iter().map(|v| found(part, v)).collect())
    }

    /// Every network part whose description names environment `env`.
    pub(crate) async fn list_network_parts(
        &self,
        env: &str,
    ) -> Result<Vec<CloudResource>, ProviderError> {
        let (networks, subnetworks, routers) = futures::join!(
            self.list_parts(Part::Network, None),
            self.list_parts(Part::Subnetwork, None),
            self.list_parts(Part::Router, None)
        );
        let mut out = Vec::new();
        for (kind, region, found) in [
            ("gcp_network", "global", networks?),
            ("gcp_subnetwork", self.region.as_str(), subnetworks?),
            ("gcp_router", self.region.as_str(), routers?),
        ] {
            for f in found
                .into_iter()
                .filter(|f| f.tags.get(tags::ENV).map(String::as_str) == Some(env))
            {
                out.push(CloudResource {
                    cloud_id: f.observed.cloud_id.clone(),
                    kind: kind.into(),
                    name: f.observed.cloud_id.clone(),
                    region: region.into(),
                    status: "READY".into(),
                    tags: f.tags,
                    outputs: f.observed.outputs,
                });
            }
        }
        Ok(out)
    }
}
