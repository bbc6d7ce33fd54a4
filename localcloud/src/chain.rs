//! A chain to sync: an upstream btcd on regtest, on the host's loopback, that mines blocks on
//! request and is the deployed node's peer (the local Fargate forwards its port into each task).
//! It runs the same compiled btcd as the demo release.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A regtest pay-to-pubkey-hash address (hash160 of twenty zero bytes): where mined coins go.
pub const MINING_ADDRESS: &str = "mfWxJ45yp2SFn7UciZyNpvDKrzbhyfKrY8";
const RPC_USER: &str = "peer";
const RPC_PASS: &str = "peer-password";

pub struct Peer {
    process: Child,
    pub p2p_port: u16,
    pub rpc_port: u16,
    bin: PathBuf,
    _data: tempfile::TempDir,
}

impl Peer {
    /// Starts btcd from an image root (`usr/local/bin/btcd`, `btcctl`) and waits for its RPC.
    pub fn start(image_root: &Path, log: &Path) -> Result<Self, String> {
        let bin = crate::image::inside(image_root, "/usr/local/bin");
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (p2p_port, rpc_port) = (crate::free_port(), crate::free_port());
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let process = Command::new(bin.join("btcd"))
            .args(["--regtest", "--notls", "--nodnsseed"])
            .arg(format!("--listen=127.0.0.1:{p2p_port}"))
            .arg(format!("--rpclisten=127.0.0.1:{rpc_port}"))
            .arg(format!("--rpcuser={RPC_USER}"))
            .arg(format!("--rpcpass={RPC_PASS}"))
            .arg(format!("--datadir={}", data.path().join("data").display()))
            .arg(format!("--logdir={}", data.path().join("logs").display()))
            .arg(format!("--miningaddr={MINING_ADDRESS}"))
            .env("HOME", data.path())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("btcd: {e}"))?;
        let peer = Peer { process, p2p_port, rpc_port, bin, _data: data };
        let deadline = Instant::now() + Duration::from_secs(30);
        while peer.height().is_err() {
            if Instant::now() > deadline {
                return Err("the regtest peer's RPC did not answer within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(peer)
    }

    fn btcctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(self.bin.join("btcctl"))
            .args(["--notls", &format!("--rpcserver=127.0.0.1:{}", self.rpc_port)])
            .args([format!("--rpcuser={RPC_USER}"), format!("--rpcpass={RPC_PASS}")])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("btcctl: {e}"))?;
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        }
    }

    pub fn height(&self) -> Result<u64, String> {
        self.btcctl(&["getblockcount"])?.parse().map_err(|e| format!("getblockcount: {e}"))
    }

    /// Mines `blocks` blocks (regtest's `generate`); returns the new height.
    pub fn mine(&self, blocks: u32) -> Result<u64, String> {
        self.btcctl(&["generate", &blocks.to_string()])?;
        self.height()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.process.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.process.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
