//! Real git servers on loopback — `git daemon` (git://) and `git http-backend` behind a small
//! HTTP server (smart HTTP, what GitHub speaks under its TLS) — serving repositories whose release
//! tags are signed with keys made for the run, byte for byte the way `git tag -s` writes them.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::keys::Maintainer;

pub struct GitServer {
    root: tempfile::TempDir,
    daemon: Child,
    pub port: u16,
    pub http_port: u16,
}

impl GitServer {
    /// Starts `git daemon` and the smart-HTTP server on 127.0.0.1, both exporting every repository
    /// under a fresh directory. Needs a Tokio runtime (the HTTP side runs on it).
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("git root");
        let port = crate::free_port();
        // Run git-daemon itself: `git daemon` forks it as a child that outlives a killed parent.
        let exec_path = Command::new("git").arg("--exec-path").output().expect("git (Debian package git)");
        let exec_path = PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim());
        let daemon = Command::new(exec_path.join("git-daemon"))
            .args(["--reuseaddr", "--export-all", "--listen=127.0.0.1"])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.path().display()))
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon (Debian package git)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let http_port = crate::http_backend::start(root.path().to_path_buf());
        GitServer { root, daemon, port, http_port }
    }

    /// Creates `name` with one commit on `master`; returns it for tagging. Like GitHub, it serves
    /// object filters (partial fetch); [`Repository::refuse_filters`] turns that off.
    pub fn create_repository(&self, name: &str) -> Repository {
        let path = self.root.path().join(name);
        std::fs::create_dir_all(&path).unwrap();
        let repo = Repository {
            path,
            url: format!("git://127.0.0.1:{}/{name}", self.port),
            http_url: format!("http://127.0.0.1:{}/{name}", self.http_port),
        };
        repo.git(&["init", "-q", "-b", "master"]);
        repo.git(&["config", "uploadpack.allowFilter", "true"]);
        repo.commit("README.md", "btcd stand-in for sigship's local cloud\n", "Initial commit");
        repo
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = &self.root;
    }
}

pub struct Repository {
    pub path: PathBuf,
    /// git:// (git daemon)
    pub url: String,
    /// smart HTTP (git http-backend)
    pub http_url: String,
}

impl Repository {
    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.path, args, None)
    }

    pub fn commit(&self, file: &str, contents: &str, message: &str) -> String {
        std::fs::write(self.path.join(file), contents).unwrap();
        self.git(&["add", file]);
        self.git(&["-c", "user.name=Dev", "-c", "user.email=dev@example.org", "commit", "-q", "-m", message]);
        self.head()
    }

    /// Commits `files` files of `bytes_each` incompressible bytes under `src/`, spread over
    /// directories like a real source tree: what a fetch without object filters must download.
    pub fn commit_source_tree(&self, files: usize, bytes_each: usize) -> String {
        use sha2::{Digest, Sha256};
        for i in 0..files {
            let dir = self.path.join(format!("src/pkg{:02}", i % 40));
            std::fs::create_dir_all(&dir).unwrap();
            let mut contents = Vec::with_capacity(bytes_each + 32);
            let mut block = Sha256::digest(format!("{}:{i}", self.path.display()).as_bytes());
            while contents.len() < bytes_each {
                contents.extend_from_slice(&block);
                block = Sha256::digest(block);
            }
            contents.truncate(bytes_each);
            std::fs::write(dir.join(format!("file{i}.go")), contents).unwrap();
        }
        self.git(&["add", "-A"]);
        self.git(&["-c", "user.name=Dev", "-c", "user.email=dev@example.org", "commit", "-q", "-m", "Source tree"]);
        self.head()
    }

    /// Serve as a server without partial-fetch support does (git's own default).
    pub fn refuse_filters(&self) {
        self.git(&["config", "uploadpack.allowFilter", "false"]);
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// The bytes of an annotated tag object, unsigned: what `git tag -s` hands to the signer.
    pub fn tag_payload(&self, tag: &str, commit: &str, tagger: &str) -> Vec<u8> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        format!(
            "object {commit}\ntype commit\ntag {tag}\ntagger {tagger} <{}@example.org> {now} +0000\n\nbtcd {tag}\n",
            tagger.to_lowercase().replace(' ', ".")
        )
        .into_bytes()
    }

    /// Writes a tag object as given (signed or not) and points `refs/tags/<tag>` at it.
    pub fn write_tag(&self, tag: &str, object: &[u8]) -> String {
        let id = git_in(&self.path, &["hash-object", "-t", "tag", "-w", "--stdin"], Some(object));
        self.git(&["update-ref", &format!("refs/tags/{tag}"), &id]);
        id
    }

    /// A release tag on HEAD signed by `maintainer`, as `git tag -s` makes it.
    pub fn signed_tag(&self, tag: &str, maintainer: &Maintainer) -> String {
        let mut object = self.tag_payload(tag, &self.head(), &maintainer.name);
        let signature = maintainer.sign(&object);
        object.extend_from_slice(&signature);
        self.write_tag(tag, &object)
    }
}

fn git_in(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("git");
    child.stdin.take().unwrap().write_all(stdin.unwrap_or_default()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
