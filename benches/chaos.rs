//! Randomized crash safety on the simulated cloud: rounds of applies and destroys of random
//! blueprints under random throttling, transient errors and zone stockouts, most of them
//! killed with SIGKILL at a random moment. After each round the cloud's inventory by tag must
//! equal what state records (once the next run has read the journal), and one more run of the
//! same command without faults must converge. Used by `tests/chaos.rs` with a fixed seed and
//! by `hoist-bench chaos` with a random one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// What the rounds did, for the report.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub rounds: usize,
    pub applies: usize,
    pub destroys: usize,
    /// Runs killed with SIGKILL before they ended.
    pub killed: usize,
    /// Runs that ended by themselves, with or without errors (faults, stockouts).
    pub finished: usize,
    pub finished_with_errors: usize,
    /// Resources compared between cloud and state, over all checks.
    pub resources_checked: usize,
}

pub struct Chaos {
    pub hoist: PathBuf,
    pub dir: PathBuf,
    pub seed: u64,
    pub rounds: usize,
}

const ENV: &str = "chaos";
const ZONES: [&str; 3] = ["sim-east1-a", "sim-east1-b", "sim-east1-c"];

fn blueprint(rng: &mut StdRng) -> String {
    let accelerator = ["A100:8", "L4:1", "H100:8", "T4:4"][rng.gen_range(0..4)];
    let gpu = rng.gen_range(1..=3);
    let mut s = format!("apiVersion: hoist/v1\nname: {ENV}\nprovider:\n  cloud: sim\n  region: sim-east1\nnetwork:\n  zones: 3\nnode_pools:\n  - name: gpu\n    accelerator: {accelerator}\n    min: {gpu}\n    max: {gpu}\n");
    for i in 0..rng.gen_range(0..=3) {
        s.push_str(&format!(
            "  - name: extra{i}\n    accelerator: L4:1\n    min: 1\n    max: 1\n"
        ));
    }
    s
}

