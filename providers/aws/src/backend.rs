//! The S3 state backend (`s3://bucket/prefix`): hoist's state, locks and journals as S3
//! objects, written with S3's conditional writes (`If-Match`, `If-None-Match: *`), through
//! the official SDK with the standard credential chain (and `AWS_ENDPOINT_URL`).
//!
//! The state layer is synchronous, as file IO is, and may be called from inside the
//! engine's runtime; so the client lives on a runtime of its own, and each call is sent
//! there and waited for.

use std::sync::Arc;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use hoist_provider::{
    BackendUrl, ObjectStore, Precondition, ProviderError, StoreError, StoredObject,
};

/// S3's default when neither the blueprint nor the environment names a region.
const DEFAULT_REGION: &str = "us-east-1";

pub struct S3Store {
    url: BackendUrl,
    client: aws_sdk_s3::Client,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for S3Store {
    /// Every call has been waited for; the runtime goes without blocking, as a drop inside
    /// the engine's runtime must.
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store({})", self.url)
    }
}

impl S3Store {
    /// Open `url` with the standard chain: `url.region`, else `AWS_REGION` / the profile's.
    pub fn open(url: &BackendUrl) -> Result<Arc<dyn ObjectStore>, ProviderError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("hoist-s3")
            .enable_all()
            .build()
            .map_err(|e| ProviderError::Fatal(format!("cannot start the S3 client: {e}")))?;
        let region = url.region.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move {
            let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            let loader = match region {
                Some(r) => loader.region(aws_config::Region::new(r)),
                None => loader,
            };
            let config = loader.load().await;
            let config = if config.region().is_some() {
                config
            } else {
                config
                    .into_builder()
                    .region(aws_config::Region::new(DEFAULT_REGION))
                    .build()
            };
            let _ = tx.send(config);
        });
        let config = rx
            .recv()
            .map_err(|_| ProviderError::Fatal("cannot load the AWS configuration".into()))?;
        Ok(Arc::new(S3Store {
            url: url.clone(),
            client: aws_sdk_s3::Client::new(&config),
            runtime: Some(runtime),
        }))
    }

    /// Run `call` on the client's runtime and wait for it, from any thread.
    fn wait<T: Send + 'static>(
        &self,
        call: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let runtime = self.runtime.as_ref().expect("open until dropped");
        runtime.spawn(async move {
            let _ = tx.send(call.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Failed("the S3 client stopped".into()))
    }
}

fn store_error<E>(e: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().unwrap_or_default().to_string();
    // 412: the precondition failed; 409: a concurrent conditional write won.
    if status == Some(412) || code == "PreconditionFailed" || code == "ConditionalRequestConflict" {
        return StoreError::Conflict;
    }
    if status == Some(403) || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" {
        return StoreError::Denied(e.message().unwrap_or(&code).to_string());
    }
    let message = e
        .message()
        .map(String::from)
        .unwrap_or_else(|| crate::errors::root_cause(&e));
    StoreError::Failed(if code.is_empty() {
        message
    } else {
        format!("{code}: {message}")
    })
}

impl ObjectStore for S3Store {
    fn location(&self) -> String {
        self.url.to_string()
    }

    fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let call = self
            .client
            .get_object()
            .bucket(&self.url.bucket)
            .key(self.url.key(key));
        self.wait(async move {
            let out = match call.send().await {
                Ok(out) => out,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                    return Ok(None)
                }
                Err(e) => return Err(store_error(e)),
            };
            let version = out.e_tag().unwrap_or_default().to_string();
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| StoreError::Failed(format!("reading the object: {e}")))?
                .into_bytes()
                .to_vec();
            Ok(Some(StoredObject { bytes, version }))
        })?
    }

    fn put(&self, key: &str, bytes: &[u8], when: Precondition) -> Result<String, StoreError> {
        let mut call = self
            .client
            .put_object()
            .bucket(&self.url.bucket)
            .key(self.url.key(key))
            .content_type("application/json")
            .body(ByteStream::from(bytes.to_vec()));
        call = match when {
            Precondition::None => call,
            Precondition::Absent => call.if_none_match("*"),
            Precondition::Version(v) => call.if_match(v),
        };
        self.wait(async move {
            let out = call.send().await.map_err(store_error)?;
            Ok(out.e_tag().unwrap_or_default().to_string())
        })?
    }

    fn delete(&self, key: &str, version: Option<&str>) -> Result<(), StoreError> {
        let mut call = self
            .client
            .delete_object()
            .bucket(&self.url.bucket)
            .key(self.url.key(key));
        if let Some(v) = version {
            call = call.if_match(v);
        }
        self.wait(async move {
            match call.send().await {
                Ok(_) => Ok(()),
                // Gone already: what a delete wants.
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(()),
                Err(e) => Err(store_error(e)),
            }
        })?
    }

    fn list(&self, start: &str) -> Result<Vec<String>, StoreError> {
        let prefix = self.url.key(start);
        let strip = if self.url.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.url.prefix)
        };
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.url.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        self.wait(async move {
            let mut pages = pages;
            let mut keys = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(store_error)?;
                for o in page.contents() {
                    if let Some(k) = o.key().and_then(|k| k.strip_prefix(strip.as_str())) {
                        keys.push(k.to_string());
                    }
                }
            }
            Ok(keys)
        })?
    }
}
