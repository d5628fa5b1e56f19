//! An agent pool's properties, shared by the cluster's system pool (in its
//! `agentPoolProfiles`) and the agent pools hoist makes; and the way back, from what AKS
//! answers to hoist's attributes, without what AKS adds to spot pools itself.

use std::collections::BTreeMap;

use hoist_provider::Attrs;
use serde_json::{json, Map, Value};

use crate::expand::{SPOT_LABEL, SPOT_TAINT};

/// The attribute `prefix` + `key`.
fn get<'a>(a: &'a Attrs, prefix: &str, key: &str) -> &'a Value {
    a.get(&format!("{prefix}{key}")).unwrap_or(&Value::Null)
}

/// Whether the pool's size belongs to AKS's autoscaler.
pub(crate) fn autoscaled(a: &Attrs, prefix: &str) -> bool {
    let n = |k| get(a, prefix, k).as_u64().unwrap_or(0);
    n("min") < n("max")
}

/// The pool's properties in the AKS API's shape. `zones` are where to place it now; on an
/// update of an autoscaled pool the count is left out, as it is the autoscaler's.
pub(crate) fn properties(
    a: &Attrs,
    prefix: &str,
    subnet_id: &str,
    zones: &[String],
    tags: &BTreeMap<String, String>,
    update: bool,
) -> Map<String, Value> {
    let scaled = autoscaled(a, prefix);
    let spot = get(a, prefix, "capacity") == "spot";
    let mut p = json!({
        "vmSize": get(a, prefix, "instance_type"),
        "osType": "Linux",
        "osSKU": get(a, prefix, "os_sku"),
        "osDiskSizeGB": get(a, prefix, "disk_size_gib"),
        "type": "VirtualMachineScaleSets",
        "mode": get(a, prefix, "mode"),
        "vnetSubnetID": subnet_id,
        "enableAutoScaling": scaled,
        "nodeLabels": get(a, prefix, "labels"),
        "nodeTaints": get(a, prefix, "taints"),
        "tags": tags,
        "scaleSetPriority": if spot { "Spot" } else { "Regular" },
        // New nodes come up before old ones go during upgrades, a tenth at a time.
        "upgradeSettings": {"maxSurge": "10%"},
    });
    let p = p.as_object_mut().expect("an object");
    if !(update && scaled) {
        p.insert("count".into(), get(a, prefix, "desired").clone());
    }
    if scaled {
        p.insert("minCount".into(), get(a, prefix, "min").clone());
        p.insert("maxCount".into(), get(a, prefix, "max").clone());
    }
    if !zones.is_empty() {
        p.insert("availabilityZones".into(), json!(zones));
    }
    if spot {
        // Evicted spot nodes are deleted (not kept deallocated, which still costs disks);
        // -1 pays up to the on-demand price, so only capacity evicts them.
        p.insert("scaleSetEvictionPolicy".into(), json!("Delete"));
        p.insert("spotMaxPrice".into(), json!(-1));
    }
    if let Some(driver) = get(a, prefix, "gpu_driver").as_str() {
        p.insert("gpuProfile".into(), json!({"driver": driver}));
    }
    if get(a, prefix, "mode") == &Value::Null {
        p.insert("mode".into(), json!("System"));
    }
    p.clone()
}

/// hoist's attributes of a pool as AKS reports it (`properties` of an agent pool, or one
/// of a cluster's `agentPoolProfiles`), each key prefixed with `prefix`. Zones are left out:
/// a pool placed in fewer zones than configured (a restriction, a stockout) is not drift.
pub(crate) fn live_pool_attrs(p: &Value, prefix: &str) -> Attrs {
    let count = p["count"].as_u64().unwrap_or(0);
    let scaled = p["enableAutoScaling"].as_bool().unwrap_or(false);
    let (min, max) = if scaled {
        (
            p["minCount"].as_u64().unwrap_or(0),
            p["maxCount"].as_u64().unwrap_or(0),
        )
    } else {
        (count, count)
    };
    let mut labels: BTreeMap<String, String> = p["nodeLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    labels.remove(SPOT_LABEL.0);
    let taints: Vec<String> = crate::strings(&p["nodeTaints"])
        .into_iter()
        .filter(|t| t != SPOT_TAINT)
        .collect();
    let capacity = if p["scaleSetPriority"] == "Spot" {
        "spot"
    } else {
        "on-demand"
    };
    let mut a = Attrs::new();
    let mut put = |k: &str, v: Value| {
        a.insert(format!("{prefix}{k}"), v);
    };
    put("instance_type", p["vmSize"].clone());
    put("capacity", json!(capacity));
    put("min", json!(min));
    put("max", json!(max));
    put("desired", json!(count));
    put("labels", json!(labels));
    put("taints", json!(taints));
    put("disk_size_gib", p["osDiskSizeGB"].clone());
    put("os_sku", p["osSKU"].clone());
    put("gpu_driver", p["gpuProfile"]["driver"].clone());
    a
}
