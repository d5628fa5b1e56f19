//! Adaptive concurrency per provider, as TCP does it: widen while calls succeed (by one per
//! success until the first throttle, then by one per window), halve on throttling, never past
//! the provider's maximum or the user's `--parallelism`. A call holds a permit only while it
//! is in flight, not while its step sleeps between polls, so a wide graph waits in parallel.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hoist_provider::Concurrency;
use serde::Serialize;
use tokio::sync::Notify;

/// Throttles closer together than this are one congestion event: halve once.
const BACKOFF_WINDOW: Duration = Duration::from_millis(250);

pub struct Limiter {
    state: Mutex<State>,
    notify: Notify,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Limiter({:?})", self.report())
    }
}

struct State {
    provider: String,
    limit: f64,
    max: usize,
    in_flight: usize,
    slow_start: bool,
    last_backoff: Option<Instant>,
    initial: usize,
    lowest: f64,
    peak_limit: f64,
    peak_in_flight: usize,
    calls: u64,
    throttled: u64,
}

/// How one provider's concurrency adapted over a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimiterReport {
    pub provider: String,
    pub calls: u64,
    pub throttled: u64,
    pub initial: usize,
    /// The lowest and highest the limit went, and where it ended.
    pub lowest: usize,
    pub peak: usize,
    pub last: usize,
    /// The most calls that were in flight at once.
    pub peak_in_flight: usize,
    pub max: usize,
}

/// Held while a call is in flight.
pub struct Permit {
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.lock().in_flight -= 1;
        self.limiter.notify.notify_one();
    }
}

impl Limiter {
    pub fn new(provider: &str, c: Concurrency) -> Self {
        let initial = c.initial.clamp(1, c.max.max(1));
        Self {
            state: Mutex::new(State {
                provider: provider.into(),
                limit: initial as f64,
                max: c.max.max(1),
                in_flight: 0,
                slow_start: true,
                last_backoff: None,
                initial,
                lowest: initial as f64,
                peak_limit: initial as f64,
                peak_in_flight: 0,
                calls: 0,
                throttled: 0,
            }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Never more than `max` at once (the user's `--parallelism`).
    pub fn cap(&self, max: usize) {
        let mut s = self.lock();
        s.max = s.max.min(max.max(1));
        s.limit = s.limit.min(s.max as f64);
        s.initial = s.initial.min(s.max);
        s.lowest = s.lowest.min(s.limit);
        s.peak_limit = s.peak_limit.min(s.limit);
    }

    /// Wait for room for one more call.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_flight < (s.limit as usize).max(1) {
                    s.in_flight += 1;
                    s.calls += 1;
                    s.peak_in_flight = s.peak_in_flight.max(s.in_flight);
                    return Permit {
                        limiter: self.clone(),
                    };
                }
            }
            notified.await;
        }
    }

    /// A call went through: widen.
    pub fn succeeded(&self) {
        let grew = {
            let mut s = self.lock();
            let before = s.limit as usize;
            let step = if s.slow_start { 1.0 } else { 1.0 / s.limit };
            s.limit = (s.limit + step).min(s.max as f64);
            s.peak_limit = s.peak_limit.max(s.limit);
            s.limit as usize > before
        };
        if grew {
            self.notify.notify_one();
        }
    }

    /// The cloud throttled a call: halve, once per congestion event.
    pub fn throttled(&self) {
        let mut s = self.lock();
        s.throttled += 1;
        s.slow_start = false;
        let now = Instant::now();
        if s.last_backoff.is_some_and(|t| now - t < BACKOFF_WINDOW) {
            return;
        }
        s.last_backoff = Some(now);
        s.limit = (s.limit / 2.0).max(1.0);
        s.lowest = s.lowest.min(s.limit);
    }

    pub fn report(&self) -> LimiterReport {
        let s = self.lock();
        LimiterReport {
            provider: s.provider.clone(),
            calls: s.calls,
            throttled: s.throttled,
            initial: s.initial,
            lowest: s.lowest as usize,
            peak: s.peak_limit as usize,
            last: s.limit as usize,
            peak_in_flight: s.peak_in_flight,
            max: s.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn widens_on_success_halves_on_throttle_and_respects_the_cap() {
        let l = Arc::new(Limiter::new(
            "t",
            Concurrency {
                initial: 4,
                max: 10,
            },
        ));
        for _ in 0..20 {
            l.succeeded();
        }
        assert_eq!(l.report().last, 10, "slow start widens up to max");
        l.throttled();
        l.throttled();
        assert_eq!(l.report().last, 5, "one burst of throttles halves once");
        l.cap(3);
        let held: Vec<Permit> = futures::future::join_all((0..3).map(|_| l.acquire())).await;
        let fourth = tokio::time::timeout(Duration::from_millis(50), l.acquire()).await;
        assert!(fourth.is_err(), "a fourth call waits for a permit");
        drop(held);
        let r = l.report();
        assert_eq!((r.peak_in_flight, r.max, r.throttled), (3, 3, 2));
    }
}
