//! Which attributes of each GCP kind force a replacement and which change in place.

use hoist_provider::KindRules;

/// GKE clusters take 5–15 minutes to create and as long to delete; TPU slices longer.
const GKE_STEP_SECS: u64 = 45 * 60;
const STEP_SECS: u64 = 20 * 60;

pub(crate) fn of(kind: &str) -> KindRules {
    let timeout_secs = match kind {
        "gke_cluster" | "node_pool" => GKE_STEP_SECS,
        _ => STEP_SECS,
    };
    KindRules {
        timeout_secs,
        ..kind_rules(kind)
    }
}

fn kind_rules(kind: &str) -> KindRules {
    match kind {
        "gcp_network" => KindRules {
            force_new: &["name", "routing_mode", "mtu"],
            ..Default::default()
        },
        "gcp_subnetwork" => KindRules {
            force_new: &[
                "name",
                "region",
                "network",
                "cidr",
                "pods_cidr",
                "services_cidr",
            ],
            ..Default::default()
        },
        "gcp_router" => KindRules {
            force_new: &["name", "region", "network", "nat"],
            ..Default::default()
        },
        // The default node pool GKE insists on at creation is removed after it.
        "gke_cluster" => KindRules {
            force_new: &[
                "name",
                "location",
                "network",
                "subnetwork",
                "pods_range",
                "services_range",
                "private_nodes",
                "master_cidr",
                // GKE can change these in place; hoist does not yet, so the plan says it
                // replaces rather than recording a change it did not make.
                "public_endpoint",
                "release_channel",
                "node_locations",
                "workload_identity",
            ],
            finish_by_update: true,
            ..Default::default()
        },
        // What shapes a node is fixed at creation: a new pool is made before the old goes.
        // Sizes and autoscaling limits change in place; the size of an autoscaled pool is
        // the autoscaler's.
        "node_pool" => KindRules {
            force_new: &[
                "name",
                "cluster",
                "instance_type",
                "machine_type",
                "accelerator",
                "gpu_type",
                "gpu_count",
                "gpu_driver",
                "tpu_topology",
                "tpu_hosts",
                "capacity",
                "zones",
                "disk_size_gib",
                "disk_type",
                "image_type",
                "labels",
                "taints",
            ],
            create_before_destroy: true,
            autoscaled: Some(("desired", "min", "max")),
            ..Default::default()
        },
        // Labels and the IAM binding are set after the bucket is made.
        "gcs_bucket" => KindRules {
            force_new: &["name_prefix", "location"],
            finish_by_update: true,
            ..Default::default()
        },
        _ => KindRules::default(),
    }
}
