#![cfg(feature = "aws")]
//! The MLOps stack on EKS, against moto: the cluster's endpoint is the loopback Kubernetes
//! API in tests/common/kube_api.rs (TLS with a CA made here; it accepts only presigned STS
//! GetCallerIdentity tokens for the cluster). One apply makes the cloud side and the stack,
//! destroy removes the stack first, and nothing tagged is left.

mod common;
#[path = "common/kube_api.rs"]
mod kube_api;

use common::emulator::Emulator;
use kube_api::KubeApi;
use serde_json::Value;

const ENV: &str = "stk1";

fn blueprint() -> String {
    format!(
        "apiVersion: hoist/v1\nname: {ENV}\nprovider:\n  cloud: aws\n  region: us-east-1\nnetwork:\n  cidr: 10.60.0.0/16\n  zones: [us-east-1a, us-east-1b]\ncluster:\n  kubernetes_version: \"1.32\"\nnode_pools:\n  - name: gpu\n    accelerator: A10G:1\n    min: 0\n    desired: 0\n    max: 4\n    taints:\n      - nvidia.com/gpu=present:NoSchedule\n  - name: system\n    instance_type: m5.large\n    min: 1\n    max: 2\nstack:\n  gpu: {{ variant: device-plugin }}\n  autoscaler: {{}}\n  monitoring: {{ retention: 7d, storage_gib: 20 }}\n  mlflow: {{ storage_gib: 5 }}\n"
    )
}

