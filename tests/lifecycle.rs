//! The core loop through the real binary: init → plan → apply → drift → apply → destroy.

mod common;

use common::{blueprint, TestContext};
use serde_json::Value;

#[test]
fn init_plan_apply_drift_restore_destroy() {
    let t = TestContext::new();
    t.expect(
        &[
            "init",
            "--non-interactive",
            "--name",
            "loop",
            "--accelerator",
            "A100:8",
            "--nodes",
            "2",
        ],
        0,
    );
    t.expect(&["validate"], 0);
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("+ node_pool.gpu"), "{}", plan.stdout);
    // The wizard's default stack is the GPU component: the device plugin with its DCGM exporter.
    assert!(
        plan.stdout
            .contains("+ manifest.gpu.daemonset.nvidia-device-plugin"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 10 to add, 0 to change, 0 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    t.expect(&["plan", "--detailed-exitcode"], 0);

    // Somebody scales the fixed-size pool behind hoist's back.
    t.expect(&["sim", "scale", "loop/node_pool.gpu", "5"], 0);
    let drift = t.expect(&["drift", "--exit-code"], 2);
    assert!(drift.stdout.contains("node_pool.gpu"), "{}", drift.stdout);
    assert!(
        drift.stdout.contains("desired: 2 (applied) → 5 (live)"),
        "{}",
        drift.stdout
    );
    let json = t.expect(&["drift", "--json"], 0);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["resources"][0]["fields"][0]["field"], "desired");

    let fix = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(fix.stdout.contains("~ desired: 5 → 2"), "{}", fix.stdout);
    t.expect(&["apply", "--auto-approve"], 0);
    t.expect(&["drift", "--exit-code"], 0);
    t.assert_converged("loop");

    let out = t.expect(&["output", "cluster.loop.endpoint"], 0);
    assert!(out.stdout.starts_with("https://cls-"), "{}", out.stdout);

    let destroy = t.expect(&["destroy", "--auto-approve"], 0);
    assert!(
        destroy
            .all()
            .contains("Verified: nothing tagged hoist-env=loop remains in sim."),
        "{}",
        destroy.all()
    );
    assert!(t.inventory("loop").is_empty());
    t.expect(&["plan", "--detailed-exitcode"], 2);
}

#[test]
fn accelerator_change_replaces_and_desired_change_updates() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("chg", "A100:8", 2, 2, 2));
    t.expect(&["apply", "--auto-approve"], 0);
    let old_id = t.state("chg")["resources"]["node_pool.gpu"]["cloud_id"]
        .as_str()
        .unwrap()
        .to_string();

    t.write("hoist.yaml", &blueprint("chg", "A100:8", 3, 3, 3));
    let plan = t.expect(&["plan", "--json"], 0);
    let v: Value = serde_json::from_str(&plan.stdout).unwrap();
    let change = v["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "node_pool.gpu")
        .unwrap()
        .clone();
    assert_eq!(change["action"], "update");
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        t.state("chg")["resources"]["node_pool.gpu"]["cloud_id"],
        old_id.as_str(),
        "an in-place update keeps the pool"
    );

    t.write("hoist.yaml", &blueprint("chg", "H100:8", 3, 3, 3));
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(plan.stdout.contains("+/- node_pool.gpu"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("~ accelerator: \"A100:8\" → \"H100:8\"  # forces replacement"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to add, 0 to change, 1 to replace, 0 to destroy."),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let new_id = t.state("chg")["resources"]["node_pool.gpu"]["cloud_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_id, old_id);
    assert!(
        !t.inventory("chg").contains_key(&old_id),
        "the old pool is deleted"
    );
    t.assert_converged("chg");
}

#[test]
fn autoscaled_desired_size_is_not_drift() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("auto", "L4:1", 1, 1, 6));
    t.expect(&["apply", "--auto-approve"], 0);
    t.expect(&["sim", "scale", "auto/node_pool.gpu", "4"], 0);
    t.expect(&["drift", "--exit-code"], 0);
    t.expect(&["plan", "--detailed-exitcode"], 0);
    // A real change still applies, and keeps the autoscaler's size.
    t.write("hoist.yaml", &blueprint("auto", "L4:1", 2, 2, 8));
    t.expect(&["apply", "--auto-approve"], 0);
    let pool = &t.state("auto")["resources"]["node_pool.gpu"]["attrs"];
    assert_eq!(pool["max"], 8);
    assert_eq!(pool["desired"], 4);
}

#[test]
fn saved_plan_applies_once_and_is_refused_when_state_moved() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("saved", "L4:1", 1, 1, 1));
    t.expect(&["plan", "--out", "first.hoist"], 0);
    let shown = t.expect(&["show", "first.hoist"], 0);
    assert!(shown.stdout.contains("Plan: 7 to add"), "{}", shown.stdout);
    t.expect(&["apply", "first.hoist"], 0);
    let again = t.expect(&["apply", "first.hoist"], 1);
    assert!(again.stderr.contains("stale"), "{}", again.stderr);
    t.write("hoist.yaml", &blueprint("saved", "L4:1", 2, 2, 2));
    t.expect(&["plan", "--out", "second.hoist"], 0);
    t.write("hoist.yaml", &blueprint("saved", "L4:1", 3, 3, 3));
    t.expect(&["apply", "--auto-approve"], 0);
    let stale = t.expect(&["apply", "second.hoist"], 1);
    assert!(stale.stderr.contains("serial"), "{}", stale.stderr);
    assert_eq!(
        t.state("saved")["resources"]["node_pool.gpu"]["attrs"]["desired"],
        3,
        "the stale plan changed nothing"
    );
}

