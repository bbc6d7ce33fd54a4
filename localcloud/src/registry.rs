//! The registry behind the local ECR: the CNCF distribution registry (`registry`, built from the
//! Go module proxy by `cargo xtask`), on loopback, storing on disk. moto's ECR keeps the images'
//! records (PutImage, DescribeImages) but serves no registry; this one serves the bytes, and ECR's
//! GetAuthorizationToken names it as the account's registry endpoint (see the router). Like
//! ECR's, it answers nothing without an Authorization header (distribution's `silly` access
//! controller: it checks that one is given, not whose it is — that IAM check is not simulated).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The distribution release `cargo xtask` builds (`go install …/cmd/registry@<it>`).
pub const DISTRIBUTION: &str = "github.com/distribution/distribution/v3/cmd/registry@v3.1.2";

pub struct Registry {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    process: Child,
    _storage: tempfile::TempDir,
}

impl Registry {
    /// Starts `binary` on a free loopback port and waits until it answers.
    pub fn start(binary: &Path, log: &Path) -> Result<Self, String> {
        if !binary.exists() {
            return Err(format!(
                "{} is missing: `cargo xtask test` (or `cargo xtask local`) builds it from the Go module proxy",
                binary.display()
            ));
        }
        let storage = tempfile::Builder::new().prefix("sigship-registry-").tempdir().map_err(|e| e.to_string())?;
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\nauth:\n  silly:\n    realm: local-ecr\n    service: local-ecr\n",
                storage.path().join("data").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let process = Command::new(binary)
            .args(["serve".as_ref(), config.as_os_str()])
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let registry = Registry { endpoint: format!("http://127.0.0.1:{port}"), process, _storage: storage };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("the registry did not listen on 127.0.0.1:{port} within 20 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(registry)
    }

    /// Where `cargo xtask` installs the binary for a checkout.
    pub fn binary(checkout: &Path) -> PathBuf {
        checkout.join(".local/bin/registry")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
