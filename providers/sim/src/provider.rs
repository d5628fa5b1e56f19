//! The simulated cloud seen through hoist's provider contract.

use std::collections::BTreeMap;

use async_trait::async_trait;
use hoist_provider::{
    tags, Address, Attrs, KindRules, Observed, Ownership, Provider, ProviderError, ResourceConfig,
    ResourceState, StepContext,
};
use rand::Rng;
use serde_json::{json, Value};

use crate::db::{self, now_ms, spread, Resource};
use crate::regions::region_of_zone;
use crate::SimCloud;

const SERVICE: &str = "sim";

fn sql(e: rusqlite::Error) -> ProviderError {
    ProviderError::Transient {
        service: SERVICE.into(),
        message: format!("database busy: {e}"),
    }
}

/// What the fault dice decided for one call.
#[derive(PartialEq)]
enum Fault {
    None,
    Throttle,
    TransientBefore,
    /// The request succeeds but its answer is lost: the caller must retry idempotently.
    TransientAfter,
}

/// `A100:8` → (`A100`, 8); `tpu-v5e-8` → (`tpu-v5e-8`, 1).
fn accelerator_parts(attrs: &Attrs) -> Option<(String, i64)> {
    let text = attrs.get("accelerator")?.as_str()?;
    Some(match text.split_once(':') {
        Some((name, count)) => (name.to_string(), count.parse().unwrap_or(1)),
        None => (text.to_string(), 1),
    })
}

fn int(attrs: &Attrs, key: &str) -> i64 {
    attrs.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_string()
}

impl SimCloud {
    fn roll(&self) -> Result<Fault, ProviderError> {
        let (transient, throttle) = db::faults(&self.conn()).map_err(sql)?;
        if transient <= 0.0 && throttle <= 0.0 {
            return Ok(Fault::None);
        }
        let x: f64 = self.rng.lock().unwrap_or_else(|e| e.into_inner()).gen();
        Ok(if x < throttle {
            Fault::Throttle
        } else if x < throttle + transient / 2.0 {
            Fault::TransientBefore
        } else if x < throttle + transient {
            Fault::TransientAfter
        } else {
            Fault::None
        })
    }

    fn fail_before(&self, fault: &Fault, op: &str) -> Result<(), ProviderError> {
        match fault {
            Fault::Throttle => Err(ProviderError::Throttled {
                service: SERVICE.into(),
                message: format!("{op}: Rate exceeded"),
            }),
            Fault::TransientBefore => Err(ProviderError::Transient {
                service: SERVICE.into(),
                message: format!("{op}: internal error, please retry"),
            }),
            _ => Ok(()),
        }
    }

    fn fail_after(&self, fault: &Fault, op: &str) -> Result<(), ProviderError> {
        match fault {
            Fault::TransientAfter => Err(ProviderError::Transient {
                service: SERVICE.into(),
                message: format!("{op}: connection reset before the response arrived"),
            }),
            _ => Ok(()),
        }
    }

