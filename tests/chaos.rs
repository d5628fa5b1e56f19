//! Randomized crash safety with a fixed seed: 50 applies and destroys on the simulated cloud,
//! most killed with SIGKILL at a random moment, under random throttling, transient errors and
//! stockouts. After each, the cloud's inventory by tag equals state and one more run converges.
//! `hoist-bench chaos` runs the same with a random seed, for longer.

#[path = "../benches/chaos.rs"]
mod chaos;

#[test]
fn fifty_killed_and_faulted_applies_and_destroys_always_converge() {
    let dir = tempfile::tempdir().unwrap();
    let run = chaos::Chaos {
        hoist: env!("CARGO_BIN_EXE_hoist").into(),
        dir: dir.path().to_path_buf(),
        seed: 20261201,
        rounds: 50,
    };
    let counts = run.run_all().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{counts:?}");
    assert_eq!(counts.rounds, 50);
    assert!(
        counts.killed >= 25,
        "most runs are killed mid-way: {counts:?}"
    );
    assert!(counts.applies >= 25 && counts.destroys >= 5, "{counts:?}");
}
