//! Retrying cloud calls and waiting for cloud resources, as small composable pieces.

use std::future::Future;
use std::time::{Duration, Instant};

use hoist_provider::{Address, Lifecycle, Observed, Provider, ProviderError, ResourceState};
use rand::Rng;

use super::{Event, Observer};

/// How hard to retry. Throttling and transient errors get `attempts` tries with exponential
/// backoff and full jitter; "not ready yet" (a parent still provisioning) is retried until
/// `wait_timeout`, since it resolves by itself.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    pub wait_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 10,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
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
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() => {
                    attempt += 1;
                    let waiting = matches!(e, ProviderError::NotReady { .. });
                    let out_of_tries = if waiting {
                        started.elapsed() > self.wait_timeout
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
                    tokio::time::sleep(delay).await;
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
        match condition.check(observed.as_ref()) {
            Ok(true) => return Ok(observed),
            Ok(false) if started.elapsed() < policy.wait_timeout => {
                tokio::time::sleep(pause).await;
                pause = (pause * 3 / 2).min(Duration::from_secs(15));
            }
            Ok(false) => {
                return Err(ProviderError::Fatal(format!(
                    "{} was not {} after {:?}",
                    resource.address,
                    condition.describe(),
                    policy.wait_timeout
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
