//! Tag verification: fetch the annotated tag, check its name and signature against the trust root,
//! and name the commit it vouches for.

pub mod fetch;
pub mod signature;
pub mod trust;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Env;
use crate::error::{Error, Result};
pub use fetch::{GitRemote, RemoteTag, RemoteTags};
pub use trust::{TagPolicy, TrustRoot};

/// A release execution's input: `{"tag": "v0.24.2"}`, optionally `repository` and `allowDowngrade`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagRequest {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Deploy this release even when it is older than the running one. Only an operator's
    /// explicit run says so; the webhook and the watch never do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_downgrade: bool,
    /// The trigger invocation that asked (`webhook <request id>`, `watch <time>`). Unique per
    /// ask, so a second ask for a running execution's name differs in input, and Step Functions
    /// answers ExecutionAlreadyExists instead of the original execution again (its idempotency
    /// for an identical input): the trigger then reports a duplicate, not a start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// What the rest of the pipeline builds on: exactly one commit, vouched for by allowed signers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedTag {
    pub repository: String,
    pub tag: String,
    pub tag_object_id: String,
    pub commit: String,
    pub signers: Vec<VerifiedSigner>,
    /// RFC 3339, the newest of the counted signatures.
    pub signed_at: String,
    /// The request's [`TagRequest::allow_downgrade`], carried to deploy.
    #[serde(default)]
    pub allow_downgrade: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedSigner {
    pub label: String,
    pub fingerprint: String,
}

/// What [`verify`] needs besides the trust root (loaded once per environment from
/// [`trust_root_location`]).
pub struct VerifyConfig {
    /// The daemon's git URL (the stack's): used when the request names none, and the only one a
    /// request may name when set — the build project builds that repository, nothing else.
    pub default_repository_url: Option<String>,
    pub fetch_timeout: Duration,
    /// Local repository paths: for the operator CLI, never for the Lambda.
    pub allow_local_paths: bool,
}

impl VerifyConfig {
    pub fn from_env(env: &Env) -> Result<Self> {
        Ok(VerifyConfig {
            default_repository_url: env.optional("SIGSHIP_REPOSITORY"),
            fetch_timeout: Duration::from_secs(env.parsed_or("SIGSHIP_FETCH_TIMEOUT_SECONDS", 30)?),
            allow_local_paths: false,
        })
    }
}

/// Where the trust root is: `s3://bucket/prefix/` or a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRootLocation {
    pub location: String,
    /// The account that must own the bucket (S3's `ExpectedBucketOwner`): a bucket of the same
    /// name in any other account is refused by S3 itself.
    pub expected_owner: Option<String>,
    /// [`trust::digest`] of the files `sigship up` deployed: what is read must match it, so a
    /// later write to the bucket changes nothing that verifies.
    pub pinned_sha256: Option<String>,
}

/// SIGSHIP_TRUST_ROOT, and for an `s3://` one the account that owns its bucket,
/// SIGSHIP_ARTIFACTS_OWNER (the stack sets it to its own account), and the files' digest,
/// SIGSHIP_TRUST_ROOT_SHA256.
pub fn trust_root_location(env: &Env) -> Result<TrustRootLocation> {
    let location = env.required("SIGSHIP_TRUST_ROOT")?;
    let expected_owner = env.optional("SIGSHIP_ARTIFACTS_OWNER");
    let pinned_sha256 = env.optional("SIGSHIP_TRUST_ROOT_SHA256");
    if location.starts_with("s3://") && (expected_owner.is_none() || pinned_sha256.is_none()) {
        return Err(Error::config(format!(
            "SIGSHIP_TRUST_ROOT={location} needs SIGSHIP_ARTIFACTS_OWNER (the account whose bucket it must be) \
             and SIGSHIP_TRUST_ROOT_SHA256 (the digest of the files deployed)"
        )));
    }
    Ok(TrustRootLocation { location, expected_owner, pinned_sha256 })
}

impl TrustRootLocation {
    /// Refuses files that are not the pinned ones, before anything parses them.
    pub fn check_pinned(&self, files: &[(String, Vec<u8>)]) -> Result<()> {
        let Some(pinned) = &self.pinned_sha256 else { return Ok(()) };
        let found = trust::digest(files);
        if &found != pinned {
            return Err(Error::TrustRootChanged { location: self.location.clone(), pinned: pinned.clone(), found });
        }
        Ok(())
    }
}

