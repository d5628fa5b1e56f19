//! AWS errors in hoist's terms: throttling and blips are retried, dependency violations and
//! IAM propagation wait, capacity errors fail over, missing things are gone.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use hoist_provider::ProviderError;

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
];
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "NoSuchEntity",
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidGroup.NotFound",
    "NatGatewayNotFound",
    "InvalidAllocationID.NotFound",
    "InvalidAssociationID.NotFound",
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidPlacementGroup.Unknown",
    "InvalidVpcEndpointId.NotFound",
    "InvalidNetworkInterfaceID.NotFound",
    "LoadBalancerNotFound",
    "LoadBalancerNotFoundException",
    "TargetGroupNotFound",
    "NoSuchResource",
];
/// Server-side blips that a later identical request does not hit.
const TRANSIENT: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "ServerException",
    "ServiceFailure",
    "InternalServerError",
    "ConcurrentModification",
    "ConcurrentModificationException",
];
const WAIT: &[&str] = &[
    "DependencyViolation",
    "ResourceInUseException",
    "DeleteConflict",
    "InvalidParameterException.InUse",
    "IncorrectState",
    "Resource.AlreadyAssociated",
];

/// Classify an SDK error from `service` while doing `what`.
pub fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    service: &str,
    what: &str,
    err: SdkError<E>,
) -> ProviderError {
    let (code, message) = match &err {
        SdkError::ServiceError(e) => (
            e.err().code().unwrap_or_default().to_string(),
            e.err().message().unwrap_or_default().to_string(),
        ),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return ProviderError::Transient {
                service: service.into(),
                message: format!("{what}: {err}: {}", root_cause(&err)),
            };
        }
        _ => (
            String::new(),
            format!("{}", aws_sdk_ec2::error::DisplayErrorContext(&err)),
        ),
    };
    let message = format!("{what}: {code}: {message}");
    if THROTTLING.contains(&code.as_str()) {
        ProviderError::Throttled {
            service: service.into(),
            message,
        }
    } else if NOT_FOUND.contains(&code.as_str()) {
        ProviderError::NotFound(message)
    } else if WAIT.contains(&code.as_str()) {
        ProviderError::NotReady {
            what: what.into(),
            message,
        }
    } else if TRANSIENT.contains(&code.as_str()) {
        ProviderError::Transient {
            service: service.into(),
            message,
        }
    } else if code == "InvalidParameterException" && role_not_visible_yet(&message) {
        // IAM is eventually consistent: a role made seconds ago is not yet visible to EKS.
        ProviderError::NotReady {
            what: "the IAM role".into(),
            message: format!("{message} (IAM changes take a few seconds to reach EKS)"),
        }
    } else if code == "InsufficientInstanceCapacity" {
        ProviderError::Capacity {
            accelerator: String::new(),
            region: String::new(),
            zones: vec![],
        }
    } else {
        ProviderError::Fatal(message)
    }
}

/// The innermost cause of an error: what to show of a long chain (connection, credentials).
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// What EKS says when a role or its policies made moments ago have not propagated.
fn role_not_visible_yet(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("role")
        && (m.contains("could not be assumed")
            || m.contains("doesn't have the amazon eks managed policies")
            || m.contains("does not exist"))
}

/// `Ok(None)` for errors that mean the thing is gone.
pub fn gone_is_none<T>(r: Result<T, ProviderError>) -> Result<Option<T>, ProviderError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
