//! The interactive wizard. It offers only what the catalog says exists (regions with GPUs,
//! accelerators of the chosen region, with prices), checks each answer as it is given, and
//! returns `None` when the user cancels (Ctrl-C, or declining to overwrite).

use std::io::ErrorKind;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use dialoguer::{Confirm, Input, MultiSelect, Select};
use hoist_catalog::{Catalog, Offering, CLOUDS};

use super::answers::{check_name, default_region, offering, Answers, COMPONENTS};
use crate::cli::InitArgs;
use crate::printer::usd;

/// Cancelling is an answer, not an error.
fn answered<T>(r: dialoguer::Result<T>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(dialoguer::Error::IO(e)) if e.kind() == ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(e.into()),
    }
}

macro_rules! ask {
    ($prompt:expr) => {
        match answered($prompt)? {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

pub fn ask(args: &InitArgs) -> anyhow::Result<Option<Answers>> {
    // With a SIGINT listener installed, Ctrl-C in a prompt comes back as `Interrupted`
    // instead of killing the process with the cursor hidden.
    let _sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let plain = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let colorful = ColorfulTheme::default();
    let theme: &dyn Theme = if plain { &SimpleTheme } else { &colorful };
    let result = questions(theme, args);
    let _ = console::Term::stderr().show_cursor();
    result
}

fn questions(theme: &dyn Theme, args: &InitArgs) -> anyhow::Result<Option<Answers>> {
    let file = args.file.display().to_string();
    if args.file.exists() && !args.force {
        let overwrite = ask!(Confirm::with_theme(theme)
            .with_prompt(format!("{file} already exists. Overwrite it?"))
            .default(false)
            .interact());
        if !overwrite {
            return Ok(None);
        }
    }
    let name: String = ask!(Input::with_theme(theme)
        .with_prompt("Environment name")
        .default(args.name.clone().unwrap_or_else(|| "demo".into()))
        .validate_with(|s: &String| check_name(s))
        .interact_text());

    let cloud_labels: Vec<String> = CLOUDS
        .iter()
        .map(|c| {
            if *c == "sim" {
                "sim — the built-in simulated cloud, no account needed".to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    let cloud_default = args
        .cloud
        .as_deref()
        .and_then(|c| CLOUDS.iter().position(|x| *x == c))
        .unwrap_or(0);
    let cloud = CLOUDS[ask!(Select::with_theme(theme)
        .with_prompt("Cloud")
        .items(&cloud_labels)
        .default(cloud_default)
        .interact())];
    let catalog = Catalog::of(cloud)?;

    let regions = regions_by_price(catalog);
    let region_labels: Vec<String> = regions
        .iter()
        .map(|(r, o)| format!("{r} — GPUs from {}/h ({})", usd(o.price), o.label()))
        .collect();
    let region_default = args
        .region
        .as_deref()
        .or(default_region(cloud))
        .and_then(|r| regions.iter().position(|(x, _)| x == r))
        .unwrap_or(0);
    let region = regions[ask!(Select::with_theme(theme)
        .with_prompt("Region (only regions with GPUs; cheapest first)")
        .items(&region_labels)
        .default(region_default)
        .max_length(12)
        .interact())]
    .0
    .clone();

    eprintln!("{}", offerings_table(catalog, &region));
    let default_acc = args
        .accelerator
        .clone()
        .unwrap_or_else(|| cheapest_label(catalog, &region));
    let accelerator: String = ask!(Input::with_theme(theme)
        .with_prompt("Accelerator and count per node (e.g. A100:8)")
        .default(default_acc)
        .validate_with(|s: &String| offering(catalog, s, &region, false).map(|_| ()))
        .interact_text());
    let chosen = offering(catalog, &accelerator, &region, false).map_err(anyhow::Error::msg)?;

    let mut capacities = vec![format!("on-demand — {}/h per node", usd(chosen.price))];
    let spot = offering(catalog, &accelerator, &region, true).ok();
    if let Some(s) = spot {
        capacities.push(format!(
            "spot — {}/h per node, can be reclaimed",
            usd(s.spot_price.unwrap_or(s.price))
        ));
    }
    let capacity = if ask!(Select::with_theme(theme)
        .with_prompt("Capacity")
        .items(&capacities)
        .default(0)
        .interact())
        == 1
    {
        "spot"
    } else {
        "on-demand"
    };
    let chosen = if capacity == "spot" {
        spot.unwrap_or(chosen)
    } else {
        chosen
    };

    let min: u32 = ask!(Input::with_theme(theme)
        .with_prompt("Minimum nodes (0 lets the pool scale to zero)")
        .default(args.min.unwrap_or(1))
        .interact_text());
    let max: u32 = ask!(Input::with_theme(theme)
        .with_prompt("Maximum nodes")
        .default(args.max.unwrap_or(min.max(1)))
        .validate_with(move |m: &u32| if *m >= min.max(1) {
            Ok(())
        } else {
            Err(format!("at least {}", min.max(1)))
        })
        .interact_text());

    let items: Vec<String> = COMPONENTS
        .iter()
        .map(|(c, about)| format!("{c} — {about}"))
        .collect();
    let defaults = [true, min < max, true, false, false];
    let picked = ask!(MultiSelect::with_theme(theme)
        .with_prompt("Stack components (space toggles, enter accepts)")
        .items(&items)
        .defaults(&defaults)
        .interact());

    let ttl: String = ask!(Input::with_theme(theme)
        .with_prompt("Time to live for an ephemeral environment (e.g. 8h; empty keeps it)")
        .allow_empty(true)
        .validate_with(|t: &String| if t.is_empty() {
            Ok(())
        } else {
            hoist_blueprint::parse_duration(t).map(|_| ())
        })
        .interact_text());
    let budget: String = ask!(Input::with_theme(theme)
        .with_prompt("Budget in USD per hour at max size (empty for none)")
        .allow_empty(true)
        .validate_with(
            |b: &String| if b.is_empty() || b.parse::<f64>().is_ok_and(|x| x > 0.0) {
                Ok(())
            } else {
                Err("a positive number, e.g. 120".to_string())
            }
        )
        .interact_text());

    let request = hoist_catalog::parse_request(&accelerator).map_err(anyhow::Error::msg)?;
    Ok(Some(Answers {
        name,
        cloud: cloud.into(),
        region,
        accelerator: request.to_string(),
        instance_type: chosen.instance_type.clone(),
        unit_price: chosen.hourly(capacity == "spot").unwrap_or(chosen.price),
        capacity: capacity.into(),
        min,
        desired: min.max(1).min(max),
        max,
        stack: picked
            .into_iter()
            .map(|i| COMPONENTS[i].0.to_string())
            .collect(),
        ttl: (!ttl.is_empty()).then_some(ttl),
        budget: budget.parse().ok(),
    }))
}

/// Regions that offer GPUs, each with its cheapest GPU offering, cheapest first.
fn regions_by_price(catalog: &Catalog) -> Vec<(String, &Offering)> {
    let mut best: std::collections::BTreeMap<&str, &Offering> = Default::default();
    for o in catalog
        .offerings
        .iter()
        .filter(|o| !o.accelerator.is_empty())
    {
        best.entry(&o.region)
            .and_modify(|b| {
                if o.price < b.price {
                    *b = o
                }
            })
            .or_insert(o);
    }
    let mut out: Vec<(String, &Offering)> =
        best.into_iter().map(|(r, o)| (r.to_string(), o)).collect();
    out.sort_by(|a, b| a.1.price.total_cmp(&b.1.price).then(a.0.cmp(&b.0)));
    out
}

fn cheapest_label(catalog: &Catalog, region: &str) -> String {
    catalog
        .offerings
        .iter()
        .filter(|o| o.region == region && !o.accelerator.is_empty())
        .min_by(|a, b| a.price.total_cmp(&b.price))
        .map(|o| o.label())
        .unwrap_or_else(|| "L4:1".into())
}

/// What the region offers, one line per accelerator and count, cheapest type of each.
fn offerings_table(catalog: &Catalog, region: &str) -> String {
    let mut rows: Vec<&Offering> = catalog
        .offerings
        .iter()
        .filter(|o| o.region == region && !o.accelerator.is_empty())
        .collect();
    rows.sort_by(|a, b| {
        a.accelerator
            .cmp(&b.accelerator)
            .then(a.count.total_cmp(&b.count))
            .then(a.price.total_cmp(&b.price))
    });
    rows.dedup_by(|a, b| a.accelerator == b.accelerator && a.count == b.count);
    let mut out = vec![format!("Accelerators in {region}:")];
    for o in rows {
        out.push(format!(
            "  {:<18} {:<26} on-demand {:>10}/h   spot {:>10}",
            o.label(),
            o.instance_type,
            usd(o.price),
            o.spot_price.map_or("-".into(), |s| format!("{}/h", usd(s)))
        ));
    }
    out.join("\n")
}
