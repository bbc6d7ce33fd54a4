//! Tag verification with real keys, real signatures and a real git daemon on loopback.

use std::time::Duration;

use localcloud::git::GitServer;
use localcloud::keys::Maintainer;
use localcloud::trust_root_files;
use pipeline::verify::fetch::fetch_tag;
use pipeline::verify::{verify, TagRequest, TrustRoot, VerifyConfig};

const TIMEOUT: Duration = Duration::from_secs(10);

fn trust(signers: &[&Maintainer]) -> TrustRoot {
    TrustRoot::from_files(trust_root_files(signers)).unwrap()
}

fn config(url: &str) -> VerifyConfig {
    VerifyConfig { default_repository_url: Some(url.into()), fetch_timeout: TIMEOUT, allow_local_paths: false }
}

fn request(tag: &str) -> TagRequest {
    TagRequest { tag: tag.into(), repository: None, allow_downgrade: false, requested_by: None }
}

#[tokio::test]
async fn a_signed_release_tag_verifies_over_git() {
    let server = GitServer::start();
    let repo = server.create_repository("btcd");
    let maintainer = Maintainer::generate("Alice Maintainer");
    let tag_object = repo.signed_tag("v0.24.2", &maintainer);

    let verified = verify(&request("v0.24.2"), &config(&repo.url), &trust(&[&maintainer])).await.unwrap();
    assert_eq!(verified.commit, repo.head());
    assert_eq!(verified.tag_object_id, tag_object);
    assert_eq!(verified.signers[0].fingerprint, maintainer.fingerprint());
    assert_eq!(verified.signers[0].label, "Alice Maintainer");
    // The fetched object is byte-identical to what git stored.
    let fetched = fetch_tag(&repo.url, "v0.24.2", TIMEOUT, false).await.unwrap();
    assert_eq!(
        fetched.raw,
        repo.git(&["cat-file", "tag", "v0.24.2"]).into_bytes().into_iter().chain(*b"\n").collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn smart_http_serves_the_same_tag_object() {
    let server = GitServer::start();
    let repo = server.create_repository("btcd");
    let maintainer = Maintainer::generate("Alice Maintainer");
    repo.signed_tag("v0.24.2", &maintainer);
    let over_git = fetch_tag(&repo.url, "v0.24.2", TIMEOUT, false).await.unwrap();
    let over_http = fetch_tag(&repo.http_url, "v0.24.2", TIMEOUT, false).await.unwrap();
    assert_eq!(over_http.raw, over_git.raw);
    assert_eq!(over_http.tag_object_id, over_git.tag_object_id);
    let verified = verify(&request("v0.24.2"), &config(&repo.http_url), &trust(&[&maintainer])).await.unwrap();
    assert_eq!(verified.commit, repo.head());
}

/// A tag of a repository with ~1.2 MB of source: with filters the fetch is the tag and its commit.
#[tokio::test(flavor = "multi_thread")]
async fn a_release_tag_is_fetched_without_its_tree_where_the_remote_offers_filters() {
    let server = GitServer::start();
    let repo = server.create_repository("btcd");
    repo.commit_source_tree(300, 4096);
    let maintainer = Maintainer::generate("Alice Maintainer");
    repo.signed_tag("v0.24.2", &maintainer);
    let stored = repo.git(&["cat-file", "tag", "v0.24.2"]).into_bytes().into_iter().chain(*b"\n").collect::<Vec<_>>();

    for url in [&repo.url, &repo.http_url] {
        let fetched = fetch_tag(url, "v0.24.2", TIMEOUT, false).await.unwrap();
        assert!(fetched.filtered, "{url}: the remote offers filters");
        assert!(fetched.pack_bytes < 4096, "{url}: {} pack bytes for a tag and a commit", fetched.pack_bytes);
        assert_eq!(fetched.raw, stored, "{url}");
    }

    // The fallback: a remote without filters sends the whole tree, and the verdict is the same.
    repo.refuse_filters();
    for url in [&repo.url, &repo.http_url] {
        let fetched = fetch_tag(url, "v0.24.2", TIMEOUT, false).await.unwrap();
        assert!(!fetched.filtered, "{url}: the remote refuses filters");
        assert!(fetched.pack_bytes > 300 * 4096, "{url}: {} pack bytes, the tree is missing", fetched.pack_bytes);
        assert_eq!(fetched.raw, stored, "{url}");
        let verified = verify(&request("v0.24.2"), &config(url), &trust(&[&maintainer])).await.unwrap();
        assert_eq!(verified.commit, repo.head());
    }
}

#[tokio::test]
async fn https_client_starts_and_reports_an_unreachable_remote() {
    // Builds the TLS client for real (one rustls crypto provider must be chosen without a panic).
    let url = format!("https://127.0.0.1:{}/btcd.git", localcloud::free_port());
    let err = fetch_tag(&url, "v0.24.2", TIMEOUT, false).await.unwrap_err();
    assert_eq!(err.name(), "RepositoryUnreachable", "{err}");
    assert!(!err.to_string().contains("panic"), "{err}");
}

#[tokio::test]
async fn fetch_failures_are_named() {
    let server = GitServer::start();
    let repo = server.create_repository("btcd");
    let maintainer = Maintainer::generate("Alice Maintainer");
    let trust = trust(&[&maintainer]);
    repo.git(&["tag", "v0.1.0"]); // lightweight
    let payload = repo.tag_payload("v0.1.1", &repo.head(), "Alice Maintainer");
    repo.write_tag("v0.1.1", &payload); // annotated, unsigned

    // A tag object far over the limit (a release tag is a few hundred bytes).
    let mut huge = repo.tag_payload("v0.1.2", &repo.head(), "Alice Maintainer");
    huge.extend(std::iter::repeat_n(b'x', 70 * 1024));
    huge.push(b'\n');
    repo.write_tag("v0.1.2", &huge);

    let cases = [
        ("v0.1.2", "TagTooLarge"),
        ("v0.1.0", "NotAnnotatedTag"),
        ("v0.1.1", "Unsigned"),
        ("v9.9.9", "TagNotFound"),
        ("btcec/v2.4.0", "TagNameRejected"),
    ];
    for (tag, expected) in cases {
        let err = verify(&request(tag), &config(&repo.url), &trust).await.unwrap_err();
        assert_eq!(err.name(), expected, "{tag}: {err}");
    }
    // A remote that accepts the connection and never answers: the fetch is bounded.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("git://127.0.0.1:{}/btcd", silent.local_addr().unwrap().port());
    let quick = VerifyConfig { fetch_timeout: Duration::from_secs(1), ..config(&silent_url) };
    let started = std::time::Instant::now();
    let err = verify(&request("v0.1.0"), &quick, &trust).await.unwrap_err();
    assert_eq!(err.name(), "RepositoryUnreachable", "{err}");
    assert!(err.to_string().contains("no answer within 1 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let closed = format!("git://127.0.0.1:{}/btcd", localcloud::free_port());
    let err = verify(&request("v0.1.0"), &config(&closed), &trust).await.unwrap_err();
    assert_eq!(err.name(), "RepositoryUnreachable", "{err}");
    let err = verify(&request("v0.1.0"), &config("http://example.org/btcd.git"), &trust).await.unwrap_err();
    assert_eq!(err.name(), "InsecureRepositoryUrl", "{err}");
}
