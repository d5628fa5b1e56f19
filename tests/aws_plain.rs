//! hoist against moto alone, without the test layer: the calls moto lacks (Service Quotas
//! answers `NoSuchResourceException`) must not stop a plan. A preflight that cannot run is a
//! warning saying what was skipped and why; the apply goes on and converges.

mod common;

use common::emulator::Emulator;

/// Fixed-size pools (no autoscaler tags: moto's node groups have no Auto Scaling groups)
/// and EKS's own add-ons (moto has no add-on API).
const BLUEPRINT: &str = "apiVersion: hoist/v1\nname: plain\nprovider:\n  cloud: aws\n  region: us-east-1\nnetwork:\n  cidr: 10.60.0.0/16\n  zones: [us-east-1a, us-east-1b]\ncluster:\n  kubernetes_version: \"1.32\"\n  addons: self-managed\nnode_pools:\n  - name: gpu\n    accelerator: L4:1\n    min: 1\n    max: 1\n  - name: system\n    instance_type: m5.large\n    min: 1\n    max: 1\n";

#[test]
fn an_apply_against_plain_moto_skips_the_quota_check_with_a_warning_and_converges() {
    let em = Emulator::start_plain();
    let t = em.context();
    t.write("hoist.yaml", BLUEPRINT);
    let applied = t.expect(&["apply", "--auto-approve", "--json"], 0);
    let all = applied.all();
    // Each AWS service has a limiter of its own.
    let report = serde_json::Deserializer::from_str(&applied.stdout)
        .into_iter::<serde_json::Value>()
        .filter_map(Result::ok)
        .find_map(|v| v.get("report").cloned())
        .expect("an apply report");
    let limiters: Vec<&str> = report["concurrency"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["provider"].as_str())
        .collect();
    for api in ["aws/ec2", "aws/eks", "aws/iam", "aws/logs"] {
        assert!(limiters.contains(&api), "{api} in {limiters:?}");
    }
    assert!(
        all.contains("warning: skipped the GPU vCPU quota check for g6.xlarge")
            && all.contains("GetServiceQuota"),
        "the plan says which check was skipped and why:\n{all}"
    );
    // An independent client sees the cluster and its node groups.
    let seen = em.boto(
        "print(c('eks').describe_cluster(name='plain')['cluster']['status'])\nprint(sorted(c('eks').list_nodegroups(clusterName='plain')['nodegroups']))",
    );
    assert!(
        seen.contains("ACTIVE") && seen.contains("gpu") && seen.contains("system"),
        "{seen}"
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
    // moto has no placement groups: the final check says it could not look at them.
    let destroyed = t.expect(&["destroy", "--auto-approve"], 0).all();
    assert!(
        destroyed.contains("warning: the final check could not look at EC2 placement_groups")
            && destroyed.contains("Verified: nothing tagged hoist-env=plain remains"),
        "{destroyed}"
    );
    let left = em.boto("print(len(c('eks').list_clusters()['clusters']), len(c('ec2').describe_vpcs(Filters=[{'Name': 'tag:hoist-env', 'Values': ['plain']}])['Vpcs']))");
    assert_eq!(left.trim(), "0 0", "nothing of the environment is left");
}
