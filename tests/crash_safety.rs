//! The crash-safety promise in every case the review found broken, each reproduced through
//! the real binary on the simulated cloud: two runs at once, a create whose wait fails, a
//! replacement that fails or is killed, a state file that went back in time, waits that must
//! end, a budget that cannot price a pool, and the small holes (a full disk, a torn journal,
//! a crash between save and clear, a resource that failed in the cloud).

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{blueprint, TestContext};

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn journal_has(t: &TestContext, env: &str, text: &str) -> bool {
    std::fs::read_to_string(t.path(&format!(".hoist/{env}.journal")))
        .is_ok_and(|j| j.contains(text))
}

fn pools(t: &TestContext, env: &str, address: &str) -> Vec<String> {
    t.inventory(env)
        .into_iter()
        .filter(|(_, a)| a == address)
        .map(|(id, _)| id)
        .collect()
}

/// `unshare --pid --fork` where the machine allows it (a new PID namespace, as a container on
/// the same host has); a plain second process elsewhere.
fn pid_namespace() -> Vec<&'static str> {
    let ok = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        vec!["unshare", "--pid", "--fork", "--mount-proc"]
    } else {
        eprintln!(
            "warning: unshare is not permitted here; the second run shares the PID namespace"
        );
        vec![]
    }
}

#[test]
fn a_second_run_in_another_pid_namespace_is_refused_while_the_first_runs() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("twice", "A100:8", 1, 1, 1));
    let first = t.spawn(
        &["apply", "--auto-approve"],
        &[("HOIST_SIM_LATENCY", "demo")],
    );
    wait_until("the first run to start creating", || {
        journal_has(&t, "twice", "intent")
    });
    let second = t
        .command_via(&pid_namespace(), &["apply", "--auto-approve"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("environment is locked by another run: `apply`"),
        "{stderr}"
    );
    assert!(
        journal_has(&t, "twice", "intent"),
        "the first run's journal is intact"
    );
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    t.assert_converged("twice");
    assert_eq!(t.inventory("twice").len(), 7);
}

