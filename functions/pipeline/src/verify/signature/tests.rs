//! Signature verification against keys as maintainers really have them: expired after signing, revoked
//! hard or soft, re-issued with subkeys dropped, weak hashes, wrong key types, several signers.

use std::time::{Duration, SystemTime};

use testkit::keys::{Maintainer, Signing};
use testkit::trust_root_files;

use super::verify_tag_object;
use crate::verify::TrustRoot;
use sequoia_openpgp::cert::{CertBuilder, CipherSuite};
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::types::{HashAlgorithm, ReasonForRevocation};

const DAY: Duration = Duration::from_secs(86_400);
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

fn ago(days: f64) -> SystemTime {
    SystemTime::now() - DAY.mul_f64(days)
}

fn payload() -> Vec<u8> {
    format!("object {COMMIT}\ntype commit\ntag v1.2.3\ntagger M <m@example.org> 1760000000 +0000\n\nbtcd v1.2.3\n")
        .into_bytes()
}

fn tag_signed(by: &Maintainer, how: &Signing<'_>) -> Vec<u8> {
    [payload(), by.sign_with(&payload(), how)].concat()
}

/// A maintainer whose key was made `created` days ago, valid for `valid` days if given.
fn maintainer(name: &str, created: f64, valid: Option<f64>) -> Maintainer {
    let mut builder =
        CertBuilder::general_purpose(Some(format!("{name} <m@example.org>"))).set_creation_time(ago(created));
    if let Some(days) = valid {
        builder = builder.set_validity_period(DAY.mul_f64(days));
    }
    Maintainer::from_cert(name, builder.generate().unwrap().0)
}

fn trust(signers: &[&Maintainer]) -> TrustRoot {
    TrustRoot::from_files(trust_root_files(signers)).unwrap()
}

fn verdict(object: &[u8], trust: &TrustRoot) -> Result<usize, &'static str> {
    verify_tag_object(object, "v1.2.3", trust).map(|v| v.signers.len()).map_err(|e| {
        eprintln!("{}: {e}", e.name());
        e.name()
    })
}

#[test]
fn a_key_that_expired_after_signing_still_verifies() {
    // Valid from 10 days ago for 2 days: expired 8 days ago.
    let alice = maintainer("Alice", 10.0, Some(2.0));
    let signed_while_valid = tag_signed(&alice, &Signing { at: Some(ago(9.0)), ..Default::default() });
    assert_eq!(verdict(&signed_while_valid, &trust(&[&alice])), Ok(1));
}

#[test]
fn a_key_that_expired_before_signing_is_refused() {
    let alice = maintainer("Alice", 10.0, Some(2.0));
    let signed_after_expiry = tag_signed(
        &alice,
        &Signing { at: Some(ago(7.0)), key: alice.signing_subkeys().first().cloned(), ..Default::default() },
    );
    assert_eq!(verdict(&signed_after_expiry, &trust(&[&alice])), Err("KeyNotValid"));
}

#[test]
fn a_hard_revocation_refuses_signatures_of_any_date() {
    let alice = maintainer("Alice", 10.0, None);
    let before = tag_signed(&alice, &Signing { at: Some(ago(2.0)), ..Default::default() });
    let compromised = Maintainer::from_cert("Alice", alice.revoked(ReasonForRevocation::KeyCompromised, ago(1.0)));
    assert_eq!(verdict(&before, &trust(&[&compromised])), Err("KeyNotValid"));
}

#[test]
fn a_soft_revocation_refuses_only_later_signatures() {
    let alice = maintainer("Alice", 10.0, None);
    let before = tag_signed(&alice, &Signing { at: Some(ago(2.0)), ..Default::default() });
    let after = tag_signed(&alice, &Signing { at: Some(ago(0.5)), ..Default::default() });
    let retired = Maintainer::from_cert("Alice", alice.revoked(ReasonForRevocation::KeyRetired, ago(1.0)));
    let trust = trust(&[&retired]);
    assert_eq!(verdict(&before, &trust), Ok(1));
    assert_eq!(verdict(&after, &trust), Err("KeyNotValid"));
}

#[test]
fn sha1_signatures_are_refused() {
    let alice = maintainer("Alice", 10.0, None);
    let sha1 = tag_signed(&alice, &Signing { hash: Some(HashAlgorithm::SHA1), ..Default::default() });
    assert_eq!(verdict(&sha1, &trust(&[&alice])), Err("BadSignature"));
}

#[test]
fn a_signature_dated_in_the_future_is_refused() {
    let alice = maintainer("Alice", 10.0, None);
    let future = tag_signed(&alice, &Signing { at: Some(SystemTime::now() + DAY), ..Default::default() });
    assert_eq!(verdict(&future, &trust(&[&alice])), Err("BadSignature"));
}

#[test]
fn a_signature_by_an_encryption_only_subkey_is_refused() {
    // RSA, so the encryption subkey can mathematically make a signature at all.
    let (cert, _) = CertBuilder::new()
        .add_userid("Alice <m@example.org>")
        .set_cipher_suite(CipherSuite::RSA2k)
        .set_creation_time(ago(1.0))
        .add_transport_encryption_subkey()
        .generate()
        .unwrap();
    let policy = StandardPolicy::new();
    let encryption =
        cert.keys().subkeys().with_policy(&policy, None).for_transport_encryption().next().unwrap().key().fingerprint();
    let alice = Maintainer::from_cert("Alice", cert);
    let object = tag_signed(&alice, &Signing { key: Some(encryption), ..Default::default() });
    assert_eq!(verdict(&object, &trust(&[&alice])), Err("KeyNotValid"));
}