/// Verifies the requested tag; the one code path shared by the Lambda and the CLI.
pub async fn verify(request: &TagRequest, config: &VerifyConfig, trust: &TrustRoot) -> Result<VerifiedTag> {
    let repository = request
        .repository
        .clone()
        .or_else(|| config.default_repository_url.clone())
        .ok_or_else(|| Error::InvalidInput("no repository given and SIGSHIP_REPOSITORY is not set".into()))?;
    if let Some(stack) = config.default_repository_url.as_deref().filter(|stack| *stack != repository) {
        return Err(Error::InvalidInput(format!(
            "repository {repository} is not the stack's ({stack}): the pipeline verifies and builds only its own repository"
        )));
    }
    // Name policy first: a tag that could never deploy is refused without touching the network.
    trust.check_tag_name(&request.tag)?;
    let fetched = fetch::fetch_tag(&repository, &request.tag, config.fetch_timeout, config.allow_local_paths).await?;
    let verdict = signature::verify_tag_object(&fetched.raw, &request.tag, trust)?;
    Ok(VerifiedTag {
        repository,
        tag: request.tag.clone(),
        tag_object_id: fetched.tag_object_id,
        commit: verdict.commit,
        signers: verdict
            .signers
            .into_iter()
            .map(|s| VerifiedSigner { label: s.label, fingerprint: s.fingerprint.to_hex() })
            .collect(),
        signed_at: humantime::format_rfc3339_seconds(verdict.signed_at).to_string(),
        allow_downgrade: request.allow_downgrade,
    })
}

impl From<&VerifiedTag> for crate::release::Release {
    fn from(verified: &VerifiedTag) -> Self {
        crate::release::Release { tag: verified.tag.clone(), commit: verified.commit.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_may_name_only_the_stack_s_repository() {
        let config = VerifyConfig {
            default_repository_url: Some("https://github.com/btcsuite/btcd.git".into()),
            fetch_timeout: Duration::from_secs(1),
            allow_local_paths: false,
        };
        let trust =
            TrustRoot::from_files(testkit::trust_root_files(&[&testkit::keys::Maintainer::generate("A")])).unwrap();
        let elsewhere = TagRequest {
            tag: "v0.24.2".into(),
            repository: Some("https://github.com/someone/btcd.git".into()),
            allow_downgrade: false,
            requested_by: None,
        };
        let refused = verify(&elsewhere, &config, &trust).await.unwrap_err();
        assert_eq!(refused.name(), "InvalidInput");
        assert!(refused.to_string().contains("is not the stack's (https://github.com/btcsuite/btcd.git)"), "{refused}");
    }

    #[test]
    fn an_s3_trust_root_is_read_only_from_the_named_owner_s_bucket_and_only_as_pinned() {
        let s3 = "s3://sigship-123456789012-us-east-1-an/sigship/abc/trust-root/";
        let pinned = "ab".repeat(32);
        for partial in [
            vec![("SIGSHIP_TRUST_ROOT", s3)],
            vec![("SIGSHIP_TRUST_ROOT", s3), ("SIGSHIP_ARTIFACTS_OWNER", "123456789012")],
            vec![("SIGSHIP_TRUST_ROOT", s3), ("SIGSHIP_TRUST_ROOT_SHA256", pinned.as_str())],
        ] {
            let refused = trust_root_location(&Env::from_pairs(partial)).unwrap_err();
            assert!(refused.to_string().contains("needs SIGSHIP_ARTIFACTS_OWNER"), "{refused}");
            assert!(refused.to_string().contains("SIGSHIP_TRUST_ROOT_SHA256"), "{refused}");
        }
        let owned = Env::from_pairs([
            ("SIGSHIP_TRUST_ROOT", s3),
            ("SIGSHIP_ARTIFACTS_OWNER", "123456789012"),
            ("SIGSHIP_TRUST_ROOT_SHA256", pinned.as_str()),
        ]);
        let location = trust_root_location(&owned).unwrap();
        assert_eq!(location.expected_owner.as_deref(), Some("123456789012"));
        // What is read must be what was pinned, before anything parses it.
        let files = vec![("s3://b/trust-root/policy.toml".to_string(), b"threshold = 1".to_vec())];
        let changed = location.check_pinned(&files).unwrap_err();
        assert_eq!(changed.name(), "TrustRootChanged");
        assert!(changed.to_string().contains(&format!("the stack pins {pinned}")), "{changed}");
        let deployed = TrustRootLocation { pinned_sha256: Some(trust::digest(&files)), ..location };
        assert!(deployed.check_pinned(&files).is_ok());
        // A local directory (the CLI's) has no bucket to own.
        let local = trust_root_location(&Env::from_pairs([("SIGSHIP_TRUST_ROOT", "/etc/sigship/trust")])).unwrap();
        assert_eq!(local.expected_owner, None);
    }
}
