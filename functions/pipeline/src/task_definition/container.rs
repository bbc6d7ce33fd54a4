//! The btcd container: its command, environment, secrets by reference, health check and tags,
//! and the fingerprint that says whether a revision already holds exactly that.

use super::config::TaskConfig;
use super::HealthCheckTiming;
use crate::network::Network;
use crate::release::Release;
use crate::sizing::Profile;
use crate::MANAGED_TAG;

pub const CONTAINER_NAME: &str = "btcd";
pub const CHAIN_DATA_VOLUME: &str = "chain-data";
pub const CHAIN_DATA_PATH: &str = "/data";
/// The release tag and commit a revision was built from, as tags for people and the console.
/// Anyone allowed `ecs:TagResource` can change tags: sigship reads the labels below instead.
pub const RELEASE_TAG: &str = "sigship:tag";
pub const COMMIT_TAG: &str = "sigship:commit";
/// The container's stop timeout: btcd flushes its UTXO cache on SIGTERM, so the most Fargate
/// allows before it kills the container.
pub const STOP_TIMEOUT_SECONDS: u32 = 120;
/// btcd's UTXO cache size flag (MiB).
pub const UTXO_CACHE_FLAG: &str = "--utxocachemaxsize";
/// The profile a revision runs at.
pub const PROFILE_TAG: &str = "sigship:profile";
/// The same as the container's Docker labels: part of the revision's content, which no one can
/// change once it is registered. What sigship reads.
pub const RELEASE_LABEL: &str = "sigship.tag";
pub const COMMIT_LABEL: &str = "sigship.commit";
pub const PROFILE_LABEL: &str = "sigship.profile";

/// Everything the AWS adapter needs to register the task definition.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskSpec {
    pub family: String,
    pub cpu: String,
    pub memory: String,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub image: String,
    pub command: Vec<String>,
    pub p2p_port: u16,
    pub health_check: Vec<String>,
    pub health_check_timing: HealthCheckTiming,
    /// (variable name, value): plain settings only, never a secret.
    pub environment: Vec<(String, String)>,
    /// (variable name, Secrets Manager `valueFrom`): injected by ECS, never stored in the definition.
    pub secrets: Vec<(String, String)>,
    pub log_group: String,
    pub log_region: String,
    pub file_system_id: String,
    pub access_point_id: String,
    /// The container's Docker labels ([`RELEASE_LABEL`], [`COMMIT_LABEL`], [`PROFILE_LABEL`]).
    pub labels: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

