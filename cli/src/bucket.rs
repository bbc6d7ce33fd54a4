//! The artifacts bucket: private, encrypted, TLS only, tagged with the stack that owns it, and
//! this account's. `sigship up` creates it when missing — by default in the account regional
//! namespace, where no other account can create the name first — and refuses one that another
//! account owns or that is not tagged for this stack. Every request names the expected owner
//! (`ExpectedBucketOwner`), so S3 itself refuses a bucket that changed hands.
//! Versioning is on: `sigship up` pins the object version of every artifact it deploys (and the
//! trust root's SHA-256), so a later overwrite changes nothing that runs; an artifact whose stored
//! bytes are not the checkout's is uploaded again rather than trusted.
//! `sigship down` empties the stack's keys (every version) and deletes the bucket only when this
//! stack created it.

use aws_sdk_s3::primitives::ByteStream;
use std::collections::BTreeMap;

use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketNamespace, BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode,
    CreateBucketConfiguration, Delete, ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::artifacts::Release;
use crate::error::{Error, Result};

const OWNER_TAG: &str = "sigship:stack";

/// AWS: after versioning is first enabled on a bucket, it "might take up to 15 minutes" to take
/// effect, and objects written meanwhile may be unversioned (S3 user guide, "Enabling versioning
/// on buckets").
pub const VERSIONING_PROPAGATION: std::time::Duration = std::time::Duration::from_secs(15 * 60);
const NOT_VERSIONED_YET: &str =
    "versioning is off, or not yet in effect (AWS: up to 15 minutes after it is first enabled on a bucket)";
