//! Long-running operations, as ARM describes them: follow `Azure-AsyncOperation` (an
//! operation status resource) else `Location` (202 until done), waiting what `Retry-After`
//! asks between polls; then the resource's own `provisioningState` says how it ended.

use std::time::Duration;

use azure_core::http::Method;
use serde_json::Value;

use super::{Arm, ArmError, Reply};

/// Between polls when the service names no `Retry-After`.
const DEFAULT_POLL_SECS: u64 = 5;
/// The longest wait between polls hoist accepts from a `Retry-After`.
const MAX_POLL_SECS: u64 = 60;

fn pause(reply: &Reply) -> Duration {
    Duration::from_secs(
        reply
            .retry_after
            .unwrap_or(DEFAULT_POLL_SECS)
            .min(MAX_POLL_SECS),
    )
}

impl Arm {
    /// Wait for the operation `reply` started on `path`, if it started one.
    pub(super) async fn wait(&self, reply: &Reply, path: &str) -> Result<(), ArmError> {
        if let Some(op) = &reply.async_operation {
            return self.poll_status(op, pause(reply), path).await;
        }
        if let (202, Some(location)) = (reply.status, &reply.location) {
            return self.poll_location(location, pause(reply)).await;
        }
        Ok(())
    }

    /// An operation status resource: `InProgress` until `Succeeded`, `Failed` or `Canceled`.
    async fn poll_status(&self, url: &str, first: Duration, path: &str) -> Result<(), ArmError> {
        let mut wait = first;
        loop {
            tokio::time::sleep(wait).await;
            let reply = self
                .send(Method::Get, self.url(url, None, &[]), None)
                .await?;
            match reply.body.get("status").and_then(Value::as_str) {
                Some("Succeeded") => return Ok(()),
                Some(s @ ("Failed" | "Canceled")) => {
                    return Err(ArmError::failed_operation(path, s, &reply.body))
                }
                _ => wait = pause(&reply),
            }
        }
    }

    /// A `Location` URL answers 202 while the operation runs and 200 or 204 once it is done.
    async fn poll_location(&self, url: &str, first: Duration) -> Result<(), ArmError> {
        let mut wait = first;
        loop {
            tokio::time::sleep(wait).await;
            let reply = self
                .send(Method::Get, self.url(url, None, &[]), None)
                .await?;
            if reply.status != 202 {
                return Ok(());
            }
            wait = pause(&reply);
        }
    }
}

/// A resource that ended its operation `Failed` is an error with ARM's own reason.
pub(super) fn check_state(path: &str, resource: &Value) -> Result<(), ArmError> {
    match state(resource) {
        "Failed" | "Canceled" => Err(ArmError::failed_operation(path, state(resource), resource)),
        _ => Ok(()),
    }
}

/// `properties.provisioningState` of a resource.
pub(crate) fn state(resource: &Value) -> &str {
    resource
        .pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or_default()
}
