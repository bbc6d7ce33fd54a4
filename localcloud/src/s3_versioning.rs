//! S3's versioning takes time to take. AWS: after versioning is enabled on a bucket for the first
//! time, the change "might take up to 15 minutes" to propagate, and objects written meanwhile may
//! be unversioned, their reads 404 (S3 user guide, "Enabling versioning on buckets"). moto
//! versions at once, so the router holds a new bucket's versioning back for a while: an object
//! written meanwhile comes back without a version id, and a read by version is 404 NoSuchVersion.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::StatusCode;

use crate::http::{reply, Reply};

pub struct VersioningPropagation {
    delay: Mutex<Duration>,
    /// When each bucket's versioning was first enabled.
    enabled: Mutex<HashMap<String, Instant>>,
}

/// A path-style request's bucket and key (empty for a bucket request).
fn bucket_and_key(path: &str) -> (&str, &str) {
    let path = path.trim_start_matches('/');
    path.split_once('/').unwrap_or((path, ""))
}

impl VersioningPropagation {
    pub fn new(delay: Duration) -> Self {
        VersioningPropagation { delay: Mutex::new(delay), enabled: Mutex::new(HashMap::new()) }
    }

    /// How long versioning takes to take from now on (for buckets enabled later).
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    fn propagating(&self, bucket: &str) -> bool {
        let delay = *self.delay.lock().unwrap();
        self.enabled.lock().unwrap().get(bucket).is_some_and(|at| at.elapsed() < delay)
    }

    /// Before moto: a read by version in a bucket still propagating is not found.
    pub fn before(&self, method: &str, path: &str, query: &str) -> Option<Reply> {
        let (bucket, key) = bucket_and_key(path);
        let by_version = crate::http::form(query.as_bytes()).contains_key("versionId");
        if !(matches!(method, "GET" | "HEAD") && !key.is_empty() && by_version && self.propagating(bucket)) {
            return None;
        }
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchVersion</Code><Message>The specified \
             version does not exist.</Message><Key>{key}</Key></Error>"
        );
        let mut response = reply(StatusCode::NOT_FOUND, body);
        response.headers_mut().insert("content-type", "application/xml".parse().unwrap());
        Some(response)
    }

    /// After moto answered: the first PutBucketVersioning of a bucket starts its propagation; an
    /// object written while it lasts comes back without a version id.
    pub fn after(&self, method: &str, path: &str, query: &str, status: StatusCode, headers: &mut hyper::HeaderMap) {
        if method != "PUT" || !status.is_success() {
            return;
        }
        let (bucket, key) = bucket_and_key(path);
        let query = crate::http::form(query.as_bytes());
        if key.is_empty() && query.contains_key("versioning") {
            self.enabled.lock().unwrap().entry(bucket.to_string()).or_insert_with(Instant::now);
        } else if !key.is_empty() && query.keys().all(|k| k == "x-id") && self.propagating(bucket) {
            headers.remove("x-amz-version-id");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_bucket_versions_nothing_until_its_versioning_has_taken() {
        let s3 = VersioningPropagation::new(Duration::from_millis(200));
        let written = || {
            let mut headers = hyper::HeaderMap::new();
            headers.insert("x-amz-version-id", "v1".parse().unwrap());
            s3.after("PUT", "/b/k", "x-id=PutObject", StatusCode::OK, &mut headers);
            headers.contains_key("x-amz-version-id")
        };
        assert!(written(), "no versioning enabled here: moto's answer stands");
        s3.after("PUT", "/b", "versioning", StatusCode::OK, &mut hyper::HeaderMap::new());
        assert!(!written());
        assert!(s3.before("GET", "/b/k", "versionId=v1&x-id=GetObject").is_some());
        assert!(s3.before("GET", "/b/k", "x-id=GetObject").is_none(), "reads of the newest stand");
        assert!(s3.before("GET", "/other/k", "versionId=v1").is_none());
        std::thread::sleep(Duration::from_millis(250));
        assert!(written());
        assert!(s3.before("GET", "/b/k", "versionId=v1").is_none());
        // Enabling it again later starts nothing new.
        s3.after("PUT", "/b", "versioning", StatusCode::OK, &mut hyper::HeaderMap::new());
        assert!(written());
    }
}