/// What `up` writes to see versioning take, and deletes once it has.
const VERSIONING_PROBE: &str = ".sigship/versioning-probe";
/// Reads by version in a row that say it has taken.
const PROBE_READS: usize = 3;

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
            self.ensure_versioning().await?;
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
        self.ensure_versioning().await?;
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

    /// Versioning on, and taken (a bucket made before sigship pinned versions gets it now): the
    /// stack names object versions, which exist only in a versioned bucket. Turned on now, it
    /// takes a while to take: wait for it before anything is written.
    async fn ensure_versioning(&self) -> Result<()> {
        let status = self
            .s3
            .get_bucket_versioning()
            .bucket(&self.name)
            .expected_bucket_owner(&self.owner)
            .send()
            .await
            .map_err(|e| Error::aws("s3:GetBucketVersioning", e))?;
        if status.status() == Some(&BucketVersioningStatus::Enabled) {
            // On, perhaps seconds ago (an `up` interrupted while it waited): taken is checked too.
            return self.wait_for_versioning().await;
        }
        self.s3
            .put_bucket_versioning()
            .bucket(&self.name)
            .expected_bucket_owner(&self.owner)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(|e| Error::aws("s3:PutBucketVersioning", e))?;
        self.wait_for_versioning().await
    }

    /// Until a probe object written now gets a version id and reads back by it
    /// [`PROBE_READS`] times in a row; at most [`VERSIONING_PROPAGATION`], saying so meanwhile.
    async fn wait_for_versioning(&self) -> Result<()> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_secs(1);
        while !self.versioned_write().await? {
            let waited = started.elapsed();
            if waited >= VERSIONING_PROPAGATION {
                return Err(Error::Usage(format!(
                    "s3://{}: {} after {} min; run `sigship up` again later",
                    self.name,
                    NOT_VERSIONED_YET,
                    waited.as_secs() / 60
                )));
            }
            println!(
                "  waiting for versioning to take effect in s3://{} ({} s so far; {NOT_VERSIONED_YET})",
                self.name,
                waited.as_secs()
            );
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(30));
        }
        let probes = self.versions_under(VERSIONING_PROBE).await?;
        self.delete_versions(&probes).await?;
        if started.elapsed().as_secs() > 0 {
            println!("  versioning in effect in s3://{} after {} s", self.name, started.elapsed().as_secs());
        }
        Ok(())
    }

    /// Writes the probe; whether it got a version id that reads back, [`PROBE_READS`] times.
    async fn versioned_write(&self) -> Result<bool> {
        let written = self
            .s3
            .put_object()
            .bucket(&self.name)
            .expected_bucket_owner(&self.owner)
            .key(VERSIONING_PROBE)
            .body(ByteStream::from_static(b"sigship: versioning probe"))
            .send()
            .await
            .map_err(|e| Error::aws("s3:PutObject", e))?;
        let Some(version) = written.version_id() else { return Ok(false) };
        for _ in 0..PROBE_READS {
            let read = self
                .s3
                .get_object()
                .bucket(&self.name)
                .expected_bucket_owner(&self.owner)
                .key(VERSIONING_PROBE)
                .version_id(version)
                .send()
                .await;
            match read {
                Ok(_) => {}
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(false),
                Err(e) => return Err(Error::aws("s3:GetObject", e)),
            }
        }
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

    /// Uploads the release's artifacts that are not there with these bytes; returns each
    /// artifact's object version (its key relative to the release prefix → version id) and how
    /// many it uploaded. A stored object is trusted only when S3's SHA-256 of it is the
    /// checkout's: anything else (written by someone else, or before checksums) is uploaded again.
    pub async fn upload(&self, release: &Release) -> Result<(BTreeMap<String, String>, usize)> {
        let mut versions = BTreeMap::new();
        let mut uploaded = 0;
        for artifact in &release.artifacts {
            let key = format!("{}{}", release.prefix, artifact.key);
            let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&artifact.bytes));
            let stored = match self.stored(&key).await? {
                Some((checksum, version)) if checksum.as_deref() == Some(sha256.as_str()) => version,
                Some(_) => {
                    println!("  replace {key}: its stored bytes are not the checkout's");
                    None
                }
                None => None,
            };
            let version = match stored {
                Some(version) => version,
                None => {
                    println!("  upload  {key} ({})", human_size(artifact.bytes.len()));
                    uploaded += 1;
                    self.s3
                        .put_object()
                        .bucket(&self.name)
                        .expected_bucket_owner(&self.owner)
                        .key(&key)
                        .checksum_algorithm(ChecksumAlgorithm::Sha256)
                        .checksum_sha256(&sha256)
                        .body(ByteStream::from(artifact.bytes.clone()))
                        .send()
                        .await
                        .map_err(|e| Error::aws("s3:PutObject", e))?
                        .version_id()
                        .map(str::to_string)
                        .ok_or_else(|| {
                            Error::Usage(format!(
                                "s3://{}: {key} was written without a version id: {NOT_VERSIONED_YET}",
                                self.name
                            ))
                        })?
                }
            };
            versions.insert(artifact.key.clone(), version);
        }
        Ok((versions, uploaded))
    }

    /// A stored object's SHA-256 (base64, when S3 has one) and version, or None when absent.
    async fn stored(&self, key: &str) -> Result<Option<(Option<String>, Option<String>)>> {
        let head = self
            .s3
            .head_object()
            .bucket(&self.name)
            .expected_bucket_owner(&self.owner)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await;
        match head {
            Ok(head) => Ok(Some((head.checksum_sha256().map(str::to_string), head.version_id().map(str::to_string)))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(Error::aws("s3:HeadObject", e)),
        }
    }

    /// Every version and delete marker under `prefix`.
    pub async fn versions_under(&self, prefix: &str) -> Result<Vec<ObjectIdentifier>> {
        let mut found = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .s3
                .list_object_versions()
                .bucket(&self.name)
                .expected_bucket_owner(&self.owner)
                .prefix(prefix)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| Error::aws("s3:ListObjectVersions", e))?;
            let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                let id = ObjectIdentifier::builder().key(key).set_version_id(version.map(str::to_string));
                found.push(id.build().map_err(|e| Error::Usage(e.to_string()))?);
            }
            if !page.is_truncated().unwrap_or(false) {
                return Ok(found);
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
    }

    /// Deletes these object versions for good, in batches of 1000 (DeleteObjects' limit).
    pub async fn delete_versions(&self, objects: &[ObjectIdentifier]) -> Result<()> {
        for batch in objects.chunks(1000) {
            let delete = Delete::builder()
                .set_objects(Some(batch.to_vec()))
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
        let keys = self.versions_under(&format!("{stack}/")).await?;
        self.delete_versions(&keys).await?;
        if self.tagged_stack().await?.as_deref() != Some(stack) {
            return Ok(Removed::KeysOnly {
                objects: keys.len(),
                reason: format!("it is not tagged {OWNER_TAG}={stack}"),
            });
        }
        let others = self.versions_under("").await?;
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
