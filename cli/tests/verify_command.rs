//! `sigship verify` as an operator runs it: against a URL and a local path, human and JSON output,
//! exit codes.

use std::process::Command;

use localcloud::git::GitServer;
use localcloud::keys::Maintainer;
use localcloud::trust_root_files;

fn trust_dir(signers: &[&Maintainer]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in trust_root_files(signers) {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

fn sigship(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sigship")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn verifies_over_a_url_and_a_local_path() {
    let server = GitServer::start();
    let repo = server.create_repository("btcd");
    let alice = Maintainer::generate("Alice Maintainer");
    let tag_object = repo.signed_tag("v0.24.2", &alice);
    let trust = trust_dir(&[&alice]);
    let trust = trust.path().to_str().unwrap();

    for location in [repo.url.as_str(), repo.http_url.as_str(), repo.path.to_str().unwrap()] {
        let (code, stdout, stderr) = tokio::task::spawn_blocking({
            let args = ["verify", "--repository", location, "--tag", "v0.24.2", "--trust", trust].map(String::from);
            move || sigship(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{location}: {stderr}");
        assert!(stdout.starts_with("VERIFIED v0.24.2"), "{stdout}");
        assert!(stdout.contains(&format!("Alice Maintainer ({})", alice.fingerprint())), "{stdout}");
        assert!(stdout.contains(&format!("tag object  {tag_object}")), "{stdout}");
        assert!(stdout.contains(&format!("commit      {}", repo.head())), "{stdout}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rejections_exit_non_zero_with_the_named_error() {
    let server = GitServer::start();
    let repo = server.create_repository("btcd");
    let alice = Maintainer::generate("Alice Maintainer");
    let mallory = Maintainer::generate("Mallory");
    repo.signed_tag("v0.24.3", &mallory);
    let trust = trust_dir(&[&alice]);
    let args = ["verify", "--repository", &repo.url, "--tag", "v0.24.3", "--trust", trust.path().to_str().unwrap()]
        .map(String::from);
    let run = |extra: Option<&'static str>| {
        let mut args = args.to_vec();
        args.extend(extra.map(String::from));
        tokio::task::spawn_blocking(move || sigship(&args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let (code, _, stderr) = run(None).await.unwrap();
    assert_eq!(code, 1);
    assert!(stderr.starts_with("REJECTED v0.24.3: UnknownSigner: "), "{stderr}");

    let (code, stdout, _) = run(Some("--json")).await.unwrap();
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["verdict"], "rejected");
    assert_eq!(json["errorType"], "UnknownSigner");
}

#[test]
fn a_trust_root_without_certificates_is_refused_naming_the_signer() {
    let shipped = localcloud::workspace_root().join("infrastructure/trust/btcd");
    let (code, _, stderr) = sigship(&[
        "verify",
        "--repository",
        "https://github.com/btcsuite/btcd.git",
        "--tag",
        "v0.24.2",
        "--trust",
        shipped.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("TrustRootInvalid"), "{stderr}");
    assert!(stderr.contains("Oliver Gugger") && stderr.contains("has no certificate"), "{stderr}");
    assert!(stderr.contains("`sigship trust fetch` downloads and checks it"), "says how to complete it: {stderr}");
}
