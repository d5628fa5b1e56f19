#![cfg(feature = "aws")]
//! Remote state in S3 (moto server, as the AWS tests use), shared by "CI jobs" that are
//! fresh working directories: the environments are on the simulated cloud, their state,
//! locks and journals in the bucket. A second apply is refused naming the first's holder and
//! CI run; a holder killed with SIGKILL leaves a lease that lapses, and the next job recovers
//! its journal; state is never overwritten; a backend of 1,000 environments is listed.

mod common;

use common::emulator::Emulator;
use common::{blueprint, TestContext};
use serde_json::Value;

const BUCKET: &str = "hoist-state";
const BACKEND: &str = "s3://hoist-state/ci/team-a";

struct S3Ci {
    s3: Emulator,
    cloud: TestContext,
}

impl S3Ci {
    fn new() -> S3Ci {
        let s3 = Emulator::start_plain();
        s3.boto(&format!("c('s3').create_bucket(Bucket='{BUCKET}')"));
        let cloud = s3.context();
        S3Ci { s3, cloud }
    }

    fn job(&self, blueprint: &str, extra: &[(&str, &str)]) -> TestContext {
        let mut job = self.cloud.job();
        job.env.push(("HOIST_BACKEND".into(), BACKEND.into()));
        for (k, v) in extra {
            job.env.push((k.to_string(), v.to_string()));
        }
        job.write("hoist.yaml", blueprint);
        job
    }

    /// The keys under the backend's prefix.
    fn keys(&self) -> Vec<String> {
        let out = self.s3.boto(&format!(
            "r = c('s3').list_objects_v2(Bucket='{BUCKET}', Prefix='ci/team-a/')\nprint(json.dumps([o['Key'] for o in r.get('Contents', [])]))"
        ));
        serde_json::from_str(out.trim()).unwrap()
    }

    fn object(&self, key: &str) -> Value {
        let out = self.s3.boto(&format!(
            "print(c('s3').get_object(Bucket='{BUCKET}', Key='ci/team-a/{key}')['Body'].read().decode())"
        ));
        serde_json::from_str(out.trim()).unwrap()
    }
}

#[test]
fn state_locks_and_journals_live_in_s3_and_a_killed_holders_lease_lapses() {
    let ci = S3Ci::new();
    let bp = blueprint("pr-7", "A100:1", 0, 1, 2);
    let plan_job = ci.job(&bp, &[]);
    plan_job.expect(&["plan", "--out", "plan.hoist"], 0);
    let apply_job = ci.job(&bp, &[]);
    apply_job.write(
        "plan.hoist",
        &std::fs::read_to_string(plan_job.path("plan.hoist")).unwrap(),
    );
    apply_job.expect(&["apply", "plan.hoist"], 0);
    let keys = ci.keys();
    assert_eq!(
        keys[1..],
        [
            "ci/team-a/pr-7.state.json",
            "ci/team-a/pr-7.state.json.backup"
        ],
        "no lock or journal left"
    );
    assert!(
        keys[0].starts_with("ci/team-a/.summaries/pr-7/"),
        "one summary: {keys:?}"
    );
    assert!(!apply_job.path(".hoist").exists());
    let serial = ci.object("pr-7.state.json")["serial"].as_u64().unwrap();

    // A holder killed mid-apply (SIGKILL, after a create): its lock stays, with a lease.
    let grown = bp.replace("    max: 2\n", "    max: 3\n").replace(
        "  - name: cpu",
        "  - name: extra\n    instance_type: sim-standard-4\n    min: 1\n    max: 1\n  - name: cpu",
    );
    let ci_vars = [
        ("GITHUB_REPOSITORY", "acme/ml"),
        ("GITHUB_RUN_ID", "4242"),
        ("HOIST_LOCK_LEASE", "4s"),
    ];
    let killed = ci.job(&grown, &ci_vars);
    killed.apply_killed_at("after-create:node_pool.extra");
    assert!(
        ci.keys().contains(&"ci/team-a/pr-7.journal".to_string()),
        "the journal is in the bucket: {:?}",
        ci.keys()
    );
    let lock = ci.object("pr-7.lock");
    assert_eq!(
        lock["ci_run"],
        "https://github.com/acme/ml/actions/runs/4242"
    );

    // Another job at once is refused, naming the holder and its CI run.
    let next = ci.job(&grown, &[("HOIST_LOCK_LEASE", "4s")]);
    let r = next.expect(&["apply", "--auto-approve"], 1);
    assert!(
        r.stderr.contains("locked by another run")
            && r.stderr.contains("actions/runs/4242")
            && r.stderr.contains("lease until"),
        "{}",
        r.stderr
    );
    // Once the lease lapses the next job takes the lock over and recovers the journal.
    std::thread::sleep(std::time::Duration::from_secs(5));
    next.expect(&["apply", "--auto-approve"], 0);
    let extra: Vec<String> = next
        .inventory("pr-7")
        .into_values()
        .filter(|a| a == "node_pool.extra")
        .collect();
    assert_eq!(
        extra.len(),
        1,
        "the killed run's pool was recovered, not made again"
    );
    next.expect(&["plan", "--detailed-exitcode"], 0);
    let state = ci.object("pr-7.state.json");
    assert!(state["serial"].as_u64().unwrap() > serial);
    assert!(state["resources"]
        .as_object()
        .unwrap()
        .contains_key("node_pool.extra"));
    assert!(
        !ci.keys()
            .iter()
            .any(|k| k.ends_with(".lock") || k.ends_with(".journal")),
        "{:?}",
        ci.keys()
    );
}

