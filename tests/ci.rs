//! hoist in CI on the simulated cloud with a `file://` backend: "CI jobs" are fresh working
//! directories sharing nothing but the backend (and the cloud). Plan in one job and apply
//! the saved plan in another; a stale or edited plan is refused; `envs` lists a backend;
//! `reap` destroys exactly the expired environments, each once, even with two reapers.

mod common;

use std::collections::BTreeMap;

use common::{blueprint, TestContext};
use serde_json::Value;

/// A CI setup: the cloud and the backend every job shares.
struct Ci {
    cloud: TestContext,
    backend: String,
}

impl Ci {
    fn new() -> Ci {
        let cloud = TestContext::new();
        let backend = format!("file://{}", cloud.path("backend").display());
        Ci { cloud, backend }
    }

    /// A job with the blueprint checked out and the backend in `HOIST_BACKEND`.
    fn job(&self, blueprint: &str) -> TestContext {
        let mut job = self.cloud.job();
        job.env.push(("HOIST_BACKEND".into(), self.backend.clone()));
        job.write("hoist.yaml", blueprint);
        job
    }

    /// Every file of the backend, by name, with its content.
    fn files(&self) -> BTreeMap<String, String> {
        let dir = self.cloud.path("backend");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return BTreeMap::new();
        };
        entries
            .filter_map(|e| {
                let e = e.ok()?;
                Some((
                    e.file_name().into_string().ok()?,
                    std::fs::read_to_string(e.path()).ok()?,
                ))
            })
            .collect()
    }

    /// Move an environment's expiry into the past, as the clock would.
    fn expire(&self, env: &str) {
        let path = self.cloud.path("backend").join(format!("{env}.state.json"));
        let mut state: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        state["expires_at"] =
            Value::String((chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339());
        std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    }

    fn serial(&self, env: &str) -> u64 {
        let text = &self.files()[&format!("{env}.state.json")];
        serde_json::from_str::<Value>(text).unwrap()["serial"]
            .as_u64()
            .unwrap()
    }
}

#[test]
fn a_plan_made_in_one_job_is_applied_in_another_and_a_stale_or_edited_plan_is_refused() {
    let ci = Ci::new();
    let bp = blueprint("pr-1", "A100:1", 0, 1, 2);
    let plan_job = ci.job(&bp);
    plan_job.expect(&["plan", "--out", "plan.hoist"], 0);
    let artifact = std::fs::read_to_string(plan_job.path("plan.hoist")).unwrap();

    let apply_job = ci.job(&bp);
    apply_job.write("plan.hoist", &artifact);
    let r = apply_job.expect(&["apply", "plan.hoist"], 0);
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    assert!(
        !apply_job.path(".hoist").exists() && !plan_job.path(".hoist").exists(),
        "state is in the backend only"
    );
    assert_eq!(
        apply_job.inventory("pr-1").len(),
        plan_job.inventory("pr-1").len()
    );
    assert!(!apply_job.inventory("pr-1").is_empty());
    let serial = ci.serial("pr-1");

    // A plan saved before another job's apply is refused.
    let grown = bp.replace("    max: 2\n", "    max: 3\n");
    let early = ci.job(&grown);
    early.expect(&["plan", "--out", "plan.hoist"], 0);
    ci.job(&bp.replace("    max: 2\n", "    max: 4\n"))
        .expect(&["apply", "--auto-approve"], 0);
    let late = ci.job(&grown);
    late.write(
        "plan.hoist",
        &std::fs::read_to_string(early.path("plan.hoist")).unwrap(),
    );
    let r = late.expect(&["apply", "plan.hoist"], 1);
    assert!(r.stderr.contains("is stale"), "{}", r.stderr);

    // A plan edited by hand (a max past the budget) or cut short is refused, changing nothing.
    let fresh = ci.job(&grown);
    fresh.expect(&["plan", "--out", "plan.hoist"], 0);
    let saved = std::fs::read_to_string(fresh.path("plan.hoist")).unwrap();
    assert!(saved.contains("\"max\": 3"), "the plan grows the pool to 3");
    let serial = ci.serial("pr-1").max(serial);
    let edited = ci.job(&grown);
    edited.write("plan.hoist", &saved.replace("\"max\": 3", "\"max\": 300"));
    let r = edited.expect(&["apply", "plan.hoist"], 1);
    assert!(
        r.stderr.contains("was changed after it was made"),
        "{}",
        r.stderr
    );
    edited.write("plan.hoist", &saved[..saved.len() / 2]);
    let r = edited.expect(&["apply", "plan.hoist"], 1);
    assert!(
        r.stderr.contains("not a whole hoist plan file"),
        "{}",
        r.stderr
    );
    assert_eq!(ci.serial("pr-1"), serial, "nothing was applied");
    let show = edited.expect(&["show", "--json"], 0);
    assert!(show.stdout.contains("\"max\": 4"), "{}", show.stdout);
}

