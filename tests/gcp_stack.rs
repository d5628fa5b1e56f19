#![cfg(feature = "gcp")]
//! The MLOps stack on GKE, against the GCP fake: the cluster's endpoint is the loopback
//! Kubernetes API in tests/common/kube_api.rs (TLS with a CA made here), which accepts only
//! Google access tokens signed with the test's service account key. One apply makes the cloud
//! side and the stack; GKE's own GPU device plugin and node pool autoscaling stand in for
//! hoist's; MLflow's artifacts go to a GCS bucket its service account may use; destroy takes
//! the stack down before the cluster and leaves nothing labelled.

mod common;
#[path = "common/kube_api.rs"]
mod kube_api;

use common::gcp_fake::{public_key_der, GcpFake, CLIENT_EMAIL};
use kube_api::KubeApi;
use serde_json::{json, Value};

/// The example blueprint, applied as it is: its environment and project.
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/blueprints/examples/gcp-gke-tpu.yaml"
);
const ENV: &str = "gke-tpu";
const PROJECT: &str = "my-ml-project";

#[test]
fn the_example_makes_gke_and_the_stack_in_one_apply_and_destroy_takes_the_stack_down_first() {
    let fake = GcpFake::start();
    let t = fake.context();
    let api = KubeApi::start_gke(CLIENT_EMAIL, public_key_der(&t));
    fake.configure(json!({"polls": 1, "kube": {"endpoint": api.url.trim_start_matches("https://"), "ca": api.ca_data}}));
    api.set_witness_of(
        &fake.endpoint(),
        "/_fake/requests",
        "container.projects.locations.clusters.delete",
    );
    t.write("hoist.yaml", &std::fs::read_to_string(EXAMPLE).unwrap());
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(api.problems(), Vec::<String>::new());
    assert_eq!(api.rejected(), 0, "hoist's Google tokens were all accepted");

    // GKE runs NVIDIA's device plugin and scales its pools itself: hoist adds neither.
    let dcgm = api
        .object("apps/v1", "DaemonSet", "hoist-gpu", "dcgm-exporter")
        .expect("DCGM exporter");
    assert!(
        dcgm.to_string().contains("/home/kubernetes/bin/nvidia"),
        "the exporter mounts GKE's driver: {dcgm}"
    );
    assert!(api
        .object("apps/v1", "DaemonSet", "hoist-gpu", "nvidia-device-plugin")
        .is_none());
    assert!(api
        .object("node.k8s.io/v1", "RuntimeClass", "", "nvidia")
        .is_none());
    assert!(api
        .object(
            "apps/v1",
            "Deployment",
            "hoist-autoscaler",
            "cluster-autoscaler"
        )
        .is_none());
    assert!(api
        .object("apps/v1", "Deployment", "hoist-monitoring", "prometheus")
        .is_some());
    let mlflow = api
        .object("apps/v1", "Deployment", "hoist-mlflow", "mlflow")
        .expect("the MLflow Deployment");
    let args = common::container_args(&mlflow);
    let at = args
        .iter()
        .position(|a| a == "--artifacts-destination")
        .expect("an artifact destination");
    let bucket = args[at + 1]
        .strip_prefix("gs://")
        .unwrap_or_else(|| panic!("a GCS bucket: {args:?}"))
        .to_string();
    assert!(bucket.starts_with(&format!("{ENV}-mlflow-")), "{bucket}");

    // The bucket, as gcloud and the fake see it: labelled, private, and MLflow's Kubernetes
    // service account may use its objects.
    let b = fake.gcloud(
        &t,
        &["storage", "buckets", "describe", &format!("gs://{bucket}")],
    );
    assert_eq!(b["labels"]["hoist-env"], ENV, "{b}");
    let set = fake
        .requests()
        .into_iter()
        .find(|r| r["call"] == "storage.buckets.setIamPolicy")
        .expect("an IAM binding");
    let member = "principal://iam.googleapis.com/projects/";
    let binding = set["body"]["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["role"] == "roles/storage.objectUser")
        .cloned()
        .expect("objectUser bound");
    let who = binding["members"][0].as_str().unwrap();
    assert!(
        who.starts_with(member)
            && who.ends_with(&format!(
                "/workloadIdentityPools/{PROJECT}.svc.id.goog/subject/ns/hoist-mlflow/sa/mlflow"
            )),
        "{who}"
    );
    let cluster = fake.gcloud(
        &t,
        &[
            "container",
            "clusters",
            "describe",
            ENV,
            "--project",
            PROJECT,
            "--region",
            "us-central1",
        ],
    );
    assert_eq!(
        cluster["workloadIdentityConfig"]["workloadPool"],
        format!("{PROJECT}.svc.id.goog")
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);

    // An artifact in the bucket does not keep destroy from deleting it.
    let upload = std::process::Command::new("curl")
        .args([
            "-s",
            "-X",
            "POST",
            "--data-binary",
            "weights",
            "-H",
            "Content-Type: application/octet-stream",
        ])
        .arg(format!(
            "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name=runs/1/model.bin",
            fake.endpoint()
        ))
        .output()
        .expect("curl");
    assert!(upload.status.success());
    t.expect(&["destroy", "--auto-approve"], 0);
    let deletes = api.with(|w| w.deletes_after_cluster.clone());
    assert!(!deletes.is_empty(), "the stack's objects were deleted");
    assert!(
        deletes.iter().all(|after| !after),
        "every stack object went before the cluster: {deletes:?}"
    );
    assert_eq!(api.count_objects(), 0, "nothing left in the cluster");
    assert_eq!(
        fake.labelled(ENV),
        Vec::<Value>::new(),
        "nothing labelled is left"
    );
    assert_eq!(api.problems(), Vec::<String>::new());
}
