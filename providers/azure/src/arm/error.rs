//! ARM's errors (`{"error": {"code", "message"}}`), typed, and what each means to the
//! engine: retry, fail over to another zone, or stop with the service's own words.

use azure_core::http::Url;
use hoist_provider::ProviderError;
use serde_json::Value;

use super::Reply;

/// The service name in throttling and transient errors.
const SERVICE: &str = "Azure Resource Manager";
/// Codes that mean "the VM size has no room here now": the engine tries other zones.
const CAPACITY: &[&str] = &[
    "ZonalAllocationFailed",
    "AllocationFailed",
    "OverconstrainedAllocationRequest",
    "OverconstrainedZonalAllocationRequest",
    "SkuNotAvailable",
];
/// Codes that mean "the subscription's quota does not allow it".
const QUOTA: &[&str] = &[
    "QuotaExceeded",
    "OperationNotAllowed.QuotaExceeded",
    "ErrCode_InsufficientVCPUQuota",
];
/// Codes that mean another operation holds the resource: the same call succeeds later.
const BUSY: &[&str] = &[
    "AnotherOperationInProgress",
    "OperationNotAllowed",
    "Conflict",
    "RetryableError",
    "InUseSubnetCannotBeDeleted",
    "ResourceGroupBeingDeleted",
];

/// One failed ARM call or operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArmError {
    /// The HTTP status; 0 when the request never got an answer.
    pub status: u16,
    pub code: String,
    pub message: String,
    /// What was being called (a path, without the query).
    pub what: String,
}

fn error_parts(body: &Value) -> (String, String) {
    let e = body.get("error").unwrap_or(body);
    let text = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (text("code"), text("message"))
}

impl ArmError {
    pub fn from_reply(url: &Url, reply: &Reply) -> Self {
        let (code, message) = error_parts(&reply.body);
        Self {
            status: reply.status,
            code,
            message,
            what: url.path().to_string(),
        }
    }

    pub fn transport(url: &Url, e: &azure_core::Error) -> Self {
        Self {
            status: 0,
            code: "TransportError".into(),
            message: e.to_string(),
            what: url.path().to_string(),
        }
    }

    /// An operation that ended `Failed` or `Canceled` (its body carries ARM's error).
    pub fn failed_operation(path: &str, status: &str, body: &Value) -> Self {
        let (code, message) = error_parts(body);
        Self {
            status: 200,
            code: if code.is_empty() {
                status.to_string()
            } else {
                code
            },
            message: if message.is_empty() {
                format!("the operation ended {status}")
            } else {
                message
            },
            what: path.to_string(),
        }
    }

    /// A resource that vanished while hoist waited for it.
    pub fn gone(path: &str) -> Self {
        Self {
            status: 404,
            code: "NotFound".into(),
            message: "it was gone after its operation finished".into(),
            what: path.to_string(),
        }
    }

    pub fn is_capacity(&self) -> bool {
        CAPACITY.contains(&self.code.as_str())
    }

    pub fn is_quota(&self) -> bool {
        QUOTA.contains(&self.code.as_str())
    }

    /// What the engine makes of it; `what` names the resource for the person reading.
    pub fn for_resource(self, what: &str, region: &str) -> ProviderError {
        let message = format!("{what}: {} ({})", self.message, self.code);
        match self.status {
            _ if self.is_quota() => ProviderError::Quota {
                region: region.to_string(),
                message: format!("{message}\n  = hint: request more quota for the VM family in the portal (Quotas) or with `az quota create`"),
            },
            429 => ProviderError::Throttled {
                service: SERVICE.into(),
                message,
            },
            0 | 500..=599 => ProviderError::Transient {
                service: SERVICE.into(),
                message,
            },
            _ if BUSY.contains(&self.code.as_str()) => ProviderError::NotReady {
                what: what.to_string(),
                message: format!("{} ({})", self.message, self.code),
            },
            401 | 403 => ProviderError::Fatal(format!(
                "{message}\n  = hint: the signed-in identity needs Contributor on the subscription or resource group (`az role assignment list --assignee <id>`)"
            )),
            404 => ProviderError::NotFound(what.to_string()),
            _ => ProviderError::Invalid(message),
        }
    }
}

impl std::fmt::Display for ArmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.what, self.message, self.code)
    }
}
