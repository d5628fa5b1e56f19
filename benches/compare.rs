//! Benchmarks against a reference: `hoist-bench demo` (a wide graph on the `demo` latency
//! profile should take about as long as its critical path, also under throttling) and
//! `hoist-bench terraform [POOLS]` (hoist's engine against Terraform's on the same shape: one
//! cluster and POOLS resources that depend on it, everything instant).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

/// A sim blueprint with `pools` GPU pools.
pub fn blueprint(name: &str, pools: usize, latency: &str) -> String {
    let mut s = format!("apiVersion: hoist/v1\nname: {name}\nprovider:\n  cloud: sim\n  region: sim-central1\n  latency: {latency}\nnetwork:\n  cidr: 10.0.0.0/16\n  zones: 4\nnode_pools:\n");
    for i in 0..pools {
        let acc = ["A100:8", "L4:1", "H100:8", "T4:4"][i % 4];
        s.push_str(&format!("  - name: pool-{i}\n    accelerator: {acc}\n    min: 0\n    desired: 1\n    max: 3\n    labels:\n      team: t{}\n", i % 17));
    }
    s
}

/// One hoist run in `dir`: wall time and, with `--json`, its apply report.
pub fn hoist(hoist: &Path, dir: &Path, args: &[&str]) -> (f64, Option<Value>) {
    let started = Instant::now();
    let out = Command::new(hoist)
        .args(args)
        .current_dir(dir)
        .env("HOIST_SIM_DIR", dir.join("sim"))
        .env("HOIST_DATA_DIR", dir.join("data"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run hoist");
    let seconds = started.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!(
            "warning: hoist {} exited {:?}: {}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let report = serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .filter_map(Result::ok)
        .find_map(|v| v.get("report").cloned());
    (seconds, report)
}

/// How concurrency adapted and how many fsyncs served the intents, from an apply report.
pub fn adaptation(report: &Option<Value>) -> String {
    let Some(r) = report else {
        return "(no report)".into();
    };
    let mut parts = vec![format!(
        "{} intents in {} fsyncs",
        r["intents"], r["journal_syncs"]
    )];
    for c in r["concurrency"].as_array().into_iter().flatten() {
        parts.push(format!(
            "{}: {} calls, {} throttled, limit {} → peak {} / low {} / end {}, {} in flight at most",
            c["provider"].as_str().unwrap_or("?"),
            c["calls"],
            c["throttled"],
            c["initial"],
            c["peak"],
            c["lowest"],
            c["last"],
            c["peak_in_flight"]
        ));
    }
    parts.join("; ")
}

fn sim(hoist_bin: &Path, dir: &Path, args: &[&str]) {
    let mut full = vec!["sim"];
    full.extend_from_slice(args);
    hoist(hoist_bin, dir, &full);
}

/// 1 pool against 100 on `demo` latency, then 100 with 10% of calls throttled.
pub fn demo(hoist_bin: &Path) {
    println!("{:<34} {:>9} {:>8}  adaptation", "case", "apply s", "ratio");
    let mut one = None;
    for (case, pools, throttle) in [
        ("1 pool, demo", 1, "0"),
        ("100 pools, demo", 100, "0"),
        ("100 pools, demo, 10% throttled", 100, "0.1"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("hoist.yaml"),
            blueprint("demo", pools, "demo"),
        )
        .expect("write blueprint");
        sim(hoist_bin, dir.path(), &["faults", "--throttle", throttle]);
        let (seconds, report) = hoist(
            hoist_bin,
            dir.path(),
            &["apply", "--auto-approve", "--json"],
        );
        let base = *one.get_or_insert(seconds);
        println!(
            "{case:<34} {seconds:>9.2} {:>7.2}×  {}",
            seconds / base,
            adaptation(&report)
        );
        sim(hoist_bin, dir.path(), &["faults", "--throttle", "0"]);
        hoist(hoist_bin, dir.path(), &["destroy", "--auto-approve"]);
    }
}

/// Terraform's engine on one cluster and `pools` dependents (`terraform_data`, built in, so no
/// provider is downloaded), against hoist's apply of the same shape on the instant sim.
pub fn terraform(hoist_bin: &Path, pools: usize) {
    let tf = tempfile::tempdir().expect("temp dir");
    let mut main =
        String::from("resource \"terraform_data\" \"cluster\" {\n  input = \"cluster\"\n}\n");
    main.push_str(&format!(
        "resource \"terraform_data\" \"pool\" {{\n  count = {pools}\n  input = \"${{terraform_data.cluster.id}}-${{count.index}}\"\n}}\n"
    ));
    std::fs::write(tf.path().join("main.tf"), main).expect("write main.tf");
    let run = |args: &[&str]| -> Option<f64> {
        let started = Instant::now();
        let status = Command::new("terraform")
            .args(args)
            .current_dir(tf.path())
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| started.elapsed().as_secs_f64())
    };
    if run(&["init", "-input=false"]).is_none() {
        println!("terraform is not installed (or `terraform init` failed): nothing to compare");
        return;
    }
    let tf_apply = run(&["apply", "-auto-approve", "-input=false"]);
    // Timed as people run it (a JSON plan of thousands of pools takes a while to print); the
    // adaptation is read from the same apply run again with --json.
    let apply = |json: bool| {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("hoist.yaml"),
            blueprint("tf", pools, "instant"),
        )
        .expect("write blueprint");
        let mut args = vec!["apply", "--auto-approve"];
        if json {
            args.push("--json");
        }
        hoist(hoist_bin, dir.path(), &args)
    };
    let (hoist_apply, _) = apply(false);
    let (_, report) = apply(true);
    let Some(tf_apply) = tf_apply else {
        println!("terraform apply failed");
        return;
    };
    println!("1 cluster + {pools} dependents, apply:");
    println!("  terraform (terraform_data, default -parallelism=10): {tf_apply:.2} s");
    println!("  hoist (sim, instant):                               {hoist_apply:.2} s");
    println!(
        "  hoist is {:.0}× faster; {}",
        tf_apply / hoist_apply,
        adaptation(&report)
    );
}
