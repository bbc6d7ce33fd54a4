//! Fixtures for sigship's tests, dev-only: maintainer keys made fresh per run with detached
//! signatures in git's armored form ([`keys`]), trust roots naming them, and canned AWS answers
//! for request-level adapter tests ([`replay`]). The pipeline's own tests and the local cloud use
//! them. The local cloud (and so xtask) depends on this crate normally, so a test build and
//! `cargo build --workspace --bins` resolve the SDK's features alike and compile it once.

pub mod files;
pub mod keys;
pub mod replay;

/// The files of a trust root naming `signers` (threshold 1, release tags `vX.Y.Z`): their
/// certificates plus `policy.toml`.
pub fn trust_root_files(signers: &[&keys::Maintainer]) -> Vec<(String, Vec<u8>)> {
    let mut policy = String::from("tag_patterns = ['v\\d+\\.\\d+\\.\\d+']\nthreshold = 1\n");
    let mut files = Vec::new();
    for signer in signers {
        policy.push_str(&format!(
            "\n[[signers]]\nlabel = \"{}\"\nfingerprint = \"{}\"\n",
            signer.name,
            signer.fingerprint()
        ));
        files.push((format!("{}.asc", signer.fingerprint()), signer.public_armored()));
    }
    files.push(("policy.toml".into(), policy.into_bytes()));
    files
}
