//! The catalog, accelerator resolution, cost in plans, and the budget gate, through the binary.

mod common;

use common::TestContext;
use serde_json::Value;

fn json(r: &common::Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn catalog_lists_a100_offerings_per_cloud() {
    let t = TestContext::new();
    let aws = json(&t.expect(
        &[
            "catalog",
            "gpus",
            "A100:8",
            "--cloud",
            "aws",
            "--region",
            "us-east-1",
            "--json",
        ],
        0,
    ));
    let first = &aws["offerings"][0];
    assert_eq!(first["instance_type"], "p4d.24xlarge");
    assert_eq!(first["price"], 21.95764, "the on-demand price in the data");
    let gcp = json(&t.expect(
        &["catalog", "gpus", "a100:8", "--cloud", "gcp", "--json"],
        0,
    ));
    assert_eq!(gcp["offerings"][0]["instance_type"], "a2-highgpu-8g");
    let azure = json(&t.expect(
        &["catalog", "gpus", "A100:8", "--cloud", "azure", "--json"],
        0,
    ));
    assert_eq!(
        azure["offerings"][0]["instance_type"],
        "Standard_ND96asr_v4"
    );
    let tpu = json(&t.expect(
        &["catalog", "gpus", "tpu-v5e-8", "--cloud", "gcp", "--json"],
        0,
    ));
    assert_eq!(tpu["offerings"][0]["accelerator"], "tpu-v5litepod-8");
    let spot = json(&t.expect(
        &[
            "catalog", "gpus", "h100:8", "--spot", "--json", "--limit", "0",
        ],
        0,
    ));
    let prices: Vec<f64> = spot["offerings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["spot_price"].as_f64().unwrap())
        .collect();
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "sorted by spot price"
    );
}

#[test]
fn catalog_says_where_a_missing_gpu_exists() {
    let t = TestContext::new();
    let r = t.expect(&["catalog", "gpus", "MI300X:8", "--cloud", "aws"], 1);
    assert!(
        r.stderr.contains("MI300X:8 is not offered on aws"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("azure:"), "{}", r.stderr);
    let r = t.expect(&["catalog", "gpus", "Z999:1"], 1);
    assert!(
        r.stderr.contains("unknown accelerator `Z999`"),
        "{}",
        r.stderr
    );
    let summary = t.expect(&["catalog", "gpus"], 0);
    assert!(summary.stdout.contains("H100"), "{}", summary.stdout);
}

fn spot_a100(name: &str, budget: Option<u32>) -> String {
    let budget = budget
        .map(|b| format!("budget:\n  max_hourly_usd: {b}\n"))
        .unwrap_or_default();
    format!("apiVersion: hoist/v1\nname: {name}\nprovider:\n  cloud: sim\n  region: sim-east1\nttl: 10h\n{budget}node_pools:\n  - name: train\n    accelerator: A100:8\n    capacity: spot\n    min: 0\n    desired: 1\n    max: 4\n")
}

#[test]
fn plan_shows_chosen_type_zones_and_spot_cost() {
    let t = TestContext::new();
    t.write("hoist.yaml", &spot_a100("cost", None));
    let plan = t.expect(&["plan"], 0);
    assert!(
        plan.stdout.contains("instance_type: \"sim-a100-x8\""),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("node_pool.train  sim-a100-x8      spot       1 × $14.02 = $14.02/h   at max 4: $56.07/h"), "{}", plan.stdout);
    assert!(
        plan.stdout
            .contains("Total: $0.00/h now → $14.02/h after this plan ($56.07/h at max)"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("until expiry in 10.0h"),
        "{}",
        plan.stdout
    );
    let v = json(&t.expect(&["plan", "--json"], 0));
    let pool = &v["plan"]["cost"]["pools"][0];
    assert_eq!(pool["unit_hourly_usd"], 14.0172);
    assert_eq!(pool["max_hourly_usd"].as_f64().unwrap(), 14.0172 * 4.0);
    t.expect(&["apply", "--auto-approve"], 0);
    let again = json(&t.expect(&["plan", "--json"], 0));
    assert_eq!(
        again["plan"]["cost"]["current_hourly_usd"], 14.0172,
        "state is priced as the current cost"
    );
}

#[test]
fn budget_below_max_cost_fails_the_plan_before_any_change() {
    let t = TestContext::new();
    t.write("hoist.yaml", &spot_a100("budget", Some(50)));
    let r = t.expect(&["plan", "--out", "p.hoist"], 1);
    assert!(r.stderr.contains("the plan exceeds the budget: at max size the node pools cost $56.07/h, over budget.max_hourly_usd $50.00/h"), "{}", r.stderr);
    assert!(
        r.stderr.contains("node_pool.train: 4 × sim-a100-x8 (spot)"),
        "{}",
        r.stderr
    );
    assert!(!t.exists("p.hoist"), "no plan is saved");
    t.expect(&["apply", "--auto-approve"], 1);
    assert!(t.inventory("budget").is_empty(), "nothing was created");
    t.write("hoist.yaml", &spot_a100("budget", Some(60)));
    t.expect(&["apply", "--auto-approve"], 0);
}

#[test]
fn gpu_missing_in_region_is_a_located_error_with_where_it_exists() {
    let t = TestContext::new();
    t.write(
        "hoist.yaml",
        &spot_a100("where", None).replace("A100:8", "H200:8"),
    );
    let r = t.expect(&["validate"], 1);
    assert!(r.stderr.contains("hoist.yaml:9:18"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("H200:8 is not offered as spot on sim in sim-east1"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("sim-central1 sim-h200-x8"),
        "{}",
        r.stderr
    );
    t.expect(&["plan"], 1);
    assert!(!t.sim_dir().exists(), "no cloud was opened");
}

#[test]
fn alternatives_fall_back_and_resolution_is_sticky() {
    let t = TestContext::new();
    t.write(
        "hoist.yaml",
        &spot_a100("alt", None)
            .replace("accelerator: A100:8", "accelerator: [H200:8, a100-80gb:8]"),
    );
    let plan = t.expect(&["plan"], 0);
    assert!(
        plan.stdout.contains("using the alternative A100-80GB:8"),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        t.state("alt")["resources"]["node_pool.train"]["attrs"]["instance_type"],
        "sim-a100-80gb-x8"
    );
    // Putting a cheaper alternative first does not replace running nodes.
    t.write(
        "hoist.yaml",
        &spot_a100("alt", None).replace("accelerator: A100:8", "accelerator: [L4:8, A100-80GB:8]"),
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn pool_zones_narrow_to_where_the_type_is_offered() {
    let t = TestContext::new();
    let text = "apiVersion: hoist/v1\nname: zones\nprovider:\n  cloud: sim\n  region: sim-east1\nnetwork:\n  zones: 3\nnode_pools:\n  - name: gpu\n    accelerator: H100:8\n";
    t.write("hoist.yaml", text);
    let plan = t.expect(&["plan"], 0);
    assert!(
        plan.stdout.contains(
            "note: sim-h100-x8 is not offered in sim-east1-c; using sim-east1-a, sim-east1-b"
        ),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let pool = &t.state("zones")["resources"]["node_pool.gpu"];
    assert_eq!(
        pool["attrs"]["zones"].as_array().unwrap().len(),
        3,
        "the blueprint's zones stay the desired value"
    );
    assert!(
        pool["outputs"]["nodes_per_zone"]
            .get("sim-east1-c")
            .is_none(),
        "{}",
        pool["outputs"]
    );
    t.expect(&["plan", "--detailed-exitcode"], 0);
}
