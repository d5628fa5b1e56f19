//! Capacity planning before any create, through `azure_mgmt_compute`: resource SKUs say
//! which VM sizes this subscription may use in which zones of the location (restrictions
//! narrow them), and usages give each VM family's vCPU quota. Both are read once per run.

use std::collections::BTreeMap;

use futures::StreamExt;
use hoist_provider::{ProviderError, ResourceConfig};
use serde_json::{json, Value};

use crate::AzureProvider;

/// Azure's quota name for spot vCPUs of every family together.
const SPOT_QUOTA: &str = "lowPriorityCores";

/// One VM size as the subscription sees it in the location.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sku {
    pub family: String,
    pub vcpus: u32,
    pub zones: Vec<String>,
    /// Zones the subscription may not use the size in, with why.
    pub restricted: BTreeMap<String, String>,
    /// Why the whole location is closed to the size, if it is.
    pub blocked: Option<String>,
}

/// VM sizes by lowercased name.
#[derive(Debug, Default)]
pub(crate) struct Skus(BTreeMap<String, Sku>);

/// vCPU usage and limit by quota name (`standardNCADSA100v4Family`, `cores`, ...).
#[derive(Debug, Default)]
pub(crate) struct Usages(BTreeMap<String, (i64, i64)>);

fn compute_error(what: &str, e: azure_core_compute::Error) -> ProviderError {
    let text = e.to_string();
    match e.as_http_error().map(|h| u16::from(h.status())) {
        Some(429) => ProviderError::Throttled {
            service: "Azure Compute".into(),
            message: text,
        },
        Some(s) if s >= 500 => ProviderError::Transient {
            service: "Azure Compute".into(),
            message: text,
        },
        None if e.kind() == &azure_core_compute::error::ErrorKind::Io => ProviderError::Transient {
            service: "Azure Compute".into(),
            message: text,
        },
        _ => ProviderError::Fatal(format!("cannot read {what}: {text}")),
    }
}

fn read_sku(v: &Value, location: &str) -> Option<(String, Sku)> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
    if text("resourceType") != "virtualMachines" {
        return None;
    }
    let zones = v["locationInfo"]
        .as_array()?
        .iter()
        .find(|l| {
            l["location"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(location))
        })
        .map(|l| crate::strings(&l["zones"]))
        .unwrap_or_default();
    let vcpus = v["capabilities"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "vCPUs"))
        .and_then(|c| c["value"].as_str()?.parse().ok())
        .unwrap_or(0);
    let mut sku = Sku {
        family: text("family").to_string(),
        vcpus,
        zones,
        ..Default::default()
    };
    for r in v["restrictions"].as_array().into_iter().flatten() {
        let reason = r["reasonCode"].as_str().unwrap_or("restricted").to_string();
        match r["type"].as_str() {
            Some("Zone") => {
                for z in crate::strings(&r["restrictionInfo"]["zones"]) {
                    sku.restricted.insert(z, reason.clone());
                }
            }
            Some("Location") => sku.blocked = Some(reason),
            _ => {}
        }
    }
    Some((text("name").to_ascii_lowercase(), sku))
}

