//! Small pieces every cloud provider's create, update and read need in the same shape: one
//! copy here rather than one per provider crate.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{Address, Attrs, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig};
use crate::{ResourceState, StepContext};

/// The text attribute `key` of `attrs` (empty when absent or not text).
pub fn text<'a>(attrs: &'a Attrs, key: &str) -> &'a str {
    attrs.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The cloud id of the dependency named by the address in `attrs[key]`.
pub fn dep_id(ctx: &StepContext, attrs: &Attrs, key: &str) -> Result<String, ProviderError> {
    dep(ctx, attrs, key).map(|d| d.cloud_id.clone())
}

/// The recorded state of the dependency named by the address in `attrs[key]`.
pub fn dep<'a>(
    ctx: &'a StepContext,
    attrs: &Attrs,
    key: &str,
) -> Result<&'a ResourceState, ProviderError> {
    let address = text(attrs, key);
    let parsed: Address = address
        .parse()
        .map_err(|_| ProviderError::Invalid(format!("`{address}` names no resource")))?;
    ctx.deps
        .get(&parsed)
        .ok_or_else(|| ProviderError::Invalid(format!("{parsed} must exist first")))
}

/// Refuse a resource found by name unless `owner` made it.
pub fn claim(
    owner: &Ownership,
    what: impl Into<String>,
    tags: &BTreeMap<String, String>,
) -> Result<(), ProviderError> {
    owner.claims(tags).map_err(|why| ProviderError::NotOwned {
        resource: what.into(),
        why,
    })
}

/// An observation of `prior` overlaid with what the cloud reports live.
pub fn refreshed(prior: &ResourceState, live: Observed) -> Observed {
    let mut attrs = prior.attrs.clone();
    attrs.extend(live.attrs);
    let mut outputs = prior.outputs.clone();
    outputs.extend(live.outputs);
    Observed {
        cloud_id: prior.cloud_id.clone(),
        attrs,
        outputs,
        lifecycle: live.lifecycle,
    }
}

/// The observation of a create or update that just finished: the configuration as made.
pub fn made(id: &str, config: &ResourceConfig, outputs: Attrs) -> Observed {
    Observed {
        cloud_id: id.into(),
        attrs: config.attrs.clone(),
        outputs,
        lifecycle: Lifecycle::Ready,
    }
}
