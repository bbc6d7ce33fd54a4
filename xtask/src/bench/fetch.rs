//! `sigship verify` (release) of a release tag in a repository with a btcd-sized source tree,
//! with the remote offering object filters and refusing them: the bytes the git server sent,
//! counted by a TCP proxy in front of it, and the wall time of the whole command.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use localcloud::git::GitServer;
use localcloud::keys::Maintainer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Spread;

/// A depth-1 fetch of btcd's v0.26.0 downloads 8,173,044 bytes; thousands of incompressible
/// files make a pack of that size without its source.
const FILES: usize = 3_200;
const BYTES_PER_FILE: usize = 2_560;
const RUNS: usize = 11;
const TAG: &str = "v0.26.0";

pub struct Figures {
    pub packed_bytes: u64,
    pub files: usize,
    pub rows: Vec<Row>,
}

pub struct Row {
    pub transport: &'static str,
    pub filters: bool,
    pub bytes: Spread<u64>,
    pub wall: Spread,
}

pub async fn measure(sigship: &Path, scratch: &Path) -> Result<Figures, String> {
    let server = GitServer::start();
    let repo = server.create_repository("btcd");
    repo.commit_source_tree(FILES, BYTES_PER_FILE);
    repo.git(&["repack", "-adq"]);
    let packed_kib: u64 = repo
        .git(&["count-objects", "-v"])
        .lines()
        .find_map(|l| l.strip_prefix("size-pack: "))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0);
    let maintainer = Maintainer::generate("Bench Maintainer");
    repo.signed_tag(TAG, &maintainer);
    let trust = scratch.join("trust");
    std::fs::create_dir_all(&trust).map_err(|e| e.to_string())?;
    for (name, contents) in localcloud::trust_root_files(&[&maintainer]) {
        std::fs::write(trust.join(name), contents).map_err(|e| e.to_string())?;
    }

    let (git_port, git_sent) = counting_proxy(server.port).await;
    let (http_port, http_sent) = counting_proxy(server.http_port).await;
    let remotes = [
        ("git://", format!("git://127.0.0.1:{git_port}/btcd"), git_sent),
        ("smart HTTP", format!("http://127.0.0.1:{http_port}/btcd"), http_sent),
    ];
    let mut rows = Vec::new();
    for filters in [true, false] {
        if !filters {
            repo.refuse_filters();
        }
        for (transport, url, sent) in &remotes {
            let (mut bytes, mut wall) = (Vec::new(), Vec::new());
            for _ in 0..RUNS {
                sent.store(0, Ordering::SeqCst);
                let started = Instant::now();
                let out = tokio::process::Command::new(sigship)
                    .args(["verify", "--repository", url, "--tag", TAG, "--json", "--trust"])
                    .arg(&trust)
                    .output()
                    .await
                    .map_err(|e| format!("{}: {e}", sigship.display()))?;
                wall.push(started.elapsed());
                if !out.status.success() {
                    return Err(format!("sigship verify {url}: {}", String::from_utf8_lossy(&out.stdout)));
                }
                bytes.push(sent.load(Ordering::SeqCst));
            }
            rows.push(Row { transport, filters, bytes: Spread::of(bytes), wall: Spread::of(wall) });
        }
    }
    Ok(Figures { packed_bytes: packed_kib * 1024, files: FILES, rows })
}

/// A TCP proxy to `target` on loopback; the counter is the bytes sent from the server to clients.
async fn counting_proxy(target: u16) -> (u16, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { return };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let upstream = tokio::spawn(async move { tokio::io::copy(&mut client_read, &mut server_write).await });
                let mut buf = vec![0; 64 * 1024];
                // Counted before it is written: once the client has read it, it is in the count.
                while let Ok(n @ 1..) = server_read.read(&mut buf).await {
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = client_write.shutdown().await;
                upstream.abort();
            });
        }
    });
    (port, sent)
}
