//! MLflow's artifact bucket, through Cloud Storage's JSON API (`storage/v1`) with the same
//! credentials as the SDK clients: uniform bucket-level access, public access prevented, the
//! environment's labels, and an IAM binding that lets MLflow's Kubernetes service account use
//! its objects through Workload Identity Federation. Destroy empties it first.

use std::collections::BTreeMap;

use hoist_provider::{
    tags, Address, Attrs, CloudResource, Observed, Ownership, ProviderError, ResourceConfig,
    ResourceState, StepContext,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{claim, labels, made, refreshed, text, GcpProvider};

const SERVICE: &str = "Cloud Storage";

/// `{prefix}-{token start}`: bucket names are global, so each environment's is its own.
fn bucket_name(prefix: &str, token: &str) -> String {
    let mut p: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    p.truncate(54);
    format!(
        "{}-{}",
        p.trim_end_matches('-'),
        &token[..8.min(token.len())]
    )
}

fn http_error(what: &str, status: StatusCode, body: &str) -> ProviderError {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_else(|| body.to_string());
    let service = SERVICE.to_string();
    match status.as_u16() {
        429 => ProviderError::Throttled {
            service,
            message: format!("{what}: {message}"),
        },
        500..=599 => ProviderError::Transient {
            service,
            message: format!("{what}: {message}"),
        },
        404 => ProviderError::NotFound(format!("{what}: {message}")),
        _ => ProviderError::Fatal(format!("{SERVICE} {what}: {message} (HTTP {status})")),
    }
}

fn tags_of(bucket: &Value) -> BTreeMap<String, String> {
    labels::from_json(bucket.get("labels"))
}

fn outputs(bucket: &Value) -> Attrs {
    let name = bucket
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Attrs::from_iter([
        ("uri".to_string(), json!(format!("gs://{name}"))),
        (
            "project_number".to_string(),
            bucket.get("projectNumber").cloned().unwrap_or(Value::Null),
        ),
    ])
}

impl GcpProvider {
    /// One JSON API call; `Ok(None)` for 404, and `Err(status)` kept apart for 409.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
        what: &str,
    ) -> Result<Result<Option<Value>, StatusCode>, ProviderError> {
        let url = format!("{}/storage/v1/{path}", self.storage_endpoint);
        let mut req = self.http.request(method, url).query(query);
        if let Some(t) = self.bearer().await? {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| ProviderError::Transient {
            service: SERVICE.into(),
            message: format!("{what}: {e}"),
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        match status.as_u16() {
            200..=299 if text.trim().is_empty() => Ok(Ok(Some(Value::Null))),
            200..=299 => serde_json::from_str(&text)
                .map(|v| Ok(Some(v)))
                .map_err(|e| {
                    ProviderError::Fatal(format!(
                        "{SERVICE} {what}: an answer that is not JSON: {e}"
                    ))
                }),
            404 => Ok(Ok(None)),
            409 | 412 => Ok(Err(status)),
            _ => Err(http_error(what, status, &text)),
        }
    }

    async fn get_bucket(&self, name: &str) -> Result<Option<Value>, ProviderError> {
        let what = format!("get of bucket {name}");
        self.call(Method::GET, &format!("b/{name}"), &[], None, &what)
            .await?
            .map_err(|s| http_error(&what, s, ""))
    }

    pub(crate) async fn create_bucket(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let name = bucket_name(text(&config.attrs, "name_prefix"), &ctx.token);
        let what = format!("creation of bucket {name}");
        let body = json!({
            "name": name,
            "location": text(&config.attrs, "location"),
            "labels": labels::to_labels(&ctx.tags, Some(&ctx.token)),
            "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": true}, "publicAccessPrevention": "enforced"},
        });
        let made_now = self
            .call(
                Method::POST,
                "b",
                &[("project", &self.project)],
                Some(body),
                &what,
            )
            .await?;
        let bucket = match made_now {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Err(ProviderError::Fatal(format!(
                    "{SERVICE} {what}: the project was not found"
                )))
            }
            Err(_) => {
                let found =
                    self.get_bucket(&name)
                        .await?
                        .ok_or_else(|| ProviderError::NotReady {
                            what: what.clone(),
                            message: "it exists but cannot be read yet".into(),
                        })?;
                claim(
                    &Ownership::from_tags(&ctx.tags),
                    format!("bucket {name}"),
                    &tags_of(&found),
                )?;
                found
            }
        };
        self.grant_object_users(&name, config, &bucket).await?;
        Ok(made(&name, config, outputs(&bucket)))
    }

    /// Bind each of the configuration's Kubernetes service accounts to its role on the bucket
    /// (idempotent: a binding already there is left as it is).
    async fn grant_object_users(
        &self,
        name: &str,
        config: &ResourceConfig,
        bucket: &Value,
    ) -> Result<(), ProviderError> {
        let users = config
            .attrs
            .get("object_users")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if users.is_empty() {
            return Ok(());
        }
        let number = bucket
            .get("projectNumber")
            .and_then(|v| {
                v.as_str()
                    .map(String::from)
                    .or_else(|| v.as_u64().map(|n| n.to_string()))
            })
            .unwrap_or_default();
        let what = format!("IAM policy of bucket {name}");
        let mut policy = self
            .call(Method::GET, &format!("b/{name}/iam"), &[], None, &what)
            .await?
            .map_err(|s| http_error(&what, s, ""))?
            .ok_or_else(|| ProviderError::NotFound(format!("bucket {name}")))?;
        let mut changed = false;
        for u in &users {
            let member = format!(
                "principal://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{}.svc.id.goog/subject/ns/{}/sa/{}",
                self.project, text_of(u, "namespace"), text_of(u, "service_account")
            );
            changed |= add_binding(&mut policy, text_of(u, "role"), &member);
        }
        if changed {
            self.call(
                Method::PUT,
                &format!("b/{name}/iam"),
                &[],
                Some(policy),
                &what,
            )
            .await?
            .map_err(|s| ProviderError::NotReady {
                what: what.clone(),
                message: format!("the policy changed while it was written (HTTP {s})"),
            })?;
        }
        Ok(())
    }

    pub(crate) async fn read_bucket(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self.get_bucket(&r.cloud_id).await?.map(|b| {
            let location = b
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            let mut attrs = Attrs::new();
            attrs.insert("location".into(), json!(location));
            refreshed(
                r,
                Observed {
                    cloud_id: r.cloud_id.clone(),
                    attrs,
                    outputs: outputs(&b),
                    lifecycle: hoist_provider::Lifecycle::Ready,
                },
            )
        }))
    }

    pub(crate) async fn update_bucket(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        _ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let bucket = self
            .get_bucket(&prior.cloud_id)
            .await?
            .ok_or_else(|| ProviderError::NotFound(format!("bucket {}", prior.cloud_id)))?;
        self.grant_object_users(&prior.cloud_id, config, &bucket)
            .await?;
        Ok(made(&prior.cloud_id, config, outputs(&bucket)))
    }

    /// Empty the bucket (MLflow's artifacts are the environment's), then delete it.
    pub(crate) async fn delete_bucket(
        &self,
        prior: &ResourceState,
    ) -> Result<Vec<String>, ProviderError> {
        let name = &prior.cloud_id;
        let mut removed = 0usize;
        let mut page = String::new();
        loop {
            let what = format!("list of objects in bucket {name}");
            let mut query = vec![("fields", "items(name),nextPageToken")];
            if !page.is_empty() {
                query.push(("pageToken", page.as_str()));
            }
            let Some(list) = self
                .call(Method::GET, &format!("b/{name}/o"), &query, None, &what)
                .await?
                .map_err(|s| http_error(&what, s, ""))?
            else {
                return Ok(Vec::new());
            };
            for o in list
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let object = text_of(o, "name");
                let path = format!("b/{name}/o/{}", percent_encode(object));
                let what = format!("deletion of object {object} in bucket {name}");
                self.call(Method::DELETE, &path, &[], None, &what)
                    .await?
                    .map_err(|s| http_error(&what, s, ""))?;
                removed += 1;
            }
            match list.get("nextPageToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => page = t.to_string(),
                _ => break,
            }
        }
        let what = format!("deletion of bucket {name}");
        self.call(Method::DELETE, &format!("b/{name}"), &[], None, &what)
            .await?
            .map_err(|s| ProviderError::NotReady {
                what: what.clone(),
                message: format!("objects are still being written (HTTP {s})"),
            })?;
        Ok(if removed > 0 {
            vec![format!(
                "emptied bucket {name} ({removed} objects) before deleting it"
            )]
        } else {
            Vec::new()
        })
    }

    /// Every bucket of the project whose labels name `env`.
    pub(crate) async fn list_buckets(
        &self,
        env: &str,
    ) -> Result<Vec<CloudResource>, ProviderError> {
        let mut out = Vec::new();
        let mut page = String::new();
        loop {
            let mut query = vec![("project", self.project.as_str())];
            if !page.is_empty() {
                query.push(("pageToken", page.as_str()));
            }
            let list = self
                .call(Method::GET, "b", &query, None, "list of buckets")
                .await?
                .map_err(|s| http_error("list of buckets", s, ""))?
                .unwrap_or(Value::Null);
            for b in list
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let t = tags_of(b);
                if t.get(tags::ENV).map(String::as_str) == Some(env) {
                    let name = text_of(b, "name").to_string();
                    out.push(CloudResource {
                        cloud_id: name.clone(),
                        kind: "gcs_bucket".into(),
                        name,
                        region: text_of(b, "location").to_ascii_lowercase(),
                        status: "READY".into(),
                        tags: t,
                        outputs: outputs(b),
                    });
                }
            }
            match list.get("nextPageToken").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => page = t.to_string(),
                _ => break,
            }
        }
        Ok(out)
    }

    pub(crate) async fn find_bucket(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self
            .list_buckets(&owner.env)
            .await?
            .into_iter()
            .find(|b| {
                b.tags.get(labels::TOKEN).map(String::as_str) == Some(token)
                    && owner.claims(&b.tags).is_ok()
                    && b.tags.get(tags::ADDRESS) == Some(&address.to_string())
            })
            .map(|b| Observed {
                cloud_id: b.cloud_id,
                attrs: Attrs::new(),
                outputs: b.outputs,
                lifecycle: hoist_provider::Lifecycle::Ready,
            }))
    }
}