#[test]
fn a_threshold_counts_distinct_allowed_signers() {
    let alice = maintainer("Alice", 10.0, None);
    let bob = maintainer("Bob", 10.0, None);
    let mut files = trust_root_files(&[&alice, &bob]);
    let policy = files.iter_mut().find(|(name, _)| name == "policy.toml").unwrap();
    policy.1 = String::from_utf8(policy.1.clone()).unwrap().replace("threshold = 1", "threshold = 2").into_bytes();
    let trust = TrustRoot::from_files(files).unwrap();
    assert_eq!(verdict(&tag_signed(&alice, &Signing::default()), &trust), Err("BadSignature"));
    let both = tag_signed(&alice, &Signing { co_signers: vec![&bob], ..Default::default() });
    assert_eq!(verdict(&both, &trust), Ok(2));
}

#[test]
fn a_reissued_certificate_needs_its_older_version_for_old_signatures() {
    let (cert, _) = CertBuilder::general_purpose(Some("Alice <m@example.org>"))
        .set_creation_time(ago(30.0))
        .add_signing_subkey()
        .generate()
        .unwrap();
    let alice = Maintainer::from_cert("Alice", cert.clone());
    let [old_subkey, new_subkey] = alice.signing_subkeys().try_into().expect("two signing subkeys");
    let object = tag_signed(&alice, &Signing { key: Some(old_subkey.clone()), ..Default::default() });
    // The maintainer publishes only the newest version, without the retired subkey.
    let newest = cert.clone().retain_subkeys(|k| k.key().fingerprint() != old_subkey);
    let older = cert.retain_subkeys(|k| k.key().fingerprint() != new_subkey);
    let policy = format!("[[signers]]\nlabel = \"Alice\"\nfingerprint = \"{}\"\n", alice.fingerprint());
    let newest_only = vec![
        ("policy.toml".to_string(), policy.clone().into_bytes()),
        ("alice-2026.asc".into(), Maintainer::armored(&newest)),
    ];
    assert_eq!(verdict(&object, &TrustRoot::from_files(newest_only.clone()).unwrap()), Err("UnknownSigner"));
    let both = [newest_only, vec![("alice-2024.asc".into(), Maintainer::armored(&older))]].concat();
    assert_eq!(verdict(&object, &TrustRoot::from_files(both).unwrap()), Ok(1));
}

/// Tag objects made by hand: every way an object can be wrong has its own name.
mod objects {
    use super::*;

    fn payload(tag: &str, kind: &str) -> Vec<u8> {
        format!("object {COMMIT}\ntype {kind}\ntag {tag}\ntagger Alice <alice@example.org> 1760000000 +0000\n\nbtcd {tag}\n").into_bytes()
    }

    fn signed(payload: &[u8], by: &Maintainer) -> Vec<u8> {
        let mut object = payload.to_vec();
        object.extend(by.sign(payload));
        object
    }

    #[test]
    fn verdicts() {
        let alice = Maintainer::generate("Alice Maintainer");
        let mallory = Maintainer::generate("Mallory");
        let trust = trust(&[&alice]);
        let good = signed(&payload("v1.0.0", "commit"), &alice);
        let verdict = verify_tag_object(&good, "v1.0.0", &trust).unwrap();
        assert_eq!(verdict.commit, COMMIT);

        let mut tampered = good.clone();
        let at = tampered.windows(11).position(|w| w == b"btcd v1.0.0").unwrap();
        tampered[at] = b'B';
        let mut renamed = signed(&payload("v1.0.0", "commit"), &alice);
        let header = renamed.windows(10).position(|w| w == b"tag v1.0.0").unwrap();
        renamed[header + 9] = b'1';
        // The object line re-pointed at another commit after signing.
        let repointed = [b"object fedcba9876543210fedcba9876543210fedcba98".as_slice(), &good[47..]].concat();
        let truncated = good[..good.len() - 40].to_vec();
        let mut doubled = good.clone();
        doubled.extend(alice.sign(&payload("v1.0.0", "commit")));
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("v1.0.0", signed(&payload("v1.0.0", "commit"), &mallory), "UnknownSigner"),
            ("v1.0.0", tampered, "BadSignature"),
            ("v1.0.1", renamed, "BadSignature"),
            ("v1.0.1", good.clone(), "TagMismatch"),
            ("v1.0.0", signed(&payload("v1.0.0", "tree"), &alice), "TagMismatch"),
            ("v1.0.0", payload("v1.0.0", "commit"), "Unsigned"),
            ("v1.0.0", doubled, "BadSignature"),
            ("v1.0.0", repointed, "BadSignature"),
            ("v1.0.0", truncated, "BadSignature"),
            (
                "v1.0.0",
                [payload("v1.0.0", "commit"), b"-----BEGIN PGP SIGNATURE-----\n\ngarbage\n".to_vec()].concat(),
                "BadSignature",
            ),
            ("v1.0.0", b"not a tag object".to_vec(), "MalformedTag"),
            ("v1.0.0-rc1", signed(&payload("v1.0.0-rc1", "commit"), &alice), "TagNameRejected"),
        ];
        for (tag, object, expected) in cases {
            let err = verify_tag_object(&object, tag, &trust).unwrap_err();
            assert_eq!(err.name(), expected, "{tag}: {err}");
        }
    }
}
