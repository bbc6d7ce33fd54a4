//! `sigship trust fetch` (and `up`, which runs the same step first): certificates the policy
//! pins are downloaded from their addresses — here a loopback server publishing certificates made
//! in the test — checked by SHA-256 and fingerprint, and saved; present ones are checked and not
//! downloaded again. Each policy here is the test's own, naming loopback addresses: plain http is
//! allowed there, as for git remotes, with no switch in the product.

use std::collections::HashMap;
use std::path::Path;

use pipeline::verify::TrustRoot;
use sha2::{Digest, Sha256};
use testkit::files::FileServer;
use testkit::keys::Maintainer;

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `[[signers]]` with its pinned certificates: (url, sha256).
fn signer(label: &str, fingerprint: &str, certificates: &[(String, String)]) -> String {
    let mut text = format!("\n[[signers]]\nlabel = \"{label}\"\nfingerprint = \"{fingerprint}\"\n");
    for (url, sha256) in certificates {
        text.push_str(&format!("[[signers.certificates]]\nurl = \"{url}\"\nsha256 = \"{sha256}\"\n"));
    }
    text
}

fn trust_dir(signers: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let policy = format!("tag_patterns = ['v\\d+\\.\\d+\\.\\d+']\nthreshold = 1\n{}", signers.concat());
    std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
    dir
}

fn fetch(dir: &Path) -> (bool, String) {
    let binary = localcloud::workspace_root().join("target/debug/sigship");
    let output = std::process::Command::new(binary)
        .args(["trust", "fetch", "--trust", dir.to_str().unwrap()])
        .output()
        .expect("sigship runs (cargo xtask test builds it)");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn certificate_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n != "policy.toml")
        .collect();
    names.sort();
    names
}

#[test]
fn pinned_certificates_are_fetched_checked_merged_and_not_fetched_again() {
    let alice = Maintainer::generate("Alice Maintainer");
    let bob = Maintainer::generate("Bob Maintainer");
    // Alice re-published her certificate with another user ID: both versions are pinned.
    let alice_first = alice.public_armored();
    let alice_second = Maintainer::armored(&alice.with_user_id("Alice Maintainer <alice@example.net>"));
    let server = FileServer::start(HashMap::from([
        ("/c1/keys/alice.asc".to_string(), alice_first.clone()),
        ("/c2/keys/alice.asc".to_string(), alice_second.clone()),
        ("/c1/keys/bob.asc".to_string(), bob.public_armored()),
    ]));
    let dir = trust_dir(&[
        signer(
            "Alice",
            &alice.fingerprint(),
            &[
                (server.url("/c1/keys/alice.asc"), sha256(&alice_first)),
                (server.url("/c2/keys/alice.asc"), sha256(&alice_second)),
            ],
        ),
        signer("Bob", &bob.fingerprint(), &[(server.url("/c1/keys/bob.asc"), sha256(&bob.public_armored()))]),
    ]);

    let (ok, output) = fetch(dir.path());
    assert!(ok, "{output}");
    let alice_files =
        [format!("alice-{}.asc", &sha256(&alice_first)[..8]), format!("alice-{}.asc", &sha256(&alice_second)[..8])];
    for file in &alice_files {
        assert!(output.contains(&format!("{file}: fetched from http://127.0.0.1:{}", server.port)), "{output}");
    }
    assert_eq!(server.served(), 3);
    let mut expected = vec![
        alice_files[0].clone(),
        alice_files[1].clone(),
        format!("bob-{}.asc", &sha256(&bob.public_armored())[..8]),
    ];
    expected.sort();
    assert_eq!(certificate_files(dir.path()), expected);
    assert_eq!(std::fs::read(dir.path().join(&alice_files[1])).unwrap(), alice_second);

    // Merged: one certificate for Alice holding both versions' user IDs.
    let trust = TrustRoot::from_dir(dir.path()).unwrap();
    assert_eq!(trust.certs.len(), 2);
    let alice_cert = trust.certs.iter().find(|c| c.fingerprint().to_hex() == alice.fingerprint()).unwrap();
    assert_eq!(alice_cert.userids().count(), 2);

    // Present and matching: checked, nothing downloaded.
    let (ok, output) = fetch(dir.path());
    assert!(ok, "{output}");
    assert!(output.contains(&format!("{}: present, matches its pinned SHA-256", alice_files[0])), "{output}");
    assert_eq!(server.served(), 3, "nothing downloaded the second time");
}