#[test]
fn concurrent_applies_are_serialized_and_unlock_breaks_a_lock_at_once() {
    let ci = S3Ci::new();
    let bp = blueprint("pr-8", "A100:1", 0, 1, 1);
    ci.job(&bp, &[]).expect(&["apply", "--auto-approve"], 0);
    // A slow apply holds the lock while a second one tries.
    let mut slow = ci.job(
        &bp.replace("max: 1\n  - name: cpu", "max: 2\n  - name: cpu"),
        &[],
    );
    slow.latency = "demo";
    let run = slow.spawn(
        &["apply", "--auto-approve"],
        &[("HOIST_SIM_LATENCY", "demo")],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ci.keys().iter().any(|k| k.ends_with("pr-8.lock")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow apply never locked"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let other = ci.job(&bp, &[]);
    let r = other.expect(&["apply", "--auto-approve"], 1);
    assert!(
        r.stderr.contains("locked by another run") && r.stderr.contains("`apply`"),
        "{}",
        r.stderr
    );
    let out = run.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A lock left behind is broken with its id, at once.
    let more = bp.replace(
        "  - name: cpu",
        "  - name: more\n    instance_type: sim-standard-4\n    min: 1\n    max: 1\n  - name: cpu",
    );
    let held = ci.job(&more, &[("HOIST_LOCK_LEASE", "10m")]);
    held.apply_killed_at("after-intent:node_pool.more");
    let id = ci.object("pr-8.lock")["id"].as_str().unwrap().to_string();
    let r = other.expect(&["apply", "--auto-approve"], 1);
    assert!(r.stderr.contains(&id), "{}", r.stderr);
    other.expect(&["unlock", &id], 0);
    ci.job(&more, &[]).expect(&["apply", "--auto-approve"], 0);
}

#[test]
fn envs_lists_a_thousand_environments() {
    let ci = S3Ci::new();
    let job = ci.job(
        &blueprint("seed", "A100:1", 0, 1, 1).replace("provider:", "ttl: 2h\nprovider:"),
        &[],
    );
    job.expect(&["apply", "--auto-approve"], 0);
    // hoist keeps a summary beside each state, in the key of an empty object.
    let summary = ci
        .keys()
        .into_iter()
        .find(|k| k.starts_with("ci/team-a/.summaries/seed/"))
        .expect("a summary of the seed's state");
    let encoded = summary.rsplit('/').next().unwrap().to_string();
    // 999 more states and their summaries, as as many CI jobs would have left them.
    ci.s3.boto(&format!(
        "s3 = c('s3')\nbase = s3.get_object(Bucket='{BUCKET}', Key='ci/team-a/seed.state.json')['Body'].read().decode()\nimport concurrent.futures as f\ndef put(i):\n    n = 'env-%04d' % i\n    s3.put_object(Bucket='{BUCKET}', Key='ci/team-a/%s.state.json' % n, Body=base.replace('\"environment\": \"seed\"', '\"environment\": \"%s\"' % n))\n    s3.put_object(Bucket='{BUCKET}', Key='ci/team-a/.summaries/%s/{encoded}' % n, Body=b'')\nwith f.ThreadPoolExecutor(16) as p:\n    list(p.map(put, range(999)))"
    ));
    let started = std::time::Instant::now();
    let r = job.expect(&["envs", "--json"], 0);
    let took = started.elapsed();
    let listed: Value = serde_json::from_str(&r.stdout).unwrap();
    let envs = listed["environments"].as_array().unwrap();
    assert_eq!(envs.len(), 1000);
    assert!(
        envs.iter()
            .all(|e| e["error"].is_null() && e["cloud"] == "sim"),
        "{:?}",
        envs.iter().find(|e| !e["error"].is_null())
    );
    assert!(envs
        .iter()
        .all(|e| e["expires_at"] == envs[0]["expires_at"] && e["hourly_usd"].as_f64() > Some(0.0)));
    eprintln!(
        "hoist envs: 1,000 environments from moto in {:.2} s",
        took.as_secs_f64()
    );
}

#[test]
fn reap_destroys_exactly_the_expired_environments_once_even_with_two_reapers() {
    let ci = S3Ci::new();
    for (name, ttl) in [("short-1", "1h"), ("short-2", "1h"), ("long", "8h")] {
        let bp = blueprint(name, "A100:1", 0, 1, 1)
            .replace("provider:", &format!("ttl: {ttl}\nprovider:"));
        ci.job(&bp, &[]).expect(&["apply", "--auto-approve"], 0);
    }
    // Two hours on: the one-hour environments have expired.
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let reaper = ci.job("", &[("HOIST_NOW", later.as_str())]);
    let before = ci.keys();
    let r = reaper.expect(&["reap", "--dry-run"], 0);
    assert!(
        r.stdout.contains("short-1")
            && r.stdout.contains("short-2")
            && !r.stdout.contains("long ("),
        "{}",
        r.stdout
    );
    assert_eq!(ci.keys(), before, "a dry run changes nothing");
    let runs = reaper.together(&["reap", "--auto-approve"], 2);
    for name in ["short-1", "short-2"] {
        let by: usize = runs
            .iter()
            .map(|o| o.matches(&format!("Reaped {name}.")).count())
            .sum();
        assert_eq!(by, 1, "{name} reaped once: {runs:#?}");
        assert!(reaper.inventory(name).is_empty());
    }
    assert!(!reaper.inventory("long").is_empty());
    let listed: Value =
        serde_json::from_str(&reaper.expect(&["envs", "--json"], 0).stdout).unwrap();
    let left: Vec<(&str, u64)> = listed["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                e["resources"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(left, [("long", 7), ("short-1", 0), ("short-2", 0)]);
}
