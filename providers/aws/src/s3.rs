//! The S3 bucket MLflow keeps artifacts in: named after the environment and the create's
//! token (bucket names are global, so a fixed name could belong to anyone), tagged for the
//! environment, public access blocked and encrypted by default. Destroy empties it and
//! deletes it only while its tags still say it is this environment's.

use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use hoist_provider::{
    tags, Address, CloudResource, Lifecycle, Observed, Ownership, ProviderError, ResourceConfig,
    ResourceState, StepContext,
};
use serde_json::json;

use crate::errors::gone_is_none;
use crate::{claim, tag_map, text, token_name, AwsProvider, TOKEN_TAG};

const SERVICE: &str = "s3";
/// DeleteObjects takes at most this many keys per call.
const DELETE_BATCH: usize = 1000;

macro_rules! s3 {
    ($what:expr, $req:expr) => {
        crate::send!(SERVICE, $what, $req)
    };
}

/// A bucket name from `prefix`: lowercase, at most 63 characters with the token's suffix.
fn bucket_name(prefix: &str, token: &str) -> String {
    let prefix: String = prefix.to_ascii_lowercase().chars().take(54).collect();
    token_name(prefix.trim_end_matches('-'), token)
}

fn outputs(name: &str) -> hoist_provider::Attrs {
    [
        ("name", json!(name)),
        ("arn", json!(format!("arn:aws:s3:::{name}"))),
        ("uri", json!(format!("s3://{name}"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl AwsProvider {
    /// The bucket's tags, `None` when the bucket is gone; a bucket without tags has none.
    async fn bucket_tags(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        // HeadBucket answers with a bare status (HEAD has no body): 404 is gone, 403 is a
        // bucket of another account under the same global name.
        if let Err(e) = self.s3.head_bucket().bucket(name).send().await {
            match e.raw_response().map(|r| r.status().as_u16()) {
                Some(404) => return Ok(None),
                Some(403) => {
                    return Err(ProviderError::NotOwned {
                        resource: format!("S3 bucket {name}"),
                        why: "it belongs to another AWS account".into(),
                    })
                }
                Some(code) if code >= 500 || code == 429 => {
                    return Err(crate::errors::classify(SERVICE, "HeadBucket", e))
                }
                Some(code) => {
                    return Err(ProviderError::Fatal(format!(
                        "HeadBucket {name}: HTTP {code}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&e)
                    )))
                }
                None => return Err(crate::errors::classify(SERVICE, "HeadBucket", e)),
            }
        }
        match s3!(
            "GetBucketTagging",
            self.s3.get_bucket_tagging().bucket(name)
        ) {
            Ok(t) => Ok(Some(
                t.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            )),
            Err(e) if e.to_string().contains("NoSuchTagSet") => Ok(Some(BTreeMap::new())),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn create_bucket(
        &self,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let name = bucket_name(text(&config.attrs, "name_prefix"), &ctx.token);
        match self.bucket_tags(&name).await? {
            Some(t) => claim(
                &Ownership::from_tags(&ctx.tags),
                format!("S3 bucket {name}"),
                &t,
            )?,
            None => {
                // us-east-1 is the one region that takes no location constraint.
                let location = (self.region != "us-east-1").then(|| {
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                        .build()
                });
                s3!(
                    "CreateBucket",
                    self.s3
                        .create_bucket()
                        .bucket(&name)
                        .set_create_bucket_configuration(location)
                )?;
            }
        }
        self.secure_bucket(&name, &tag_map(ctx, &name)).await?;
        Ok(crate::made(&name, config, outputs(&name), Lifecycle::Ready))
    }

    /// Tags, public access block and default encryption: what a create sets after
    /// CreateBucket, and what an update (or the finish of an interrupted create) sets again.
    pub(crate) async fn secure_bucket(
        &self,
        name: &str,
        tag_set: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let tags: Vec<Tag> = tag_set
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .map_err(|e| ProviderError::Invalid(format!("tags for S3 bucket {name}: {e}")))?;
        s3!(
            "PutBucketTagging",
            self.s3.put_bucket_tagging().bucket(name).tagging(tagging)
        )?;
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        s3!(
            "PutPublicAccessBlock",
            self.s3
                .put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(block)
        )?;
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(|e| ProviderError::Invalid(format!("encryption of S3 bucket {name}: {e}")))?;
        let encryption = ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(by_default)
                    .build(),
            )
            .build()
            .map_err(|e| ProviderError::Invalid(format!("encryption of S3 bucket {name}: {e}")))?;
        s3!(
            "PutBucketEncryption",
            self.s3
                .put_bucket_encryption()
                .bucket(name)
                .server_side_encryption_configuration(encryption)
        )?;
        Ok(())
    }

    pub(crate) async fn read_bucket(
        &self,
        r: &ResourceState,
    ) -> Result<Option<Observed>, ProviderError> {
        Ok(self.bucket_tags(&r.cloud_id).await?.map(|_| {
            crate::observed(
                r,
                Default::default(),
                outputs(&r.cloud_id),
                Lifecycle::Ready,
            )
        }))
    }

    pub(crate) async fn update_bucket(
        &self,
        prior: &ResourceState,
        config: &ResourceConfig,
        ctx: &StepContext,
    ) -> Result<Observed, ProviderError> {
        let name = &prior.cloud_id;
        let mut t = ctx.tags.clone();
        // Keep the token of the create that made it, for adoption after a crash.
        if let Some(have) = self.bucket_tags(name).await? {
            if let Some(token) = have.get(TOKEN_TAG) {
                t.insert(TOKEN_TAG.into(), token.clone());
            }
        }
        t.insert("Name".into(), name.clone());
        self.secure_bucket(name, &t).await?;
        Ok(crate::applied(
            prior,
            config,
            outputs(name),
            Lifecycle::Ready,
        ))
    }

    /// Empty, then delete, only a bucket whose tags name this environment; a bucket that
    /// someone re-tagged or emptied into other hands is left with a note.
    pub(crate) async fn delete_bucket(
        &self,
        prior: &ResourceState,
    ) -> Result<Vec<String>, ProviderError> {
        let name = &prior.cloud_id;
        let Some(t) = self.bucket_tags(name).await? else {
            return Ok(Vec::new());
        };
        let env = text(&prior.attrs, "env");
        if env.is_empty() || t.get(tags::ENV).map(String::as_str) != Some(env) {
            return Ok(vec![format!(
                "left S3 bucket {name} in place: its tags no longer say it is environment {env}'s"
            )]);
        }
        self.empty_bucket(name).await?;
        gone_is_none(s3!("DeleteBucket", self.s3.delete_bucket().bucket(name)))?;
        Ok(Vec::new())
    }

    /// Delete every object version and delete marker, a thousand at a time.
    async fn empty_bucket(&self, name: &str) -> Result<(), ProviderError> {
        loop {
            let page = s3!(
                "ListObjectVersions",
                self.s3
                    .list_object_versions()
                    .bucket(name)
                    .max_keys(DELETE_BATCH as i32)
            )?;
            let ids: Vec<ObjectIdentifier> = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                )
                .filter_map(|(key, version)| {
                    ObjectIdentifier::builder()
                        .key(key?)
                        .set_version_id(version.map(String::from))
                        .build()
                        .ok()
                })
                .collect();
            if ids.is_empty() {
                return Ok(());
            }
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| ProviderError::Invalid(format!("emptying S3 bucket {name}: {e}")))?;
            s3!(
                "DeleteObjects",
                self.s3.delete_objects().bucket(name).delete(delete)
            )?;
        }
    }

    /// The bucket an interrupted create with `token` made: its name embeds the token, and
    /// the expansion names it `ENV-ADDRESSNAME`.
    pub(crate) async fn find_bucket(
        &self,
        address: &Address,
        token: &str,
        owner: &Ownership,
    ) -> Result<Option<Observed>, ProviderError> {
        let name = bucket_name(&format!("{}-{}", owner.env, address.name()), token);
        let found = self.bucket_tags(&name).await?;
        Ok(found
            .filter(|t| t.get(TOKEN_TAG).map(String::as_str) == Some(token))
            .map(|_| Observed {
                cloud_id: name.clone(),
                attrs: Default::default(),
                outputs: outputs(&name),
                lifecycle: Lifecycle::Ready,
            }))
    }

    /// Buckets tagged for `env`. Only names starting `ENV-` are asked for their tags: an
    /// account can hold thousands of buckets and S3 has no tag filter on its list.
    pub(crate) async fn list_buckets(
        &self,
        owner: crate::owner::Owner<'_>,
    ) -> Result<Vec<CloudResource>, ProviderError> {
        let all = s3!("ListBuckets", self.s3.list_buckets())?;
        let mut out = Vec::new();
        for b in all.buckets() {
            let Some(name) = b.name().filter(|n| owner.may_name(n, "-", "")) else {
                continue;
            };
            let Some(t) = self.bucket_tags(name).await? else {
                continue;
            };
            if owner.owns(&t) {
                out.push(CloudResource {
                    cloud_id: name.into(),
                    kind: "s3_bucket".into(),
                    name: name.into(),
                    region: self.region.clone(),
                    status: "exists".into(),
                    tags: t,
                    outputs: outputs(name),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_lowercase_and_short_enough() {
        let n = bucket_name(&"Env-".repeat(30), "0123456789abcdef");
        assert!(n.len() <= 63, "{n}");
        assert_eq!(n, n.to_ascii_lowercase());
        assert!(n.ends_with("-01234567"));
        assert_eq!(
            bucket_name("demo-mlflow", "abcdef0123"),
            "demo-mlflow-abcdef01"
        );
    }
}
