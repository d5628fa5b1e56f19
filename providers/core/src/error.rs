/// Errors a provider reports. The engine reads the variant to decide what to do:
/// retry with backoff, fail over to another zone, or stop that branch of the apply.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("request throttled by {service} (rate exceeded): {message}")]
    Throttled { service: String, message: String },
    #[error("transient error from {service}: {message}")]
    Transient { service: String, message: String },
    #[error("insufficient capacity for {accelerator} in region {region} (zones: {})", zones.join(", "))]
    Capacity {
        accelerator: String,
        region: String,
        zones: Vec<String>,
    },
    #[error("quota exceeded in region {region}: {message}")]
    Quota { region: String, message: String },
    #[error("{what} is not ready yet: {message}")]
    NotReady { what: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    /// A resource with the name hoist needs exists and is not this environment's.
    #[error("{resource} already exists and was not created by this environment: {why}")]
    NotOwned { resource: String, why: String },
    /// The run was interrupted (Ctrl-C) while this waited.
    #[error("{0}: interrupted before it finished")]
    Interrupted(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Fatal(String),
}

impl ProviderError {
    /// Errors that a later identical request may not hit: throttling, blips, a parent still provisioning.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. } | Self::Transient { .. } | Self::NotReady { .. }
        )
    }
}