fn envs(job: &TestContext) -> Vec<Value> {
    let r = job.expect(&["envs", "--json"], 0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["environments"].as_array().unwrap().clone()
}

#[test]
fn envs_lists_the_backend_and_reap_destroys_exactly_the_expired_each_once() {
    let ci = Ci::new();
    let with_ttl = |name: &str, ttl: &str| {
        let bp = blueprint(name, "A100:1", 0, 1, 1);
        if ttl.is_empty() {
            bp
        } else {
            bp.replace("provider:", &format!("ttl: {ttl}\nprovider:"))
        }
    };
    for (name, ttl) in [
        ("old-1", "1h"),
        ("old-2", "1h"),
        ("old-3", "1h"),
        ("live", "8h"),
        ("kept", ""),
    ] {
        ci.job(&with_ttl(name, ttl))
            .expect(&["apply", "--auto-approve"], 0);
    }
    for old in ["old-1", "old-2", "old-3"] {
        ci.expire(old);
    }
    let reaper = ci.job("");
    let listed = envs(&reaper);
    let names: Vec<&str> = listed.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kept", "live", "old-1", "old-2", "old-3"]);
    let expired: Vec<&str> = listed
        .iter()
        .filter(|e| e["expired"] == true)
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(expired, ["old-1", "old-2", "old-3"]);
    assert!(listed
        .iter()
        .all(|e| e["cloud"] == "sim" && e["resources"].as_u64() > Some(0)));
    assert!(
        listed.iter().all(|e| e["hourly_usd"].as_f64() > Some(0.0)),
        "{listed:?}"
    );
    let text = reaper.expect(&["envs"], 0).stdout;
    assert!(
        text.contains("expired") && text.contains("in 7h") && text.contains("never"),
        "{text}"
    );

    // A dry run changes nothing: not the backend, not the cloud.
    let before = (ci.files(), reaper.inventory("old-1"));
    let r = reaper.expect(&["reap", "--dry-run"], 0);
    assert!(
        r.stdout.contains("old-1") && r.stdout.contains("nothing was changed"),
        "{}",
        r.stdout
    );
    assert_eq!((ci.files(), reaper.inventory("old-1")), before);

    // Two reapers at once: every expired environment is destroyed, by exactly one of them.
    let outputs = reaper.together(&["reap", "--auto-approve"], 2);
    for name in ["old-1", "old-2", "old-3"] {
        let by: usize = outputs
            .iter()
            .map(|o| o.matches(&format!("Reaped {name}.")).count())
            .sum();
        assert_eq!(by, 1, "{name} reaped once: {outputs:#?}");
        assert!(reaper.inventory(name).is_empty(), "{name} is gone");
    }
    assert!(!reaper.inventory("live").is_empty() && !reaper.inventory("kept").is_empty());
    let r = reaper.expect(&["reap", "--auto-approve"], 0);
    assert!(r.stdout.contains("Nothing to reap"), "{}", r.stdout);
}

#[test]
fn a_changed_ttl_moves_the_expiry_in_place() {
    let ci = Ci::new();
    let bp = blueprint("pr-2", "A100:1", 0, 1, 1).replace("provider:", "ttl: 2h\nprovider:");
    let job = ci.job(&bp);
    job.expect(&["apply", "--auto-approve"], 0);
    let before = job.inventory("pr-2");
    let expires = |job: &TestContext| envs(job)[0]["expires_at"].as_str().unwrap().to_string();
    let first = expires(&job);
    let later = ci.job(&bp.replace("ttl: 2h", "ttl: 8h"));
    later.expect(&["apply", "--auto-approve"], 0);
    assert!(expires(&later) > first, "the expiry moved later");
    assert_eq!(
        later.inventory("pr-2").keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "nothing replaced"
    );
    // The resources' expiry tags moved with it, in place.
    let listed: Vec<Value> = serde_json::from_str(
        &later
            .expect(&["sim", "list", "--env", "pr-2", "--json"], 0)
            .stdout,
    )
    .unwrap();
    let moved = expires(&later);
    assert!(
        listed.iter().all(|r| r["tags"]["hoist-expires-at"]
            .as_str()
            .is_some_and(|t| t[..19] == moved[..19])),
        "{moved} on every resource: {listed:?}"
    );
}

#[test]
fn variables_come_from_the_command_line_and_an_unknown_one_is_located() {
    let ci = Ci::new();
    let bp = blueprint("pr-{{ var.pr }}", "A100:1", 0, 1, 1).replace(
        "apiVersion: hoist/v1\n",
        "apiVersion: hoist/v1\nvariables:\n  pr: \"0\"\n  gpus: 1\n",
    );
    let job = ci.job(&bp);
    let r = job.expect(&["plan", "--var", "pr=42"], 0);
    assert!(r.stdout.contains("environment \"pr-42\""), "{}", r.stdout);
    job.write("vars.yaml", "pr: 7\n");
    let r = job.expect(&["plan", "--var-file", "vars.yaml"], 0);
    assert!(r.stdout.contains("environment \"pr-7\""), "{}", r.stdout);
    let r = job.expect(&["plan", "--var-file", "vars.yaml", "--var", "pr=8"], 0);
    assert!(
        r.stdout.contains("environment \"pr-8\""),
        "--var wins: {}",
        r.stdout
    );
    let r = job.expect(&["validate", "--var", "prr=1"], 1);
    assert!(
        r.stderr
            .contains("--var prr=1: the blueprint declares no variable `prr`")
            && r.stderr.contains("hoist.yaml:2:1")
            && r.stderr.contains("did you mean `pr`"),
        "{}",
        r.stderr
    );
    job.write("bad.yaml", "pr: [1\n");
    let r = job.expect(&["plan", "--var-file", "bad.yaml"], 1);
    assert!(r.stderr.contains("bad.yaml:"), "{}", r.stderr);
}

#[test]
fn completions_cover_the_ci_commands() {
    let t = TestContext::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = t.expect(&["completions", shell], 0).stdout;
        // fish writes long flags as `-l backend`.
        for word in ["envs", "reap", "backend", "var-file", "markdown"] {
            assert!(out.contains(word), "{shell} completes {word}");
        }
        assert!(
            out.contains("--backend") || out.contains("-l backend"),
            "{out}"
        );
    }
}

