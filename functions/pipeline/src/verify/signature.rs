//! Checks a raw git tag object: its structure, its name, and its OpenPGP signature against the
//! trust root. Pure computation, no I/O: the same code serves the Lambda and the CLI.

use std::time::SystemTime;

use openpgp::cert::Cert;
use openpgp::parse::stream::{
    DetachedVerifierBuilder, MessageLayer, MessageStructure, VerificationError, VerificationHelper,
};
use openpgp::parse::Parse;
use openpgp::policy::StandardPolicy;
use openpgp::{Fingerprint, KeyHandle};
use sequoia_openpgp as openpgp;

use super::trust::{Signer, TrustRoot};
use crate::error::{Error, Result};

const SIGNATURE_BEGIN: &[u8] = b"-----BEGIN PGP SIGNATURE-----";

/// What a valid tag proves.
#[derive(Debug, Clone, PartialEq)]
pub struct TagVerdict {
    pub commit: String,
    pub signers: Vec<Signer>,
    pub signed_at: SystemTime,
}

/// Verifies a raw tag object as fetched for `requested_tag`.
pub fn verify_tag_object(raw: &[u8], requested_tag: &str, trust: &TrustRoot) -> Result<TagVerdict> {
    let tag = requested_tag.to_string();
    trust.check_tag_name(requested_tag)?;
    let parsed = gix::objs::TagRef::from_bytes(raw, gix::hash::Kind::Sha1)
        .map_err(|e| Error::MalformedTag { tag: tag.clone(), reason: e.to_string() })?;
    if parsed.name != requested_tag.as_bytes() {
        return Err(Error::TagMismatch {
            tag,
            reason: format!("the signed tag object is named {:?}", parsed.name.to_string()),
        });
    }
    if parsed.target_kind != gix::objs::Kind::Commit {
        return Err(Error::TagMismatch { tag, reason: format!("it tags a {}, not a commit", parsed.target_kind) });
    }
    let commit = parsed.target().to_string();

    let (payload, signature) = split_signature(raw).ok_or_else(|| Error::Unsigned { tag: tag.clone() })?;
    if signature[SIGNATURE_BEGIN.len()..].windows(SIGNATURE_BEGIN.len()).any(|w| w == SIGNATURE_BEGIN) {
        return Err(Error::BadSignature { tag, reason: "more than one signature block".into() });
    }
    let (signers, signed_at) = verify_signature(payload, signature, requested_tag, trust)?;
    Ok(TagVerdict { commit, signers, signed_at })
}

/// Splits a tag object the way git does: the signature starts at the first line that begins
/// with the armor header, and everything before it (trailing newline included) is signed.
pub fn split_signature(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut offset = 0;
    for line in raw.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(SIGNATURE_BEGIN) {
            return Some((&raw[..offset], &raw[offset..]));
        }
        offset += line.len();
    }
    None
}

/// Verifies a detached signature (armored or binary) of `document` against the trust root, as a
/// tag's is verified (threshold, validity at the signature's time); `name` names the document in
/// errors. What `sigship reproduce` checks a release manifest with.
pub fn verify_detached(document: &[u8], signature: &[u8], name: &str, trust: &TrustRoot) -> Result<Vec<Signer>> {
    verify_signature(document, signature, name, trust).map(|(signers, _)| signers)
}

fn verify_signature(
    payload: &[u8],
    signature: &[u8],
    tag: &str,
    trust: &TrustRoot,
) -> Result<(Vec<Signer>, SystemTime)> {
    let bad = |reason: String| Error::BadSignature { tag: tag.to_string(), reason };
    let policy = StandardPolicy::new();
    let helper = Collector { certs: &trust.certs, good: Vec::new(), failures: Vec::new() };
    let mut verifier = DetachedVerifierBuilder::from_bytes(signature)
        .map_err(|e| bad(format!("unreadable signature: {e}")))?
        .with_policy(&policy, None, helper)
        .map_err(|e| bad(format!("unreadable signature: {e}")))?;
    verifier.verify_bytes(payload).map_err(|e| bad(e.to_string()))?;
    let outcome = verifier.into_helper();

    let mut signers: Vec<Signer> = Vec::new();
    let mut signed_at = None;
    let mut unknown = Vec::new();
    for (fingerprint, created) in &outcome.good {
        match trust.signer(fingerprint) {
            Some(signer) if !signers.contains(signer) => {
                signers.push(signer.clone());
                signed_at = signed_at.max(Some(*created));
            }
            Some(_) => {}
            None => unknown.push(fingerprint.to_hex()),
        }
    }
    if signers.len() >= trust.threshold {
        return Ok((signers, signed_at.expect("at least one good signature")));
    }
    if let Some(failure) = outcome.failures.iter().find(|f| !matches!(f, Failure::MissingKey(_))) {
        return Err(match failure {
            Failure::InvalidKey(reason) => Error::KeyNotValid { tag: tag.to_string(), reason: reason.clone() },
            other => bad(other.to_string()),
        });
    }
    if signers.is_empty() {
        let issuers = if unknown.is_empty() { outcome.missing_issuers() } else { unknown };
        return Err(Error::UnknownSigner { tag: tag.to_string(), issuer: issuers.join(", ") });
    }
    Err(bad(format!("{} of the required {} allowed signers signed", signers.len(), trust.threshold)))
}

enum Failure {
    MissingKey(Vec<KeyHandle>),
    /// Expired, revoked, unbound or not signing-capable at the signature's time.
    InvalidKey(String),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::MissingKey(issuers) => write!(f, "no certificate for issuer {issuers:?}"),
            Failure::InvalidKey(reason) | Failure::Other(reason) => f.write_str(reason),
        }
    }
}

struct Collector<'a> {
    certs: &'a [Cert],
    good: Vec<(Fingerprint, SystemTime)>,
    failures: Vec<Failure>,
}

impl Collector<'_> {
    fn missing_issuers(&self) -> Vec<String> {
        self.failures
            .iter()
            .filter_map(|f| match f {
                // A signature names its issuer by fingerprint and by key id: report the fingerprint.
                Failure::MissingKey(issuers) => issuers
                    .iter()
                    .find(|h| matches!(h, KeyHandle::Fingerprint(_)))
                    .or(issuers.first())
                    .map(|h| h.to_hex()),
                _ => None,
            })
            .collect()
    }
}

impl VerificationHelper for Collector<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> openpgp::Result<Vec<Cert>> {
        Ok(self.certs.to_vec())
    }

    fn check(&mut self, structure: MessageStructure<'_>) -> openpgp::Result<()> {
        for layer in structure.into_iter() {
            let MessageLayer::SignatureGroup { results } = layer else { continue };
            for result in results {
                match result {
                    Ok(good) => {
                        let created = good.sig.signature_creation_time().unwrap_or(SystemTime::UNIX_EPOCH);
                        self.good.push((good.ka.cert().fingerprint(), created));
                    }
                    Err(VerificationError::MissingKey { sig }) => {
                        self.failures.push(Failure::MissingKey(sig.get_issuers()));
                    }
                    Err(VerificationError::BadKey { ka, error, .. }) => self.failures.push(Failure::InvalidKey(
                        format!("signing key {} is not valid at the signature's time: {error}", ka.key().fingerprint()),
                    )),
                    Err(VerificationError::UnboundKey { cert, error, .. }) => self.failures.push(Failure::InvalidKey(
                        format!("key of {} was not bound at the signature's time: {error}", cert.fingerprint()),
                    )),
                    Err(other) => self.failures.push(Failure::Other(other.to_string())),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
