//! Which attributes of each AWS kind force a replacement, which change in place, and which
//! creates need an update to finish after a crash (they make more than one call).

use hoist_provider::KindRules;

/// EKS clusters and GPU node groups take 10–20 minutes to create or delete.
const EKS_STEP_SECS: u64 = 45 * 60;
/// Everything else, NAT gateways and endpoints included, takes minutes at most.
const STEP_SECS: u64 = 20 * 60;

pub(crate) fn of(kind: &str) -> KindRules {
    let timeout_secs = match kind {
        "eks_cluster" | "node_pool" => EKS_STEP_SECS,
        _ => STEP_SECS,
    };
    KindRules {
        timeout_secs,
        ..kind_rules(kind)
    }
}

fn kind_rules(kind: &str) -> KindRules {
    let finish = KindRules {
        finish_by_update: true,
        ..Default::default()
    };
    match kind {
        // ModifyVpcAttribute after CreateVpc.
        "vpc" => KindRules {
            force_new: &["cidr", "region"],
            ..finish
        },
        // ModifySubnetAttribute and role tags after CreateSubnet.
        "subnet" => KindRules {
            force_new: &["cidr", "zone", "vpc"],
            ..finish
        },
        // AttachInternetGateway after CreateInternetGateway.
        "internet_gateway" => KindRules {
            force_new: &["vpc"],
            ..finish
        },
        "nat_gateway" | "elastic_ip" => KindRules {
            force_new: &["subnet", "zone", "allocation"],
            ..Default::default()
        },
        // CreateRoute and AssociateRouteTable after CreateRouteTable; both change in place.
        "route_table" => KindRules {
            force_new: &["vpc"],
            ..finish
        },
        // Rules are authorized after CreateSecurityGroup.
        "security_group" => KindRules {
            force_new: &["name", "vpc", "description"],
            ..finish
        },
        "vpc_endpoint" => KindRules {
            force_new: &[
                "service",
                "type",
                "vpc",
                "subnets",
                "security_group",
                "private_dns",
            ],
            ..finish
        },
        // Policies are attached after CreateRole.
        "iam_role" => KindRules {
            force_new: &["name", "service", "oidc", "service_account"],
            ..finish
        },
        // The retention policy is put after CreateLogGroup.
        "log_group" => KindRules {
            force_new: &["name"],
            ..finish
        },
        // Tags, public access block and encryption are put after CreateBucket.
        "s3_bucket" => KindRules {
            force_new: &["name_prefix", "region"],
            ..finish
        },
        "iam_oidc_provider" => KindRules {
            force_new: &["cluster", "audience"],
            ..Default::default()
        },
        "eks_cluster" => KindRules {
            force_new: &["name", "role", "security_group", "self_managed_addons"],
            ..Default::default()
        },
        "eks_addon" => KindRules {
            force_new: &["name", "cluster"],
            ..Default::default()
        },
        // The access policy is associated after CreateAccessEntry.
        "eks_access_entry" => KindRules {
            force_new: &["principal", "cluster"],
            ..finish
        },
        // Launch templates and placement groups are immutable; a node group's template
        // changes with it, as both carry the fields that shape a node.
        "launch_template" | "placement_group" => KindRules {
            force_new: &[
                "name_prefix",
                "disk_size_gib",
                "volume_type",
                "imds",
                "efa_interfaces",
                "placement_group",
                "security_groups",
                "strategy",
            ],
            create_before_destroy: true,
            ..Default::default()
        },
        // The Auto Scaling group's node-template tags are put once the group is active.
        "node_pool" => KindRules {
            force_new: &[
                "name",
                "instance_type",
                "instance_types",
                "accelerator",
                "ami_type",
                "capacity",
                "zones",
                "single_zone",
                "cluster",
                "role",
                "disk_size_gib",
                "launch_template",
            ],
            create_before_destroy: true,
            autoscaled: Some(("desired", "min", "max")),
            finish_by_update: true,
            ..Default::default()
        },
        _ => KindRules::default(),
    }
}