#[test]
fn sweep_finds_what_no_state_records_and_what_expired_and_a_dry_run_changes_nothing() {
    let ci = Ci::new();
    for (name, ttl) in [("lost", "8h"), ("live", "8h"), ("later", "30d")] {
        let bp = blueprint(name, "A100:1", 0, 1, 1)
            .replace("provider:", &format!("ttl: {ttl}\nprovider:"));
        ci.job(&bp).expect(&["apply", "--auto-approve"], 0);
    }
    let job = ci.job("");
    let made = job.inventory("lost");
    assert!(made.len() >= 5, "{made:?}");
    // The state of a live environment is lost.
    std::fs::remove_file(ci.cloud.path("backend").join("lost.state.json")).unwrap();
    let sweep = ["sweep", "--cloud", "sim", "--region", "sim-east1"];
    let r = job.expect(&[&sweep[..], &["--env", "lost", "--dry-run"]].concat(), 0);
    assert!(
        r.stdout.contains(&format!(
            "{} resources in sim sim-east1 carry hoist-env=lost",
            made.len()
        )),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("node_pool.gpu") && r.stdout.contains("Dry run"),
        "{}",
        r.stdout
    );
    assert_eq!(job.inventory("lost"), made, "a dry run deletes nothing");
    let r = job.expect(
        &[&sweep[..], &["--env", "lost", "--auto-approve"]].concat(),
        0,
    );
    assert!(
        r.stdout
            .contains(&format!("Swept {} resources", made.len())),
        "{}",
        r.stdout
    );
    assert!(
        job.inventory("lost").is_empty(),
        "nothing tagged for it is left"
    );
    // What a state records is not swept by environment.
    let r = job.expect(
        &[&sweep[..], &["--env", "live", "--auto-approve"]].concat(),
        0,
    );
    assert!(r.stdout.contains("Nothing to sweep"), "{}", r.stdout);
    // Ten hours on, `live` has expired and `later` has not: --expired takes exactly `live`,
    // although its state still records it.
    let mut later_job = ci.job("");
    let ten_hours = (chrono::Utc::now() + chrono::Duration::hours(10)).to_rfc3339();
    later_job.env.push(("HOIST_NOW".into(), ten_hours));
    let before = (later_job.inventory("live"), later_job.inventory("later"));
    later_job.expect(&[&sweep[..], &["--expired", "--dry-run"]].concat(), 0);
    assert_eq!(
        (later_job.inventory("live"), later_job.inventory("later")),
        before
    );
    let r = later_job.expect(&[&sweep[..], &["--expired", "--auto-approve"]].concat(), 0);
    assert!(
        r.stdout.contains("have passed their hoist-expires-at"),
        "{}",
        r.stdout
    );
    assert!(later_job.inventory("live").is_empty());
    assert_eq!(
        later_job.inventory("later"),
        before.1,
        "what has not expired stays"
    );
}