#[test]
fn a_create_whose_wait_fails_is_recorded_and_finished_by_the_next_apply() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("late", "A100:8", 1, 1, 1));
    // A simulated cluster takes 2s to become ready on the demo profile: the wait gives up.
    let mut run = t.command(&["apply", "--auto-approve", "--timeout", "1s"]);
    let r: common::Run = run
        .env("HOIST_SIM_LATENCY", "demo")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("cluster.late was not ready after"),
        "{}",
        r.all()
    );
    let state = t.state("late");
    assert!(
        state["resources"]["cluster.late"]["unfinished"].is_string(),
        "the cluster the cloud made is in state: {state}"
    );
    t.assert_converged("late");
    let r = t.expect(&["apply", "--auto-approve"], 0);
    assert!(r.stdout.contains("~ cluster.late"), "{}", r.stdout);
    t.assert_converged("late");
    assert_eq!(t.inventory("late").len(), 7);
    t.expect(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn heavy_throttling_mid_create_leaves_nothing_unknown_to_state() {
    let t = TestContext::new();
    let mut text = blueprint("busy", "A100:8", 1, 1, 1);
    for i in 0..6 {
        text.push_str(&format!(
            "  - name: extra{i}\n    accelerator: L4:1\n    min: 1\n    max: 1\n"
        ));
    }
    t.write("hoist.yaml", &text);
    // Planned calm, applied under 85% throttling: the creates get through, and the waits
    // that follow them (the demo latency makes resources take seconds) run out of retries.
    t.expect(&["plan", "--out", "calm.hoist"], 0);
    t.expect(&["sim", "faults", "--throttle", "0.85"], 0);
    let _ = t
        .command(&["apply", "calm.hoist"])
        .env("HOIST_SIM_LATENCY", "demo")
        .output()
        .unwrap();
    t.expect(&["sim", "faults", "--throttle", "0"], 0);
    t.hoist(&["plan"]);
    t.assert_converged("busy");
    t.expect(&["apply", "--auto-approve"], 0);
    t.assert_converged("busy");
    assert_eq!(t.inventory("busy").len(), 13, "no duplicates");
}

#[test]
fn a_replacement_that_fails_or_is_killed_never_deletes_the_live_pool() {
    let t = TestContext::new();
    let a100 = blueprint("swap", "A100:8", 4, 4, 4);
    t.write("hoist.yaml", &a100);
    t.expect(&["apply", "--auto-approve"], 0);
    let live = pools(&t, "swap", "node_pool.gpu");
    assert_eq!(live.len(), 1);
    // H100 is in zones a and b of sim-east1: room for one node each, and the pool needs four.
    for zone in ["sim-east1-a", "sim-east1-b"] {
        t.expect(&["sim", "capacity", zone, "H100", "1"], 0);
    }
    t.write("hoist.yaml", &a100.replace("A100:8", "H100:8"));
    let r = t.expect(&["apply", "--auto-approve"], 1);
    assert!(r.all().contains("no capacity for H100"), "{}", r.all());
    t.write("hoist.yaml", &a100);
    t.expect(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(
        pools(&t, "swap", "node_pool.gpu"),
        live,
        "the live pool is untouched"
    );

    t.write("hoist.yaml", &a100.replace("A100:8", "L4:1"));
    let killed = t
        .command(&["apply", "--auto-approve"])
        .env("HOIST_FAILPOINT", "after-intent:node_pool.gpu")
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None, "killed by SIGKILL");
    t.write("hoist.yaml", &a100);
    t.expect(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(pools(&t, "swap", "node_pool.gpu"), live);
    t.assert_converged("swap");
}

#[test]
fn an_older_state_file_is_reconciled_with_the_cloud_instead_of_duplicating() {
    let t = TestContext::new();
    let base = blueprint("old", "A100:8", 1, 1, 1);
    let extra = format!("{base}  - name: extra\n    accelerator: L4:1\n    min: 1\n    max: 1\n");
    t.write("hoist.yaml", &base);
    t.expect(&["apply", "--auto-approve"], 0);
    let older = std::fs::read(t.state_path("old")).unwrap();
    t.write("hoist.yaml", &extra);
    t.expect(&["apply", "--auto-approve"], 0);
    let made = pools(&t, "old", "node_pool.extra");
    // Someone restores the state file from before the pool was added.
    std::fs::write(t.state_path("old"), &older).unwrap();
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.all().contains("this machine has seen serial"),
        "{}",
        plan.all()
    );
    assert!(
        plan.all().contains(&format!("adopting {}", made[0])),
        "{}",
        plan.all()
    );
    t.expect(&["apply", "--auto-approve"], 0);
    assert_eq!(
        pools(&t, "old", "node_pool.extra"),
        made,
        "adopted, not made again"
    );
    t.assert_converged("old");
    t.expect(&["plan", "--detailed-exitcode"], 0);

    // Restored again, and the blueprint no longer has the pool: it is found and deleted.
    std::fs::write(t.state_path("old"), &older).unwrap();
    t.write("hoist.yaml", &base);
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("- node_pool.extra")
            && plan
                .stdout
                .contains("not in the blueprint and unknown to state"),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    assert!(pools(&t, "old", "node_pool.extra").is_empty());
    t.assert_converged("old");
}

#[test]
fn the_first_ctrl_c_ends_even_a_long_wait() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("wait", "A100:8", 1, 1, 1));
    // A realistic cluster takes two minutes to be ready.
    let run = t.spawn(
        &["apply", "--auto-approve"],
        &[("HOIST_SIM_LATENCY", "realistic")],
    );
    wait_until("the cluster's create", || {
        journal_has(&t, "wait", "\"address\":\"cluster.wait\"")
    });
    std::thread::sleep(Duration::from_millis(300));
    let interrupted = Instant::now();
    unsafe {
        libc::kill(run.id() as i32, libc::SIGINT);
    }
    let out = run.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "stopped waiting at once:\n{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("Interrupted: state is saved"), "{stdout}");
    assert!(t.state("wait")["resources"]["cluster.wait"]["unfinished"].is_string());
    t.assert_converged("wait");
}

