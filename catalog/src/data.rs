use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Serialize;

/// Clouds with a catalog, in display order.
pub const CLOUDS: [&str; 4] = ["sim", "aws", "gcp", "azure"];

const EMBEDDED: [(&str, &str); 4] = [
    ("sim", include_str!("../data/sim.csv")),
    ("aws", include_str!("../data/aws.csv")),
    ("gcp", include_str!("../data/gcp.csv")),
    ("azure", include_str!("../data/azure.csv")),
];

const HEADER: &str =
    "instance_type,accelerator,count,gpu_memory_gib,vcpus,memory_gib,region,zones,price,spot_price";

/// One instance type in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offering {
    pub cloud: &'static str,
    pub instance_type: String,
    /// Canonical accelerator name; empty for a CPU-only type.
    pub accelerator: String,
    /// Accelerators per node (fractions exist for shared Azure GPUs; a TPU slice is 1).
    pub count: f64,
    pub gpu_memory_gib: Option<f64>,
    pub vcpus: Option<f64>,
    pub memory_gib: Option<f64>,
    pub region: String,
    /// Zone names (sim, gcp) or zone ids (aws); empty when the source has none (azure).
    pub zones: Vec<String>,
    pub price: f64,
    pub spot_price: Option<f64>,
}

impl Offering {
    /// USD/hour for one node of this offering.
    pub fn hourly(&self, spot: bool) -> Option<f64> {
        if spot {
            self.spot_price
        } else {
            Some(self.price)
        }
    }

    /// `A100:8`, or the TPU slice name.
    pub fn label(&self) -> String {
        if self.accelerator.starts_with("tpu-") {
            self.accelerator.clone()
        } else {
            format!(
                "{}:{}",
                self.accelerator,
                crate::names::count_text(self.count)
            )
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    #[error("no catalog for cloud {0:?}\n  = hint: clouds with a catalog: sim, aws, gcp, azure")]
    UnknownCloud(String),
    #[error("catalog {file}:{line}: {message}\n  = hint: the columns are {HEADER}")]
    Malformed {
        file: String,
        line: usize,
        message: String,
    },
}

/// One cloud's offerings.
#[derive(Debug)]
pub struct Catalog {
    pub cloud: &'static str,
    pub offerings: Vec<Offering>,
    by_type: HashMap<(String, String), usize>,
}

impl Catalog {
    /// The catalog of `cloud`, parsed once per process.
    pub fn of(cloud: &str) -> Result<&'static Catalog, CatalogError> {
        static LOADED: [OnceLock<Result<Catalog, CatalogError>>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let i = EMBEDDED
            .iter()
            .position(|(c, _)| *c == cloud)
            .ok_or_else(|| CatalogError::UnknownCloud(cloud.into()))?;
        LOADED[i]
            .get_or_init(|| load(EMBEDDED[i].0, EMBEDDED[i].1))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parse catalog text in the derived CSV format.
    pub fn parse(cloud: &'static str, file: &str, text: &str) -> Result<Catalog, CatalogError> {
        let mut lines = text.lines().enumerate();
        let bad = |line: usize, message: String| CatalogError::Malformed {
            file: file.into(),
            line,
            message,
        };
        match lines.next() {
            Some((_, h)) if h.trim() == HEADER => {}
            _ => return Err(bad(1, "missing or unexpected header".into())),
        }
        let mut offerings = Vec::new();
        for (i, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 10 {
                return Err(bad(
                    i + 1,
                    format!("expected 10 columns, found {}", f.len()),
                ));
            }
            let opt = |j: usize| -> Result<Option<f64>, CatalogError> {
                if f[j].is_empty() {
                    return Ok(None);
                }
                f[j].parse().map(Some).map_err(|_| {
                    bad(
                        i + 1,
                        format!("column {} is not a number: {:?}", j + 1, f[j]),
                    )
                })
            };
            offerings.push(Offering {
                cloud,
                instance_type: f[0].into(),
                accelerator: f[1].into(),
                count: opt(2)?.unwrap_or(0.0),
                gpu_memory_gib: opt(3)?,
                vcpus: opt(4)?,
                memory_gib: opt(5)?,
                region: f[6].into(),
                zones: f[7].split_whitespace().map(String::from).collect(),
                price: opt(8)?.ok_or_else(|| bad(i + 1, "missing price".into()))?,
                spot_price: opt(9)?,
            });
        }
        let by_type = offerings
            .iter()
            .enumerate()
            .map(|(i, o)| ((o.instance_type.clone(), o.region.clone()), i))
            .collect();
        Ok(Catalog {
            cloud,
            offerings,
            by_type,
        })
    }

    /// The offering of `instance_type` in `region`, for pricing explicit instance types.
    pub fn instance(&self, instance_type: &str, region: &str) -> Option<&Offering> {
        self.by_type
            .get(&(instance_type.to_string(), region.to_string()))
            .map(|&i| &self.offerings[i])
    }

    /// Regions that offer any accelerator.
    pub fn regions(&self) -> Vec<&str> {
        let mut r: Vec<&str> = self
            .offerings
            .iter()
            .filter(|o| !o.accelerator.is_empty())
            .map(|o| o.region.as_str())
            .collect();
        r.sort_unstable();
        r.dedup();
        r
    }
}

fn load(cloud: &'static str, embedded: &str) -> Result<Catalog, CatalogError> {
    if let Some(dir) = std::env::var_os("HOIST_CATALOG_DIR") {
        let path = PathBuf::from(dir).join(format!("{cloud}.csv"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Catalog::parse(cloud, &path.display().to_string(), &text);
        }
    }
    Catalog::parse(cloud, &format!("(built-in {cloud}.csv)"), embedded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_catalog_parses() {
        for c in CLOUDS {
            let cat = Catalog::of(c).unwrap();
            assert!(cat.offerings.len() > 50, "{c}");
        }
        let p4d = Catalog::of("aws")
            .unwrap()
            .instance("p4d.24xlarge", "us-east-1")
            .unwrap();
        assert_eq!(
            (p4d.accelerator.as_str(), p4d.count, p4d.price),
            ("A100", 8.0, 21.95764)
        );
    }

    #[test]
    fn malformed_rows_are_located() {
        let text = format!("{HEADER}\nx,A100,8,40,96,1152,r,z,notanumber,\n");
        let err = Catalog::parse("sim", "t.csv", &text).unwrap_err();
        assert!(err.to_string().contains("t.csv:2"), "{err}");
    }
}
