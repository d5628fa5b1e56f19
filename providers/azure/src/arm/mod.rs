//! A small typed client for exactly the Azure Resource Manager calls hoist makes, on
//! `azure_core`'s HTTP pipeline: one pinned api-version per resource type, long-running
//! operations polled by hoist, ARM's error bodies read into typed errors.
//!
//! No maintained Rust crate covers AKS, virtual networks, resource groups or storage
//! accounts. Each call here names its path and api-version as Azure's REST reference does,
//! so an official crate can take a call's place later without changing its callers.

mod auth;
mod error;
mod lro;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::HeaderName;
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, Request, RetryOptions, Url,
};
use serde_json::Value;

pub(crate) use error::ArmError;
pub(crate) use lro::state;

/// The api-version of each resource type, as Azure's REST specs publish them.
pub mod api {
    pub const RESOURCES: &str = "2025-04-01";
    pub const NETWORK: &str = "2025-01-01";
    pub const AKS: &str = "2026-10-01";
    pub const STORAGE: &str = "2025-01-01";
}

/// The public cloud's Resource Manager, unless `HOIST_AZURE_ENDPOINT` names an emulator.
pub const ENDPOINT_VAR: &str = "HOIST_AZURE_ENDPOINT";
const PUBLIC_ARM: &str = "https://management.azure.com";
/// The longest `Retry-After` of a throttled call hoist waits out before retrying.
const MAX_THROTTLE_SECS: u64 = 30;

/// One answer of ARM: its status, the headers that drive polling, and the JSON body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub async_operation: Option<String>,
    pub location: Option<String>,
    pub retry_after: Option<u64>,
    pub body: Value,
}

/// The ARM client of one subscription.
#[derive(Clone)]
pub(crate) struct Arm {
    pipeline: Pipeline,
    endpoint: Url,
    pub subscription: String,
}

impl Arm {
    pub fn new(
        credential: Arc<dyn TokenCredential>,
        subscription: &str,
    ) -> Result<Self, hoist_provider::ProviderError> {
        let endpoint = std::env::var(ENDPOINT_VAR)
            .ok()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| PUBLIC_ARM.to_string());
        let endpoint = Url::parse(&endpoint).map_err(|e| {
            hoist_provider::ProviderError::Invalid(format!(
                "{ENDPOINT_VAR}={endpoint:?} is not a URL: {e}"
            ))
        })?;
        auth::check_scheme(&endpoint)?;
        // The engine retries with its own adaptive limits; a second layer of retries here
        // would multiply the waits and hide throttling from it.
        let options = ClientOptions {
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let policy = auth::ArmAuth::new(credential, crate::credentials::ARM_SCOPE);
        let pipeline = Pipeline::new(
            Some("hoist"),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            vec![],
            vec![Arc::new(policy)],
            None,
        );
        Ok(Self {
            pipeline,
            endpoint,
            subscription: subscription.to_string(),
        })
    }

    /// `/subscriptions/{id}` followed by `rest`.
    pub fn sub_path(&self, rest: &str) -> String {
        format!("/subscriptions/{}{rest}", self.subscription)
    }

    fn url(&self, path_or_url: &str, api: Option<&str>, query: &[(&str, &str)]) -> Url {
        let mut url = if path_or_url.starts_with("http") {
            Url::parse(path_or_url).unwrap_or_else(|_| self.endpoint.clone())
        } else {
            let mut u = self.endpoint.clone();
            u.set_path(path_or_url);
            u
        };
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(api) = api {
                pairs.append_pair("api-version", api);
            }
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    /// Send one request; any status is a reply (errors are the caller's to read).
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Reply, ArmError> {
        let mut request = Request::new(url.clone(), method);
        request.insert_header("accept", "application/json");
        if let Some(b) = body {
            request.insert_header("content-type", "application/json");
            request.set_body(b.to_string());
        }
        let options = PipelineSendOptions {
            skip_checks: true,
            ..Default::default()
        };
        let response = self
            .pipeline
            .send(&Context::new(), &mut request, Some(options))
            .await
            .map_err(|e| ArmError::transport(&url, &e))?;
        let status = u16::from(response.status());
        let header = |name: &'static str| {
            response
                .headers()
                .get_optional_string(&HeaderName::from_static(name))
        };
        let (async_operation, location) = (header("azure-asyncoperation"), header("location"));
        let retry_after = header("retry-after").and_then(|v| v.trim().parse().ok());
        let bytes: &[u8] = response.body().as_ref();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).unwrap_or(Value::Null)
        };
        let reply = Reply {
            status,
            async_operation,
            location,
            retry_after,
            body,
        };
        if status == 429 {
            // ARM says how long it wants left alone; the engine then retries the step.
            let secs = reply.retry_after.unwrap_or(1).min(MAX_THROTTLE_SECS);
            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
        }
        if status >= 400 {
            return Err(ArmError::from_reply(&url, &reply));
        }
        Ok(reply)
    }

    /// GET a resource; `None` when ARM answers 404.
    pub async fn get(&self, path: &str, api: &str) -> Result<Option<Value>, ArmError> {
        match self
            .send(Method::Get, self.url(path, Some(api), &[]), None)
            .await
        {
            Ok(r) => Ok(Some(r.body)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every item of a list, following `nextLink`.
    pub async fn list(
        &self,
        path: &str,
        api: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<Value>, ArmError> {
        let mut url = self.url(path, Some(api), query);
        let mut items = Vec::new();
        loop {
            let reply = self.send(Method::Get, url, None).await?;
            if let Some(values) = reply.body.get("value").and_then(Value::as_array) {
                items.extend(values.iter().cloned());
            }
            match reply.body.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => url = self.url(next, None, &[]),
                _ => return Ok(items),
            }
        }
    }

    /// PUT a resource and wait for its long-running operation; the resource as it is then.
    pub async fn put(&self, path: &str, api: &str, body: &Value) -> Result<Value, ArmError> {
        let reply = self
            .send(Method::Put, self.url(path, Some(api), &[]), Some(body))
            .await?;
        self.settle(path, api, reply).await
    }

    /// PATCH a resource (tags) and wait for it like a PUT.
    pub async fn patch(&self, path: &str, api: &str, body: &Value) -> Result<Value, ArmError> {
        let reply = self
            .send(Method::Patch, self.url(path, Some(api), &[]), Some(body))
            .await?;
        self.settle(path, api, reply).await
    }

    /// POST an action (`listClusterUserCredential`) and return its answer.
    pub async fn post(&self, path: &str, api: &str, body: &Value) -> Result<Value, ArmError> {
        let reply = self
            .send(Method::Post, self.url(path, Some(api), &[]), Some(body))
            .await?;
        Ok(reply.body)
    }

    /// DELETE a resource and wait until it is gone; one already gone is no error.
    pub async fn delete(&self, path: &str, api: &str) -> Result<(), ArmError> {
        match self
            .send(Method::Delete, self.url(path, Some(api), &[]), None)
            .await
        {
            Ok(reply) => self.wait(&reply, path).await,
            Err(e) if e.status == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// After a PUT or PATCH: wait for the operation, then read the resource as it is.
    async fn settle(&self, path: &str, api: &str, reply: Reply) -> Result<Value, ArmError> {
        let polled = reply.async_operation.is_some() || reply.status == 202;
        self.wait(&reply, path).await?;
        if !polled && reply.body.is_object() {
            return Ok(reply.body);
        }
        let live = self.get(path, api).await?;
        let live = live.ok_or_else(|| ArmError::gone(path))?;
        lro::check_state(path, &live)?;
        Ok(live)
    }
}
