#![cfg(feature = "aws")]
//! The AWS provider's safety against moto and the loopback layer: it never adopts or deletes
//! what it did not create, finishes what a retried or killed create left half-done, rides out
//! the errors EKS and IAM are known for, and follows every page of every list.

mod common;

use common::emulator::{eks_blueprint, Emulator};
use serde_json::Value;

fn blueprint(env: &str) -> String {
    eks_blueprint(env, "accelerator: L4:1", 1, 1, "")
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not a list: {v}"))
}

/// A cluster made behind hoist's back, in a VPC of its own, with no hoist tags.
fn foreign_cluster(em: &Emulator, name: &str) {
    em.boto(&format!(
        r#"
iam, ec2, eks = c('iam'), c('ec2'), c('eks')
trust = json.dumps({{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"Service": "eks.amazonaws.com"}}, "Action": "sts:AssumeRole"}}]}})
role = iam.create_role(RoleName='{name}-theirs', AssumeRolePolicyDocument=trust)['Role']['Arn']
vpc = ec2.create_vpc(CidrBlock='10.9.0.0/16')['Vpc']['VpcId']
a = ec2.create_subnet(VpcId=vpc, CidrBlock='10.9.0.0/24', AvailabilityZone='us-east-1a')['Subnet']['SubnetId']
b = ec2.create_subnet(VpcId=vpc, CidrBlock='10.9.1.0/24', AvailabilityZone='us-east-1b')['Subnet']['SubnetId']
eks.create_cluster(name='{name}', roleArn=role, resourcesVpcConfig={{'subnetIds': [a, b]}}, tags={{'team': 'search'}})
"#
    ));
}

fn cluster_exists(em: &Emulator, name: &str) -> bool {
    em.boto(&format!(
        "print('{name}' in c('eks').list_clusters()['clusters'])"
    ))
    .trim()
        == "True"
}

