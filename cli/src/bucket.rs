//! The artifacts bucket: private, encrypted, TLS only, tagged with the stack that owns it, and
//! this account's. `sigship up` creates it when missing — by default in the account regional
//! namespace, where no other account can create the name first — and refuses one that another
//! account owns or that is not tagged for this stack. Every request names the expected owner
//! (`ExpectedBucketOwner`), so S3 itself refuses a bucket that changed hands.
//! `sigship down` empties the stack's keys and deletes the bucket only when this stack created it.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketNamespace, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};

use crate::artifacts::Release;
use crate::error::{Error, Result};

const OWNER_TAG: &str = "sigship:stack";

/// `<stack>-<account>-<region>-an`: the account regional namespace's form, which only this
/// account can create; at most 55 characters for stack names of up to 24.
pub fn default_name(stack: &str, account: &str, region: &str) -> String {
    format!("{stack}-{account}-{region}-an")
}

/// One account's bucket: every request carries `ExpectedBucketOwner`.
pub struct Bucket {
    s3: aws_sdk_s3::Client,
    pub name: String,
    owner: String,
}

impl Bucket {
    pub fn new(s3: aws_sdk_s3::Client, name: &str, owner: &str) -> Self {
        Bucket { s3, name: name.to_string(), owner: owner.to_string() }
    }

    /// Whether it exists; an error when it exists and is not this account's (or not readable).
    pub async fn exists(&self) -> Result<bool> {
        let head = self.s3.head_bucket().bucket(&self.name).expected_bucket_owner(&self.owner).send().await;
        match head {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                Err(Error::BucketNotOurs { bucket: self.name.clone(), account: self.owner.clone() })
            }
            Err(e) => Err(Error::aws("s3:HeadBucket", e)),
        }
    }

    /// The stack named by its `sigship:stack` tag, if any.
    async fn tagged_stack(&self) -> Result<Option<String>> {
        match self.s3.get_bucket_tagging().bucket(&self.name).expected_bucket_owner(&self.owner).send().await {
            Ok(tags) => Ok(tags.tag_set().iter().find(|t| t.key() == OWNER_TAG).map(|t| t.value().to_string())),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None), // NoSuchTagSet
            Err(e) => Err(Error::aws("s3:GetBucketTagging", e)),
        }
    }

    /// Refuses an existing bucket that another account owns or that is not tagged for `stack`.
    pub async fn check_ours(&self, stack: &str) -> Result<bool> {
        if !self.exists().await? {
            return Ok(false);
        }
        match self.tagged_stack().await? {
            Some(tagged) if tagged == stack => Ok(true),
            tagged => Err(Error::BucketNotTagged { bucket: self.name.clone(), stack: stack.into(), tagged }),
        }
    }
}

