//! The one error type of the pipeline. Each variant's name is the `errorType` a Lambda reports,
//! so Step Functions Retry/Catch can match it by name (see `statemachine/`).

use std::fmt::Display;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    // --- input and configuration ---
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("configuration: {0}")]
    Configuration(String),
    #[error("trust root: {0}")]
    TrustRootInvalid(String),
    /// The trust root read is not the one `sigship up` deployed (its SHA-256 is pinned in the
    /// stack): someone wrote to the artifacts bucket after deployment.
    #[error(
        "trust root {location} changed since it was deployed: SHA-256 {found}, the stack pins {pinned}; \
         run `sigship up` again to restore it from the checkout, and find out who wrote to the bucket"
    )]
    TrustRootChanged { location: String, pinned: String, found: String },

    // --- tag verification ---
    #[error("repository URL {url} refused: {reason}")]
    InsecureRepositoryUrl { url: String, reason: String },
    #[error("repository {url} unreachable: {reason}")]
    RepositoryUnreachable { url: String, reason: String },
    #[error("tag {tag} not found in {url}")]
    TagNotFound { url: String, tag: String },
    #[error("tag {tag} is a lightweight tag (points straight at {object}); only annotated, signed tags are accepted")]
    NotAnnotatedTag { tag: String, object: String },
    #[error("tag object for {tag} is {size} bytes, over the {limit}-byte limit")]
    TagTooLarge { tag: String, size: usize, limit: usize },
    #[error("tag object for {tag} is malformed: {reason}")]
    MalformedTag { tag: String, reason: String },
    #[error("tag {tag} does not match the object it names: {reason}")]
    TagMismatch { tag: String, reason: String },
    #[error("tag {tag} carries no OpenPGP signature")]
    Unsigned { tag: String },
    #[error("tag {tag} is signed by {issuer}, which is not an allowed signer")]
    UnknownSigner { tag: String, issuer: String },
    #[error("tag {tag}: signature does not verify: {reason}")]
    BadSignature { tag: String, reason: String },
    #[error("tag {tag}: the signing key was not valid when it signed: {reason}")]
    KeyNotValid { tag: String, reason: String },
    #[error("tag name {tag} rejected: it matches none of the allowed patterns {patterns:?}")]
    TagNameRejected { tag: String, patterns: Vec<String> },

    // --- build ---
    #[error("build {build_id} failed in phase {phase}")]
    BuildFailed { build_id: String, phase: String },
    #[error("build {build_id} was stopped")]
    BuildStopped { build_id: String },
    #[error("build {build_id} timed out in CodeBuild")]
    BuildTimedOut { build_id: String },
    /// CodeBuild's AccountLimitExceededException: new accounts meet it while Service Quotas
    /// shows a positive build quota; only AWS Support raises what it enforces.
    #[error(
        "CodeBuild refused to start the build: {message}. The account's build limit is below one build, whatever \
         Service Quotas shows (new accounts meet this): open a case with AWS Support (Service limit increase, \
         CodeBuild) to raise \"Concurrently running builds for ARM/Large environment\" (L-596BEAB4) in this region \
         to at least 1, then run the release again"
    )]
    BuildLimitExceeded { message: String },
    #[error("gave up waiting for build {build_id} after {attempts} checks")]
    BuildWaitExceeded { build_id: String, attempts: u32 },
    /// A rebuild of the recipe's build stage failed (`sigship reproduce`, the local CodeBuild).
    #[error("the rebuild failed:\n{output}")]
    RebuildFailed { output: String },
    /// An image that cannot be read as an OCI or Docker v2 image, or a blob that is not what its
    /// digest names.
    #[error("the image cannot be read: {reason}")]
    ImageUnreadable { reason: String },
    #[error(
        "{running} executions are running, the most the triggers start ({limit}); this tag starts with a later \
         delivery or watch run, or `sigship run`"
    )]
    TooManyExecutions { running: usize, limit: usize },
    #[error(
        "the node is catching up at its sync size ({task_definition}): a release waits until it is current, \
         since deploying it would stop the sync; the watch starts it then (or `sigship run --tag … --now`)"
    )]
    NodeSyncing { task_definition: String },
    #[error("waited {waited_seconds} s for earlier executions to finish, still running: {}", ahead.join(", "))]
    QueueTimedOut { waited_seconds: u64, ahead: Vec<String> },
    #[error("image tag {image_tag} is not in repository {repository_uri}")]
    ImageMissing { repository_uri: String, image_tag: String },
    /// The repository holds the image tag, but no build of the project recorded that image:
    /// something other than the pipeline's build pushed it.
    #[error(
        "image {repository}:{image_tag} ({digest}) was not pushed by a build of {project}; it is not deployed. \
         Delete it (aws ecr batch-delete-image --repository-name {repository} --image-ids imageTag={image_tag}) \
         and run the release again to build it"
    )]
    ImageNotRecorded { project: String, repository: String, image_tag: String, digest: String },

    // --- deployment ---
    #[error("network {network} cannot run release {tag}: {reason}")]
    NetworkUnsupported { network: &'static str, tag: String, reason: String },
    #[error(
        "release {requested} is older than the running {running}; a downgrade runs only when the execution \
         asks for it (`sigship run --allow-downgrade`, input `allowDowngrade: true`)"
    )]
    Downgrade { running: String, requested: String },
    #[error("service {service} rolled back: {reason}")]
    DeploymentRolledBack { service: String, reason: String },
    #[error("service {service} not stable after {attempts} checks")]
    DeploymentTimedOut { service: String, attempts: u32 },
    #[error("service {service} deleted, but its tasks had not all stopped after {attempts} checks")]
    TeardownTimedOut { service: String, attempts: u32 },
    /// Its mount targets were still going (or EFS still called it in use) after the checks:
    /// retried by the state machine, as destroy converges.
    #[error("chain data file system {file_system_id} still in use after {attempts} checks (its mount targets are being deleted)")]
    ChainDataBusy { file_system_id: String, attempts: u32 },

    // --- AWS ---
    #[error("AWS {operation} throttled: {message}")]
    Throttled { operation: &'static str, message: String },
    /// A server-side failure (HTTP 5xx) the SDK's own retries did not outlast; retried.
    #[error("AWS {operation} unavailable: {code}: {message}")]
    AwsUnavailable { operation: &'static str, code: String, message: String },
    /// The function's role lacks a permission: a stack defect, never retried.
    #[error("AWS {operation} denied: {message}")]
    AccessDenied { operation: &'static str, message: String },
    #[error("AWS {operation} failed: {code}: {message}")]
    AwsService { operation: &'static str, code: String, message: String },
    /// AWS answered without a field its API documents (a build id, an ARN): not retried.
    #[error("AWS {operation} answered without {missing}")]
    AwsAnswerIncomplete { operation: &'static str, missing: String },

    // --- sigship itself ---
    /// A request the SDK would not build, a temporary directory the environment would not give:
    /// a defect or a broken environment, never the input's fault; not retried.
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    /// The stable name Step Functions sees as the error (`errorType`).
    pub fn name(&self) -> &'static str {
        match self {
            Error::InvalidInput(_) => "InvalidInput",
            Error::Configuration(_) => "Configuration",
            Error::TrustRootInvalid(_) => "TrustRootInvalid",
            Error::TrustRootChanged { .. } => "TrustRootChanged",
            Error::InsecureRepositoryUrl { .. } => "InsecureRepositoryUrl",
            Error::RepositoryUnreachable { .. } => "RepositoryUnreachable",
            Error::TagNotFound { .. } => "TagNotFound",
            Error::NotAnnotatedTag { .. } => "NotAnnotatedTag",
            Error::TagTooLarge { .. } => "TagTooLarge",
            Error::MalformedTag { .. } => "MalformedTag",
            Error::TagMismatch { .. } => "TagMismatch",
            Error::Unsigned { .. } => "Unsigned",
            Error::UnknownSigner { .. } => "UnknownSigner",
            Error::BadSignature { .. } => "BadSignature",
            Error::KeyNotValid { .. } => "KeyNotValid",
            Error::TagNameRejected { .. } => "TagNameRejected",
            Error::BuildFailed { .. } => "BuildFailed",
            Error::BuildStopped { .. } => "BuildStopped",
            Error::BuildTimedOut { .. } => "BuildTimedOut",
            Error::BuildLimitExceeded { .. } => "BuildLimitExceeded",
            Error::BuildWaitExceeded { .. } => "BuildWaitExceeded",
            Error::RebuildFailed { .. } => "RebuildFailed",
            Error::ImageUnreadable { .. } => "ImageUnreadable",
            Error::ImageMissing { .. } => "ImageMissing",
            Error::ImageNotRecorded { .. } => "ImageNotRecorded",
            Error::QueueTimedOut { .. } => "QueueTimedOut",
            Error::TooManyExecutions { .. } => "TooManyExecutions",
            Error::NodeSyncing { .. } => "NodeSyncing",
            Error::NetworkUnsupported { .. } => "NetworkUnsupported",
            Error::Downgrade { .. } => "Downgrade",
            Error::DeploymentRolledBack { .. } => "DeploymentRolledBack",
            Error::DeploymentTimedOut { .. } => "DeploymentTimedOut",
            Error::TeardownTimedOut { .. } => "TeardownTimedOut",
            Error::ChainDataBusy { .. } => "ChainDataBusy",
            Error::Throttled { .. } => "Throttled",
            Error::AwsUnavailable { .. } => "AwsUnavailable",
            Error::AccessDenied { .. } => "AccessDenied",
            Error::AwsService { .. } => "AwsServiceError",
            Error::AwsAnswerIncomplete { .. } => "AwsAnswerIncomplete",
            Error::Internal(_) => "Internal",
        }
    }

    /// The verification's judgement of a tag (as opposed to not reaching the remote or AWS).
    pub fn is_verdict(&self) -> bool {
        matches!(
            self,
            Error::TagNotFound { .. }
                | Error::NotAnnotatedTag { .. }
                | Error::TagTooLarge { .. }
                | Error::MalformedTag { .. }
                | Error::TagMismatch { .. }
                | Error::Unsigned { .. }
                | Error::UnknownSigner { .. }
                | Error::BadSignature { .. }
                | Error::KeyNotValid { .. }
                | Error::TagNameRejected { .. }
        )
    }

    /// A failure a later attempt may not meet: throttling, or AWS unavailable.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Throttled { .. } | Error::AwsUnavailable { .. })
    }

    pub fn config(message: impl Display) -> Self {
        Error::Configuration(message.to_string())
    }

    /// Classifies an AWS SDK failure (any service's: the smithy runtime's error type they all
    /// share): throttling is retried by the state machine, the rest is not.
    pub fn aws<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = err.code().unwrap_or("Unknown").to_string();
        let message = err.message().map(str::to_string).unwrap_or_else(|| DisplayErrorContext(&err).to_string());
        // ServiceUnavailable (503) is a server-side failure, not a rate: AwsUnavailable below.
        const THROTTLING: [&str; 4] =
            ["Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"];
        // AccessDenied (most services), AccessDeniedException (JSON services), UnauthorizedOperation (EC2).
        const DENIED: [&str; 3] = ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"];
        let server_side = err.raw_response().is_some_and(|r| r.status().is_server_error());
        if THROTTLING.contains(&code.as_str()) {
            Error::Throttled { operation, message }
        } else if server_side {
            Error::AwsUnavailable { operation, code, message }
        } else if DENIED.contains(&code.as_str()) {
            Error::AccessDenied { operation, message }
        } else {
            Error::AwsService { operation, code, message }
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic { error_type: err.name().to_string(), error_message: err.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_own_name() {
        let incomplete = Error::AwsAnswerIncomplete { operation: "codebuild:StartBuild", missing: "a build id".into() };
        assert_eq!(incomplete.name(), "AwsAnswerIncomplete");
        assert_eq!(incomplete.to_string(), "AWS codebuild:StartBuild answered without a build id");
        assert_eq!(Error::Internal("temporary directory: denied".into()).name(), "Internal");
        assert!(!incomplete.is_transient() && !Error::Internal(String::new()).is_transient());
    }

    #[test]
    fn diagnostic_carries_the_variant_name_and_message() {
        let err = Error::UnknownSigner { tag: "v1.0.0".into(), issuer: "ABCD".into() };
        let diagnostic: lambda_runtime::Diagnostic = err.into();
        assert_eq!(diagnostic.error_type, "UnknownSigner");
        assert_eq!(diagnostic.error_message, "tag v1.0.0 is signed by ABCD, which is not an allowed signer");
    }
}
