//! Maintainer keys made fresh for each run, and detached signatures in git's armored form.

use std::io::Write;
use std::time::SystemTime;

use sequoia_openpgp as openpgp;
use openpgp::cert::{Cert, CertBuilder};
use openpgp::policy::StandardPolicy;
use openpgp::serialize::stream::{Armorer, Message, Signer};
use openpgp::serialize::SerializeInto;

pub struct Maintainer {
    pub name: String,
    pub cert: Cert,
}

impl Maintainer {
    /// An Ed25519 general-purpose key (~10 ms), like a maintainer's `gpg --quick-gen-key`.
    pub fn generate(name: &str) -> Self {
        let (cert, _revocation) = CertBuilder::general_purpose(Some(format!("{name} <{}@example.org>", name.to_lowercase().replace(' ', "."))))
            .set_creation_time(SystemTime::now() - std::time::Duration::from_secs(3600))
            .generate()
            .expect("key generation");
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
        let policy = StandardPolicy::new();
        let key = self
            .cert
            .keys()
            .with_policy(&policy, None)
            .supported()
            .alive()
            .revoked(false)
            .for_signing()
            .secret()
            .next()
            .expect("a signing subkey")
            .key()
            .clone()
            .into_keypair()
            .expect("secret key");
        let mut armored = Vec::new();
        {
            let message = Message::new(&mut armored);
            let message = Armorer::new(message).kind(openpgp::armor::Kind::Signature).build().expect("armorer");
            let mut signer = Signer::new(message, key).expect("signer").detached().build().expect("signer");
            signer.write_all(payload).expect("sign");
            signer.finalize().expect("finalize");
        }
        armored
    }
}
