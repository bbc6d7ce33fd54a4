//! The trust root: a reviewable directory (or S3 prefix) holding `policy.toml` and the allowed
//! signers' certificates. See docs/trust-root.md for the format.

use std::collections::BTreeMap;
use std::path::Path;

use regex_lite::Regex;
use sequoia_openpgp::cert::{Cert, CertParser};
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::Fingerprint;
use serde::Deserialize;

use crate::error::{Error, Result};

pub const POLICY_FILE: &str = "policy.toml";
/// btcd daemon releases: `vMAJOR.MINOR.PATCH`, no pre-releases, no Go sub-module tags.
pub const DEFAULT_TAG_PATTERN: &str = r"v\d+\.\d+\.\d+";
const CERT_EXTENSIONS: [&str; 4] = ["asc", "pgp", "gpg", "key"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default = "default_patterns")]
    tag_patterns: Vec<String>,
    #[serde(default = "one")]
    threshold: usize,
    #[serde(rename = "signers")]
    signers: Vec<SignerEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerEntry {
    label: String,
    fingerprint: String,
    /// Where each published version of the signer's certificate lives, pinned by its SHA-256.
    #[serde(default)]
    certificates: Vec<CertificateEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateEntry {
    url: String,
    sha256: String,
    file: Option<String>,
}

/// One published version of a signer's certificate, as the policy pins it: an immutable address,
/// the file's SHA-256, and the name it has in the trust root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSource {
    pub signer: String,
    pub fingerprint: String,
    pub url: String,
    pub sha256: String,
    pub file: String,
}

/// The certificates a policy pins (`[[signers.certificates]]`), with each file's name in the
/// trust root: as given, else the address's file name with the first 8 hex digits of its SHA-256
/// (two versions of `roasbeef.asc` become `roasbeef-e2f3b208.asc` and `roasbeef-847e0691.asc`).
pub fn certificate_sources(policy_name: &str, policy_bytes: &[u8]) -> Result<Vec<CertificateSource>> {
    let policy: PolicyFile = std::str::from_utf8(policy_bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| toml::from_str(text).map_err(|e| e.to_string()))
        .map_err(|e| Error::TrustRootInvalid(format!("{policy_name}: {e}")))?;
    let mut sources = Vec::new();
    for signer in policy.signers {
        for entry in signer.certificates {
            let sha256 = entry.sha256.to_ascii_lowercase();
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::TrustRootInvalid(format!(
                    "{policy_name}: signer {:?}: sha256 {:?} is not 64 hex digits",
                    signer.label, entry.sha256
                )));
            }
            let file = match entry.file {
                Some(file) => file,
                None => {
                    let base = entry.url.rsplit('/').next().unwrap_or_default();
                    let (stem, extension) = base.rsplit_once('.').unwrap_or((base, "asc"));
                    format!("{stem}-{}.{extension}", &sha256[..8])
                }
            };
            if file.contains('/') || !is_cert_file(&file) {
                return Err(Error::TrustRootInvalid(format!(
                    "{policy_name}: signer {:?}: certificate file {file:?} must be a plain name ending {}",
                    signer.label,
                    CERT_EXTENSIONS.map(|e| format!(".{e}")).join(", ")
                )));
            }
            let fingerprint = signer.fingerprint.replace(' ', "").to_ascii_uppercase();
            sources.push(CertificateSource { signer: signer.label.clone(), fingerprint, url: entry.url, sha256, file });
        }
    }
    Ok(sources)
}

fn default_patterns() -> Vec<String> {
    vec![DEFAULT_TAG_PATTERN.to_string()]
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub label: String,
    pub fingerprint: Fingerprint,
}

#[derive(Debug)]
pub struct TrustRoot {
    pub signers: Vec<Signer>,
    pub threshold: usize,
    pub certs: Vec<Cert>,
    pub tag_policy: TagPolicy,
}

/// Which tag names are releases: whole names matching one of the policy's patterns.
#[derive(Debug, Clone)]
pub struct TagPolicy {
    patterns: Vec<(String, Regex)>,
}

