//! Changes made to the simulated cloud behind hoist's back (`hoist sim ...`): what a person
//! or a test does to create drift, stockouts, quota limits and flaky APIs.

use std::path::PathBuf;

use hoist_provider::{tags, Address, CloudResource};
use serde::Serialize;
use serde_json::json;

use crate::db::{self, now_ms, Resource};
use crate::regions::{region_of_zone, zones_of};
use crate::SimCloud;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot open the simulated cloud at {}: {message}\n  = hint: set HOIST_SIM_DIR to a writable directory", path.display())]
    Open { path: PathBuf, message: String },
    #[error("simulated cloud database error: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{what} not found in the simulated cloud\n  = hint: {hint}")]
    NotFound { what: String, hint: String },
    #[error("{message}\n  = hint: {hint}")]
    Invalid { message: String, hint: String },
}

/// The fault injection rates, each a probability per API call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Faults {
    pub transient: f64,
    pub throttle: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaRow {
    pub region: String,
    pub accelerator: String,
    pub max_gpus: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityRow {
    pub zone: String,
    pub accelerator: String,
    pub available: i64,
}

impl SimCloud {
    /// Every live resource, or those tagged for `env`.
    pub fn list(&self, env: Option<&str>) -> Result<Vec<CloudResource>, SimError> {
        let conn = self.conn();
        let now = now_ms();
        db::purge_gone(&conn, now)?;
        let rows = match env {
            Some(e) => db::select_listed(&conn, "env = ?1", &[&e])?,
            None => db::select_listed(&conn, "1 = 1", &[])?,
        };
        Ok(rows
            .into_iter()
            .filter(|r| r.exists(now))
            .map(|r| CloudResource {
                status: r.status_at(now).into(),
                cloud_id: r.cloud_id,
                kind: r.kind,
                name: r.name,
                region: r.region,
                tags: r.tags,
                outputs: Default::default(),
            })
            .collect())
    }

    /// A resource by cloud id, or by `ENV/ADDRESS` (e.g. `demo/node_pool.gpu`).
    fn find(&self, target: &str) -> Result<Resource, SimError> {
        let conn = self.conn();
        let now = now_ms();
        let hint =
            "name a cloud id from `hoist sim list`, or ENV/ADDRESS such as demo/node_pool.gpu"
                .to_string();
        let found = match target.split_once('/') {
            Some((env, address)) => {
                let address: Address =
                    address.parse().map_err(|e: hoist_provider::AddressError| {
                        SimError::Invalid {
                            message: e.to_string(),
                            hint: hint.clone(),
                        }
                    })?;
                let rows = db::select(&conn, "env = ?1", &[&env])?;
                rows.into_iter().rev().find(|r| {
                    r.exists(now)
                        && r.status != "deleting"
                        && r.tags.get(tags::ADDRESS).map(String::as_str)
                            == Some(&address.to_string())
                })
            }
            None => db::get(&conn, target)?.filter(|r| r.exists(now)),
        };
        found.ok_or(SimError::NotFound {
            what: format!("resource {target:?}"),
            hint,
        })
    }

    /// Resize a node pool as its autoscaler or a person with console access would.
    pub fn scale(&self, target: &str, desired: u32) -> Result<CloudResource, SimError> {
        let mut row = self.find(target)?;
        if row.kind != "node_pool" {
            return Err(SimError::Invalid {
                message: format!("{} is a {}, not a node pool", row.cloud_id, row.kind),
                hint: "only node pools can be scaled".into(),
            });
        }
        row.attrs.insert("desired".into(), json!(desired));
        let per_zone = db::spread(i64::from(desired), &row.pool_zones());
        row.outputs.insert("nodes_per_zone".into(), json!(per_zone));
        db::update(&self.conn(), &row)?;
        Ok(self.to_cloud(row))
    }

    /// Put a resource in a failed state, as a cloud does when hardware or a controller fails.
    pub fn fail(&self, target: &str, reason: &str) -> Result<CloudResource, SimError> {
        let mut row = self.find(target)?;
        row.status = format!("failed:{reason}");
        db::update(&self.conn(), &row)?;
        Ok(self.to_cloud(row))
    }

    /// Delete a resource at once, as if someone removed it in the console.
    pub fn remove(&self, target: &str) -> Result<CloudResource, SimError> {
        let mut row = self.find(target)?;
        let now = now_ms();
        row.status = "deleting".into();
        row.gone_at = Some(now);
        db::update(&self.conn(), &row)?;
        db::purge_gone(&self.conn(), now)?;
        Ok(self.to_cloud(row))
    }

    fn to_cloud(&self, r: Resource) -> CloudResource {
        let now = now_ms();
        CloudResource {
            status: r.status_at(now).into(),
            cloud_id: r.cloud_id,
            kind: r.kind,
            name: r.name,
            region: r.region,
            tags: r.tags,
            outputs: Default::default(),
        }
    }

    /// Set how many nodes of `accelerator` a zone can still host; `None` makes it unlimited.
    pub fn set_capacity(
        &self,
        zone: &str,
        accelerator: &str,
        available: Option<u32>,
    ) -> Result<(), SimError> {
        if region_of_zone(zone).is_none() {
            return Err(SimError::Invalid {
                message: format!("unknown zone {zone:?}"),
                hint: format!(
                    "zones look like {}",
                    zones_of("sim-east1").unwrap_or_default().join(", ")
                ),
            });
        }
        Ok(db::set_capacity(
            &self.conn(),
            zone,
            &accelerator.to_ascii_uppercase(),
            available.map(i64::from),
        )?)
    }

    pub fn capacity(&self) -> Result<Vec<CapacityRow>, SimError> {
        self.rows(
            "SELECT zone, accelerator, available FROM capacity ORDER BY zone, accelerator",
            |r| {
                Ok(CapacityRow {
                    zone: r.get(0)?,
                    accelerator: r.get(1)?,
                    available: r.get(2)?,
                })
            },
        )
    }

    /// Every regional GPU quota that is set (regions without one are unlimited).
    pub fn quotas(&self) -> Result<Vec<QuotaRow>, SimError> {
        self.rows(
            "SELECT region, accelerator, max_gpus FROM quotas ORDER BY region, accelerator",
            |r| {
                Ok(QuotaRow {
                    region: r.get(0)?,
                    accelerator: r.get(1)?,
                    max_gpus: r.get(2)?,
                })
            },
        )
    }

    fn rows<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, SimError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Limit the GPUs of `accelerator` a region may run; `None` removes the limit.
    pub fn set_quota(
        &self,
        region: &str,
        accelerator: &str,
        max_gpus: Option<u32>,
    ) -> Result<(), SimError> {
        if zones_of(region).is_none() {
            return Err(SimError::Invalid {
                message: format!("unknown region {region:?}"),
                hint: "regions: sim-east1, sim-west1, sim-central1".into(),
            });
        }
        Ok(db::set_quota(
            &self.conn(),
            region,
            &accelerator.to_ascii_uppercase(),
            max_gpus.map(i64::from),
        )?)
    }

    pub fn faults(&self) -> Result<Faults, SimError> {
        let (transient, throttle) = db::faults(&self.conn())?;
        Ok(Faults {
            transient,
            throttle,
        })
    }

    pub fn set_faults(&self, f: Faults) -> Result<(), SimError> {
        for (name, rate) in [("transient", f.transient), ("throttle", f.throttle)] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimError::Invalid {
                    message: format!("{name} rate {rate} is not a probability"),
                    hint: "give a number from 0 to 1, e.g. 0.2 for 20%".into(),
                });
            }
        }
        if f.transient + f.throttle > 1.0 {
            return Err(SimError::Invalid {
                message: "transient + throttle rates exceed 1".into(),
                hint: "the two rates share one roll per call".into(),
            });
        }
        Ok(db::set_faults(&self.conn(), f.transient, f.throttle)?)
    }
}
