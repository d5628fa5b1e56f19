//! One step of an apply: a create, an update or a delete, each journaled so that a crash or a
//! failure at any point leaves a record of what the cloud holds.
//!
//! A create journals its intent (with its token) first, and the cloud id as soon as the call
//! returns, before waiting for readiness; a create that fails is looked up by its token, so a
//! resource the cloud made anyway is recorded. A replacement takes over from the resource it
//! replaces only once it is ready; until then the live one stays current.

use std::time::{Duration, Instant};

use hoist_provider::{
    Action, Address, Lifecycle, Observed, Provider, ProviderError, ReplaceOrder, ResourceConfig,
    ResourceState,
};
use hoist_state::JournalEntry;
use serde_json::json;

use super::{Outcome, Shared, Step};
use crate::engine::retry::{wait_for, IsGone, IsReady, RetryPolicy};
use crate::engine::Event;

pub(super) async fn run_step(shared: &Shared, step: Step) -> Outcome {
    let address = step.address().clone();
    let started = Instant::now();
    let (action, verb) = match &step {
        Step::Create {
            deposing: Some(_), ..
        } => (
            Action::Replace(ReplaceOrder::CreateBeforeDestroy),
            "creating replacement",
        ),
        Step::Create { .. } => (Action::Create, "creating"),
        Step::Update { .. } => (Action::Update, "updating"),
        Step::Delete { .. } => (Action::Delete, "deleting"),
    };
    shared.observer.event(Event::Started {
        address: address.clone(),
        action,
        verb,
    });
    let result = match shared.provider(step.provider()).await {
        Ok(provider) => {
            let on = On {
                shared,
                policy: shared.policy_for(provider.as_ref(), &address, started),
                provider: provider.as_ref(),
            };
            match step {
                Step::Create { config, deposing } => create(&on, config, deposing).await,
                Step::Update { config, prior } => update(&on, config, prior).await,
                Step::Delete { prior } => delete(&on, prior).await,
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(cloud_id) => {
            let verb = match action {
                Action::Delete => "deleted",
                Action::Update => "updated",
                _ => "created",
            };
            shared.observer.event(Event::Finished {
                address,
                verb,
                elapsed: started.elapsed(),
                cloud_id,
            });
            Outcome::Done
        }
        Err(error) => {
            shared.observer.event(Event::Failed {
                address,
                error: error.clone(),
            });
            Outcome::Failed(error)
        }
    }
}

/// What one step works with: the apply's shared parts, its provider and its retry policy.
struct On<'a> {
    shared: &'a Shared,
    provider: &'a dyn Provider,
    policy: RetryPolicy,
}

impl Shared {
    /// The retry policy of one step: its deadline from `--timeout` or the provider's default,
    /// every call through the provider's limiter.
    fn policy_for(
        &self,
        provider: &dyn Provider,
        address: &Address,
        started: Instant,
    ) -> RetryPolicy {
        let secs = match provider.rules(address.kind()).timeout_secs {
            0 => super::DEFAULT_STEP_SECS,
            s => s,
        };
        let limit = self.timeout.unwrap_or(Duration::from_secs(secs));
        self.retry
            .until(started + limit)
            .limited(Some(self.providers.limiter(provider, address.kind())))
    }
}

async fn create(
    on: &On<'_>,
    config: ResourceConfig,
    deposing: Option<ResourceState>,
) -> Result<String, String> {
    let (shared, policy) = (on.shared, &on.policy);
    let mut config = shared.resolved(config)?;
    let address = config.address.clone();
    let replaces = deposing.map(|old| old.cloud_id);
    let token = uuid::Uuid::new_v4().to_string();
    shared
        .record_intent(JournalEntry::Intent {
            address: address.clone(),
            token: token.clone(),
            provider: on.provider.name().into(),
            depends_on: config.depends_on.clone(),
            attrs: config.attrs.clone(),
            replaces: replaces.clone(),
        })
        .await?;
    shared.pending(&token, true);
    failpoint("after-intent", &address);
    let ctx = shared.context(&config, token.clone());
    let mut tried = Vec::new();
    let made = loop {
        let attempt = policy
            .run(&address, shared.observer.as_ref(), || {
                on.provider.create(&config, &ctx)
            })
            .await;
        match attempt {
            Ok(o) => break o,
            Err(ProviderError::Capacity {
                accelerator,
                region,
                zones,
            }) => {
                let moved = fail_over(
                    shared,
                    &mut config,
                    &mut tried,
                    &accelerator,
                    &region,
                    &zones,
                );
                if let Err(why) = moved {
                    let e = ProviderError::Fatal(why.clone());
                    resolve_failed(on, &config, &token, &replaces, &e).await?;
                    return Err(why);
                }
            }
            Err(e) => {
                resolve_failed(on, &config, &token, &replaces, &e).await?;
                return Err(e.to_string());
            }
        }
    };
    failpoint("after-create", &address);
    let cloud_id = settle(on, made, &config, replaces).await;
    shared.pending(&token, false);
    let cloud_id = cloud_id?;
    failpoint("after-save", &address);
    Ok(cloud_id)
}

/// Move a pool whose zones ran out of capacity to the zones left; an error that names none of
/// the pool's zones would retry the same zones for ever, so it ends the step.
fn fail_over(
    shared: &Shared,
    config: &mut ResourceConfig,
    tried: &mut Vec<String>,
    accelerator: &str,
    region: &str,
    short: &[String],
) -> Result<(), String> {
    let zones = config.zones();
    for z in zones.iter().filter(|z| short.contains(z)) {
        if !tried.contains(z) {
            tried.push(z.clone());
        }
    }
    let left: Vec<String> = zones
        .iter()
        .filter(|z| !short.contains(z))
        .cloned()
        .collect();
    if left.is_empty() {
        return Err(format!(
            "no capacity for {accelerator} in region {region}; zones tried: {}",
            tried.join(", ")
        ));
    }
    if left.len() == zones.len() {
        return Err(format!(
            "no capacity for {accelerator} in region {region}, and the cloud's error named none of the pool's zones ({}), so no other zone can be chosen",
            zones.join(", ")
        ));
    }
    shared.observer.event(Event::Note {
        address: Some(config.address.clone()),
        message: format!(
            "{} out of {accelerator} capacity; retrying in {}",
            short.join(", "),
            left.join(", ")
        ),
    });
    config.placement.insert("zones".into(), json!(left));
    Ok(())
}

/// After a failed create, find by token what the cloud may have made anyway (a lost answer
/// on the last try) and record it, so that no resource is left that no state knows.
async fn resolve_failed(
    on: &On<'_>,
    config: &ResourceConfig,
    token: &str,
    replaces: &Option<String>,
    error: &ProviderError,
) -> Result<(), String> {
    let (shared, address) = (on.shared, &config.address);
    let found = on
        .policy
        .run(address, shared.observer.as_ref(), || {
            on.provider.find_by_token(address, token, &shared.owner)
        })
        .await;
    match found {
        Ok(Some(o)) => {
            let mut resource = o.into_state(
                address.clone(),
                on.provider.name(),
                config.depends_on.clone(),
            );
            resource.attrs = config.attrs.clone();
            resource.unfinished = Some(format!("its create failed ({error}); finishing it"));
            shared.record(JournalEntry::Created {
                resource,
                replaces: replaces.clone(),
            })?;
            shared.pending(token, false);
        }
        Ok(None) => {
            shared.record(JournalEntry::Abandoned {
                address: address.clone(),
                token: token.into(),
            })?;
            shared.pending(token, false);
        }
        // The journal keeps the intent: the next run looks it up again.
        Err(_) => {}
    }
    Ok(())
}

/// Record what a create or update made as soon as the call returned, wait until it is ready,
/// then record it as ready. A replacement takes over only then.
async fn settle(
    on: &On<'_>,
    made: Observed,
    config: &ResourceConfig,
    replaces: Option<String>,
) -> Result<String, String> {
    let shared = on.shared;
    let ready = made.lifecycle == Lifecycle::Ready;
    let mut resource = made.into_state(
        config.address.clone(),
        on.provider.name(),
        config.depends_on.clone(),
    );
    let cloud_id = resource.cloud_id.clone();
    if !ready {
        let mut provisional = resource.clone();
        provisional.unfinished = Some("made, not yet seen ready".into());
        shared.record(JournalEntry::Created {
            resource: provisional,
            replaces: replaces.clone(),
        })?;
        let now = wait_for(
            on.provider,
            &resource,
            &IsReady,
            &on.policy,
            shared.observer.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())?;
        if let Some(o) = now {
            resource.attrs = o.attrs;
            resource.outputs = o.outputs;
        }
    }
    shared.record(JournalEntry::Saved { resource, replaces })?;
    Ok(cloud_id)
}

async fn update(
    on: &On<'_>,
    config: ResourceConfig,
    prior: ResourceState,
) -> Result<String, String> {
    let shared = on.shared;
    let config = shared.resolved(config)?;
    let ctx = shared.context(&config, uuid::Uuid::new_v4().to_string());
    let made = on
        .policy
        .run(&prior.address, shared.observer.as_ref(), || {
            on.provider.update(&prior, &config, &ctx)
        })
        .await
        .map_err(|e| e.to_string())?;
    settle(on, made, &config, None).await
}

async fn delete(on: &On<'_>, prior: ResourceState) -> Result<String, String> {
    let (shared, policy) = (on.shared, &on.policy);
    shared.record(JournalEntry::Deleting {
        address: prior.address.clone(),
        cloud_id: prior.cloud_id.clone(),
    })?;
    // Unsettled until seen gone: if this step fails, the next run checks it.
    let settled = format!("delete {}", prior.cloud_id);
    shared.pending(&settled, true);
    let notes = policy
        .run(&prior.address, shared.observer.as_ref(), || {
            on.provider.delete(&prior)
        })
        .await
        .map_err(|e| e.to_string())?;
    for message in notes {
        shared.observer.event(Event::Note {
            address: Some(prior.address.clone()),
            message,
        });
    }
    failpoint("after-delete", &prior.address);
    wait_for(
        on.provider,
        &prior,
        &IsGone,
        policy,
        shared.observer.as_ref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    shared.record(JournalEntry::Removed {
        address: prior.address.clone(),
        cloud_id: prior.cloud_id.clone(),
    })?;
    shared.pending(&settled, false);
    Ok(prior.cloud_id)
}

/// Crash the process at a named point, for crash-recovery tests: `HOIST_FAILPOINT=POINT:ADDRESS`
/// (ADDRESS may be `*`). The process dies by SIGKILL, exactly as `kill -9` would do it.
pub(super) fn failpoint(point: &str, address: &Address) {
    static SPEC: std::sync::OnceLock<Option<(String, String)>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        std::env::var("HOIST_FAILPOINT").ok().and_then(|s| {
            s.split_once(':')
                .map(|(p, a)| (p.to_string(), a.to_string()))
        })
    });
    if let Some((p, a)) = spec {
        if p == point && (a == "*" || *a == address.to_string()) {
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
