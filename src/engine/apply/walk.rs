//! The DAG walk of one phase: each step starts when its prerequisites are done, at most
//! `parallelism` at once, none after the first Ctrl-C; a failed step skips its dependents.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use hoist_provider::Address;

use super::steps::run_step;
use super::{ApplyOptions, Outcome, Shared, Step};
use crate::engine::Event;

/// Steps in flight at once without `--parallelism`: enough for the widest graphs to wait in
/// parallel (a step waiting for readiness holds no call permit), few enough that thousands of
/// queued steps do not all hold their memory at once; the providers' limiters bound the calls.
const DEFAULT_STEPS: usize = 256;

/// Prerequisites of each step: forward = dependencies first; backward = dependents first.
pub(super) fn prerequisites(steps: &[Step], forward: bool) -> Vec<Vec<usize>> {
    let index: HashMap<&Address, Vec<usize>> =
        steps
            .iter()
            .enumerate()
            .fold(HashMap::new(), |mut m, (i, s)| {
                m.entry(s.address()).or_default().push(i);
                m
            });
    let deps_of = |s: &Step| -> Vec<Address> {
        match s {
            Step::Create { config, .. } | Step::Update { config, .. } => config.depends_on.clone(),
            Step::Delete { prior } => prior.depends_on.clone(),
        }
    };
    let mut pre = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for dep in deps_of(s) {
            for &j in index.get(&dep).into_iter().flatten() {
                if forward {
                    pre[i].push(j);
                } else {
                    pre[j].push(i);
                }
            }
        }
    }
    pre
}

/// Run one phase's DAG; `None` for steps never started (interrupted).
pub(super) async fn run_phase(
    shared: &Arc<Shared>,
    steps: Vec<Step>,
    forward: bool,
    failed_before: &HashSet<Address>,
    opts: &ApplyOptions,
) -> Vec<Option<Outcome>> {
    let pre = prerequisites(&steps, forward);
    let mut waiting: Vec<usize> = pre.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); steps.len()];
    for (i, ps) in pre.iter().enumerate() {
        for &p in ps {
            dependents[p].push(i);
        }
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; steps.len()];
    let mut ready: VecDeque<usize> = (0..steps.len()).filter(|&i| waiting[i] == 0).collect();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < opts.parallelism.unwrap_or(DEFAULT_STEPS).max(1)
            && !opts.cancel.load(Ordering::SeqCst)
        {
            let Some(i) = ready.pop_front() else { break };
            let blocker = pre[i]
                .iter()
                .find(|&&p| outcomes[p] != Some(Outcome::Done))
                .map(|&p| steps[p].address().clone());
            let blocker = blocker.or_else(|| {
                failed_before
                    .contains(steps[i].address())
                    .then(|| steps[i].address().clone())
            });
            if let Some(b) = blocker {
                let reason = format!("{b} did not complete");
                shared.observer.event(Event::Skipped {
                    address: steps[i].address().clone(),
                    reason: reason.clone(),
                });
                outcomes[i] = Some(Outcome::Skipped(reason));
                release(i, &dependents, &mut waiting, &mut ready);
                continue;
            }
            let (shared, step) = (shared.clone(), steps[i].clone());
            running.spawn(async move { (i, run_step(&shared, step).await) });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, outcome) =
            joined.unwrap_or_else(|e| (usize::MAX, Outcome::Failed(format!("step panicked: {e}"))));
        if i == usize::MAX {
            continue;
        }
        outcomes[i] = Some(outcome);
        release(i, &dependents, &mut waiting, &mut ready);
    }
    outcomes
}

fn release(
    i: usize,
    dependents: &[Vec<usize>],
    waiting: &mut [usize],
    ready: &mut VecDeque<usize>,
) {
    for &d in &dependents[i] {
        waiting[d] -= 1;
        if waiting[d] == 0 {
            ready.push_back(d);
        }
    }
}
