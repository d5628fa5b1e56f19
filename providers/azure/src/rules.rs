//! Which attributes of each Azure kind force a replacement and which change in place.

use hoist_provider::KindRules;

/// AKS clusters take 5–15 minutes to create and as long to delete; GPU pools as long.
const AKS_STEP_SECS: u64 = 45 * 60;
const STEP_SECS: u64 = 20 * 60;

pub(crate) fn of(kind: &str) -> KindRules {
    let timeout_secs = match kind {
        "aks_cluster" | "node_pool" => AKS_STEP_SECS,
        _ => STEP_SECS,
    };
    KindRules {
        timeout_secs,
        ..kind_rules(kind)
    }
}

fn kind_rules(kind: &str) -> KindRules {
    match kind {
        "resource_group" => KindRules {
            force_new: &["name", "location", "use_existing"],
            finish_by_update: true,
            ..Default::default()
        },
        "virtual_network" => KindRules {
            force_new: &["name", "resource_group", "location", "cidr"],
            ..Default::default()
        },
        "subnet" => KindRules {
            force_new: &["name", "virtual_network", "cidr"],
            ..Default::default()
        },
        // The version (an upgrade), tier, admin groups, autoscaler settings and the system
        // pool's size change in place; what AKS fixes at creation replaces the cluster.
        "aks_cluster" => KindRules {
            force_new: &[
                "name",
                "resource_group",
                "location",
                "dns_prefix",
                "subnet",
                "network_plugin",
                "network_plugin_mode",
                "network_dataplane",
                "pod_cidr",
                "service_cidr",
                "dns_service_ip",
                "outbound_type",
                "private_cluster",
                "system_name",
                "system_instance_type",
                "system_zones",
                "system_disk_size_gib",
                "system_os_sku",
            ],
            autoscaled: Some(("system_desired", "system_min", "system_max")),
            ..Default::default()
        },
        // What shapes a node is fixed at creation: a new pool is made before the old goes.
        // Sizes, autoscaling limits, labels and taints change in place.
        "node_pool" => KindRules {
            force_new: &[
                "name",
                "cluster",
                "subnet",
                "instance_type",
                "accelerator",
                "capacity",
                "zones",
                "disk_size_gib",
                "os_sku",
                "gpu_driver",
                "mode",
            ],
            create_before_destroy: true,
            autoscaled: Some(("desired", "min", "max")),
            ..Default::default()
        },
        // The container is made after the account.
        "storage_account" => KindRules {
            force_new: &["name_prefix", "resource_group", "location", "container"],
            finish_by_update: true,
            ..Default::default()
        },
        _ => KindRules::default(),
    }
}
