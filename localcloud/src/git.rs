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

impl GitServer {
    /// Creates `name` holding btcd's real source at `release` (a module version such as
    /// `v0.24.2`), as the Go module proxy serves it — the way Go users get btcd — in one commit on
    /// `master` with fixed dates, so the commit (and Go's build cache) is the same on every run.
    /// btcd's source is fetched at run time (`go mod download`), never kept in this repository.
    pub fn create_btcd_repository(&self, name: &str, release: &str) -> Repository {
        let template = btcd_template(release);
        let path = self.root.path().join(name);
        git_in(self.root.path(), &["clone", "-q", "--local", template.to_str().unwrap(), name], None);
        let repo = Repository {
            path,
            url: format!("git://127.0.0.1:{}/{name}", self.port),
            http_url: format!("http://127.0.0.1:{}/{name}", self.http_port),
        };
        repo.git(&["remote", "remove", "origin"]);
        repo.git(&["config", "uploadpack.allowFilter", "true"]);
        repo
    }
}

/// btcd's module source at `release`, committed once per process into a scratch repository.
fn btcd_template(release: &str) -> PathBuf {
    static TEMPLATES: std::sync::Mutex<Vec<(String, tempfile::TempDir)>> = std::sync::Mutex::new(Vec::new());
    let mut templates = TEMPLATES.lock().unwrap();
    if let Some((_, dir)) = templates.iter().find(|(r, _)| r == release) {
        return dir.path().to_path_buf();
    }
    let dir = tempfile::tempdir().unwrap();
    copy_btcd_source(release, dir.path());
    git_in(dir.path(), &["init", "-q", "-b", "master"], None);
    git_in(dir.path(), &["add", "-A"], None);
    let date = "2025-01-01T00:00:00+0000";
    let commit = Command::new("git")
        .args(["-c", "user.name=btcd release", "-c", "user.email=release@example.org"])
        .args(["commit", "-q", "-m", &format!("btcd {release} (source from the Go module proxy)")])
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .current_dir(dir.path())
        .status();
    assert!(commit.is_ok_and(|s| s.success()), "commit btcd's source");
    let path = dir.path().to_path_buf();
    templates.push((release.to_string(), dir));
    path
}

/// btcd's source at `release` (from the Go module proxy), copied into `into` as a work tree.
pub fn copy_btcd_source(release: &str, into: &Path) {
    let module = btcd_module_source(release).unwrap_or_else(|e| panic!("{e}"));
    let status = Command::new("cp").arg("-r").arg(format!("{}/.", module.display())).arg(into).status();
    assert!(status.is_ok_and(|s| s.success()), "copy btcd's source");
    // The module cache is read-only; a work tree is not.
    let _ = Command::new("chmod").args(["-R", "u+w"]).arg(into).status();
}

/// Where `go mod download` put btcd's source at `release` (read-only, in the Go module cache).
pub fn btcd_module_source(release: &str) -> Result<PathBuf, String> {
    let out = Command::new("go")
        .args(["mod", "download", "-json", &format!("github.com/btcsuite/btcd@{release}")])
        .current_dir(std::env::temp_dir())
        .output()
        .map_err(|e| format!("go (the Go toolchain is needed for btcd's source): {e}"))?;
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    match answer["Dir"].as_str() {
        Some(dir) if out.status.success() => Ok(PathBuf::from(dir)),
        _ => Err(format!(
            "go mod download github.com/btcsuite/btcd@{release}: {} {}",
            answer["Error"].as_str().unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr)
        )),
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

    /// Commits btcd's real source at `release` (from the Go module proxy) over the tree, as the
    /// next commit of the branch: the repository then holds that release, ready for its tag.
    pub fn commit_release(&self, release: &str) -> String {
        self.git(&["rm", "-rq", "--cached", "."]);
        for entry in std::fs::read_dir(&self.path).unwrap().flatten() {
            if entry.file_name() != ".git" {
                let path = entry.path();
                let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            }
        }
        copy_btcd_source(release, &self.path);
        self.git(&["add", "-A"]);
        let message = format!("btcd {release} (source from the Go module proxy)");
        self.git(&[
            "-c",
            "user.name=btcd release",
            "-c",
            "user.email=release@example.org",
            "commit",
            "-q",
            "-m",
            &message,
        ]);
        self.head()
    }

    /// Commits a btcd whose main exits 1 before anything else: a release that builds and never runs.
    pub fn break_btcd_start(&self) -> String {
        let main = self.path.join("btcd.go");
        let source = std::fs::read_to_string(&main).expect("btcd.go: a btcd repository");
        assert!(source.contains("func main() {"), "btcd.go has no main");
        std::fs::write(&main, source.replace("func main() {", "func main() {\n\tos.Exit(1)")).unwrap();
        self.git(&["add", "btcd.go"]);
        self.git(&["-c", "user.name=Dev", "-c", "user.email=dev@example.org", "commit", "-q", "-m", "exit at start"]);
        self.head()
    }

    /// Commits a btcd that runs as before but compiles to other bytes (another image digest):
    /// another release of the same daemon.
    pub fn change_btcd_build(&self, marker: &str) -> String {
        let file = self.path.join("sigship_marker.go");
        let source = format!(
            "package main\n\nimport \"os\"\n\nfunc init() {{ _ = os.Getenv(\"SIGSHIP_MARKER_{}\") }}\n",
            marker.replace(['.', '-'], "_")
        );
        std::fs::write(&file, source).unwrap();
        self.git(&["add", "sigship_marker.go"]);
        self.git(&["-c", "user.name=Dev", "-c", "user.email=dev@example.org", "commit", "-q", "-m", marker]);
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
