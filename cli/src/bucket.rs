//! The artifacts bucket: private, encrypted, TLS only, tagged with the stack that owns it.
//! `sigship up` creates it when missing; `sigship down` empties the stack's keys and deletes the
//! bucket only when this stack created it.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};

use crate::artifacts::Release;
use crate::error::{Error, Result};

const OWNER_TAG: &str = "sigship:stack";

/// `<stack>-artifacts-<account>-<region>`: unique per account and region, at most 63 characters
/// for stack names of up to 24.
pub fn default_name(stack: &str, account: &str, region: &str) -> String {
    format!("{stack}-artifacts-{account}-{region}")
}

pub async fn exists(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<bool> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => Err(Error::Usage(format!(
            "bucket {bucket} exists but these credentials cannot use it (another account's?); choose one with --bucket"
        ))),
        Err(e) => Err(Error::aws("s3:HeadBucket", e)),
    }
}

/// Creates the bucket unless it exists; returns whether it did. `tls_only` adds the policy that
/// refuses plain-http requests (off only for a plain-http endpoint such as the local cloud).
pub async fn ensure(s3: &aws_sdk_s3::Client, bucket: &str, region: &str, stack: &str, tls_only: bool) -> Result<bool> {
    if exists(s3, bucket).await? {
        return Ok(false);
    }
    let mut create = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that refuses to be named as a location constraint.
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    create.send().await.map_err(|e| Error::aws("s3:CreateBucket", e))?;
    s3.put_public_access_block()
        .bucket(bucket)
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
    s3.put_bucket_encryption()
        .bucket(bucket)
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
        put_tls_only_policy(s3, bucket).await?;
    }
    let owner = Tag::builder().key(OWNER_TAG).value(stack).build().map_err(|e| Error::Usage(e.to_string()))?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(Tagging::builder().tag_set(owner).build().map_err(|e| Error::Usage(e.to_string()))?)
        .send()
        .await
        .map_err(|e| Error::aws("s3:PutBucketTagging", e))?;
    Ok(true)
}

async fn put_tls_only_policy(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<()> {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    });
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| Error::aws("s3:PutBucketPolicy", e))?;
    Ok(())
}

/// Uploads the release's artifacts that are not there yet; returns how many it uploaded.
/// Keys are content-addressed, so an existing key already holds these bytes.
pub async fn upload(s3: &aws_sdk_s3::Client, bucket: &str, release: &Release) -> Result<usize> {
    let present = keys_under(s3, bucket, &release.prefix).await?;
    let mut uploaded = 0;
    for artifact in &release.artifacts {
        let key = format!("{}{}", release.prefix, artifact.key);
        if present.contains(&key) {
            continue;
        }
        println!("  upload  {key} ({})", human_size(artifact.bytes.len()));
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(ByteStream::from(artifact.bytes.clone()))
            .send()
            .await
            .map_err(|e| Error::aws("s3:PutObject", e))?;
        uploaded += 1;
    }
    Ok(uploaded)
}

pub async fn keys_under(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("s3:ListObjectsV2", e))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
    }
    Ok(keys)
}

/// Deletes `keys` in batches of 1000 (DeleteObjects' limit).
pub async fn delete_keys(s3: &aws_sdk_s3::Client, bucket: &str, keys: &[String]) -> Result<()> {
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
        s3.delete_objects()
            .bucket(bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| Error::aws("s3:DeleteObjects", e))?;
    }
    Ok(())
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

/// Removes the stack's keys, then the bucket itself when this stack created it and it is empty.
pub async fn remove(s3: &aws_sdk_s3::Client, bucket: &str, stack: &str) -> Result<Removed> {
    if !exists(s3, bucket).await? {
        return Ok(Removed::Nothing);
    }
    let keys = keys_under(s3, bucket, &format!("{stack}/")).await?;
    delete_keys(s3, bucket, &keys).await?;
    let owner = match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(tags) => tags.tag_set().iter().find(|t| t.key() == OWNER_TAG).map(|t| t.value().to_string()),
        Err(_) => None, // NoSuchTagSet: not ours
    };
    if owner.as_deref() != Some(stack) {
        return Ok(Removed::KeysOnly { objects: keys.len(), reason: format!("it is not tagged {OWNER_TAG}={stack}") });
    }
    let others = keys_under(s3, bucket, "").await?;
    if !others.is_empty() {
        return Ok(Removed::KeysOnly {
            objects: keys.len(),
            reason: format!("it still holds {} other objects", others.len()),
        });
    }
    s3.delete_bucket().bucket(bucket).send().await.map_err(|e| Error::aws("s3:DeleteBucket", e))?;
    Ok(Removed::Bucket { objects: keys.len() })
}

pub fn human_size(bytes: usize) -> String {
    if bytes >= 1_000_000 {
        format!("{:.2} MB", bytes as f64 / 1e6)
    } else {
        format!("{:.1} kB", bytes as f64 / 1e3)
    }
}
