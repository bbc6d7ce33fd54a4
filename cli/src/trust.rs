//! Completing a trust root from its policy: each certificate the policy pins (an immutable
//! address and the file's SHA-256) that the directory lacks is downloaded, checked — hash first,
//! then that it holds the signer's certificate and nothing else — and saved under its name, for
//! review beside the policy. A file already present is checked the same way and not downloaded.
//! `sigship trust fetch` does this alone; `sigship up` does it before it reads the trust root.

use std::path::Path;
use std::time::Duration;

use pipeline::verify::trust::{certificate_sources, CertificateSource, POLICY_FILE};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A download that takes longer has failed (a certificate is a few kilobytes).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What completing the trust root did with one pinned certificate.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Present and matching its pin: nothing downloaded.
    Present(String),
    /// Downloaded from the address, checked, saved.
    Fetched { file: String, url: String },
}

/// Downloads what `dir`'s policy pins and `dir` lacks; checks every pinned file.
pub async fn complete(dir: &Path) -> Result<Vec<Outcome>> {
    let policy_path = dir.join(POLICY_FILE);
    let policy = std::fs::read(&policy_path).map_err(|e| Error::io(policy_path.display(), e))?;
    let sources = certificate_sources(&policy_path.display().to_string(), &policy).map_err(Error::TrustRoot)?;
    let mut outcomes = Vec::new();
    let mut client = None;
    for source in &sources {
        let path = dir.join(&source.file);
        if path.exists() {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(path.display(), e))?;
            check(source, &bytes)?;
            outcomes.push(Outcome::Present(source.file.clone()));
            continue;
        }
        check_address(source)?;
        let client = match &client {
            Some(client) => client,
            None => client.insert(
                reqwest::Client::builder()
                    .timeout(DOWNLOAD_TIMEOUT)
                    // A redirect could lead anywhere, plain http included: the policy names the address.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| unreachable(source, e.to_string()))?,
            ),
        };
        let bytes = download(client, source).await?;
        check(source, &bytes)?;
        // Written whole or not at all: a half-written certificate must not pass for present.
        let partial = dir.join(format!(".{}.partial", source.file));
        std::fs::write(&partial, &bytes).map_err(|e| Error::io(partial.display(), e))?;
        std::fs::rename(&partial, &path).map_err(|e| Error::io(path.display(), e))?;
        outcomes.push(Outcome::Fetched { file: source.file.clone(), url: source.url.clone() });
    }
    Ok(outcomes)
}

/// What `up` and `trust fetch` print for each certificate.
pub fn describe(outcomes: &[Outcome], dir: &Path) -> Vec<String> {
    outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Present(file) => format!("  {file}: present, matches its pinned SHA-256"),
            Outcome::Fetched { file, url } => {
                format!("  {file}: fetched from {url}, SHA-256 and fingerprint checked, saved in {}", dir.display())
            }
        })
        .collect()
}

/// Addresses are https; plain http only on loopback (as for git remotes).
fn check_address(source: &CertificateSource) -> Result<()> {
    let url = reqwest::Url::parse(&source.url).map_err(|e| unreachable(source, format!("not a URL: {e}")))?;
    match pipeline::verify::fetch::is_secure_http(url.scheme(), url.host_str()) {
        true => Ok(()),
        false => Err(Error::CertificateAddress {
            file: source.file.clone(),
            url: source.url.clone(),
            reason: "only https addresses (plain http on loopback) can be trusted in transit".into(),
        }),
    }
}

async fn download(client: &reqwest::Client, source: &CertificateSource) -> Result<Vec<u8>> {
    // reqwest's messages repeat the address, which the error names already.
    let response = client.get(&source.url).send().await.map_err(|e| unreachable(source, chain(&e.without_url())))?;
    let status = response.status();
    if status.is_redirection() {
        let to = response.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("?").to_string();
        return Err(unreachable(
            source,
            format!("HTTP {status}, redirected to {to}: not followed (pin the address the certificate is at)"),
        ));
    }
    if !status.is_success() {
        return Err(unreachable(source, format!("HTTP {status}")));
    }
    // A certificate is a few KiB: an address that sends more is not sending one.
    let mut response = response;
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| unreachable(source, chain(&e.without_url())))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_CERTIFICATE_BYTES {
            return Err(unreachable(source, format!("it sends more than {} KiB", MAX_CERTIFICATE_BYTES / 1024)));
        }
    }
    Ok(bytes)
}

/// The most `trust fetch` reads from one address: 1 MiB.
const MAX_CERTIFICATE_BYTES: usize = 1 << 20;

/// The file is the one pinned (its SHA-256), and holds the signer's certificate and no other.
fn check(source: &CertificateSource, bytes: &[u8]) -> Result<()> {
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != source.sha256 {
        return Err(Error::CertificateHashMismatch {
            file: source.file.clone(),
            url: source.url.clone(),
            expected: source.sha256.clone(),
            actual,
        });
    }
    let found =
        pipeline::verify::trust::fingerprints_in(bytes).map_err(|reason| Error::CertificateFingerprintMismatch {
            file: source.file.clone(),
            signer: source.signer.clone(),
            expected: source.fingerprint.clone(),
            found: reason,
        })?;
    if found.is_empty() || found.iter().any(|f| *f != source.fingerprint) {
        return Err(Error::CertificateFingerprintMismatch {
            file: source.file.clone(),
            signer: source.signer.clone(),
            expected: source.fingerprint.clone(),
            found: if found.is_empty() { "no certificate".into() } else { found.join(", ") },
        });
    }
    Ok(())
}

fn unreachable(source: &CertificateSource, reason: String) -> Error {
    Error::CertificateUnreachable { file: source.file.clone(), url: source.url.clone(), reason }
}

/// An error with its causes ("error sending request: … connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    text
}