impl TaskSpec {
    /// Everything the revision holds except its tags, in one order: a revision whose content
    /// equals this one's holds exactly what registering this spec would register.
    pub fn content(&self) -> TaskSpec {
        let mut content = TaskSpec { tags: Vec::new(), ..self.clone() };
        content.environment.sort();
        content.secrets.sort();
        content.labels.sort();
        content
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// btcd's log directory (on the chain-data volume; btcd adds the network's folder), also given to
/// the container as [`LOG_DIR_VARIABLE`] for the health check.
pub fn log_dir() -> String {
    format!("{CHAIN_DATA_PATH}/logs")
}

pub const LOG_DIR_VARIABLE: &str = "BTCD_LOGDIR";

/// Healthy when RPC answers — or while btcd is still loading: its newest start line
/// (`BTCD: Version …`) has no `RPC server listening` after it yet. A synced mainnet node loads its
/// block index and UTXO state for longer than ECS's longest start period before RPC answers; a
/// node that answered RPC once and stops answering is unhealthy. A log without a start line (it
/// rotated) counts as started, so a silent RPC is unhealthy then too. A node stuck loading stays
/// healthy here; the not-syncing alarm (no block since its task started) is what reports it.
pub fn health_check(network: Network) -> String {
    format!(
        "btcctl --notls --rpcserver=127.0.0.1:{} --rpcuser=\"$BTCD_RPCUSER\" --rpcpass=\"$BTCD_RPCPASS\" getblockcount >/dev/null 2>&1 \
         || awk 'BEGIN {{ up = 1 }} /BTCD: Version / {{ up = 0 }} /RPC server listening on/ {{ up = 1 }} END {{ exit up }}' \
         \"$(ls -t \"${LOG_DIR_VARIABLE}\"/*/btcd.log | head -n 1)\"",
        network.rpc_port()
    )
}

pub fn task_spec(config: &TaskConfig, profile: Profile, image: String, release: &Release) -> TaskSpec {
    let size = config.sizes.size(profile);
    let mut command = vec![
        format!("--datadir={CHAIN_DATA_PATH}/btcd"),
        format!("--logdir={}", log_dir()),
        // RPC stays inside the task: the health check reaches it on loopback, nothing else can.
        "--rpclisten=127.0.0.1".to_string(),
        "--notls".to_string(),
    ];
    command.extend(config.sizes.network.flag().map(String::from));
    if !config.extra_args.iter().any(|a| a.starts_with(UTXO_CACHE_FLAG)) {
        command.push(format!("{UTXO_CACHE_FLAG}={}", size.utxo_cache_mib));
    }
    command.extend(config.extra_args.iter().cloned());
    let secret = |key: &str| format!("{}:{key}::", config.rpc_secret_arn);
    TaskSpec {
        family: config.family.clone(),
        cpu: size.cpu.to_string(),
        memory: size.memory_mib.to_string(),
        execution_role_arn: config.execution_role_arn.clone(),
        task_role_arn: config.task_role_arn.clone(),
        image,
        command,
        p2p_port: config.sizes.network.p2p_port(),
        // Healthy means "RPC answers"; the image's entrypoint passes the credentials to btcd.
        // The RPC port is the network's: btcctl's default is mainnet's.
        health_check: vec!["CMD-SHELL".into(), health_check(config.sizes.network)],
        // Go's collector works harder as the heap nears 90 % of the task: btcd's cache and the
        // flush transaction beside it stay within the memory instead of being killed at its edge.
        // GOGC=100 beside it: unset, btcd sets 10 itself and collects all the time.
        environment: vec![
            (LOG_DIR_VARIABLE.into(), log_dir()),
            ("GOMEMLIMIT".into(), format!("{}MiB", size.memory_mib / 10 * 9)),
            ("GOGC".into(), "100".into()),
        ],
        health_check_timing: config.health_check_timing,
        secrets: vec![("BTCD_RPCUSER".into(), secret("username")), ("BTCD_RPCPASS".into(), secret("password"))],
        log_group: config.log_group.clone(),
        log_region: config.region.clone(),
        file_system_id: config.file_system_id.clone(),
        access_point_id: config.access_point_id.clone(),
        labels: vec![
            (RELEASE_LABEL.into(), release.tag.clone()),
            (COMMIT_LABEL.into(), release.commit.clone()),
            (PROFILE_LABEL.into(), profile.name().into()),
        ],
        tags: vec![
            (MANAGED_TAG.into(), "true".into()),
            (RELEASE_TAG.into(), release.tag.clone()),
            (COMMIT_TAG.into(), release.commit.clone()),
            (PROFILE_TAG.into(), profile.name().into()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizing::NodeSizes;
    use crate::testing::{release, task_config as config};

    /// The health check as the container's shell runs it, over btcd's real log lines: RPC not
    /// answering (btcctl fails) is healthy only while btcd loads after its newest start.
    #[test]
    fn a_loading_node_is_healthy_and_a_node_whose_rpc_stopped_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(logs.join("mainnet")).unwrap();
        let btcctl = |answers: bool| {
            use std::os::unix::fs::PermissionsExt;
            let path = bin.join("btcctl");
            std::fs::write(&path, format!("#!/bin/sh\nexit {}\n", if answers { 0 } else { 1 })).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let started = "2026-12-06 02:21:39.118 [INF] BTCD: Version 0.26.0-beta\n\
                       2026-12-06 02:21:39.120 [INF] CHAN: Loading block index...\n";
        let rpc = "2026-12-06 02:29:41.530 [INF] RPCS: RPC server listening on 127.0.0.1:8334\n";
        let processed = "2026-12-06 02:31:02.004 [INF] SYNC: Processed 3 blocks in the last 10.02s (7203 transactions, height 925112, 2026-12-06 02:20:11 +0000 UTC, ~210 MiB cache)\n";
        let healthy = |log: &str| {
            std::fs::write(logs.join("mainnet/btcd.log"), log).unwrap();
            std::process::Command::new("/bin/sh")
                .args(["-c", &health_check(Network::Mainnet)])
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env(LOG_DIR_VARIABLE, &logs)
                .env("BTCD_RPCUSER", "u")
                .env("BTCD_RPCPASS", "p")
                .status()
                .unwrap()
                .success()
        };
        btcctl(false);
        assert!(healthy(started), "loading: alive, RPC not up yet");
        assert!(!healthy(&format!("{started}{rpc}{processed}")), "RPC came up and stopped answering");
        assert!(healthy(&format!("{started}{rpc}{processed}{started}")), "restarted, loading again");
        assert!(!healthy(processed), "a rotated log without a start line counts as started");
        btcctl(true);
        assert!(healthy(&format!("{started}{rpc}{processed}")), "RPC answers");
    }

    #[test]
    fn the_network_decides_flag_ports_and_health_check() {
        // btcd's params.go: p2p 8333 / 18333 / 48333 / 38333, RPC 8334 / 18334 / 48334 / 38332.
        for (network, flag, p2p, rpc) in [
            (Network::Mainnet, None, 8333, 8334),
            (Network::Testnet3, Some("--testnet"), 18333, 18334),
            (Network::Testnet4, Some("--testnet4"), 48333, 48334),
            (Network::Signet, Some("--signet"), 38333, 38332),
            (Network::Regtest, Some("--regtest"), 18444, 18334),
        ] {
            assert_eq!(Network::parse(network.name()).unwrap(), network);
            let spec = task_spec(
                &TaskConfig { sizes: NodeSizes::of_table(network), ..config() },
                Profile::Steady,
                "img@sha256:0".into(),
                &release(),
            );
            assert!(
                spec.health_check[1].contains(&format!("--rpcserver=127.0.0.1:{rpc} ")),
                "{network:?}: {:?}",
                spec.health_check
            );
            assert_eq!(spec.p2p_port, p2p, "{network:?}");
            let flags: Vec<&str> = spec
                .command
                .iter()
                .map(String::as_str)
                .filter(|c| Network::ALL.iter().any(|n| n.flag() == Some(c)))
                .collect();
            assert_eq!(flags, flag.into_iter().collect::<Vec<_>>(), "{network:?}: exactly its own flag");
        }
        let err = Network::parse("testnet").unwrap_err();
        assert!(err.to_string().contains("testnet3, testnet4"), "{err}");
    }
}
