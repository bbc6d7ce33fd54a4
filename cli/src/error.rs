//! The CLI's one error type. Each variant names what went wrong; `main` prints it and exits 1.

use std::fmt::Display;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("trust root refused: {0}")]
    TrustRoot(pipeline::Error),
    #[error(
        "bucket {bucket} exists and is not account {account}'s (or these credentials cannot read it): sigship \
         will not upload to or read from it; name a bucket of this account with --bucket"
    )]
    BucketNotOurs { bucket: String, account: String },
    #[error(
        "bucket {bucket} is this account's but not tagged sigship:stack={stack} ({}): sigship up did not make it \
         for this stack; tag it so if it is meant for it, or name another with --bucket",
        .tagged.as_deref().map_or("no such tag".to_string(), |t| format!("tagged for {t}"))
    )]
    BucketNotTagged { bucket: String, stack: String, tagged: Option<String> },
    #[error("certificate {file}: cannot be downloaded from {url}: {reason}")]
    CertificateUnreachable { file: String, url: String, reason: String },
    #[error("certificate {file}: {url} is refused: {reason}")]
    CertificateAddress { file: String, url: String, reason: String },
    #[error(
        "certificate {file} (from {url}) is not the one the policy pins: its SHA-256 is {actual}, the policy \
         says {expected}; nothing was saved. Check the address and the policy's pin"
    )]
    CertificateHashMismatch { file: String, url: String, expected: String, actual: String },
    #[error(
        "certificate {file} matches its pinned SHA-256 but is not {signer}'s certificate {expected} alone: it \
         holds {found}; the policy pins the wrong file for this signer"
    )]
    CertificateFingerprintMismatch { file: String, signer: String, expected: String, found: String },
    #[error("preflight failed, nothing was created:\n  {}", .0.join("\n  "))]
    Preflight(Vec<String>),
    #[error("artifact missing: {0}")]
    ArtifactMissing(String),
    #[error("{operation}: {message}")]
    Aws { operation: &'static str, message: String },
    #[error("stack {stack} ended {status}{}", failed_events(.events))]
    StackFailed { stack: String, status: String, events: Vec<String> },
    #[error("stack {stack} is busy ({status}); wait for it to settle, then run the command again")]
    StackBusy { stack: String, status: String },
    #[error("execution {name} ended {status}: {error}: {cause}")]
    ExecutionFailed { name: String, status: String, error: String, cause: String },
    #[error("stopped following; execution {name} keeps running. Follow it again with: sigship status {name} --follow")]
    Interrupted { name: String },
    #[error("gave up waiting: {0}")]
    TimedOut(String),
    #[error("{0}")]
    Io(String),
    #[error("registry {at}: {reason}")]
    Registry { at: String, reason: String },
    #[error("reading the node: {0}")]
    Node(pipeline::Error),
    #[error("{0}")]
    Pipeline(pipeline::Error),
}

fn failed_events(events: &[String]) -> String {
    if events.is_empty() {
        String::new()
    } else {
        format!("; failed resources:\n  {}", events.join("\n  "))
    }
}

impl Error {
    /// An AWS SDK error as "Code: message", the way the AWS CLI shows it.
    pub fn aws<E>(operation: &'static str, err: aws_sdk_s3::error::SdkError<E>) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        let message = match (err.code(), err.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            _ => match err.raw_response() {
                Some(response) => format!("HTTP {} without an error code", response.status().as_u16()),
                // Not an answer at all (connection refused, DNS, TLS): the innermost cause says it.
                None => {
                    let mut cause: &dyn std::error::Error = &err;
                    while let Some(source) = cause.source() {
                        cause = source;
                    }
                    format!("no answer: {cause}")
                }
            },
        };
        Error::Aws { operation, message }
    }

    pub fn io(context: impl Display, err: std::io::Error) -> Self {
        Error::Io(format!("{context}: {err}"))
    }
}

pub type Result<T> = std::result::Result<T, Error>;
