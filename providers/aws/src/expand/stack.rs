//! What the MLOps stack needs from AWS: the cluster's identity provider, a role per service
//! account that calls AWS (the cluster-autoscaler's, MLflow's), the MLflow bucket, and the
//! labels, flags and annotations that tie the stack's objects to them.

use std::collections::BTreeMap;

use hoist_provider::{output_ref, Address, ArtifactStore, AutoscalerTarget, EnvSpec, StackTarget};
use serde_json::json;

use super::pools::{GPU_LABEL, POOL_LABEL};
use super::Graph;

/// What cluster-autoscaler's AWS provider calls (its README's full-feature policy).
const AUTOSCALER_ACTIONS: &[&str] = &[
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
];
/// What MLflow's artifact proxy does with its bucket, and nothing else.
const MLFLOW_ACTIONS: &[&str] = &[
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:PutObject",
];
/// The service accounts the kube crate's templates name (namespace:name).
const AUTOSCALER_SA: &str = "hoist-autoscaler:cluster-autoscaler";
const MLFLOW_SA: &str = "hoist-mlflow:mlflow";
/// The annotation EKS's pod identity webhook reads to give a pod a role.
const ROLE_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
/// EKS clusters come with this StorageClass (in-tree EBS, gp2) marked default.
const STORAGE_CLASS: &str = "gp2";

fn oidc() -> Address {
    Address::new("iam_oidc_provider", "cluster")
}
fn autoscaler_role() -> Address {
    Address::new("iam_role", "autoscaler")
}
fn mlflow_role() -> Address {
    Address::new("iam_role", "mlflow")
}
fn bucket() -> Address {
    Address::new("s3_bucket", "mlflow")
}

fn role_annotations(role: &Address) -> BTreeMap<String, serde_json::Value> {
    BTreeMap::from([(ROLE_ANNOTATION.to_string(), output_ref(role, "arn"))])
}

/// The cloud resources the stack's components need, after the cluster.
pub(super) fn add(g: &mut Graph, spec: &EnvSpec, cluster: &Address) {
    let env = &spec.name;
    let stack = &spec.stack;
    if stack.autoscaler.is_none() && stack.mlflow.is_none() {
        return;
    }
    g.add(
        &oidc(),
        json!({"cluster": cluster.to_string(), "audience": crate::irsa::AUDIENCE}),
        vec![cluster.clone()],
    );
    if stack.autoscaler.is_some() {
        g.add(
            &autoscaler_role(),
            json!({"name": format!("{env}-eks-autoscaler"), "oidc": oidc().to_string(), "service_account": AUTOSCALER_SA, "policies": [], "inline": {"actions": AUTOSCALER_ACTIONS}}),
            vec![oidc()],
        );
    }
    if stack.mlflow.is_some() {
        g.add(
            &bucket(),
            json!({"name_prefix": format!("{env}-mlflow"), "region": spec.region, "env": env}),
            vec![],
        );
        g.add(
            &mlflow_role(),
            json!({"name": format!("{env}-eks-mlflow"), "oidc": oidc().to_string(), "service_account": MLFLOW_SA, "policies": [], "inline": {"actions": MLFLOW_ACTIONS, "bucket": bucket().to_string()}}),
            vec![oidc(), bucket()],
        );
    }
}

/// The stack on EKS: the autoscaler discovers this cluster's node groups by the tags EKS
/// (and hoist) put on their Auto Scaling groups; MLflow writes to the bucket as its role.
pub(super) fn target(spec: &EnvSpec) -> StackTarget {
    let env = &spec.name;
    StackTarget {
        cluster: Address::new("eks_cluster", env.as_str()),
        cluster_name: env.clone(),
        accelerator_label: GPU_LABEL.into(),
        pool_label: POOL_LABEL.into(),
        autoscaler: Some(AutoscalerTarget {
            cloud_provider: "aws".into(),
            args: vec![format!(
                "--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{env}"
            )],
            service_account_annotations: role_annotations(&autoscaler_role()),
            env: BTreeMap::from([("AWS_REGION".to_string(), spec.region.clone())]),
        }),
        artifacts: Some(ArtifactStore {
            bucket: bucket(),
            uri_output: "uri".into(),
            service_account_annotations: role_annotations(&mlflow_role()),
            env: BTreeMap::from([("AWS_REGION".to_string(), spec.region.clone())]),
        }),
        storage_class: Some(STORAGE_CLASS.into()),
        // The EKS accelerated AMIs (AL2023 NVIDIA) carry the driver and container toolkit.
        gpu_driver_preinstalled: true,
        gpu_plugin_managed: false,
        gpu_driver_host_dir: None,
    }
}
