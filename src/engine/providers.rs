//! The providers of one run, by name: the environment's cloud, and providers configured from
//! a resource the same run makes (the Kubernetes layer from its cluster). Each resource names
//! its provider; the engine asks this registry for it at every step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hoist_provider::{Address, KindRules, Provider, ProviderError, ProviderFactory, ResourceState};

use super::limiter::Limiter;

/// Why a provider cannot be used right now.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unavailable {
    #[error("no provider named `{0}` is registered in this run")]
    Unknown(String),
    /// Its source resource does not exist (yet, or any more).
    #[error("provider `{name}` is configured from {from}, which does not exist")]
    NoSource { name: String, from: Address },
    #[error("provider `{name}` could not be configured from {from}: {error}")]
    Configure {
        name: String,
        from: Address,
        error: ProviderError,
    },
}

impl From<Unavailable> for ProviderError {
    fn from(u: Unavailable) -> Self {
        ProviderError::Fatal(u.to_string())
    }
}

enum Slot {
    Ready(Arc<dyn Provider>),
    Deferred(Box<Deferred>),
}

/// A provider made from its source's record, kept while that record is the same.
struct Deferred {
    factory: Arc<dyn ProviderFactory>,
    current: Mutex<Option<(ResourceState, Arc<dyn Provider>)>>,
}

/// Every provider of a run, with one adaptive limiter per provider and API, made on first use.
pub struct Providers {
    primary: String,
    slots: BTreeMap<String, Slot>,
    limiters: Mutex<BTreeMap<(String, &'static str), Arc<Limiter>>>,
    /// The user's `--parallelism`, for every limiter.
    cap: Mutex<Option<usize>>,
}

impl Providers {
    /// A registry whose unnamed resources belong to `primary`.
    pub fn new(primary: Arc<dyn Provider>) -> Self {
        let name = primary.name().to_string();
        let mut me = Self {
            primary: name.clone(),
            slots: BTreeMap::new(),
            limiters: Mutex::new(BTreeMap::new()),
            cap: Mutex::new(None),
        };
        me.slots.insert(name, Slot::Ready(primary));
        me
    }

    /// Add a provider configured from its source resource once that exists.
    pub fn with_deferred(mut self, factory: Arc<dyn ProviderFactory>) -> Self {
        let name = factory.name().to_string();
        self.slots.insert(
            name,
            Slot::Deferred(Box::new(Deferred {
                factory,
                current: Mutex::new(None),
            })),
        );
        self
    }

    /// `name` as resources record it: empty means the primary.
    pub fn canonical<'a>(&'a self, name: &'a str) -> &'a str {
        if name.is_empty() {
            &self.primary
        } else {
            name
        }
    }

    /// The resource that configures provider `name`, when it is configured from one.
    pub fn source_of(&self, name: &str) -> Option<&Address> {
        match self.slots.get(self.canonical(name))? {
            Slot::Deferred(d) => Some(d.factory.source()),
            Slot::Ready(_) => None,
        }
    }

    /// Every source resource, with the provider it configures.
    pub fn sources(&self) -> Vec<(&str, &Address)> {
        self.slots
            .iter()
            .filter_map(|(n, s)| match s {
                Slot::Deferred(d) => Some((n.as_str(), d.factory.source())),
                Slot::Ready(_) => None,
            })
            .collect()
    }

    /// A provider that needs no source, or `None`.
    pub fn ready(&self, name: &str) -> Option<Arc<dyn Provider>> {
        match self.slots.get(self.canonical(name))? {
            Slot::Ready(p) => Some(p.clone()),
            Slot::Deferred(_) => None,
        }
    }

    /// Every provider that needs no source.
    pub fn all_ready(&self) -> Vec<Arc<dyn Provider>> {
        self.slots
            .values()
            .filter_map(|s| match s {
                Slot::Ready(p) => Some(p.clone()),
                Slot::Deferred(_) => None,
            })
            .collect()
    }

    /// Provider `name`, configured from `source` (its source's record now) when it is
    /// deferred; a provider is made again only when that record changed (a new cluster).
    pub async fn get(
        &self,
        name: &str,
        source: Option<&ResourceState>,
    ) -> Result<Arc<dyn Provider>, Unavailable> {
        let name = self.canonical(name);
        let deferred = match self.slots.get(name) {
            None => return Err(Unavailable::Unknown(name.into())),
            Some(Slot::Ready(p)) => return Ok(p.clone()),
            Some(Slot::Deferred(d)) => d,
        };
        let want = deferred.factory.source();
        let Some(source) = source else {
            return Err(Unavailable::NoSource {
                name: name.into(),
                from: want.clone(),
            });
        };
        if let Some((seen, p)) = lock(&deferred.current).as_ref() {
            if seen.cloud_id == source.cloud_id && seen.outputs == source.outputs {
                return Ok(p.clone());
            }
        }
        let made =
            deferred
                .factory
                .configure(source)
                .await
                .map_err(|error| Unavailable::Configure {
                    name: name.into(),
                    from: want.clone(),
                    error,
                })?;
        *lock(&deferred.current) = Some((source.clone(), made.clone()));
        Ok(made)
    }

    /// A configured provider of any kind, if one is at hand, without configuring anything.
    pub fn configured(&self, name: &str) -> Option<Arc<dyn Provider>> {
        match self.slots.get(self.canonical(name))? {
            Slot::Ready(p) => Some(p.clone()),
            Slot::Deferred(d) => lock(&d.current).as_ref().map(|(_, p)| p.clone()),
        }
    }

    /// How `kind` of provider `name` is compared; defaults for a provider not configured yet
    /// (all of its resources are then created, so nothing is compared).
    pub fn rules(&self, name: &str, kind: &str) -> KindRules {
        self.configured(name)
            .map(|p| p.rules(kind))
            .unwrap_or_default()
    }

    /// The limiter of the API that `provider`'s calls on `kind` go to.
    pub fn limiter(&self, provider: &dyn Provider, kind: &str) -> Arc<Limiter> {
        let api = provider.api(kind);
        let key = (provider.name().to_string(), api);
        let mut limiters = lock(&self.limiters);
        limiters
            .entry(key)
            .or_insert_with(|| {
                let label = match api {
                    "" => provider.name().to_string(),
                    api => format!("{}/{api}", provider.name()),
                };
                let limiter = Limiter::new(&label, provider.concurrency(api));
                if let Some(max) = *lock(&self.cap) {
                    limiter.cap(max);
                }
                Arc::new(limiter)
            })
            .clone()
    }

    /// How each provider's (and API's) concurrency adapted during the run.
    pub fn concurrency_report(&self) -> Vec<super::limiter::LimiterReport> {
        lock(&self.limiters).values().map(|l| l.report()).collect()
    }

    /// Cap every limiter at `max` (the user's `--parallelism`).
    pub fn cap(&self, max: usize) {
        *lock(&self.cap) = Some(max);
        for l in lock(&self.limiters).values() {
            l.cap(max);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