#[test]
fn a_same_named_cluster_or_role_that_is_not_ours_stops_the_plan_and_is_never_touched() {
    let em = Emulator::start();
    let t = em.context();
    foreign_cluster(&em, "eks8");
    em.reset_calls();
    t.write("hoist.yaml", &blueprint("eks8"));
    for command in [&["plan"][..], &["apply", "--auto-approve"]] {
        let r = t.expect(command, 1);
        assert!(
            r.stderr.contains("EKS cluster eks8 already exists and was not created by this environment: it has no hoist ownership tags"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains("hoist never adopts, changes or deletes what it did not create"),
            "{}",
            r.stderr
        );
    }
    t.expect(&["destroy", "--auto-approve"], 0);
    let calls = em.calls();
    assert!(
        calls
            .iter()
            .all(|c| !c.contains(":Create") && !c.contains(":Delete") && !c.contains(":Update")),
        "nothing was made or changed: {calls:?}"
    );
    assert!(cluster_exists(&em, "eks8"));

    // A role with a name hoist needs, made by someone else.
    em.boto("c('iam').create_role(RoleName='eks9-eks-node', AssumeRolePolicyDocument='{}')");
    t.write("hoist.yaml", &blueprint("eks9"));
    let r = t.expect(&["plan"], 1);
    assert!(
        r.stderr.contains(
            "IAM role eks9-eks-node already exists and was not created by this environment"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn another_state_with_the_same_environment_name_cannot_adopt_or_destroy_it() {
    let em = Emulator::start();
    let (team_a, team_b) = (em.context(), em.context());
    team_a.write("hoist.yaml", &blueprint("eks10"));
    team_b.write("hoist.yaml", &blueprint("eks10"));
    team_a.expect(&["apply", "--auto-approve"], 0);
    em.reset_calls();
    let r = team_b.expect(&["apply", "--auto-approve"], 1);
    assert!(
        r.stderr
            .contains("is tagged for environment eks10 of another state (lineage"),
        "{}",
        r.stderr
    );
    let r = team_b.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        r.all().contains("belong to another state of that name")
            && r.all().contains("were not touched"),
        "{}",
        r.all()
    );
    assert!(
        em.calls()
            .iter()
            .all(|c| !c.contains(":Create") && !c.contains(":Delete")),
        "team B made or deleted nothing: {:?}",
        em.calls()
    );
    assert!(cluster_exists(&em, "eks10"));
    team_a.expect(&["plan", "--detailed-exitcode"], 0);
}

/// Every subnet of `env` associated with a table that has a default route, and DNS hostnames on.
fn assert_wired(em: &Emulator, env: &str) {
    let s = em.state(env);
    let vpc = s["vpcs"][0].as_str().expect("a vpc");
    assert_eq!(s["vpc_attributes"][vpc]["dns_hostnames"], true, "{s}");
    let subnets = list(&s["subnets"]);
    assert_eq!(subnets.len(), 6);
    for sn in subnets {
        assert!(sn["route_table"].is_string(), "associated: {sn}");
        assert!(sn["default_route"].is_string(), "routed: {sn}");
    }
    for sn in subnets.iter().filter(|s| s["public"] == true) {
        assert!(
            sn["default_route"].as_str().unwrap().starts_with("igw-"),
            "{sn}"
        );
    }
}

#[test]
fn a_throttled_follow_up_is_finished_by_the_retry() {
    let em = Emulator::start();
    let t = em.context();
    em.configure(
        r#"{"throttle_ops": {"ec2:AssociateRouteTable": 1, "ec2:ModifyVpcAttribute": 1}}"#,
    );
    t.write("hoist.yaml", &blueprint("eks11"));
    let r = t.expect(&["apply", "--auto-approve"], 0);
    assert!(r.stdout.contains("retry 1"), "{}", r.stdout);
    assert_wired(&em, "eks11");
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_kill_between_a_create_and_its_follow_ups_is_finished_by_the_next_apply() {
    let em = Emulator::start();
    for (i, op) in [
        "ec2:ModifyVpcAttribute",
        "ec2:AttachInternetGateway",
        "ec2:CreateRoute",
        "ec2:AssociateRouteTable",
    ]
    .iter()
    .enumerate()
    {
        let env = format!("eks12{}", (b'a' + i as u8) as char);
        let t = em.context();
        t.write("hoist.yaml", &blueprint(&env));
        em.configure(&format!(r#"{{"hang_ops": {{"{op}": 1}}}}"#));
        let mut run = t.spawn(&["apply", "--auto-approve"], &[]);
        em.wait_hanging(op);
        // kill -9 while the follow-up is in flight; it never reaches AWS.
        run.kill().unwrap();
        run.wait().unwrap();
        em.drop_held();
        let r = t.expect(&["apply", "--auto-approve"], 0);
        // Either the read shows what is missing, or the adoption says the setup is rerun.
        assert!(
            r.stdout.contains("finishing its setup") || r.stdout.contains("can change in place"),
            "{op}: the adopted resource is finished by an update\n{}",
            r.stdout
        );
        assert_wired(&em, &env);
        t.expect(&["plan", "--detailed-exitcode"], 0);
    }
}

#[test]
fn unpropagated_roles_and_transient_eks_and_iam_errors_are_retried() {
    let em = Emulator::start();
    let t = em.context();
    em.configure(
        r#"{"role_not_propagated": 2,
            "fail_ops": {"eks:CreateNodegroup": {"count": 1, "status": 500, "code": "ServerException", "message": "internal"},
                         "iam:AttachRolePolicy": {"count": 1, "status": 409, "code": "ConcurrentModification", "message": "busy"}}}"#,
    );
    t.write("hoist.yaml", &blueprint("eks13"));
    let r = t.expect(&["apply", "--auto-approve"], 0);
    for seen in [
        "could not be assumed",
        "ServerException",
        "ConcurrentModification",
    ] {
        assert!(
            r.stdout.contains(seen),
            "retried after {seen}:\n{}",
            r.stdout
        );
    }
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn lists_follow_every_page_and_a_failed_list_is_never_taken_for_empty() {
    let em = Emulator::start();
    let (t, other) = (em.context(), em.context());
    t.write("hoist.yaml", &blueprint("eks14"));
    other.write("hoist.yaml", &blueprint("eks15"));
    t.expect(&["apply", "--auto-approve"], 0);
    other.expect(&["apply", "--auto-approve"], 0);
    em.configure(
        r#"{"page_size": 1, "fail_ops": {"eks:DeleteAddon": {"count": 1000, "status": 400, "code": "InvalidRequestException", "message": "add-on is protected"}}}"#,
    );
    em.reset_calls();
    let r = t.expect(&["destroy", "--auto-approve"], 1);
    assert!(
        em.count("eks:ListClusters") >= 2,
        "two clusters, one per page: {:?}",
        em.calls()
    );
    for addon in ["coredns", "eks-pod-identity-agent", "kube-proxy", "vpc-cni"] {
        assert!(
            r.stdout.contains(&format!("eks_addon eks14/{addon}"))
                || r.stderr.contains(&format!("eks_addon eks14/{addon}")),
            "every add-on left is listed, across pages ({addon}):\n{}",
            r.all()
        );
    }
    // Still failing deletes keep the cluster, so the check after destroy lists its add-ons.
    em.configure(
        r#"{"fail_ops": {"eks:DeleteAddon": {"count": 1000, "status": 400, "code": "InvalidRequestException", "message": "add-on is protected"},
                         "eks:ListAddons": {"count": 1000, "status": 403, "code": "AccessDeniedException", "message": "not allowed"}}}"#,
    );
    let r = t.expect(&["destroy", "--auto-approve"], 1);
    assert!(
        r.all()
            .contains("warning: the final check could not look at EKS clusters, node groups and add-ons (ListAddons: AccessDeniedException"),
        "a list that fails is named, never taken for empty:\n{}",
        r.all()
    );
    assert!(!r.all().contains("Verified"), "{}", r.all());
    em.configure(
        r#"{"fail_ops": {"eks:DeleteAddon": {"count": 0}, "eks:ListAddons": {"count": 0}}}"#,
    );
    let r = t.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        r.all()
            .contains("Verified: nothing tagged hoist-env=eks14 remains in aws."),
        "{}",
        r.all()
    );
    assert!(cluster_exists(&em, "eks15"));
}

#[test]
fn missing_credentials_are_one_clear_error_before_any_call() {
    let t = common::TestContext::new();
    t.write("hoist.yaml", &blueprint("eks16"));
    let out = t
        .command(&["plan"])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no AWS credentials") && stderr.contains("hint: set AWS_PROFILE"),
        "{stderr}"
    );
    assert!(
        stderr.lines().count() < 12,
        "one short error, not a retry per call:\n{stderr}"
    );
    assert!(!t.exists(".hoist"), "no state was touched");
}

#[test]
fn a_capacity_error_that_names_none_of_the_pools_zones_ends_the_step() {
    let em = Emulator::start();
    let t = em.context();
    // Every zone is out of the type, and the error names instances, not the pool's subnets.
    em.configure(
        r#"{"stockout": {"us-east-1a": ["g6.xlarge"], "us-east-1b": ["g6.xlarge"], "us-east-1c": ["g6.xlarge"]}, "stockout_ids": "instances"}"#,
    );
    t.write("hoist.yaml", &blueprint("eks17"));
    let started = std::time::Instant::now();
    let r = t.expect(&["apply", "--auto-approve"], 1);
    assert!(
        r.all().contains("named none of the pool's zones"),
        "{}",
        r.all()
    );
    assert_eq!(
        em.count("eks:CreateNodegroup"),
        2,
        "one try per pool, no loop: {:?}",
        em.calls()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn a_dependency_that_never_goes_away_fails_at_the_deadline_naming_it() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks18"));
    t.expect(&["apply", "--auto-approve"], 0);
    let s = em.state("eks18");
    let private = s["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["public"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Someone else's interface in hoist's subnet, untagged: not hoist's to delete.
    let eni = em.boto(&format!(
        "print(c('ec2').create_network_interface(SubnetId='{private}')['NetworkInterface']['NetworkInterfaceId'])"
    ));
    // The first Ctrl-C ends the wait on the dependency at once.
    let run = t.spawn(&["destroy", "--auto-approve"], &[]);
    let waiting = std::time::Instant::now();
    while em.count("ec2:DeleteSubnet") < 2 {
        assert!(
            waiting.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            em.calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    unsafe {
        libc::kill(run.id() as libc::pid_t, libc::SIGINT);
    }
    let asked = std::time::Instant::now();
    let out = run.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(10),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    let started = std::time::Instant::now();
    let r = t.expect(&["destroy", "--auto-approve", "--timeout", "5s"], 1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "bounded"
    );
    assert!(
        r.all().contains("DependencyViolation") && r.all().contains("gave up after"),
        "{}",
        r.all()
    );
    em.boto(&format!(
        "c('ec2').delete_network_interface(NetworkInterfaceId='{}')",
        eni.trim()
    ));
    t.expect(&["destroy", "--auto-approve"], 0);
}

#[test]
fn a_second_ctrl_c_exits_at_once_even_during_a_call_that_hangs() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks19"));
    em.configure(r#"{"hang_ops": {"ec2:CreateVpc": 1}}"#);
    let run = t.spawn(&["apply", "--auto-approve"], &[]);
    em.wait_hanging("ec2:CreateVpc");
    let interrupt = || unsafe {
        libc::kill(run.id() as libc::pid_t, libc::SIGINT);
    };
    interrupt();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // The first Ctrl-C lets the call in flight finish: the run is still there.
    interrupt();
    let asked = std::time::Instant::now();
    let out = run.wait_with_output().unwrap();
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(3),
        "exited at once"
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    em.drop_held();
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        em.state("eks19")["vpcs"].as_array().unwrap().len(),
        1,
        "no second VPC"
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_reconcile_that_lacks_a_permission_is_a_warning_not_a_failure() {
    let em = Emulator::start();
    let t = em.context();
    t.write("hoist.yaml", &blueprint("eks20"));
    t.expect(&["apply", "--auto-approve"], 0);
    em.configure(r#"{"fail_ops": {"iam:ListRoles": {"count": 1000, "status": 403, "code": "AccessDenied", "message": "not allowed to list roles"}}}"#);
    let r = t.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(
        r.all()
            .contains("warning: state was reconciled with the cloud without IAM roles")
            && r.all().contains("AccessDenied"),
        "{}",
        r.all()
    );
}