impl TagPolicy {
    pub fn new(patterns: &[String]) -> Result<Self> {
        let patterns = patterns
            .iter()
            .map(|p| {
                Regex::new(&format!("^(?:{p})$"))
                    .map(|re| (p.clone(), re))
                    .map_err(|e| Error::TrustRootInvalid(format!("tag pattern {p:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TagPolicy { patterns })
    }

    pub fn check(&self, tag: &str) -> Result<()> {
        if self.patterns.iter().any(|(_, re)| re.is_match(tag)) {
            Ok(())
        } else {
            Err(Error::TagNameRejected {
                tag: tag.to_string(),
                patterns: self.patterns.iter().map(|(p, _)| p.clone()).collect(),
            })
        }
    }
}

/// The SHA-256 a stack pins for its trust root: over every file's base name and bytes, in name
/// order, so a changed, added or removed file changes it. `sigship up` computes it from the
/// checkout; the functions recompute it from what they read.
pub fn digest(files: &[(String, Vec<u8>)]) -> String {
    use sha2::{Digest, Sha256};
    let mut named: Vec<(&str, &[u8])> = files.iter().map(|(name, bytes)| (base_name(name), bytes.as_slice())).collect();
    named.sort();
    let mut hash = Sha256::new();
    for (name, bytes) in named {
        hash.update((name.len() as u64).to_be_bytes());
        hash.update(name.as_bytes());
        hash.update((bytes.len() as u64).to_be_bytes());
        hash.update(bytes);
    }
    hex::encode(hash.finalize())
}

impl TrustRoot {
    /// Loads a trust root from a local directory.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::TrustRootInvalid(format!("cannot read {}: {e}", dir.display())))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Error::TrustRootInvalid(format!("{}: {e}", dir.display())))?.path();
            if path.is_file() {
                let bytes = std::fs::read(&path)
                    .map_err(|e| Error::TrustRootInvalid(format!("cannot read {}: {e}", path.display())))?;
                files.push((path.display().to_string(), bytes));
            }
        }
        Self::from_files(files)
    }

    /// Builds a trust root from `(file name, contents)` pairs: one `policy.toml` plus certificate
    /// files. Files that are neither are ignored (a README beside the keys is welcome).
    pub fn from_files(files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let (policy_name, policy_bytes) = files
            .iter()
            .find(|(name, _)| base_name(name) == POLICY_FILE)
            .ok_or_else(|| Error::TrustRootInvalid(format!("no {POLICY_FILE} found")))?;
        let policy: PolicyFile = std::str::from_utf8(policy_bytes)
            .map_err(|e| e.to_string())
            .and_then(|text| toml::from_str(text).map_err(|e| e.to_string()))
            .map_err(|e| Error::TrustRootInvalid(format!("{policy_name}: {e}")))?;

        let mut merged: BTreeMap<Fingerprint, Cert> = BTreeMap::new();
        for (name, bytes) in files.iter().filter(|(name, _)| is_cert_file(name)) {
            let parser = CertParser::from_bytes(bytes).map_err(|e| Error::TrustRootInvalid(format!("{name}: {e}")))?;
            let mut found = 0;
            for cert in parser {
                let cert = cert.map_err(|e| Error::TrustRootInvalid(format!("{name}: {e}")))?;
                found += 1;
                // Several versions of one certificate merge, so a signature made under any
                // published version of its bindings still verifies.
                let merged_cert = match merged.remove(&cert.fingerprint()) {
                    Some(existing) => {
                        existing.merge_public(cert).map_err(|e| Error::TrustRootInvalid(format!("{name}: {e}")))?
                    }
                    None => cert,
                };
                merged.insert(merged_cert.fingerprint(), merged_cert);
            }
            if found == 0 {
                return Err(Error::TrustRootInvalid(format!("{name}: holds no certificate")));
            }
        }

        let mut signers = Vec::new();
        for entry in policy.signers {
            let fingerprint: Fingerprint = entry.fingerprint.replace(' ', "").parse().map_err(|e| {
                Error::TrustRootInvalid(format!(
                    "{policy_name}: signer {:?} has an invalid fingerprint {:?}: {e}",
                    entry.label, entry.fingerprint
                ))
            })?;
            if !matches!(fingerprint, Fingerprint::V4(_) | Fingerprint::V6(_)) {
                return Err(Error::TrustRootInvalid(format!(
                    "{policy_name}: signer {:?} needs a full v4 or v6 fingerprint",
                    entry.label
                )));
            }
            if !merged.contains_key(&fingerprint) {
                return Err(Error::TrustRootInvalid(format!(
                    "{policy_name}: signer {:?} ({fingerprint}) has no certificate in the trust root{}",
                    entry.label,
                    if entry.certificates.is_empty() {
                        ""
                    } else {
                        " (its policy pins where to get it: `sigship trust fetch` downloads and checks it)"
                    }
                )));
            }
            signers.push(Signer { label: entry.label, fingerprint });
        }
        if signers.is_empty() {
            return Err(Error::TrustRootInvalid(format!("{policy_name}: no signers listed")));
        }
        if policy.threshold == 0 || policy.threshold > signers.len() {
            return Err(Error::TrustRootInvalid(format!(
                "{policy_name}: threshold {} must be between 1 and the {} listed signers",
                policy.threshold,
                signers.len()
            )));
        }
        let tag_policy = TagPolicy::new(&policy.tag_patterns).map_err(|e| match e {
            Error::TrustRootInvalid(message) => Error::TrustRootInvalid(format!("{policy_name}: {message}")),
            other => other,
        })?;
        Ok(TrustRoot { signers, threshold: policy.threshold, certs: merged.into_values().collect(), tag_policy })
    }

    pub fn signer(&self, fingerprint: &Fingerprint) -> Option<&Signer> {
        self.signers.iter().find(|s| &s.fingerprint == fingerprint)
    }

    /// The whole tag name must match one of the policy's patterns.
    pub fn check_tag_name(&self, tag: &str) -> Result<()> {
        self.tag_policy.check(tag)
    }
}

/// The fingerprints (upper-case hex) of every certificate in an OpenPGP file.
pub fn fingerprints_in(bytes: &[u8]) -> std::result::Result<Vec<String>, String> {
    let parser = CertParser::from_bytes(bytes).map_err(|e| format!("not OpenPGP: {e}"))?;
    parser.map(|cert| cert.map(|c| c.fingerprint().to_hex()).map_err(|e| format!("not a certificate: {e}"))).collect()
}

fn base_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn is_cert_file(name: &str) -> bool {
    base_name(name)
        .rsplit_once('.')
        .is_some_and(|(_, ext)| CERT_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_digest_changes_with_any_file_and_not_with_where_the_files_are() {
        let files = |entries: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
            entries.iter().map(|(name, text)| (name.to_string(), text.as_bytes().to_vec())).collect()
        };
        let deployed = digest(&files(&[("policy.toml", "threshold = 1"), ("a.asc", "A")]));
        assert_eq!(deployed.len(), 64);
        // The same files read from S3 (other order, keys with a prefix) pin the same digest.
        let from_s3 = files(&[
            ("s3://b/s/0123/trust-root/a.asc", "A"),
            ("s3://b/s/0123/trust-root/policy.toml", "threshold = 1"),
        ]);
        assert_eq!(digest(&from_s3), deployed);
        for changed in [
            files(&[("policy.toml", "threshold = 2"), ("a.asc", "A")]),
            files(&[("policy.toml", "threshold = 1"), ("a.asc", "A"), ("b.asc", "B")]),
            files(&[("policy.toml", "threshold = 1")]),
            files(&[("policy.toml", "threshold = 1"), ("b.asc", "A")]),
        ] {
            assert_ne!(digest(&changed), deployed, "{changed:?}");
        }
    }

    #[test]
    fn tag_patterns_match_whole_ascii_names_only() {
        let policy = TagPolicy::new(&default_patterns()).unwrap();
        for release in ["v0.24.2", "v0.26.0", "v10.0.1"] {
            assert!(policy.check(release).is_ok(), "{release}");
        }
        // Sub-module and rc tags, a prefix or suffix around a release, and look-alike digits
        // (Arabic-Indic, fullwidth) that a Unicode `\d` would accept.
        for refused in ["btcec/v2.4.0", "v0.25.0-rc1", "xv0.24.2", "v0.24.2\n", "v٠.٢٤.٢", "v０.24.2"] {
            let err = policy.check(refused).unwrap_err();
            assert_eq!(err.name(), "TagNameRejected", "{refused:?}");
        }
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_a_trust_root_error() {
        let err = TagPolicy::new(&["v(".to_string()]).unwrap_err();
        assert_eq!(err.name(), "TrustRootInvalid");
        assert!(err.to_string().contains("v("), "{err}");
    }

    use testkit::keys::Maintainer;
    use testkit::trust_root_files;

    #[test]
    fn trust_root_errors_name_the_problem() {
        let alice = Maintainer::generate("Alice Maintainer");
        let mut files = trust_root_files(&[&alice]);
        files.retain(|(name, _)| name == "policy.toml");
        let err = TrustRoot::from_files(files).unwrap_err().to_string();
        assert!(err.contains("has no certificate in the trust root"), "{err}");

        let mut files = trust_root_files(&[&alice]);
        files.push(("broken.asc".into(), b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n".to_vec()));
        let err = TrustRoot::from_files(files).unwrap_err().to_string();
        assert!(err.contains("broken.asc"), "{err}");

        let err = TrustRoot::from_files(vec![("policy.toml".into(), b"signers = 3".to_vec())]).unwrap_err().to_string();
        assert!(err.contains("policy.toml"), "{err}");
    }

    #[test]
    fn pinned_certificates_get_names_and_bad_pins_are_refused() {
        let policy = |certificate: &str| {
            format!("[[signers]]\nlabel = \"A\"\nfingerprint = \"F4FC 70F0 7310 0284 24EF C20A 8E42 5659 3F17 7720\"\n[[signers.certificates]]\n{certificate}\n")
        };
        let hash = "847e06915c085380073a4563f704a0e439eb307e8abfb410b3a784d45f79e7c0";
        let named = certificate_sources(
            "p",
            policy(&format!("url = \"https://h/c/keys/roasbeef.asc\"\nsha256 = \"{hash}\"")).as_bytes(),
        )
        .unwrap();
        assert_eq!(named[0].file, "roasbeef-847e0691.asc");
        assert_eq!(named[0].fingerprint, "F4FC70F07310028424EFC20A8E4256593F177720");
        let given = policy(&format!("url = \"https://h/k\"\nsha256 = \"{hash}\"\nfile = \"roasbeef-2025.asc\""));
        assert_eq!(certificate_sources("p", given.as_bytes()).unwrap()[0].file, "roasbeef-2025.asc");
        let short = certificate_sources("p", policy("url = \"https://h/k.asc\"\nsha256 = \"abc\"").as_bytes());
        assert!(matches!(short, Err(Error::TrustRootInvalid(m)) if m.contains("not 64 hex digits")));
        let escaping = policy(&format!("url = \"https://h/k.asc\"\nsha256 = \"{hash}\"\nfile = \"../k.asc\""));
        assert!(
            matches!(certificate_sources("p", escaping.as_bytes()), Err(Error::TrustRootInvalid(m)) if m.contains("plain name"))
        );
    }

    #[test]
    fn several_versions_of_one_certificate_merge() {
        let alice = Maintainer::generate("Alice Maintainer");
        let mut files = trust_root_files(&[&alice]);
        files.push(("alice-copy.asc".into(), alice.public_armored()));
        let trust = TrustRoot::from_files(files).unwrap();
        assert_eq!(trust.certs.len(), 1);
        let payload = b"object 0123456789abcdef0123456789abcdef01234567\ntype commit\ntag v1.0.0\ntagger A <a@example.org> 1760000000 +0000\n\nbtcd v1.0.0\n";
        let object = [payload.as_slice(), &alice.sign(payload)].concat();
        crate::verify::signature::verify_tag_object(&object, "v1.0.0", &trust).unwrap();
    }
}
