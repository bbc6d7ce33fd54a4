//! Maintainer keys made fresh for each run, and detached signatures in git's armored form.

use std::io::Write;
use std::time::SystemTime;

use openpgp::cert::{Cert, CertBuilder, CertRevocationBuilder};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Message, Signer};
use openpgp::serialize::SerializeInto;
use openpgp::types::{HashAlgorithm, ReasonForRevocation};
use openpgp::Fingerprint;
use sequoia_openpgp as openpgp;

pub struct Maintainer {
    pub name: String,
    pub cert: Cert,
}

impl Maintainer {
    /// An Ed25519 general-purpose key (~10 ms), like a maintainer's `gpg --quick-gen-key`.
    pub fn generate(name: &str) -> Self {
        let (cert, _revocation) = CertBuilder::general_purpose(Some(format!(
            "{name} <{}@example.org>",
            name.to_lowercase().replace(' ', ".")
        )))
        .set_creation_time(SystemTime::now() - std::time::Duration::from_secs(3600))
        .generate()
        .expect("key generation");
        Maintainer { name: name.to_string(), cert }
    }

    pub fn from_cert(name: &str, cert: Cert) -> Self {
        Maintainer { name: name.to_string(), cert }
    }

    pub fn fingerprint(&self) -> String {
        self.cert.fingerprint().to_hex()
    }

    /// The public certificate, armored, as a maintainer publishes it.
    pub fn public_armored(&self) -> Vec<u8> {
        self.cert.armored().to_vec().expect("armor")
    }

    /// A detached, armored signature over `payload` made now.
    pub fn sign(&self, payload: &[u8]) -> Vec<u8> {
        self.sign_with(payload, &Signing::default())
    }

    /// A detached, armored signature as `how` says: dated, hashed, or by a chosen key.
    pub fn sign_with(&self, payload: &[u8], how: &Signing<'_>) -> Vec<u8> {
        let policy = StandardPolicy::new();
        let keys = self.cert.keys().with_policy(&policy, how.at).secret();
        let key = match &how.key {
            Some(fingerprint) => keys.key_handle(fingerprint.clone()).next(),
            None => keys.supported().alive().revoked(false).for_signing().next(),
        };
        let key = key.expect("a usable key").key().clone().into_keypair().expect("secret key");
        let mut armored = Vec::new();
        {
            let message = Message::new(&mut armored);
            let message = Armorer::new(message).kind(openpgp::armor::Kind::Signature).build().expect("armorer");
            let mut signer = Signer::new(message, key).expect("signer").detached();
            for extra in &how.co_signers {
                signer = signer.add_signer(extra.signing_keypair(how.at)).expect("co-signer");
            }
            if let Some(at) = how.at {
                signer = signer.creation_time(at);
            }
            if let Some(hash) = how.hash {
                signer = signer.hash_algo(hash).expect("hash");
            }
            let mut signer = signer.build().expect("signer");
            signer.write_all(payload).expect("sign");
            signer.finalize().expect("finalize");
        }
        armored
    }

    fn signing_keypair(&self, at: Option<SystemTime>) -> openpgp::crypto::KeyPair {
        let policy = StandardPolicy::new();
        let keys = self.cert.keys().with_policy(&policy, at).secret().alive().revoked(false).for_signing();
        keys.into_iter().next().expect("signing key").key().clone().into_keypair().expect("secret key")
    }

    /// The certificate with a revocation of the whole key made at `at`.
    pub fn revoked(&self, reason: ReasonForRevocation, at: SystemTime) -> Cert {
        let mut primary = self.cert.primary_key().key().clone().parts_into_secret().unwrap().into_keypair().unwrap();
        let revocation = CertRevocationBuilder::new()
            .set_signature_creation_time(at)
            .unwrap()
            .set_reason_for_revocation(reason, b"test")
            .unwrap()
            .build(&mut primary, &self.cert, None)
            .unwrap();
        self.cert.clone().insert_packets(revocation).unwrap().0
    }

    /// Another version of the certificate: the same key with one more user ID bound, as a
    /// maintainer re-publishes it.
    pub fn with_user_id(&self, user_id: &str) -> Cert {
        let mut primary = self.cert.primary_key().key().clone().parts_into_secret().unwrap().into_keypair().unwrap();
        let uid = openpgp::packet::UserID::from(user_id);
        let builder =
            openpgp::packet::signature::SignatureBuilder::new(openpgp::types::SignatureType::PositiveCertification);
        let binding = uid.bind(&mut primary, &self.cert, builder).unwrap();
        self.cert.clone().insert_packets(vec![openpgp::Packet::from(uid), binding.into()]).unwrap().0
    }

    /// The public certificate as a file: armored, secrets stripped.
    pub fn armored(cert: &Cert) -> Vec<u8> {
        cert.armored().to_vec().expect("armor")
    }

    /// Fingerprints of the subkeys that can sign.
    pub fn signing_subkeys(&self) -> Vec<Fingerprint> {
        let policy = StandardPolicy::new();
        self.cert.keys().subkeys().with_policy(&policy, None).for_signing().map(|k| k.key().fingerprint()).collect()
    }
}

/// How [`Maintainer::sign_with`] signs.
#[derive(Default)]
pub struct Signing<'a> {
    /// Signature creation time (also the time the key is chosen at); now by default.
    pub at: Option<SystemTime>,
    pub hash: Option<HashAlgorithm>,
    /// Sign with exactly this (sub)key, whatever its capabilities.
    pub key: Option<Fingerprint>,
    /// Further maintainers whose signatures go into the same block.
    pub co_signers: Vec<&'a Maintainer>,
}