#[test]
fn a_wrong_pin_another_signer_s_certificate_or_an_unreachable_address_is_named_and_nothing_is_saved() {
    let alice = Maintainer::generate("Alice Maintainer");
    let mallory = Maintainer::generate("Mallory");
    let server = FileServer::start(HashMap::from([
        ("/keys/alice.asc".to_string(), alice.public_armored()),
        ("/keys/mallory.asc".to_string(), mallory.public_armored()),
    ]));

    // The right address, a pin of other bytes.
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(server.url("/keys/alice.asc"), "ab".repeat(32))])]);
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    let file = format!("alice-{}.asc", "abababab");
    assert!(
        output.contains(&format!(
            "certificate {file} (from {}) is not the one the policy pins",
            server.url("/keys/alice.asc")
        )),
        "{output}"
    );
    assert!(output.contains(&sha256(&alice.public_armored())), "names what it got: {output}");
    assert!(certificate_files(dir.path()).is_empty(), "nothing saved");

    // The right hash of a certificate that is not the signer's.
    let pinned = sha256(&mallory.public_armored());
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(server.url("/keys/mallory.asc"), pinned.clone())])]);
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    assert!(
        output.contains(&format!(
            "is not Alice's certificate {} alone: it holds {}",
            alice.fingerprint(),
            mallory.fingerprint()
        )),
        "{output}"
    );
    assert!(certificate_files(dir.path()).is_empty(), "nothing saved");

    // An address that does not answer, and one that has no such file.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{closed}/keys/alice.asc");
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(url.clone(), sha256(&alice.public_armored()))])]);
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    assert!(output.contains(&format!("cannot be downloaded from {url}")), "{output}");
    let missing = server.url("/keys/nobody.asc");
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(missing.clone(), sha256(b"x"))])]);
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    assert!(output.contains(&format!("cannot be downloaded from {missing}: HTTP 404")), "{output}");

    // A redirect is not followed (it could lead to plain http anywhere), and an address that
    // sends more than 1 MiB is not sending a certificate.
    let big = vec![b'x'; (1 << 20) + 1];
    let tricky = FileServer::start(HashMap::from([
        ("/moved.asc".to_string(), b"redirect:http://keys.example.org/alice.asc".to_vec()),
        ("/big.asc".to_string(), big.clone()),
    ]));
    let moved = tricky.url("/moved.asc");
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(moved.clone(), sha256(&alice.public_armored()))])]);
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    assert!(output.contains("redirected to http://keys.example.org/alice.asc: not followed"), "{output}");
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(tricky.url("/big.asc"), sha256(&big))])]);
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    assert!(output.contains("it sends more than 1024 KiB"), "{output}");
    assert!(certificate_files(dir.path()).is_empty(), "nothing saved");

    // Plain http anywhere but loopback is refused before any connection.
    let remote = "http://keys.example.org/alice.asc".to_string();
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(remote.clone(), sha256(b"x"))])]);
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    assert!(output.contains(&format!("{remote} is refused: only https addresses")), "{output}");
}

/// A present file that is not what the policy pins (edited, or replaced by hand) is refused too.
#[test]
fn a_present_file_that_differs_from_its_pin_is_refused() {
    let alice = Maintainer::generate("Alice Maintainer");
    let url = "https://example.org/keys/alice.asc".to_string();
    let pinned = sha256(&alice.public_armored());
    let dir = trust_dir(&[signer("Alice", &alice.fingerprint(), &[(url, pinned.clone())])]);
    std::fs::write(dir.path().join(format!("alice-{}.asc", &pinned[..8])), b"edited").unwrap();
    let (ok, output) = fetch(dir.path());
    assert!(!ok);
    assert!(output.contains("is not the one the policy pins"), "{output}");
}
