//! `hoist catalog gpus`: what exists, where, and at what price.

use anyhow::bail;
use hoist_catalog::{parse_request, Catalog, Offering, CLOUDS};
use serde_json::json;

use crate::cli::CatalogCommand;
use crate::printer::{usd, Printer};

pub fn catalog(printer: &Printer, c: CatalogCommand) -> anyhow::Result<u8> {
    let CatalogCommand::Gpus {
        request,
        cloud,
        region,
        spot,
        limit,
    } = c;
    let clouds: Vec<&str> = match &cloud {
        Some(c) if CLOUDS.contains(&c.as_str()) => vec![c.as_str()],
        Some(c) => bail!(
            "no catalog for cloud {c:?}\n  = hint: one of {}",
            CLOUDS.join(", ")
        ),
        None => CLOUDS.to_vec(),
    };
    match request {
        Some(text) => offerings(printer, &text, &clouds, region.as_deref(), spot, limit),
        None => summary(printer, &clouds, region.as_deref(), spot),
    }
}

fn offerings(
    printer: &Printer,
    text: &str,
    clouds: &[&str],
    region: Option<&str>,
    spot: bool,
    limit: usize,
) -> anyhow::Result<u8> {
    let request = parse_request(text).map_err(|e| {
        anyhow::anyhow!(
            "{e}\n  = hint: `hoist catalog gpus` without a request lists every accelerator"
        )
    })?;
    let mut rows: Vec<&Offering> = Vec::new();
    for cloud in clouds {
        rows.extend(Catalog::of(cloud)?.matching(&request, region, spot));
    }
    rows.sort_by(|a, b| {
        a.hourly(spot)
            .unwrap_or(f64::MAX)
            .total_cmp(&b.hourly(spot).unwrap_or(f64::MAX))
    });
    if rows.is_empty() {
        bail!("{}", not_found(&request, clouds, region, spot)?);
    }
    let shown = if limit == 0 {
        rows.len()
    } else {
        limit.min(rows.len())
    };
    if printer.json {
        printer.json_out(&json!({"request": request.to_string(), "offerings": rows[..shown], "total": rows.len()}));
        return Ok(0);
    }
    printer.out(&format!(
        "{:<16} {:>5} {:>7}  {:<24} {:<6} {:<22} {:>5}  {:>12}  {:>12}",
        "accelerator",
        "count",
        "GPU GiB",
        "instance type",
        "cloud",
        "region",
        "zones",
        "on-demand/h",
        "spot/h"
    ));
    for o in &rows[..shown] {
        printer.out(&format!(
            "{:<16} {:>5} {:>7}  {:<24} {:<6} {:<22} {:>5}  {:>12}  {:>12}",
            o.accelerator,
            if o.count.fract() == 0.0 {
                format!("{}", o.count as i64)
            } else {
                format!("{:.3}", o.count)
            },
            o.gpu_memory_gib.map_or("-".into(), |m| format!("{m}")),
            o.instance_type,
            o.cloud,
            o.region,
            if o.zones.is_empty() {
                "-".into()
            } else {
                o.zones.len().to_string()
            },
            usd(o.price),
            o.spot_price.map_or("-".into(), usd)
        ));
    }
    if shown < rows.len() {
        printer.out(&format!(
            "… {} more; --limit 0 shows all, --region narrows",
            rows.len() - shown
        ));
    }
    Ok(0)
}

/// Say where a request exists when the asked-for clouds and region lack it.
fn not_found(
    request: &hoist_catalog::Request,
    clouds: &[&str],
    region: Option<&str>,
    spot: bool,
) -> anyhow::Result<String> {
    let place = format!(
        "{}{}",
        clouds.join(", "),
        region.map(|r| format!(" in {r}")).unwrap_or_default()
    );
    let mut lines = vec![format!(
        "{request} is not offered{} on {place}",
        if spot { " as spot" } else { "" }
    )];
    for cloud in CLOUDS {
        let found = Catalog::of(cloud)?.matching(request, None, spot);
        if let Some(cheapest) = found.first() {
            let regions: std::collections::BTreeSet<&str> =
                found.iter().map(|o| o.region.as_str()).collect();
            lines.push(format!(
                "  {cloud}: {} regions, from {} {} in {}",
                regions.len(),
                usd(cheapest.hourly(spot).unwrap_or(cheapest.price)),
                cheapest.instance_type,
                cheapest.region
            ));
        }
    }
    if lines.len() == 1 {
        let any = hoist_catalog::Request {
            name: request.name.clone(),
            count: None,
        };
        let counts: Vec<String> = CLOUDS
            .iter()
            .flat_map(|c| {
                Catalog::of(c)
                    .map(|cat| cat.matching(&any, None, spot))
                    .unwrap_or_default()
            })
            .map(|o| o.label())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        lines.push(format!(
            "  = hint: {} exists as: {}",
            request.name,
            if counts.is_empty() {
                "nothing in any catalog".into()
            } else {
                counts.join(", ")
            }
        ));
    } else {
        lines.insert(1, "  it is offered on:".into());
    }
    Ok(lines.join("\n"))
}

fn summary(
    printer: &Printer,
    clouds: &[&str],
    region: Option<&str>,
    spot: bool,
) -> anyhow::Result<u8> {
    // accelerator → cloud → cheapest offering per accelerator-hour
    let mut best: std::collections::BTreeMap<String, std::collections::BTreeMap<&str, &Offering>> =
        Default::default();
    for cloud in clouds {
        for o in &Catalog::of(cloud)?.offerings {
            if o.accelerator.is_empty()
                || region.is_some_and(|r| o.region != r)
                || o.hourly(spot).is_none()
            {
                continue;
            }
            let per_unit = |x: &Offering| x.hourly(spot).unwrap_or(f64::MAX) / x.count.max(1e-9);
            let slot = best.entry(o.accelerator.clone()).or_default().entry(cloud);
            slot.and_modify(|cur| {
                if per_unit(o) < per_unit(cur) {
                    *cur = o;
                }
            })
            .or_insert(o);
        }
    }
    if printer.json {
        let rows: Vec<_> = best
            .iter()
            .flat_map(|(acc, per)| {
                per.iter().map(
                    move |(cloud, o)| json!({"accelerator": acc, "cloud": cloud, "cheapest": o}),
                )
            })
            .collect();
        printer.json_out(&json!(rows));
        return Ok(0);
    }
    let what = if spot { "spot" } else { "on-demand" };
    printer.out(&format!(
        "Cheapest {what} price per accelerator-hour, per cloud{}:",
        region.map(|r| format!(" in {r}")).unwrap_or_default()
    ));
    for (acc, per) in &best {
        let cells: Vec<String> = per
            .iter()
            .map(|(cloud, o)| {
                format!(
                    "{cloud} {}/h ({} {})",
                    usd(o.hourly(spot).unwrap_or(o.price) / o.count.max(1e-9)),
                    o.instance_type,
                    o.region
                )
            })
            .collect();
        printer.out(&format!("  {acc:<18} {}", cells.join("  ·  ")));
    }
    Ok(0)
}