#[test]
fn with_a_budget_a_pool_that_cannot_be_priced_fails_the_plan() {
    let t = TestContext::new();
    // An L4 node is well within the budget; fifty nodes of a type the catalog does not know
    // would count as free.
    let text = blueprint("price", "L4:1", 1, 1, 1)
        .replace("sim-standard-4", "sim-mystery-8")
        .replace("    min: 1\n    max: 1\n", "    min: 1\n    max: 50\n");
    t.write(
        "hoist.yaml",
        &format!("{text}budget:\n  max_hourly_usd: 10\n"),
    );
    let r = t.expect(&["plan"], 1);
    assert!(
        r.stderr.contains("cannot check the budget of $10.00/h"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("node_pool.cpu: sim-mystery-8"),
        "{}",
        r.stderr
    );
    t.write("hoist.yaml", &text);
    t.expect(&["plan"], 0);
}

#[test]
fn a_full_disk_when_locking_leaves_no_lock_behind() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("full", "A100:8", 1, 1, 1));
    // No file may grow: the lock's record cannot be written, as on a full disk.
    let out = unsafe {
        t.command(&["show"])
            .pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: libc::RLIM_INFINITY,
                };
                libc::setrlimit(libc::RLIMIT_FSIZE, &none);
                Ok(())
            })
            .output()
            .unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot record the lock holder"), "{stderr}");
    t.expect(&["apply", "--auto-approve"], 0);
}

#[test]
fn a_journal_torn_inside_a_character_is_recovered() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("torn", "A100:8", 1, 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    let intent = r#"{"op":"intent","address":"node_pool.gone","token":"0b7e2c1e-0000-0000-0000-000000000000","provider":"sim","depends_on":[],"attrs":{}}"#;
    let mut bytes = format!("{intent}\n{{\"op\":\"saved\",\"note\":\"").into_bytes();
    bytes.extend_from_slice(&[0xc3]); // the first byte of "é", cut by the crash
    std::fs::write(t.path(".hoist/torn.journal"), bytes).unwrap();
    let r = t.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(
        r.all()
            .contains("recovering an interrupted run: 1 journal entries"),
        "{}",
        r.all()
    );
    assert!(!t.exists(".hoist/torn.journal"));
}

#[test]
fn a_crash_between_saving_state_and_clearing_the_journal_replays_cleanly() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("clear", "A100:8", 1, 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    t.write("hoist.yaml", &blueprint("clear", "L4:1", 1, 1, 1));
    let killed = t
        .command(&["apply", "--auto-approve"])
        .env("HOIST_FAILPOINT", "before-clear:*")
        .output()
        .unwrap();
    assert_eq!(killed.status.code(), None);
    t.expect(&["plan", "--detailed-exitcode"], 0);
    assert!(
        t.state("clear")["deposed"].is_null(),
        "{}",
        t.state("clear")
    );
    t.assert_converged("clear");
}

#[test]
fn a_resource_that_failed_in_the_cloud_is_replaced() {
    let t = TestContext::new();
    t.write("hoist.yaml", &blueprint("sick", "A100:8", 1, 1, 1));
    t.expect(&["apply", "--auto-approve"], 0);
    let before = pools(&t, "sick", "node_pool.gpu");
    t.expect(
        &[
            "sim",
            "fail",
            "sick/node_pool.gpu",
            "--reason",
            "GPU fell off the bus",
        ],
        0,
    );
    let plan = t.expect(&["plan", "--detailed-exitcode"], 2);
    assert!(
        plan.stdout.contains("+/- node_pool.gpu")
            && plan
                .stdout
                .contains("failed in the cloud: GPU fell off the bus"),
        "{}",
        plan.stdout
    );
    t.expect(&["apply", "--auto-approve"], 0);
    let after = pools(&t, "sick", "node_pool.gpu");
    assert_eq!(after.len(), 1);
    assert_ne!(after, before);
    t.assert_converged("sick");
}