impl Bucket {
    /// Creates the bucket unless it exists (and is ours, tagged for `stack`); returns whether it
    /// did. A name in the account regional namespace is created there. `tls_only` adds the policy
    /// that refuses plain-http requests (off only for a plain-http endpoint such as the local cloud).
    pub async fn ensure(&self, region: &str, stack: &str, tls_only: bool) -> Result<bool> {
        if self.check_ours(stack).await? {
            return Ok(false);
        }
        let mut create = self.s3.create_bucket().bucket(&self.name);
        if self.name.ends_with(&format!("-{}-{region}-an", self.owner)) {
            create = create.bucket_namespace(BucketNamespace::AccountRegional);
        }
        // us-east-1 is the one region that refuses to be named as a location constraint.
        if region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        create.send().await.map_err(|e| Error::aws("s3:CreateBucket", e))?;
        let owner = &self.owner;
        self.s3
            .put_public_access_block()
            .bucket(&self.name)
            .expected_bucket_owner(owner)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::aws("s3:PutPublicAccessBlock", e))?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::Aes256)
                    .build()
                    .map_err(|e| Error::Usage(e.to_string()))?,
            )
            .build();
        self.s3
            .put_bucket_encryption()
            .bucket(&self.name)
            .expected_bucket_owner(owner)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| Error::Usage(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| Error::aws("s3:PutBucketEncryption", e))?;
        if tls_only {
            self.put_tls_only_policy().await?;
        }
        let tag = Tag::builder().key(OWNER_TAG).value(stack).build().map_err(|e| Error::Usage(e.to_string()))?;
        self.s3
            .put_bucket_tagging()
            .bucket(&self.name)
            .expected_bucket_owner(owner)
            .tagging(Tagging::builder().tag_set(tag).build().map_err(|e| Error::Usage(e.to_string()))?)
            .send()
            .await
            .map_err(|e| Error::aws("s3:PutBucketTagging", e))?;
        Ok(true)
    }

    async fn put_tls_only_policy(&self) -> Result<()> {
        let bucket = &self.name;
        let policy = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        });
        self.s3
            .put_bucket_policy()
            .bucket(bucket)
            .expected_bucket_owner(&self.owner)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(|e| Error::aws("s3:PutBucketPolicy", e))?;
        Ok(())
    }

    /// Uploads the release's artifacts that are not there yet; returns how many it uploaded.
    /// Keys are content-addressed, so an existing key already holds these bytes.
    pub async fn upload(&self, release: &Release) -> Result<usize> {
        let present = self.keys_under(&release.prefix).await?;
        let mut uploaded = 0;
        for artifact in &release.artifacts {
            let key = format!("{}{}", release.prefix, artifact.key);
            if present.contains(&key) {
                continue;
            }
            println!("  upload  {key} ({})", human_size(artifact.bytes.len()));
            self.s3
                .put_object()
                .bucket(&self.name)
                .expected_bucket_owner(&self.owner)
                .key(&key)
                .body(ByteStream::from(artifact.bytes.clone()))
                .send()
                .await
                .map_err(|e| Error::aws("s3:PutObject", e))?;
            uploaded += 1;
        }
        Ok(uploaded)
    }

    pub async fn keys_under(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let list = self.s3.list_objects_v2().bucket(&self.name).expected_bucket_owner(&self.owner).prefix(prefix);
        let mut pages = list.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("s3:ListObjectsV2", e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
        }
        Ok(keys)
    }

    /// Deletes `keys` in batches of 1000 (DeleteObjects' limit).
    pub async fn delete_keys(&self, keys: &[String]) -> Result<()> {
        for batch in keys.chunks(1000) {
            let objects = batch
                .iter()
                .map(|key| ObjectIdentifier::builder().key(key).build().map_err(|e| Error::Usage(e.to_string())))
                .collect::<Result<Vec<_>>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| Error::Usage(e.to_string()))?;
            self.s3
                .delete_objects()
                .bucket(&self.name)
                .expected_bucket_owner(&self.owner)
                .delete(delete)
                .send()
                .await
                .map_err(|e| Error::aws("s3:DeleteObjects", e))?;
        }
        Ok(())
    }

    /// Removes the stack's keys, then the bucket itself when this stack created it and it is
    /// empty. Another account's bucket is left alone, untouched.
    pub async fn remove(&self, stack: &str) -> Result<Removed> {
        if !self.exists().await? {
            return Ok(Removed::Nothing);
        }
        let keys = self.keys_under(&format!("{stack}/")).await?;
        self.delete_keys(&keys).await?;
        if self.tagged_stack().await?.as_deref() != Some(stack) {
            return Ok(Removed::KeysOnly {
                objects: keys.len(),
                reason: format!("it is not tagged {OWNER_TAG}={stack}"),
            });
        }
        let others = self.keys_under("").await?;
        if !others.is_empty() {
            return Ok(Removed::KeysOnly {
                objects: keys.len(),
                reason: format!("it still holds {} other objects", others.len()),
            });
        }
        self.s3
            .delete_bucket()
            .bucket(&self.name)
            .expected_bucket_owner(&self.owner)
            .send()
            .await
            .map_err(|e| Error::aws("s3:DeleteBucket", e))?;
        Ok(Removed::Bucket { objects: keys.len() })
    }
}

pub enum Removed {
    /// The stack's keys and the bucket are gone.
    Bucket {
        objects: usize,
    },
    /// The stack's keys are gone; the bucket stays because it is not this stack's or holds other keys.
    KeysOnly {
        objects: usize,
        reason: String,
    },
    Nothing,
}

pub fn human_size(bytes: usize) -> String {
    if bytes >= 1_000_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} kB", bytes as f64 / 1e3)
    }
}