    /// Start deleting one resource; a resource with live children waits for them.
    fn delete_row(&self, prior: &ResourceState) -> Result<(), ProviderError> {
        let fault = self.roll()?;
        self.fail_before(&fault, "Delete")?;
        let conn = self.conn();
        let now = now_ms();
        let Some(mut row) = db::get(&conn, &prior.cloud_id)
            .map_err(sql)?
            .filter(|r| r.exists(now))
        else {
            return Ok(());
        };
        if row.status == "deleting" {
            return Ok(());
        }
        let children: Vec<Resource> = db::select(&conn, "parent = ?1", &[&row.cloud_id])
            .map_err(sql)?
            .into_iter()
            .filter(|c| c.exists(now))
            .collect();
        if let Some(child) = children.first() {
            return Err(ProviderError::NotReady {
                what: prior.address.to_string(),
                message: format!("{} {} still depends on it", child.kind, child.cloud_id),
            });
        }
        if let Some((accelerator, _)) = accelerator_parts(&row.attrs) {
            for (z, n) in row
                .outputs
                .get("nodes_per_zone")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                db::consume_capacity(&conn, z, &accelerator, -n.as_i64().unwrap_or(0))
                    .map_err(sql)?;
            }
        }
        row.status = "deleting".into();
        row.gone_at = Some(now + self.latency.delete_ms(&row.kind));
        db::update(&conn, &row).map_err(sql)?;
        self.fail_after(&fault, "Delete")
    }

    fn into_observed(r: Resource, now: i64) -> Observed {
        let lifecycle = r.lifecycle(now);
        Observed {
            cloud_id: r.cloud_id,
            attrs: r.attrs,
            outputs: r.outputs,
            lifecycle,
        }
    }

    pub(crate) fn observe(r: &Resource, now: i64) -> Observed {
        Observed {
            cloud_id: r.cloud_id.clone(),
            attrs: r.attrs.clone(),
            outputs: r.outputs.clone(),
            lifecycle: r.lifecycle(now),
        }
    }

    /// Check the region's GPU quota can take `extra_gpus` more of `accelerator`.
    fn check_quota(
        &self,
        conn: &rusqlite::Connection,
        region: &str,
        accelerator: &str,
        extra_gpus: i64,
        what: &str,
    ) -> Result<(), ProviderError> {
        let Some(limit) = db::quota(conn, region, accelerator).map_err(sql)? else {
            return Ok(());
        };
        let now = now_ms();
        let used: i64 = db::select(conn, "kind = 'node_pool' AND region = ?1", &[&region])
            .map_err(sql)?
            .iter()
            .filter(|r| r.exists(now))
            .filter_map(|r| {
                accelerator_parts(&r.attrs)
                    .filter(|(a, _)| a == accelerator)
                    .map(|(_, c)| c * int(&r.attrs, "desired"))
            })
            .sum();
        if used + extra_gpus > limit {
            return Err(ProviderError::Quota {
                region: region.into(),
                message: format!("{what} needs {extra_gpus} {accelerator} GPUs but the quota is {limit} with {used} in use (raise it with `hoist sim quota {region} {accelerator} N`)"),
            });
        }
        Ok(())
    }

    fn parent_of(
        &self,
        conn: &rusqlite::Connection,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<(Option<String>, String), ProviderError> {
        let region = config
            .attrs
            .get("region")
            .and_then(Value::as_str)
            .map(String::from);
        let dep = |kind: &str| ctx.deps.values().find(|d| d.address.kind() == kind);
        let require_ready = |cloud_id: &str, what: &Address| -> Result<Resource, ProviderError> {
            let now = now_ms();
            match db::get(conn, cloud_id).map_err(sql)? {
                Some(r)
                    if r.exists(now) && r.lifecycle(now) == hoist_provider::Lifecycle::Ready =>
                {
                    Ok(r)
                }
                Some(r) if r.exists(now) => Err(ProviderError::NotReady {
                    what: what.to_string(),
                    message: format!("{} is {}", r.cloud_id, r.status_at(now)),
                }),
                _ => Err(ProviderError::NotFound(format!("{what} ({cloud_id})"))),
            }
        };
        match config.address.kind() {
            "subnet" => {
                let net = dep("network")
                    .ok_or_else(|| ProviderError::Invalid("a subnet needs its network".into()))?;
                let parent = require_ready(&net.cloud_id, &net.address)?;
                Ok((Some(parent.cloud_id), parent.region))
            }
            "cluster" => {
                let subnet = dep("subnet")
                    .ok_or_else(|| ProviderError::Invalid("a cluster needs a subnet".into()))?;
                let s = require_ready(&subnet.cloud_id, &subnet.address)?;
                Ok((s.parent, s.region))
            }
            "node_pool" => {
                let cluster = dep("cluster").ok_or_else(|| {
                    ProviderError::Invalid("a node pool needs its cluster".into())
                })?;
                let c = require_ready(&cluster.cloud_id, &cluster.address)?;
                Ok((Some(c.cloud_id), c.region))
            }
            _ => Ok((
                None,
                region.ok_or_else(|| {
                    ProviderError::Invalid(format!("{} has no region", config.address))
                })?,
            )),
        }
    }

    fn outputs_for(
        &self,
        kind: &str,
        cloud_id: &str,
        name: &str,
        region: &str,
        config: &ResourceConfig,
        per_zone: &BTreeMap<String, i64>,
    ) -> Attrs {
        let v = match kind {
            "network" | "subnet" => json!({"id": cloud_id}),
            "bucket" => json!({"id": cloud_id, "name": name, "uri": format!("sim://{cloud_id}")}),
            "cluster" => {
                json!({"id": cloud_id, "endpoint": format!("https://{cloud_id}.{region}.sim.hoist.local")})
            }
            "node_pool" => {
                let instance_type = config
                    .attrs
                    .get("instance_type")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_else(|| match accelerator_parts(&config.attrs) {
                        Some((a, c)) => format!("sim-{}-x{c}", a.to_ascii_lowercase()),
                        None => "sim-standard-4".into(),
                    });
                json!({"id": cloud_id, "cloud_name": name, "instance_type": instance_type, "nodes_per_zone": per_zone})
            }
            _ => json!({"id": cloud_id}),
        };
        v.as_object()
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl Provider for SimCloud {
    /// SQLite takes many readers and one writer: wide, but not without bound.
    fn concurrency(&self, _api: &str) -> hoist_provider::Concurrency {
        hoist_provider::Concurrency {
            initial: 32,
            max: 256,
        }
    }

    fn name(&self) -> &str {
        "sim"
    }

    fn rules(&self, kind: &str) -> KindRules {
        crate::rules::of(kind)
    }

    async fn read_many(
        &self,
        resources: &[&ResourceState],
    ) -> Vec<Result<Option<Observed>, ProviderError>> {
        let fault = match self.roll() {
            Ok(f) => f,
            Err(e) => return resources.iter().map(|_| Err(e.clone())).collect(),
        };
        if let Err(e) = self.fail_before(&fault, "Describe") {
            return resources.iter().map(|_| Err(e.clone())).collect();
        }
        let conn = self.conn();
        let now = now_ms();
        let ids: Vec<&str> = resources.iter().map(|r| r.cloud_id.as_str()).collect();
        match db::get_many(&conn, &ids) {
            // Each row is moved into its answer: cloud ids are unique within a batch.
            Ok(mut rows) => resources
                .iter()
                .map(|r| {
                    Ok(rows
                        .remove(&r.cloud_id)
                        .filter(|row| row.exists(now))
                        .map(|row| Self::into_observed(row, now)))
                })
                .collect(),
            Err(e) => {
                let e = sql(e);
                resources.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }

    async fn place(
        &self,
        config: &mut ResourceConfig,
        _owner: &Ownership,
    ) -> Result<Vec<String>, ProviderError> {
        let Some((accelerator, count)) = accelerator_parts(&config.attrs) else {
            return Ok(Vec::new());
        };
        let conn = self.conn();
        let zones = config.zones();
        let mut usable = Vec::new();
        let mut notes = Vec::new();
        for zone in &zones {
            match db::capacity(&conn, zone, &accelerator).map_err(sql)? {
                Some(0) => notes.push(format!("zone {zone} is out of {accelerator} capacity")),
                _ => usable.push(zone.clone()),
            }
        }
        let region = zones
            .first()
            .and_then(|z| region_of_zone(z))
            .unwrap_or_default()
            .to_string();
        if usable.is_empty() {
            return Err(ProviderError::Capacity {
                accelerator: format!("{accelerator}:{count}"),
                region,
                zones,
            });
        }
        self.check_quota(
            &conn,
            &region,
            &accelerator,
            int(&config.attrs, "max") * count,
            &format!(
                "{} at max size ({} × {accelerator}:{count})",
                config.address,
                int(&config.attrs, "max")
            ),
        )?;
        if usable.len() < zones.len() {
            notes.push(format!(
                "placing {} in {}",
                config.address,
                usable.join(", ")
            ));
            config.placement.insert("zones".into(), json!(usable));
        }
        Ok(notes)
    }

    async fn create(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let fault = self.roll()?;
        self.fail_before(&fault, "Create")?;
        let conn = self.conn();
        let now = now_ms();
        if let Some(existing) = db::by_token(&conn, &ctx.token).map_err(sql)? {
            if existing.exists(now) {
                return Ok(Self::observe(&existing, now));
            }
        }
        let kind = config.address.kind().to_string();
        let (parent, region) = self.parent_of(&conn, config, ctx)?;
        let mut per_zone = BTreeMap::new();
        if kind == "node_pool" {
            let zones = config.zones();
            per_zone = spread(int(&config.attrs, "desired"), &zones);
            if let Some((accelerator, count)) = accelerator_parts(&config.attrs) {
                let short: Vec<String> = per_zone
                    .iter()
                    .filter(|(z, n)| {
                        **n > 0
                            && db::capacity(&conn, z, &accelerator)
                                .ok()
                                .flatten()
                                .is_some_and(|avail| avail < **n)
                    })
                    .map(|(z, _)| z.clone())
                    .collect();
                if !short.is_empty() {
                    return Err(ProviderError::Capacity {
                        accelerator: format!("{accelerator}:{count}"),
                        region,
                        zones: short,
                    });
                }
                self.check_quota(
                    &conn,
                    &region,
                    &accelerator,
                    int(&config.attrs, "desired") * count,
                    &config.address.to_string(),
                )?;
                for (z, n) in per_zone.iter().filter(|(_, n)| **n > 0) {
                    db::consume_capacity(&conn, z, &accelerator, *n).map_err(sql)?;
                }
            }
        }
        let prefix = match kind.as_str() {
            "network" => "net",
            "subnet" => "subnet",
            "cluster" => "cls",
            "node_pool" => "np",
            other => other,
        };
        let cloud_id = format!("{prefix}-{}", short_id());
        let base = config
            .attrs
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(config.address.name());
        let name = if kind == "node_pool" {
            format!("{base}-{}", &cloud_id[3..8])
        } else {
            base.to_string()
        };
        let outputs = self.outputs_for(&kind, &cloud_id, &name, &region, config, &per_zone);
        let row = Resource {
            cloud_id,
            kind: kind.clone(),
            name,
            region,
            parent,
            status: "provisioning".into(),
            ready_at: now + self.latency.ready_ms(&kind),
            gone_at: None,
            attrs: config.attrs.clone(),
            outputs,
            tags: ctx.tags.clone(),
            env: ctx.tags.get(tags::ENV).cloned(),
            token: Some(ctx.token.clone()),
        };
        db::insert(&conn, &row).map_err(sql)?;
        self.fail_after(&fault, "Create")?;
        Ok(Self::observe(&row, now))
    }

    async fn update(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        _ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let fault = self.roll()?;
        self.fail_before(&fault, "Update")?;
        let conn = self.conn();
        let now = now_ms();
        let mut row = db::get(&conn, &prior.cloud_id)
            .map_err(sql)?
            .filter(|r| r.exists(now))
            .ok_or_else(|| {
                ProviderError::NotFound(format!("{} ({})", prior.address, prior.cloud_id))
            })?;
        if row.kind == "node_pool" {
            let zones = row.pool_zones();
            let before = spread(int(&row.attrs, "desired"), &zones);
            let after = spread(int(&config.attrs, "desired"), &zones);
            if let Some((accelerator, count)) = accelerator_parts(&row.attrs) {
                let grow = (int(&config.attrs, "desired") - int(&row.attrs, "desired")) * count;
                if grow > 0 {
                    self.check_quota(
                        &conn,
                        &row.region,
                        &accelerator,
                        grow,
                        &prior.address.to_string(),
                    )?;
                }
                for (z, n) in &after {
                    db::consume_capacity(
                        &conn,
                        z,
                        &accelerator,
                        n - before.get(z).copied().unwrap_or(0),
                    )
                    .map_err(sql)?;
                }
            }
            row.outputs.insert("nodes_per_zone".into(), json!(after));
        }
        row.attrs = config.attrs.clone();
        row.status = "updating".into();
        row.ready_at = now + self.latency.ready_ms(&row.kind) / 2;
        db::update(&conn, &row).map_err(sql)?;
        self.fail_after(&fault, "Update")?;
        Ok(Self::observe(&row, now))
    }

    async fn delete(&self, prior: &ResourceState) -> Result<Vec<String>, ProviderError> {
        self.delete_row(prior).map(|_| Vec::new())
    }

    async fn retag(
        &self,
        prior: &ResourceState,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<bool, ProviderError> {
        db::set_tags(&self.conn(), &prior.cloud_id, tags).map_err(sql)
    }

    async fn find_by_token(
        &self,
        _address: &Address,
        token: &str,
        _owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let conn = self.conn();
        let now = now_ms();
        Ok(db::by_token(&conn, token)
            .map_err(sql)?
            .filter(|r| r.exists(now))
            .map(|r| Self::observe(&r, now)))
    }

    /// A simulated cluster's API is served in process, from the sim's database.
    async fn cluster_access(
        &self,
        cluster: &ResourceState,
    ) -> Result<hoist_provider::ClusterAccess, ProviderError> {
        if cluster.address.kind() != "cluster" {
            return Err(ProviderError::Fatal(format!(
                "{} has no Kubernetes API that hoist can reach",
                cluster.address
            )));
        }
        match self.kube_api(&cluster.cloud_id) {
            Ok(api) => Ok(hoist_provider::ClusterAccess::InProcess(
                std::sync::Arc::new(api),
            )),
            Err(crate::SimError::NotFound { .. }) => Err(ProviderError::NotFound(format!(
                "{} ({})",
                cluster.address, cluster.cloud_id
            ))),
            Err(e) => Err(ProviderError::Transient {
                service: SERVICE.into(),
                message: e.to_string(),
            }),
        }
    }

    async fn list_every_owned(&self) -> Result<hoist_provider::Listing, ProviderError> {
        let owned = self.list(None).map_err(|e| ProviderError::Transient {
            service: SERVICE.into(),
            message: e.to_string(),
        })?;
        Ok(hoist_provider::Listing::of(
            owned
                .into_iter()
                .filter(|r| r.tags.contains_key(hoist_provider::tags::ENV))
                .collect(),
        ))
    }

    async fn list_owned(&self, env: &str) -> Result<hoist_provider::Listing, ProviderError> {
        self.list(Some(env))
            .map(hoist_provider::Listing::of)
            .map_err(|e| ProviderError::Transient {
                service: SERVICE.into(),
                message: e.to_string(),
            })
    }
}
