//! Bad input: every malformed blueprint and state file exits 1 with a located, readable
//! message, makes no cloud call, and changes nothing.

mod common;

use common::TestContext;

const BASE: &str = "apiVersion: hoist/v1
name: bad
provider:
  cloud: sim
  region: sim-east1
network:
  cidr: 10.0.0.0/16
  zones: 2
variables:
  gpu: A100:8
node_pools:
  - name: gpu
    accelerator: A100:8
    min: 1
    max: 2
";

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} is not in the base blueprint");
    BASE.replacen(from, to, 1)
}

fn plus(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// (case, blueprint text, expected `line:column`, expected words in the message)
fn cases() -> Vec<(&'static str, String, &'static str, &'static str)> {
    vec![
        (
            "unclosed flow list",
            with("zones: 2", "zones: [a, b"),
            "9:1",
            "invalid YAML",
        ),
        (
            "tab indentation",
            with("  zones: 2", "\tzones: 2"),
            "8:1",
            "a tab is used for indentation",
        ),
        (
            "duplicate key",
            with("name: bad\n", "name: bad\nname: again\n"),
            "3:1",
            "duplicate key `name`",
        ),
        (
            "unknown top-level key",
            with("node_pools:", "nodepools:"),
            "11:1",
            "did you mean `node_pools`?",
        ),
        (
            "unknown pool key",
            with("accelerator: A100:8", "acelerator: A100:8"),
            "13:5",
            "did you mean `accelerator`?",
        ),
        (
            "unknown provider key",
            with("  region: sim-east1", "  regoin: sim-east1"),
            "5:3",
            "did you mean `region`?",
        ),
        (
            "string for a number",
            with("min: 1", "min: two"),
            "14:10",
            "must be a whole number",
        ),
        (
            "quoted number",
            with("min: 1", "min: \"1\""),
            "14:10",
            "remove the quotes",
        ),
        (
            "mapping for a list",
            with(
                "  - name: gpu\n    accelerator: A100:8\n    min: 1\n    max: 2\n",
                "  name: gpu\n",
            ),
            "12:3",
            "must be a list",
        ),
        (
            "unknown cloud",
            with("cloud: sim", "cloud: aws2"),
            "4:10",
            "did you mean `aws`?",
        ),
        (
            "wrong apiVersion",
            with("hoist/v1", "hoist/v2"),
            "1:13",
            "unsupported apiVersion",
        ),
        (
            "name not DNS-safe",
            with("name: bad", "name: Bad_Name"),
            "2:7",
            "\"bad-name\"",
        ),
        (
            "missing provider",
            with("provider:\n  cloud: sim\n  region: sim-east1\n", ""),
            "1:1",
            "missing the required key `provider`",
        ),
        (
            "min above max",
            with("min: 1", "min: 3"),
            "14:10",
            "min (3) is greater than max (2)",
        ),
        (
            "desired outside range",
            with("max: 2", "max: 2\n    desired: 5"),
            "16:14",
            "desired (5) is outside min..max (1..2)",
        ),
        (
            "duplicate pool",
            plus("  - name: gpu\n    instance_type: m5.large\n"),
            "16:11",
            "duplicate node pool name \"gpu\"",
        ),
        (
            "accelerator without count",
            with("accelerator: A100:8", "accelerator: A100x8"),
            "13:18",
            "expected NAME:COUNT",
        ),
        (
            "zero accelerators",
            with("accelerator: A100:8", "accelerator: A100:0"),
            "13:18",
            "outside 1..=16",
        ),
        (
            "too many accelerators",
            with("accelerator: A100:8", "accelerator: \"A100:64\""),
            "13:18",
            "outside 1..=16",
        ),
        (
            "bad TPU slice",
            with("accelerator: A100:8", "accelerator: tpu-"),
            "13:18",
            "tpu-v5e-8",
        ),
        (
            "instance type and accelerator",
            with("min: 1", "instance_type: p4d.24xlarge\n    min: 1"),
            "14:5",
            "sets both",
        ),
        (
            "no machine at all",
            with("    accelerator: A100:8\n", ""),
            "12:11",
            "neither `accelerator` nor `instance_type`",
        ),
        (
            "bad CIDR syntax",
            with("10.0.0.0/16", "10.0.0/16"),
            "7:9",
            "not an IPv4 address",
        ),
        (
            "CIDR too small",
            with("10.0.0.0/16", "10.0.0.0/28"),
            "7:9",
            "outside the supported sizes",
        ),
        (
            "CIDR host bits",
            with("10.0.0.0/16", "10.0.0.1/16"),
            "7:9",
            "the network address is 10.0.0.0/16",
        ),
        (
            "too many zones",
            with("zones: 2", "zones: 9"),
            "8:10",
            "between 1 and 8",
        ),
        (
            "unknown region",
            with("region: sim-east1", "region: sim-east9"),
            "5:11",
            "did you mean `sim-east1`?",
        ),
        (
            "pool zone outside network",
            with("max: 2", "max: 2\n    zones: [sim-east1-c]"),
            "16:13",
            "which the network does not use",
        ),
        (
            "bad taint effect",
            with("max: 2", "max: 2\n    taints: [\"gpu=yes:NoSchedul\"]"),
            "16:14",
            "did you mean `NoSchedule`?",
        ),
        (
            "bad label key",
            with("max: 2", "max: 2\n    labels:\n      \"-bad\": x"),
            "17:7",
            "not a valid Kubernetes label key",
        ),
        (
            "disk too small",
            with("max: 2", "max: 2\n    disk_size_gib: 5"),
            "16:20",
            "disk_size_gib 5 is outside 20..=16384",
        ),
        (
            "cluster-admin in a namespace",
            plus("cluster:\n  access:\n    - principal: arn:aws:iam::111122223333:role/ml\n      role: cluster-admin\n      namespaces: [ml]\n"),
            "20:7",
            "`cluster-admin` is cluster-wide and takes no namespaces",
        ),
        (
            "unknown access role",
            plus("cluster:\n  access:\n    - principal: arn:aws:iam::111122223333:role/ml\n      role: owner\n"),
            "19:13",
            "cluster-admin",
        ),
        (
            "principal granted twice",
            plus("cluster:\n  access:\n    - { principal: \"arn:aws:iam::111122223333:role/ml\", role: view }\n    - { principal: \"arn:aws:iam::111122223333:role/ml\", role: edit }\n"),
            "19:20",
            "is listed twice",
        ),
        (
            "ttl without unit",
            plus("ttl: 8 hours\n"),
            "16:6",
            "invalid ttl",
        ),
        (
            "undefined variable",
            with("accelerator: A100:8", "accelerator: \"{{ var.gpuu }}\""),
            "13:18",
            "did you mean `var.gpu`?",
        ),
        (
            "undefined env variable",
            with("name: bad", "name: \"{{ env.HOIST_TEST_UNSET_VAR }}\""),
            "2:7",
            "set the environment variable HOIST_TEST_UNSET_VAR",
        ),
        (
            "unclosed interpolation",
            with("accelerator: A100:8", "accelerator: \"{{ var.gpu\""),
            "13:18",
            "cannot interpolate",
        ),
        (
            "reserved tag",
            plus("tags:\n  hoist-env: x\n"),
            "17:3",
            "reserved prefix `hoist-`",
        ),
        (
            "setting of another cloud",
            with(
                "  region: sim-east1",
                "  region: sim-east1\n  project: my-proj",
            ),
            "6:3",
            "applies only to cloud `gcp`",
        ),
        (
            "negative budget",
            plus("budget:\n  max_hourly_usd: -5\n"),
            "17:19",
            "must be positive",
        ),
        (
            "empty file",
            String::new(),
            "1:1",
            "a blueprint is a mapping",
        ),
        (
            "two documents",
            format!("{BASE}---\n{BASE}"),
            "1:1",
            "more than one YAML document",
        ),
        (
            "unknown stack variant",
            plus("stack:\n  gpu:\n    variant: nvidia\n"),
            "18:14",
            "one of: device-plugin, gpu-operator",
        ),
        (
            "count too large for its type",
            with("max: 2", "max: 5000000000"),
            "15:10",
            "is too large",
        ),
        (
            "empty tag key",
            plus("tags:\n  \"\": x\n"),
            "17:3",
            "is not a valid tag",
        ),
        (
            "unsupported kubernetes version",
            plus("cluster:\n  kubernetes_version: \"1.5\"\n"),
            "17:23",
            "unsupported kubernetes_version",
        ),
    ]
}

#[test]
fn malformed_blueprints_are_located_and_touch_nothing() {
    let t = TestContext::new();
    let mut transcript = String::new();
    let all = cases();
    assert!(all.len() >= 30);
    let mut mismatches = Vec::new();
    for (case, text, location, words) in all {
        t.write("hoist.yaml", &text);
        let r = t.hoist(&["plan"]);
        assert_eq!(r.code, 1, "{case}: exit code\n{}", r.stderr);
        if !r.stderr.contains(&format!("hoist.yaml:{location}")) || !r.stderr.contains(words) {
            mismatches.push(format!(
                "{case}: wanted hoist.yaml:{location} and {words:?} in\n{}",
                r.stderr
            ));
        }
        assert!(
            r.stderr.contains(" | "),
            "{case}: shows the offending line\n{}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{case}: {}", r.stderr);
        assert!(!t.sim_dir().exists(), "{case}: the cloud was opened");
        assert!(!t.exists(".hoist"), "{case}: state was touched");
        transcript.push_str(&format!("### {case}\n{}\n", r.stderr));
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    insta::assert_snapshot!("malformed_blueprints", transcript);
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let t = TestContext::new();
    let text = with("min: 1", "min: 3")
        .replace("cidr: 10.0.0.0/16", "cidr: 10.0.0.1/16")
        .replace("name: bad", "name: Bad");
    t.write("hoist.yaml", &text);
    let r = t.expect(&["validate"], 1);
    assert!(
        r.stderr.contains("hoist.yaml has 3 problems"),
        "{}",
        r.stderr
    );
    for loc in ["2:7", "7:9", "14:10"] {
        assert!(
            r.stderr.contains(&format!("hoist.yaml:{loc}")),
            "{loc}: {}",
            r.stderr
        );
    }
}

#[test]
fn valid_examples_validate() {
    let t = TestContext::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/blueprints/examples/quickstart.yaml"
    );
    let r = t.expect(&["validate", "-f", example], 0);
    assert!(r.stdout.contains("is valid"), "{}", r.stdout);
    t.write("hoist.yaml", BASE);
    t.expect(&["validate"], 0);
    let missing = t.expect(&["plan", "-f", "nope.yaml"], 1);
    assert!(
        missing.stderr.contains("cannot read blueprint nope.yaml"),
        "{}",
        missing.stderr
    );
}

/// Bad state files: each refused with a located message, left byte-for-byte as it was.
#[test]
fn bad_state_files_are_refused_and_kept() {
    let t = TestContext::new();
    t.write("hoist.yaml", BASE);
    let bad: [(&str, &str, &str); 6] = [
        (
            "truncated JSON",
            "{\n  \"version\": 1,\n  \"lineage\": \"x\"",
            "bad.state.json:3:",
        ),
        ("not JSON", "hello\n", "bad.state.json:1:1 is corrupt"),
        (
            "newer version",
            r#"{"version": 7, "lineage": "x"}"#,
            "format version 7, newer than this hoist understands",
        ),
        (
            "wrong field type",
            r#"{"version": 1, "lineage": "x", "serial": "one", "environment": "bad", "provider": "sim", "region": "sim-east1", "created_at": "2026-01-01T00:00:00Z"}"#,
            "invalid type: string \"one\"",
        ),
        (
            "another environment",
            r#"{"version": 1, "lineage": "x", "serial": 1, "environment": "other", "provider": "sim", "region": "sim-east1", "created_at": "2026-01-01T00:00:00Z"}"#,
            "belongs to environment \"other\"",
        ),
        (
            "address mismatch",
            r#"{"version": 1, "lineage": "x", "serial": 1, "environment": "bad", "provider": "sim", "region": "sim-east1", "created_at": "2026-01-01T00:00:00Z", "resources": {"network.a": {"address": "network.b", "provider": "sim", "cloud_id": "n", "attrs": {}}}}"#,
            "has address `network.b`",
        ),
    ];
    std::fs::create_dir_all(t.path(".hoist")).unwrap();
    for (case, text, words) in bad {
        t.write(".hoist/bad.state.json", text);
        for args in [
            &["plan"][..],
            &["apply", "--auto-approve"],
            &["destroy", "--auto-approve"],
            &["show"],
        ] {
            let r = t.hoist(args);
            assert_eq!(r.code, 1, "{case} {args:?}: {}", r.stderr);
            assert!(
                r.stderr.contains(words),
                "{case} {args:?}: wanted {words:?} in\n{}",
                r.stderr
            );
        }
        assert_eq!(
            std::fs::read_to_string(t.state_path("bad")).unwrap(),
            text,
            "{case}: the file was changed"
        );
        assert!(
            t.inventory("bad").is_empty(),
            "{case}: the cloud was changed"
        );
        // The lock file stays (it is never removed); no holder record may.
        assert!(
            !t.exists(".hoist/bad.lock.json"),
            "{case}: the lock was left behind"
        );
    }
}
