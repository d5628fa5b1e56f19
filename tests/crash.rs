//! Crash safety: the process is killed with SIGKILL at many points of an apply, a
//! replacement and a destroy; the next run converges with no duplicate and no orphan.

mod common;

use std::time::Duration;

use common::{blueprint, TestContext};

fn crash(t: &TestContext, args: &[&str], failpoint: &str) {
    let r = t
        .command(args)
        .env("HOIST_FAILPOINT", failpoint)
        .output()
        .expect("run hoist");
    assert_eq!(
        r.status.code(),
        None,
        "{failpoint}: the process should die by signal\n{}",
        String::from_utf8_lossy(&r.stdout)
    );
}

#[test]
fn killed_during_apply_then_next_apply_converges() {
    for point in [
        "after-intent:*",
        "after-create:*",
        "after-save:*",
        "after-create:cluster.crash",
        "after-intent:node_pool.gpu",
        "after-create:node_pool.gpu",
        "after-save:node_pool.cpu",
    ] {
        let t = TestContext::new();
        t.write("hoist.yaml", &blueprint("crash", "A100:8", 1, 1, 1));
        crash(
            &t,
            &["apply", "--auto-approve", "--parallelism", "3"],
            point,
        );
        let r = t.expect(&["apply", "--auto-approve"], 0);
        assert!(!r.stdout.contains("error"), "{point}: {}", r.stdout);
        t.assert_converged("crash");
        assert_eq!(
            t.inventory("crash").len(),
            7,
            "{point}: network, 3 subnets, cluster, 2 pools"
        );
        t.expect(&["plan", "--detailed-exitcode"], 0);
    }
}

#[test]
fn crash_adopts_instead_of_creating_again() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("adopt", "A100:8", 1, 1, 1));
    crash(
        &t,
        &["apply", "--auto-approve"],
        "after-create:cluster.adopt",
    );
    let cluster_before: Vec<String> = t
        .inventory("adopt")
        .into_iter()
        .filter(|(_, a)| a == "cluster.adopt")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        cluster_before.len(),
        1,
        "the cluster was made before the crash"
    );
    let r = t.expect(&["apply", "--auto-approve"], 0);
    assert!(
        r.stdout.contains(&format!("adopted {}", cluster_before[0])),
        "{}",
        r.stdout
    );
    assert_eq!(
        t.state("adopt")["resources"]["cluster.adopt"]["cloud_id"],
        cluster_before[0].as_str()
    );
    t.assert_converged("adopt");
}

#[test]
fn killed_during_replacement_and_destroy() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("repl", "A100:8", 1, 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    t.write("hoist.yaml", &blueprint("repl", "H100:8", 1, 1, 1));
    // The new pool exists, the old one is deposed but not yet deleted.
    crash(&t, &["apply", "--auto-approve"], "after-save:node_pool.gpu");
    assert_eq!(
        t.inventory("repl")
            .values()
            .filter(|a| *a == "node_pool.gpu")
            .count(),
        2
    );
    t.expect(&["apply", "--auto-approve"], 0);
    t.assert_converged("repl");
    t.expect(&["plan", "--detailed-exitcode"], 0);

    crash(&t, &["destroy", "--auto-approve"], "after-delete:*");
    t.expect(&["destroy", "--auto-approve"], 0);
    assert!(t.inventory("repl").is_empty());
}

#[test]
fn killed_at_random_moments_with_demo_latency() {
    for delay_ms in [150u64, 600, 1200, 2600, 3800] {
        let t = TestContext::new();
        t.write("hoist.yaml", &blueprint("timed", "L4:1", 1, 1, 1));
        let mut child = t.spawn(
            &["apply", "--auto-approve"],
            &[("HOIST_SIM_LATENCY", "demo")],
        );
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        t.expect(&["apply", "--auto-approve"], 0);
        t.assert_converged("timed");
        assert_eq!(
            t.inventory("timed").len(),
            7,
            "after a kill at {delay_ms}ms"
        );
    }
}
