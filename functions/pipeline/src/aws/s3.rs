use crate::error::{Error, Result};
use crate::verify::{TrustRoot, TrustRootLocation};

/// Loads the trust root from `s3://bucket/prefix` — only from a bucket of the expected owner —
/// or, for the CLI and tests, a local directory.
pub async fn load_trust_root(at: &TrustRootLocation, config: &aws_config::SdkConfig) -> Result<TrustRoot> {
    let location = at.location.as_str();
    let Some(rest) = location.strip_prefix("s3://") else {
        return TrustRoot::from_dir(std::path::Path::new(location));
    };
    let owner = at
        .expected_owner
        .as_deref()
        .ok_or_else(|| Error::config(format!("the trust root {location} has no expected bucket owner")))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    // Custom endpoints (moto locally) serve buckets by path, not by virtual host.
    let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
    let client = aws_sdk_s3::Client::from_conf(s3_config);
    // S3 failing is an AWS error by name (throttled and unavailable are retried); only what the
    // objects say makes the trust root invalid.
    let unreadable = |e: String| Error::TrustRootInvalid(format!("{location}: {e}"));
    let mut files = Vec::new();
    let list = client.list_objects_v2().bucket(bucket).expected_bucket_owner(owner).prefix(prefix);
    let mut pages = list.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("s3:ListBucket", e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            let body = client
                .get_object()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .key(key)
                .send()
                .await
                .map_err(|e| Error::aws("s3:GetObject", e))?
                .body
                .collect()
                .await
                .map_err(|e| unreadable(e.to_string()))?;
            files.push((format!("s3://{bucket}/{key}"), body.into_bytes().to_vec()));
        }
    }
    at.check_pinned(&files)?;
    TrustRoot::from_files(files)
}