impl AzureProvider {
    async fn skus(&self) -> Result<&Skus, ProviderError> {
        self.skus
            .get_or_try_init(|| async {
                let mut pages = self
                    .skus_client
                    .resource_skus_client()
                    .list(self.arm.subscription.clone())
                    .filter(format!("location eq '{}'", self.location))
                    .into_stream();
                let mut skus = Skus::default();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| compute_error("resource SKUs", e))?;
                    for sku in &page.value {
                        let v = serde_json::to_value(sku).unwrap_or(Value::Null);
                        skus.0.extend(read_sku(&v, &self.location));
                    }
                }
                Ok(skus)
            })
            .await
    }

    async fn usages(&self) -> Result<&Usages, ProviderError> {
        self.usages
            .get_or_try_init(|| async {
                let mut pages = self
                    .usage_client
                    .usage_client()
                    .list(self.location.clone(), self.arm.subscription.clone())
                    .into_stream();
                let mut usages = Usages::default();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| compute_error("vCPU usages", e))?;
                    for u in page.value {
                        if let Some(name) = u.name.value {
                            usages.0.insert(name, (i64::from(u.current_value), u.limit));
                        }
                    }
                }
                Ok(usages)
            })
            .await
    }

    /// Narrow a pool's zones to those its size is offered in and check its vCPU quota.
    /// `keys` names the pool's size, largest count, zones and capacity attributes (a
    /// cluster's system pool and a node pool spell them differently).
    pub(crate) async fn place_pool(
        &self,
        config: &mut ResourceConfig,
        keys: [&str; 4],
    ) -> Result<Vec<String>, ProviderError> {
        let [size_key, max_key, zones_key, capacity_key] = keys;
        let at = config.address.to_string();
        let size = crate::text(&config.attrs, size_key).to_string();
        let max = config
            .attrs
            .get(max_key)
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let spot = crate::text(&config.attrs, capacity_key) == "spot";
        let mut notes = Vec::new();
        let sku = match self.skus().await {
            Ok(skus) => skus.0.get(&size.to_ascii_lowercase()).cloned(),
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => {
                notes.push(format!("{at}: zone and quota checks skipped ({e})"));
                return Ok(notes);
            }
        };
        let Some(sku) = sku else {
            return Err(ProviderError::Invalid(format!(
                "{at}: VM size {size} is not offered in {} to this subscription\n  = hint: `az vm list-skus --location {} --size {size} --output table` shows where it is; pick another size or region",
                self.location, self.location
            )));
        };
        if let Some(why) = &sku.blocked {
            return Err(ProviderError::Invalid(format!(
                "{at}: VM size {size} is restricted for this subscription in {} ({why})\n  = hint: ask Azure support to enable the size, or pick another region",
                self.location
            )));
        }
        let wanted = crate::strings(config.attrs.get(zones_key).unwrap_or(&Value::Null));
        if !wanted.is_empty() {
            notes.extend(narrow_zones(
                config,
                zones_key,
                &at,
                &size,
                &sku,
                &wanted,
                &self.location,
            )?);
        }
        let quota = if spot {
            SPOT_QUOTA
        } else {
            sku.family.as_str()
        };
        let need = max as i64 * i64::from(sku.vcpus);
        match self.usages().await {
            Ok(u) => match u.0.get(quota) {
                Some((used, limit)) if need > limit - used => {
                    return Err(ProviderError::Quota {
                        region: self.location.clone(),
                        message: format!(
                            "{at} needs {need} vCPUs of {quota} at its largest size ({max} × {size}, {} vCPUs each) and the subscription has {} of {limit} free\n  = hint: request more {quota} quota for {} (portal: Quotas; or `az quota create`), or lower the pool's max",
                            sku.vcpus,
                            (limit - used).max(0),
                            self.location
                        ),
                    })
                }
                Some(_) => {}
                None => notes.push(format!(
                    "{at}: vCPU quota check skipped: {} reports no {quota} usage",
                    self.location
                )),
            },
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => notes.push(format!("{at}: vCPU quota check skipped ({e})")),
        }
        Ok(notes)
    }
}

/// Keep the zones the size is offered in; say which were dropped and why.
fn narrow_zones(
    config: &mut ResourceConfig,
    zones_key: &str,
    at: &str,
    size: &str,
    sku: &Sku,
    wanted: &[String],
    location: &str,
) -> Result<Vec<String>, ProviderError> {
    let usable = |z: &String| sku.zones.contains(z) && !sku.restricted.contains_key(z);
    let left: Vec<String> = wanted.iter().filter(|z| usable(z)).cloned().collect();
    if left.len() == wanted.len() {
        return Ok(Vec::new());
    }
    let dropped: Vec<String> = wanted
        .iter()
        .filter(|z| !usable(z))
        .map(|z| match sku.restricted.get(z) {
            Some(why) => format!("{z} (restricted: {why})"),
            None => format!("{z} (not offered)"),
        })
        .collect();
    if left.is_empty() {
        return Err(ProviderError::Invalid(format!(
            "{at}: VM size {size} is available to this subscription in none of its zones in {location}: {}\n  = hint: allow other zones (`zones`), or pick another size or region",
            dropped.join(", ")
        )));
    }
    config.placement.insert(zones_key.into(), json!(left));
    Ok(vec![format!(
        "{at}: {size} cannot be placed in zone {} of {location}; placing in zones {}",
        dropped.join(", "),
        left.join(", ")
    )])
}