impl Chaos {
    fn command(&self, args: &[&str], latency: &str) -> Command {
        let mut c = Command::new(&self.hoist);
        c.args(args)
            .current_dir(&self.dir)
            .env("HOIST_SIM_DIR", self.dir.join("sim"))
            .env("HOIST_DATA_DIR", self.dir.join("data"))
            .env("HOIST_SIM_LATENCY", latency)
            .env("NO_COLOR", "1")
            .env_remove("HOIST_FAILPOINT")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Result<Output, String> {
        self.command(args, "instant")
            .output()
            .map_err(|e| format!("cannot run hoist: {e}"))
    }

    /// Run and insist on success.
    fn ok(&self, args: &[&str]) -> Result<Output, String> {
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(format!(
                "hoist {args:?} exited {:?}\n{}{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(out)
    }

    /// Cloud id → address, for everything the simulated cloud holds tagged for the environment.
    fn inventory(&self) -> Result<BTreeMap<String, String>, String> {
        let out = self.ok(&["sim", "list", "--env", ENV, "--json"])?;
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r["cloud_id"].as_str().unwrap_or_default().to_string(),
                    r["tags"]["hoist-address"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect())
    }

    /// Cloud id → address, for what state records (current and deposed).
    fn recorded(&self) -> Result<BTreeMap<String, String>, String> {
        let path = self.dir.join(format!(".hoist/{ENV}.state.json"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(BTreeMap::new());
        };
        let s: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let mut out = BTreeMap::new();
        let current = s["resources"].as_object().cloned().unwrap_or_default();
        for r in current
            .values()
            .chain(s["deposed"].as_array().into_iter().flatten())
        {
            out.insert(
                r["cloud_id"].as_str().unwrap_or_default().to_string(),
                r["address"].as_str().unwrap_or_default().to_string(),
            );
        }
        Ok(out)
    }

    /// Wait until no delete the killed run started is still under way in the cloud: a resource
    /// that is going when the next run reads the journal goes from state at the run after.
    fn settle(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.ok(&["sim", "list", "--env", ENV, "--json"])?;
            let rows: Vec<Value> =
                serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
            if rows.iter().all(|r| r["status"] != "deleting") || Instant::now() > deadline {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The cloud holds exactly what state records.
    fn check(&self, round: usize, counts: &mut Counts) -> Result<(), String> {
        let (cloud, state) = (self.inventory()?, self.recorded()?);
        if cloud != state {
            return Err(format!(
                "round {round} (seed {}): the cloud holds {cloud:?} but state records {state:?}",
                self.seed
            ));
        }
        counts.resources_checked += cloud.len();
        Ok(())
    }

    fn disturb(&self, rng: &mut StdRng) -> Result<(), String> {
        let throttle = ["0", "0.1", "0.3"][rng.gen_range(0..3)];
        let transient = ["0", "0.05", "0.15"][rng.gen_range(0..3)];
        self.ok(&[
            "sim",
            "faults",
            "--throttle",
            throttle,
            "--transient",
            transient,
        ])?;
        for zone in ZONES {
            for gpu in ["A100", "L4", "H100", "T4"] {
                let amount = match rng.gen_range(0..10) {
                    0 => "0".to_string(),
                    1 => rng.gen_range(1..3).to_string(),
                    _ => "unlimited".to_string(),
                };
                self.ok(&["sim", "capacity", zone, gpu, &amount])?;
            }
        }
        Ok(())
    }

    fn calm(&self) -> Result<(), String> {
        self.ok(&["sim", "faults", "--throttle", "0", "--transient", "0"])?;
        for zone in ZONES {
            for gpu in ["A100", "L4", "H100", "T4"] {
                self.ok(&["sim", "capacity", zone, gpu, "unlimited"])?;
            }
        }
        Ok(())
    }

    /// One round: a disturbed run, killed or not, then the checks.
    fn round(&self, i: usize, rng: &mut StdRng, counts: &mut Counts) -> Result<(), String> {
        let blueprint_file = self.dir.join("hoist.yaml");
        let destroy = rng.gen_bool(0.3) && blueprint_file.exists();
        if !destroy {
            std::fs::write(&blueprint_file, blueprint(rng)).map_err(|e| e.to_string())?;
        }
        let command: &[&str] = if destroy {
            counts.destroys += 1;
            &["destroy", "--auto-approve"]
        } else {
            counts.applies += 1;
            &["apply", "--auto-approve"]
        };
        self.disturb(rng)?;
        let mut child = self
            .command(command, "demo")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let kill_at = rng
            .gen_bool(0.8)
            .then(|| Duration::from_millis(rng.gen_range(0..2500)));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if kill_at.is_some_and(|at| started.elapsed() >= at) {
                let _ = child.kill();
                break child.wait().map_err(|e| e.to_string())?;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match status.code() {
            None => counts.killed += 1,
            Some(0) => counts.finished += 1,
            Some(_) => {
                counts.finished += 1;
                counts.finished_with_errors += 1;
            }
        }
        self.calm()?;
        self.settle()?;
        // A read-only run reads the journal a killed run left; then cloud and state agree.
        self.run(&["plan"])?;
        self.check(i, counts)?;
        self.ok(command)?;
        self.check(i, counts)?;
        if !destroy {
            let plan = self.run(&["plan", "--detailed-exitcode"])?;
            if plan.status.code() != Some(0) {
                return Err(format!(
                    "round {i} (seed {}): the apply after recovery did not converge:\n{}",
                    self.seed,
                    String::from_utf8_lossy(&plan.stdout)
                ));
            }
        }
        Ok(())
    }

    pub fn run_all(&self) -> Result<Counts, String> {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut counts = Counts::default();
        for i in 0..self.rounds {
            self.round(i, &mut rng, &mut counts)?;
            counts.rounds += 1;
        }
        Ok(counts)
    }
}

/// `hoist-bench chaos [ROUNDS] [SEED]`: a longer run with a random seed (printed, to replay).
#[allow(dead_code)]
pub fn bench(hoist: &Path, args: &[String]) {
    let rounds = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let seed = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "chaos: {rounds} rounds, seed {seed} (replay with: hoist-bench chaos {rounds} {seed})"
    );
    let started = Instant::now();
    let chaos = Chaos {
        hoist: hoist.to_path_buf(),
        dir: dir.path().to_path_buf(),
        seed,
        rounds,
    };
    match chaos.run_all() {
        Ok(c) => println!(
            "ok in {:.0}s: {} rounds ({} applies, {} destroys), {} killed, {} finished ({} with errors), {} resources compared",
            started.elapsed().as_secs_f64(),
            c.rounds,
            c.applies,
            c.destroys,
            c.killed,
            c.finished,
            c.finished_with_errors,
            c.resources_checked
        ),
        Err(e) => {
            eprintln!("FAILED: {e}");
            std::process::exit(1);
        }
    }
}