fn text_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Object names go in the path percent-encoded (slashes included), as the JSON API requires.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Add `member` to `role`'s binding; false when it is there already.
fn add_binding(policy: &mut Value, role: &str, member: &str) -> bool {
    if !policy.get("bindings").is_some_and(Value::is_array) {
        policy["bindings"] = json!([]);
    }
    let bindings = policy["bindings"]
        .as_array_mut()
        .expect("bindings is an array");
    if let Some(b) = bindings
        .iter_mut()
        .find(|b| b.get("role").and_then(Value::as_str) == Some(role))
    {
        if !b.get("members").is_some_and(Value::is_array) {
            b["members"] = json!([]);
        }
        let members = b["members"].as_array_mut().expect("members is an array");
        if members.iter().any(|m| m.as_str() == Some(member)) {
            return false;
        }
        members.push(json!(member));
    } else {
        bindings.push(json!({"role": role, "members": [member]}));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_fit_and_bindings_are_added_once() {
        let n = bucket_name(&"Env_".repeat(30), "0123456789abcdef");
        assert!(n.len() <= 63 && n.ends_with("-01234567"), "{n}");
        let mut p = json!({"bindings": [{"role": "roles/storage.legacyBucketOwner", "members": ["projectOwner:p"]}]});
        assert!(add_binding(
            &mut p,
            "roles/storage.objectUser",
            "principal://x"
        ));
        assert!(!add_binding(
            &mut p,
            "roles/storage.objectUser",
            "principal://x"
        ));
        assert_eq!(p["bindings"].as_array().unwrap().len(), 2);
        assert_eq!(percent_encode("a/b c"), "a%2Fb%20c");
    }
}
