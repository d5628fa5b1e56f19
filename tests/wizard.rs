//! The `hoist init` wizard driven through a pseudo-terminal: keystrokes in, screen out.

mod common;

use std::process::Stdio;

use common::TestContext;
use rexpect::process::wait::WaitStatus;
use rexpect::session::{spawn_command, PtySession};

const DOWN: &str = "\x1b[B";

fn wizard(t: &TestContext) -> PtySession {
    let mut cmd = t.command(&["init"]);
    // The pty is put on the child's stdio before exec; keep it there.
    cmd.env("TERM", "xterm")
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    spawn_command(cmd, Some(15_000)).expect("spawn the wizard on a pty")
}

fn exit_code(p: &mut PtySession) -> i32 {
    p.exp_eof().expect("the wizard ends");
    match p.process.wait().expect("wait") {
        WaitStatus::Exited(_, code) => code,
        other => panic!("the wizard did not exit normally: {other:?}"),
    }
}

fn answer(p: &mut PtySession, prompt: &str, keys: &str) {
    p.exp_string(prompt)
        .unwrap_or_else(|e| panic!("waiting for {prompt:?}: {e}"));
    p.send(keys).unwrap();
    p.flush().unwrap();
}

#[test]
fn full_sim_path_writes_a_blueprint_that_applies() {
    let t = TestContext::new();
    let mut p = wizard(&t);
    answer(&mut p, "Environment name", "wizard-env\r");
    answer(&mut p, "no account needed", "\r");
    answer(&mut p, "Region (only regions with GPUs", "\r");
    p.exp_string("Accelerators in sim-east1:").unwrap();
    p.exp_string("A100:8").unwrap();
    answer(&mut p, "Accelerator and count per node", "A100:8\r");
    answer(&mut p, "can be reclaimed", &format!("{DOWN}\r"));
    answer(&mut p, "Minimum nodes", "0\r");
    answer(&mut p, "Maximum nodes", "4\r");
    answer(&mut p, "Stack components", "\r");
    answer(&mut p, "Time to live", "8h\r");
    answer(&mut p, "Budget in USD per hour", "100\r");
    p.exp_string("Estimated cost: $14.40/h now, up to $56.45/h at max size")
        .unwrap();
    p.exp_string("hoist apply -f hoist.yaml").unwrap();
    assert_eq!(exit_code(&mut p), 0);

    let text = std::fs::read_to_string(t.path("hoist.yaml")).unwrap();
    for want in [
        "name: wizard-env",
        "region: sim-east1",
        "accelerator: \"A100:8\"",
        "capacity: spot",
        "min: 0",
        "max: 4",
        "ttl: 8h",
        "max_hourly_usd: 100",
        "autoscaler: {}",
        "gpu: {}",
        // The stack's services need a node that takes ordinary pods.
        "name: system",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    t.expect(&["validate"], 0);
    let plan = t.expect(&["plan"], 0);
    assert!(plan.stdout.contains("sim-a100-x8"), "{}", plan.stdout);
    t.expect(&["apply", "--auto-approve"], 0);
    t.assert_converged("wizard-env");
}

#[test]
fn a_gpu_not_offered_in_the_region_is_refused_with_where_it_is() {
    let t = TestContext::new();
    let mut p = wizard(&t);
    answer(&mut p, "Environment name", "\r");
    answer(&mut p, "no account needed", "\r");
    answer(&mut p, "Region (only regions with GPUs", "\r");
    answer(&mut p, "Accelerator and count per node", "H200:8\r");
    p.exp_string("H200:8 is not offered on sim in sim-east1")
        .unwrap();
    p.exp_string("sim-central1 sim-h200-x8").unwrap();
    // Still asking: a valid answer goes through.
    answer(&mut p, "Accelerator and count per node", "L4:1\r");
    answer(&mut p, "Capacity", "\r");
    answer(&mut p, "Minimum nodes", "\r");
    answer(&mut p, "Maximum nodes", "\r");
    answer(&mut p, "Stack components", "\r");
    answer(&mut p, "Time to live", "\r");
    answer(&mut p, "Budget in USD per hour", "\r");
    assert_eq!(exit_code(&mut p), 0);
    let text = std::fs::read_to_string(t.path("hoist.yaml")).unwrap();
    assert!(text.contains("accelerator: \"L4:1\""), "{text}");
    assert!(text.contains("name: demo"), "{text}");
}

#[test]
fn refuses_to_overwrite_unless_told() {
    let t = TestContext::new();
    t.write("hoist.yaml", "keep me\n");
    let mut p = wizard(&t);
    answer(&mut p, "hoist.yaml already exists. Overwrite it?", "n");
    p.exp_string("Cancelled: nothing was written.").unwrap();
    assert_eq!(exit_code(&mut p), 130);
    assert_eq!(
        std::fs::read_to_string(t.path("hoist.yaml")).unwrap(),
        "keep me\n"
    );
    // The scripted path refuses too, and --force overwrites.
    let r = t.expect(&["init", "--non-interactive"], 1);
    assert!(
        r.stderr.contains("already exists; nothing was written"),
        "{}",
        r.stderr
    );
    t.expect(&["init", "--non-interactive", "--force"], 0);
    t.expect(&["validate"], 0);
}

#[test]
fn ctrl_c_midway_leaves_no_file() {
    let t = TestContext::new();
    let mut p = wizard(&t);
    answer(&mut p, "Environment name", "halfway\r");
    answer(&mut p, "no account needed", "\r");
    p.exp_string("Region (only regions with GPUs").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("Cancelled: nothing was written.").unwrap();
    assert_eq!(exit_code(&mut p), 130);
    let left: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

#[test]
fn non_interactive_takes_flags_and_names_what_is_missing() {
    let t = TestContext::new();
    let r = t.expect(
        &[
            "init",
            "--non-interactive",
            "--cloud",
            "aws",
            "--accelerator",
            "A100:8",
        ],
        1,
    );
    assert!(
        r.stderr.contains("--region is required for --cloud aws"),
        "{}",
        r.stderr
    );
    let r = t.expect(&["init", "--non-interactive", "--accelerator", "H200:8"], 1);
    assert!(
        r.stderr
            .contains("H200:8 is not offered on sim in sim-east1"),
        "{}",
        r.stderr
    );
    assert!(!t.exists("hoist.yaml"));
    t.expect(
        &[
            "init",
            "--non-interactive",
            "--name",
            "flags",
            "--accelerator",
            "h100:8",
            "--capacity",
            "spot",
            "--min",
            "0",
            "--nodes",
            "1",
            "--max",
            "3",
            "--ttl",
            "4h",
            "--budget",
            "500",
            "--stack",
            "gpu,monitoring",
        ],
        0,
    );
    let text = std::fs::read_to_string(t.path("hoist.yaml")).unwrap();
    assert!(
        text.contains("accelerator: \"H100:8\"")
            && text.contains("max_hourly_usd: 500")
            && text.contains("monitoring: {}"),
        "{text}"
    );
    t.expect(&["plan"], 0);
}

#[test]
fn apply_on_a_terminal_asks_and_only_yes_applies() {
    let t = TestContext::new();
    t.write("hoist.yaml", &common::blueprint("ask", "L4:1", 1, 1, 1));
    let session = |t: &TestContext| {
        let mut cmd = t.command(&["apply"]);
        cmd.env("TERM", "xterm")
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        spawn_command(cmd, Some(15_000)).expect("spawn apply on a pty")
    };
    let mut p = session(&t);
    answer(&mut p, "Only 'yes' will be accepted:", "no\r");
    p.exp_string("apply cancelled: nothing was changed")
        .unwrap();
    assert_eq!(exit_code(&mut p), 1);
    assert!(t.inventory("ask").is_empty());

    let mut p = session(&t);
    answer(&mut p, "Only 'yes' will be accepted:", "yes\r");
    p.exp_string("Apply complete").unwrap();
    assert_eq!(exit_code(&mut p), 0);
    t.assert_converged("ask");
}
