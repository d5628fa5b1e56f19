//! Which attributes of each simulated kind force a replacement, and how long a step may take.

use hoist_provider::KindRules;

/// Ten minutes is several times the slowest simulated operation (a realistic cluster).
const STEP_TIMEOUT_SECS: u64 = 600;

pub(crate) fn of(kind: &str) -> KindRules {
    KindRules {
        timeout_secs: STEP_TIMEOUT_SECS,
        ..kind_rules(kind)
    }
}

fn kind_rules(kind: &str) -> KindRules {
    match kind {
        "network" => KindRules {
            force_new: &["cidr", "region"],
            ..Default::default()
        },
        "subnet" => KindRules {
            force_new: &["cidr", "zone"],
            ..Default::default()
        },
        "cluster" => KindRules {
            force_new: &["name", "region"],
            ..Default::default()
        },
        "node_pool" => KindRules {
            force_new: &["name", "accelerator", "instance_type", "capacity", "zones"],
            create_before_destroy: true,
            autoscaled: Some(("desired", "min", "max")),
            ..Default::default()
        },
        _ => KindRules::default(),
    }
}
