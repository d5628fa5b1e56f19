//! Retrying cloud calls and waiting for cloud resources, as small composable pieces.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hoist_provider::{Address, Lifecycle, Observed, Provider, ProviderError, ResourceState};
use rand::Rng;

use super::limiter::Limiter;
use super::{Event, Observer};

/// How hard to retry. Throttling and transient errors get `attempts` tries with exponential
/// backoff and full jitter; "not ready yet" (a parent still provisioning, a dependent still
/// going) is retried until `wait_timeout`, since it usually resolves by itself. A step's
/// `deadline` bounds both, and a set `cancel` flag (the first Ctrl-C) ends every pause.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    pub wait_timeout: Duration,
    pub deadline: Option<Instant>,
    pub cancel: Option<Arc<AtomicBool>>,
    /// The provider's adaptive limiter: each attempt holds a permit while in flight.
    pub limiter: Option<Arc<Limiter>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 10,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(600),
            deadline: None,
            cancel: None,
            limiter: None,
        }
    }
}

/// How a deadline reads in messages: `90s`, `10m`, `1h30m`.
pub fn duration_text(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

impl RetryPolicy {
    /// This policy for one step that must end by `deadline`.
    pub fn until(&self, deadline: Instant) -> Self {
        Self {
            deadline: Some(self.deadline.map_or(deadline, |d| d.min(deadline))),
            ..self.clone()
        }
    }

    /// This policy with every attempt going through `limiter`.
    pub fn limited(mut self, limiter: Option<Arc<Limiter>>) -> Self {
        self.limiter = limiter;
        self
    }

    /// One attempt, holding a permit of the limiter (if any) while in flight, and telling it
    /// how the call went.
    async fn attempt<T, Fut>(&self, call: Fut) -> Result<T, ProviderError>
    where
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let Some(limiter) = &self.limiter else {
            return call.await;
        };
        let permit = limiter.acquire().await;
        let result = call.await;
        drop(permit);
        match &result {
            Ok(_) => limiter.succeeded(),
            Err(ProviderError::Throttled { .. }) => limiter.throttled(),
            Err(_) => {}
        }
        result
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Sleep `delay` (cut short by the deadline) unless the run is cancelled meanwhile.
    async fn pause(&self, address: &Address, delay: Duration) -> Result<(), ProviderError> {
        let mut until = Instant::now() + delay;
        if let Some(d) = self.deadline {
            until = until.min(d);
        }
        loop {
            if self.cancelled() {
                return Err(ProviderError::Interrupted(address.to_string()));
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            tokio::time::sleep((until - now).min(Duration::from_millis(100))).await;
        }
    }

    /// The error to end with at the deadline: the last one, saying when it gave up.
    fn expired(&self, address: &Address, started: Instant, last: ProviderError) -> ProviderError {
        ProviderError::Fatal(format!(
            "{address}: gave up after {} (the step's deadline; --timeout sets it): {last}",
            duration_text(started.elapsed())
        ))
    }

    /// The pause before retry number `attempt` (1-based): uniform in [0, min(cap, base·2^attempt)].
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        let ms = rand::thread_rng().gen_range(0..=ceiling.as_millis().max(1) as u64);
        Duration::from_millis(ms)
    }

    /// Run `call` until it succeeds, fails for good, or runs out of attempts.
    pub async fn run<T, F, Fut>(
        &self,
        address: &Address,
        observer: &dyn Observer,
        mut call: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match self.attempt(call()).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() => {
                    attempt += 1;
                    let waiting = matches!(e, ProviderError::NotReady { .. });
                    if self.past_deadline() {
                        return Err(self.expired(address, started, e));
                    }
                    let out_of_tries = if waiting {
                        self.deadline.is_none() && started.elapsed() > self.wait_timeout
                    } else {
                        attempt >= self.attempts
                    };
                    if out_of_tries {
                        return Err(e);
                    }
                    let delay = if waiting {
                        self.delay(attempt.min(5)) + self.base
                    } else {
                        self.delay(attempt)
                    };
                    observer.event(Event::Retrying {
                        address: address.clone(),
                        error: e.to_string(),
                        attempt,
                        delay,
                    });
                    self.pause(address, delay).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A condition on a resource as the cloud reports it: `Ok(true)` when met, `Err` when it
/// can no longer be met.
pub trait Condition: Send + Sync {
    fn check(&self, observed: Option<&Observed>) -> Result<bool, String>;
    fn describe(&self) -> &'static str;
}

/// The resource exists and is ready to use.
pub struct IsReady;

impl Condition for IsReady {
    fn check(&self, observed: Option<&Observed>) -> Result<bool, String> {
        match observed.map(|o| &o.lifecycle) {
            None => Err("it disappeared while being created".into()),
            Some(Lifecycle::Ready) => Ok(true),
            Some(Lifecycle::Failed { reason }) => Err(reason.clone()),
            Some(Lifecycle::Deleting) => Err("it is being deleted".into()),
            Some(_) => Ok(false),
        }
    }
    fn describe(&self) -> &'static str {
        "ready"
    }
}

/// The resource no longer exists.
pub struct IsGone;

impl Condition for IsGone {
    fn check(&self, observed: Option<&Observed>) -> Result<bool, String> {
        Ok(observed.is_none())
    }
    fn describe(&self) -> &'static str {
        "deleted"
    }
}

/// Poll `resource` until `condition` holds, backing off from a short first poll.
pub async fn wait_for(
    provider: &dyn Provider,
    resource: &ResourceState,
    condition: &dyn Condition,
    policy: &RetryPolicy,
    observer: &dyn Observer,
) -> Result<Option<Observed>, ProviderError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let batch = &[resource];
        let observed = policy
            .run(&resource.address, observer, || async {
                provider.read_many(batch).await.pop().unwrap_or(Ok(None))
            })
            .await?;
        let limit = policy.deadline.unwrap_or(started + policy.wait_timeout);
        match condition.check(observed.as_ref()) {
            Ok(true) => return Ok(observed),
            Ok(false) if Instant::now() < limit => {
                policy.pause(&resource.address, pause).await?;
                pause = (pause * 3 / 2).min(Duration::from_secs(15));
            }
            Ok(false) => {
                return Err(ProviderError::Fatal(format!(
                    "{} was not {} after {} (the step's deadline; --timeout sets it)",
                    resource.address,
                    condition.describe(),
                    duration_text(started.elapsed())
                )))
            }
            Err(why) => {
                return Err(ProviderError::Fatal(format!(
                    "{} will not become {}: {why}",
                    resource.address,
                    condition.describe()
                )))
            }
        }
    }
}