#[test]
fn apply_without_terminal_needs_auto_approve() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("ask", "L4:1", 1, 1, 1));
    let r = t.expect(&["apply"], 1);
    assert!(r.stderr.contains("--auto-approve"), "{}", r.stderr);
    assert!(t.inventory("ask").is_empty());
}

#[test]
fn state_show_list_and_json_views() {
    let t = TestContext::new();
    t.write(
        "hoist.yaml",
        &blueprint("views", "L4:1", 1, 1, 1).replace("name: views\n", "name: views\nttl: 2h\n"),
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let list = t.expect(&["state", "list"], 0);
    assert!(
        list.stdout.lines().any(|l| l == "node_pool.gpu"),
        "{}",
        list.stdout
    );
    let show = t.expect(&["state", "show", "node_pool.gpu"], 0);
    let v: Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(v["attrs"]["accelerator"], "L4:1");
    let miss = t.expect(&["state", "show", "node_pool.gpx"], 1);
    assert!(
        miss.stderr.contains("did you mean `node_pool.gpu`"),
        "{}",
        miss.stderr
    );
    let state: Value = serde_json::from_str(&t.expect(&["show", "--json"], 0).stdout).unwrap();
    assert!(
        state["expires_at"].is_string(),
        "ttl is recorded as an expiry"
    );
    let tags = t.expect(&["sim", "list", "--env", "views", "--json"], 0);
    assert!(tags.stdout.contains("hoist-expires-at"), "{}", tags.stdout);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(t.state_path("views"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(t.exists(".hoist/views.state.json.backup"));
    let schema: Value = serde_json::from_str(&t.expect(&["schema"], 0).stdout).unwrap();
    assert!(schema["properties"]["node_pools"].is_object());
}

#[test]
fn examples_validate_and_plan() {
    let t = TestContext::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/examples");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let file = path.to_str().unwrap();
        let r = t
            .command(&[
                "validate",
                "-f",
                file,
                "--state-dir",
                t.path("state").to_str().unwrap(),
            ])
            .env("PR_NUMBER", "42")
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let pr = dir.join("pr-env.yaml");
    let r = t
        .command(&[
            "plan",
            "-f",
            pr.to_str().unwrap(),
            "--state-dir",
            t.path("state").to_str().unwrap(),
        ])
        .env("PR_NUMBER", "42")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(out.contains("environment \"pr-42\""), "{out}");
    let unset = t
        .command(&["plan", "-f", pr.to_str().unwrap()])
        .env_remove("PR_NUMBER")
        .output()
        .unwrap();
    assert_eq!(unset.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unset.stderr).contains("set the environment variable PR_NUMBER")
    );
}

#[test]
fn plan_output_snapshot() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("snap", "A100:8", 2, 2, 2));
    t.expect(&["apply", "--auto-approve"], 0);
    let changed = blueprint("snap", "H100:8", 2, 2, 2).replace("  - name: cpu\n    instance_type: sim-standard-4\n    min: 1\n    max: 1\n", "  - name: cpu\n    instance_type: sim-standard-4\n    min: 3\n    max: 3\n  - name: extra\n    accelerator: L4:1\n    labels:\n      team: eval\n");
    t.write("hoist.yaml", &changed);
    let r = t.expect(&["plan", "--detailed-exitcode"], 2);
    insta::assert_snapshot!("plan_replace_update_create", r.stdout);
}

#[test]
fn plan_markdown_comment_snapshot() {
    let t = TestContext::new();
    let budget = "budget:\n  max_hourly_usd: 400\n";
    t.write(
        "hoist.yaml",
        &format!("{}{budget}", blueprint("snap", "A100:8", 2, 2, 2)),
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let changed = blueprint("snap", "H100:8", 2, 2, 2).replace("  - name: cpu\n    instance_type: sim-standard-4\n    min: 1\n    max: 1\n", "  - name: cpu\n    instance_type: sim-standard-4\n    min: 3\n    max: 3\n  - name: extra\n    accelerator: L4:1\n    labels:\n      team: eval\n");
    t.write("hoist.yaml", &format!("{changed}{budget}"));
    t.expect(&["plan", "--out", "plan.hoist", "--markdown", "plan.md"], 0);
    let comment = std::fs::read_to_string(t.path("plan.md")).unwrap();
    assert!(
        comment.starts_with("<!-- hoist-plan: snap -->\n"),
        "{comment}"
    );
    // The saved plan renders the same comment, as a later CI step would.
    let shown = t
        .expect(&["show", "plan.hoist", "--markdown", "-"], 0)
        .stdout;
    assert_eq!(shown.trim_end(), comment.trim_end());
    insta::assert_snapshot!("plan_markdown_comment", comment);
}