#[test]
fn one_apply_makes_eks_and_the_stack_and_destroy_takes_the_stack_down_first() {
    let api = KubeApi::start("us-east-1", ENV);
    let em = Emulator::start_with(&[
        ("HOIST_FAKE_KUBE_URL", api.url.as_str()),
        ("HOIST_FAKE_KUBE_CA", api.ca_data.as_str()),
    ]);
    api.set_witness(&em.endpoint());
    let t = em.context();
    t.write("hoist.yaml", &blueprint());
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(api.problems(), Vec::<String>::new());
    assert_eq!(api.rejected(), 0, "hoist's tokens were all accepted");

    // The stack's objects, as the API server got them.
    let ca = api
        .object(
            "apps/v1",
            "Deployment",
            "hoist-autoscaler",
            "cluster-autoscaler",
        )
        .expect("the cluster-autoscaler Deployment");
    let flags = common::container_args(&ca);
    let discovery = format!("--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{ENV}");
    assert!(flags.contains(&discovery), "{flags:?}");
    assert!(
        flags.iter().any(|f| f == "--cloud-provider=aws"),
        "{flags:?}"
    );
    let sa = api
        .object(
            "v1",
            "ServiceAccount",
            "hoist-autoscaler",
            "cluster-autoscaler",
        )
        .expect("its service account");
    let role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        role.ends_with(&format!(":role/{ENV}-eks-autoscaler")),
        "{sa}"
    );
    let mlflow = api
        .object("apps/v1", "Deployment", "hoist-mlflow", "mlflow")
        .expect("the MLflow Deployment");
    let args = common::container_args(&mlflow);
    let at = args
        .iter()
        .position(|a| a == "--artifacts-destination")
        .expect("an artifact destination");
    let bucket_uri = args[at + 1].clone();
    assert!(
        bucket_uri.starts_with(&format!("s3://{ENV}-mlflow-")),
        "{args:?}"
    );
    let bucket = bucket_uri.trim_start_matches("s3://").to_string();
    for ds in ["nvidia-device-plugin", "dcgm-exporter"] {
        assert!(
            api.object("apps/v1", "DaemonSet", "hoist-gpu", ds)
                .is_some(),
            "{ds}"
        );
    }
    assert!(api
        .object("apps/v1", "Deployment", "hoist-monitoring", "prometheus")
        .is_some());

    // The cloud side, behind hoist's back.
    let tags = em.boto(&format!(
        "a = c('autoscaling')\nout = {{}}\nfor g in a.describe_auto_scaling_groups()['AutoScalingGroups']:\n    t = {{x['Key']: x['Value'] for x in g.get('Tags', [])}}\n    if t.get('eks:cluster-name') == '{ENV}': out[t.get('eks:nodegroup-name', '')] = t\nprint(json.dumps(out))"
    ));
    let groups: Value = serde_json::from_str(&tags).unwrap();
    let gpu = groups
        .as_object()
        .unwrap()
        .iter()
        .find(|(n, _)| n.starts_with("gpu-"))
        .map(|(_, t)| t.clone())
        .expect("the gpu node group's Auto Scaling group");
    let p = "k8s.io/cluster-autoscaler";
    assert_eq!(gpu[format!("{p}/enabled")], "true", "{gpu}");
    assert_eq!(gpu[format!("{p}/{ENV}")], "owned", "{gpu}");
    assert_eq!(
        gpu[format!("{p}/node-template/resources/nvidia.com/gpu")],
        "1",
        "{gpu}"
    );
    assert_eq!(
        gpu[format!("{p}/node-template/taint/nvidia.com/gpu")],
        "present:NoSchedule",
        "{gpu}"
    );
    assert_eq!(
        gpu[format!("{p}/node-template/label/hoist.dev/node-pool")],
        "gpu",
        "{gpu}"
    );
    assert!(
        gpu[format!("{p}/node-template/label/k8s.amazonaws.com/accelerator")].is_string(),
        "{gpu}"
    );
    let bucket_tags = em.boto(&format!(
        "s = c('s3')\nprint(json.dumps({{t['Key']: t['Value'] for t in s.get_bucket_tagging(Bucket='{bucket}')['TagSet']}}))\nassert s.get_public_access_block(Bucket='{bucket}')['PublicAccessBlockConfiguration']['BlockPublicPolicy']\nassert s.get_bucket_encryption(Bucket='{bucket}')['ServerSideEncryptionConfiguration']['Rules']"
    ));
    let bucket_tags: Value = serde_json::from_str(&bucket_tags).unwrap();
    assert_eq!(bucket_tags["hoist-env"], ENV, "{bucket_tags}");
    let policy = em.boto(&format!(
        "i = c('iam')\nprint(json.dumps(i.get_role_policy(RoleName='{ENV}-eks-mlflow', PolicyName='hoist')['PolicyDocument']))"
    ));
    assert!(
        policy.contains(&format!("arn:aws:s3:::{bucket}/*")),
        "{policy}"
    );
    assert!(
        !policy.contains("\"*\""),
        "MLflow's role reaches its bucket only: {policy}"
    );

    // An artifact in the bucket does not keep destroy from deleting it.
    em.boto(&format!(
        "c('s3').put_object(Bucket='{bucket}', Key='runs/1/model.bin', Body=b'weights')"
    ));
    em.reset_calls();
    t.expect(&["destroy", "--auto-approve"], 0);
    let deletes = api.with(|w| w.deletes_after_cluster.clone());
    assert!(!deletes.is_empty(), "the stack's objects were deleted");
    assert!(
        deletes.iter().all(|after| !after),
        "every stack object went before eks:DeleteCluster: {deletes:?}"
    );
    assert_eq!(api.count_objects(), 0, "nothing left in the cluster");
    let left = em.boto(&format!(
        "s = c('s3')\ni = c('iam')\nb = [x['Name'] for x in s.list_buckets()['Buckets'] if x['Name'].startswith('{ENV}-')]\no = [p['Arn'] for p in i.list_open_id_connect_providers()['OpenIDConnectProviderList']]\nr = [x['RoleName'] for x in i.list_roles()['Roles'] if x['RoleName'].startswith('{ENV}-')]\nprint(json.dumps({{'buckets': b, 'oidc': o, 'roles': r}}))"
    ));
    let left: Value = serde_json::from_str(&left).unwrap();
    assert_eq!(
        left,
        serde_json::json!({"buckets": [], "oidc": [], "roles": []})
    );
    assert!(em.state(ENV)["clusters"]
        .as_object()
        .is_none_or(|c| c.is_empty()));
    assert_eq!(api.problems(), Vec::<String>::new());
}
