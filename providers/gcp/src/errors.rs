//! Google's errors as the engine's: throttling and blips are retried, a cluster busy with
//! another operation is waited for, the rest stops the step with Google's own message.

use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::error::Error;
use hoist_provider::ProviderError;

/// The status code of a service error, from the body or else the HTTP status.
fn code(e: &Error) -> Option<Code> {
    // Compute Engine's errors carry no `status`, so the SDK reports them as UNKNOWN: the
    // HTTP status says more.
    if let Some(s) = e.status().filter(|s| s.code != Code::Unknown) {
        return Some(s.code);
    }
    e.http_status_code().map(|c| match c {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        409 => Code::AlreadyExists,
        412 => Code::FailedPrecondition,
        429 => Code::ResourceExhausted,
        500 => Code::Internal,
        503 => Code::Unavailable,
        504 => Code::DeadlineExceeded,
        _ => Code::Unknown,
    })
}

fn message(e: &Error) -> String {
    e.status()
        .map(|s| s.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| e.to_string())
}

pub(crate) fn is_not_found(e: &Error) -> bool {
    code(e) == Some(Code::NotFound)
}

pub(crate) fn is_conflict(e: &Error) -> bool {
    code(e) == Some(Code::AlreadyExists)
}

/// `e` from calling `what` on `service`, as the engine should treat it.
pub(crate) fn classify(service: &str, what: &str, e: Error) -> ProviderError {
    let text = message(&e);
    let service = service.to_string();
    if e.is_timeout() || e.is_io() || e.is_connect() || e.is_transport() {
        return ProviderError::Transient {
            service,
            message: format!("{what}: {text}"),
        };
    }
    match code(&e) {
        Some(Code::ResourceExhausted) if mentions_quota(&text) && !mentions_rate(&text) => {
            ProviderError::Quota {
                region: String::new(),
                message: format!("{what}: {text}"),
            }
        }
        Some(Code::ResourceExhausted) => ProviderError::Throttled {
            service,
            message: format!("{what}: {text}"),
        },
        Some(Code::Unavailable | Code::Internal | Code::DeadlineExceeded | Code::Aborted) => {
            ProviderError::Transient {
                service,
                message: format!("{what}: {text}"),
            }
        }
        // GKE runs one operation per cluster at a time; the next one waits its turn.
        Some(Code::FailedPrecondition | Code::InvalidArgument)
            if text.contains("incompatible operation") || text.contains("is currently") =>
        {
            ProviderError::NotReady {
                what: what.to_string(),
                message: text,
            }
        }
        Some(Code::NotFound) => ProviderError::NotFound(format!("{what}: {text}")),
        Some(Code::Unauthenticated | Code::PermissionDenied) => ProviderError::Fatal(format!(
            "{service} refused {what}: {text}\n  = hint: the credentials need the Kubernetes Engine Admin, Compute Network Admin and Storage Admin roles on the project (or Owner)"
        )),
        _ => ProviderError::Fatal(format!("{service} {what}: {text}")),
    }
}

/// A quota (as opposed to a request rate) ran out: more of it must be granted.
fn mentions_quota(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("quota")
}

/// Rate limits say "per minute" or "rate": waiting is the cure.
fn mentions_rate(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("per minute") || t.contains("rate") || t.contains("requests")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_throttling_and_quotas_are_not() {
        assert!(mentions_rate(
            "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute'"
        ));
        assert!(mentions_quota(
            "Quota 'NVIDIA_L4_GPUS' exceeded. Limit: 0.0 in region us-central1."
        ));
        assert!(!mentions_rate(
            "Quota 'NVIDIA_L4_GPUS' exceeded. Limit: 0.0 in region us-central1."
        ));
    }
}
