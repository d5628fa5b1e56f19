//! Benchmarks, after `cargo build --release --no-default-features --bins`:
//! `target/release/hoist-bench [SIZES...]` for scale, `target/release/hoist-bench catalog` for the
//! accelerator catalog, `target/release/hoist-bench chaos [ROUNDS] [SEED]` for randomized crash
//! safety (kill -9 at random moments under random faults) with a random seed,
//! `target/release/hoist-bench stack` for the MLOps stack on the simulated cloud.
//!
//! Generates blueprints with N node pools on the simulated cloud's `instant` profile, runs
//! the real release `hoist` binary for apply, no-op plan and destroy, and reports wall time
//! and peak resident memory of each process (from wait4's rusage). Not a test: the numbers
//! are for people, and depend on the machine.

mod chaos;
mod compare;
mod stack;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn blueprint(pools: usize) -> String {
    compare::blueprint(&format!("bench{pools}"), pools, "instant")
}

struct Measure {
    seconds: f64,
    peak_mb: f64,
    code: i32,
}

// The child is reaped by wait4 below, which also reports its peak memory.
#[allow(clippy::zombie_processes)]
fn run(hoist: &Path, dir: &Path, args: &[&str]) -> Measure {
    let started = Instant::now();
    let child = Command::new(hoist)
        .args(args)
        .current_dir(dir)
        .env("HOIST_SIM_DIR", dir.join("sim"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hoist");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Measure {
        seconds: started.elapsed().as_secs_f64(),
        peak_mb: usage.ru_maxrss as f64 / 1024.0,
        code,
    }
}

/// Catalog resolution in process (per request, after the first load) and `hoist catalog gpus`
/// as a whole process.
fn catalog_bench(hoist: &Path) {
    use hoist_catalog::{parse_request, Catalog};
    let started = Instant::now();
    for c in hoist_catalog::CLOUDS {
        Catalog::of(c).expect("catalog loads");
    }
    println!(
        "first load of all four catalogs: {:.2} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let cases = [
        ("aws", "A100:8", "us-east-1"),
        ("gcp", "tpu-v5e-8", "us-central1"),
        ("azure", "h100:8", "eastus"),
        ("sim", "L4:1", "sim-east1"),
        ("gcp", "T4:4", "us-east1"),
    ];
    let rounds = 20_000;
    let started = Instant::now();
    for i in 0..rounds {
        let (cloud, request, region) = cases[i % cases.len()];
        let r = parse_request(request).expect("request parses");
        let choice =
            Catalog::of(cloud)
                .unwrap()
                .resolve(std::slice::from_ref(&r), region, None, i % 2 == 0);
        std::hint::black_box(choice.ok());
    }
    println!(
        "resolution: {:.2} µs per request (mean of {rounds}, parse + resolve)",
        started.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [
        &["catalog", "gpus", "A100:8", "--json"][..],
        &["catalog", "gpus"][..],
    ] {
        let mut times: Vec<f64> = (0..30)
            .map(|_| run(hoist, dir.path(), args).seconds * 1e3)
            .collect();
        times.sort_by(f64::total_cmp);
        println!(
            "hoist {}: median {:.1} ms, p90 {:.1} ms, max {:.1} ms (30 runs, peak {:.1} MB)",
            args.join(" "),
            times[15],
            times[27],
            times[29],
            run(hoist, dir.path(), args).peak_mb
        );
    }
}

fn main() {
    let hoist: PathBuf = std::env::current_exe()
        .expect("own path")
        .with_file_name("hoist");
    if std::env::args().nth(1).as_deref() == Some("catalog") {
        return catalog_bench(&hoist);
    }
    match std::env::args().nth(1).as_deref() {
        Some("demo") => return compare::demo(&hoist),
        Some("stack") => return stack::bench(&hoist),
        Some("terraform") => {
            let pools = std::env::args().nth(2).and_then(|a| a.parse().ok());
            return compare::terraform(&hoist, pools.unwrap_or(1000));
        }
        _ => {}
    }
    if std::env::args().nth(1).as_deref() == Some("chaos") {
        let rest: Vec<String> = std::env::args().skip(2).collect();
        return chaos::bench(&hoist, &rest);
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 5000]
    } else {
        sizes
    };
    let hoist: PathBuf = std::env::current_exe()
        .expect("own path")
        .with_file_name("hoist");
    assert!(
        hoist.exists(),
        "build the hoist binary first: cargo build --release --no-default-features --bins"
    );
    println!(
        "{:>6} {:>9} {:>22} {:>22} {:>22}",
        "pools", "resources", "apply s / MB", "no-op plan s / MB", "destroy s / MB"
    );
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("hoist.yaml"), blueprint(n)).expect("write blueprint");
        let apply = run(&hoist, dir.path(), &["apply", "--auto-approve"]);
        let plan = run(&hoist, dir.path(), &["plan", "--detailed-exitcode"]);
        let destroy = run(&hoist, dir.path(), &["destroy", "--auto-approve"]);
        for (what, m, want) in [
            ("apply", &apply, 0),
            ("plan", &plan, 0),
            ("destroy", &destroy, 0),
        ] {
            if m.code != want {
                eprintln!(
                    "warning: {what} of {n} pools exited {} (expected {want})",
                    m.code
                );
            }
        }
        let cell = |m: &Measure| format!("{:>9.3} / {:>7.1}", m.seconds, m.peak_mb);
        println!(
            "{:>6} {:>9} {:>22} {:>22} {:>22}",
            n,
            n + 6,
            cell(&apply),
            cell(&plan),
            cell(&destroy)
        );
    }
}
