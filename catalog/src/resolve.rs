//! Choosing an offering for a node pool, and explaining what exists when nothing fits.

use crate::{Catalog, Offering, Request};

/// The offering chosen for a request, and the zones it can use.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    pub request: Request,
    pub offering: &'a Offering,
    /// Allowed zones that offer it (empty when the cloud's data has no zones).
    pub zones: Vec<String>,
}

/// Nothing matched: what was asked, and what exists nearby.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} is not offered{place}")]
pub struct NoOffering {
    pub what: String,
    pub place: String,
    /// Human hints: the same GPU elsewhere, other counts here.
    pub nearby: Vec<String>,
}

fn money(x: f64) -> String {
    format!("${x:.2}/h")
}

impl Catalog {
    /// Offerings of `request` (in `region` when given), cheapest first.
    pub fn matching(&self, request: &Request, region: Option<&str>, spot: bool) -> Vec<&Offering> {
        let mut out: Vec<&Offering> = self
            .offerings
            .iter()
            .filter(|o| {
                o.accelerator == request.name
                    && request.count.is_none_or(|c| (o.count - c).abs() < 1e-9)
            })
            .filter(|o| region.is_none_or(|r| o.region == r))
            .filter(|o| !spot || o.spot_price.is_some())
            .collect();
        out.sort_by(|a, b| {
            a.hourly(spot)
                .unwrap_or(f64::MAX)
                .total_cmp(&b.hourly(spot).unwrap_or(f64::MAX))
                .then(a.region.cmp(&b.region))
        });
        out
    }

    /// The cheapest offering of the first alternative available in `region` (and `zones`).
    pub fn resolve(
        &self,
        alternatives: &[Request],
        region: &str,
        zones: Option<&[String]>,
        spot: bool,
    ) -> Result<Choice<'_>, NoOffering> {
        for request in alternatives {
            for offering in self.matching(request, Some(region), spot) {
                let usable: Vec<String> = match zones {
                    Some(zs) if !offering.zones.is_empty() => zs
                        .iter()
                        .filter(|z| offering.zones.contains(z))
                        .cloned()
                        .collect(),
                    Some(zs) => zs.to_vec(),
                    None => offering.zones.clone(),
                };
                if zones.is_none() || !usable.is_empty() {
                    return Ok(Choice {
                        request: request.clone(),
                        offering,
                        zones: usable,
                    });
                }
            }
        }
        Err(self.explain(alternatives, region, zones, spot))
    }

    fn explain(
        &self,
        alternatives: &[Request],
        region: &str,
        zones: Option<&[String]>,
        spot: bool,
    ) -> NoOffering {
        let what = alternatives
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        let capacity = if spot { " as spot" } else { "" };
        let place = match zones {
            Some(zs) => format!(
                "{capacity} on {} in {region} zones {}",
                self.cloud,
                zs.join(", ")
            ),
            None => format!("{capacity} on {} in {region}", self.cloud),
        };
        let mut nearby = Vec::new();
        for request in alternatives {
            let here = self.matching(request, Some(region), spot);
            if let Some(o) = here.first() {
                nearby.push(format!(
                    "{} in {region} is in zones {} ({})",
                    request,
                    o.zones.join(", "),
                    o.instance_type
                ));
            }
            let elsewhere: Vec<String> = self
                .matching(request, None, spot)
                .iter()
                .filter(|o| o.region != region)
                .take(4)
                .map(|o| {
                    format!(
                        "{} {} {}",
                        o.region,
                        o.instance_type,
                        money(o.hourly(spot).unwrap_or(o.price))
                    )
                })
                .collect();
            if !elsewhere.is_empty() {
                nearby.push(format!(
                    "{request} elsewhere on {}: {}",
                    self.cloud,
                    elsewhere.join("; ")
                ));
            }
            let any_count = Request {
                name: request.name.clone(),
                count: None,
            };
            let mut counts: Vec<String> = self
                .matching(&any_count, Some(region), spot)
                .iter()
                .map(|o| {
                    format!(
                        "{} ({} {})",
                        o.label(),
                        o.instance_type,
                        money(o.hourly(spot).unwrap_or(o.price))
                    )
                })
                .collect();
            counts.dedup();
            if !counts.is_empty() && request.count.is_some() {
                nearby.push(format!(
                    "other counts in {region}: {}",
                    counts.into_iter().take(4).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        NoOffering {
            what,
            place,
            nearby,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{parse_request, Catalog};

    #[test]
    fn cheapest_of_first_available_alternative() {
        let aws = Catalog::of("aws").unwrap();
        let c = aws
            .resolve(
                &[parse_request("A100:8").unwrap()],
                "us-east-1",
                None,
                false,
            )
            .unwrap();
        assert_eq!(c.offering.instance_type, "p4d.24xlarge");
        let sim = Catalog::of("sim").unwrap();
        let alts = [
            parse_request("H200:8").unwrap(),
            parse_request("A100:8").unwrap(),
        ];
        let c = sim.resolve(&alts, "sim-east1", None, false).unwrap();
        assert_eq!(c.request.name, "A100", "H200 is only in sim-central1");
        let zones = vec!["sim-east1-a".to_string()];
        assert_eq!(
            sim.resolve(&alts[1..], "sim-east1", Some(&zones), true)
                .unwrap()
                .zones,
            zones
        );
    }

    #[test]
    fn nothing_matching_says_what_exists() {
        let sim = Catalog::of("sim").unwrap();
        let err = sim
            .resolve(
                &[parse_request("H200:8").unwrap()],
                "sim-east1",
                None,
                false,
            )
            .unwrap_err();
        let text = err.nearby.join("\n");
        assert!(text.contains("sim-central1 sim-h200-x8"), "{text}");
        let err = sim
            .resolve(
                &[parse_request("A100:3").unwrap()],
                "sim-east1",
                None,
                false,
            )
            .unwrap_err();
        assert!(
            err.nearby
                .join("\n")
                .contains("other counts in sim-east1: A100:1"),
            "{:?}",
            err.nearby
        );
    }
}
