//! Task definition: the btcd container on Fargate, its image pinned by digest, never by tag.

use serde::{Deserialize, Serialize};

use crate::build::{BuildState, ImageRegistry};
use crate::config::Env;
use crate::error::{Error, Result};
use crate::verify::VerifiedTag;

pub const CONTAINER_NAME: &str = "btcd";
pub const CHAIN_DATA_VOLUME: &str = "chain-data";
pub const CHAIN_DATA_PATH: &str = "/data";
pub use crate::MANAGED_TAG;
/// Tag holding [`TaskSpec::fingerprint`]: a revision is reused only if everything in it matches.
pub const SPEC_TAG: &str = "sigship:spec";
/// The release tag and commit a revision was built from.
pub const RELEASE_TAG: &str = "sigship:tag";
pub const COMMIT_TAG: &str = "sigship:commit";
/// btcd's UTXO cache size flag (MiB).
pub const UTXO_CACHE_FLAG: &str = "--utxocachemaxsize";
/// The profile a revision runs at.
pub const PROFILE_TAG: &str = "sigship:profile";

/// The size the node runs at: the sizing table's steady size while it follows the tip, its sync
/// size (the whole UTXO set in btcd's cache) while it catches up. A release keeps the profile
/// that runs; an execution `{"profile": …}` switches it for the release that runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Steady,
    Sync,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Steady => "steady",
            Profile::Sync => "sync",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Profile::Steady, Profile::Sync].into_iter().find(|p| p.name() == raw)
    }
}

/// The Bitcoin network btcd joins: one setting (stack parameter `Network`) that decides the flag,
/// the p2p port, the RPC port the health check dials, and the btcd releases that can run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Mainnet,
    Testnet3,
    Testnet4,
    Signet,
    /// A private chain: no DNS seeds, blocks mined on request; peers come from `--addpeer`/`--connect`.
    Regtest,
}

impl Network {
    pub const ALL: [Network; 5] =
        [Network::Mainnet, Network::Testnet3, Network::Testnet4, Network::Signet, Network::Regtest];

    pub fn parse(raw: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|network| network.name() == raw).ok_or_else(|| {
            Error::config(format!("SIGSHIP_NETWORK={raw:?}: expected one of {}", Self::ALL.map(Self::name).join(", ")))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet3 => "testnet3",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    /// btcd's flag for this network.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            Network::Mainnet => None,
            Network::Testnet3 => Some("--testnet"),
            Network::Testnet4 => Some("--testnet4"),
            Network::Signet => Some("--signet"),
            Network::Regtest => Some("--regtest"),
        }
    }

    pub fn p2p_port(self) -> u16 {
        match self {
            Network::Mainnet => 8333,
            Network::Testnet3 => 18333,
            Network::Testnet4 => 48333,
            Network::Signet => 38333,
            Network::Regtest => 18444,
        }
    }

    /// btcd's default RPC port on this network (its `params.go`). The health check names it in
    /// `--rpcserver` instead of passing btcctl a network flag: that flag only picks this default
    /// port, and btcctl releases lack the newer ones (an unknown flag fails every check).
    pub fn rpc_port(self) -> u16 {
        match self {
            Network::Mainnet => 8334,
            Network::Testnet3 => 18334,
            Network::Testnet4 => 48334,
            Network::Signet => 38332,
            Network::Regtest => 18334,
        }
    }

    /// The first btcd release whose daemon knows this network's flag.
    pub fn first_release(self) -> Option<(u32, u32, u32)> {
        match self {
            Network::Mainnet | Network::Testnet3 | Network::Regtest => None,
            Network::Signet => Some((0, 22, 0)),
            Network::Testnet4 => Some((0, 25, 0)),
        }
    }

    /// Refuses a release that cannot run this network, before a task would crash-loop on an
    /// unknown flag. Release tags are `vMAJOR.MINOR.PATCH` (the trust policy's default pattern).
    pub fn check_release(self, tag: &str) -> Result<()> {
        let Some(first) = self.first_release() else { return Ok(()) };
        let refuse = |reason: String| Err(Error::NetworkUnsupported { network: self.name(), tag: tag.into(), reason });
        let version = tag.strip_prefix('v').and_then(|v| {
            let mut parts = v.split('.').map(|n| n.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??, parts.next()??)).filter(|_| parts.next().is_none())
        });
        let (major, minor, patch) = first;
        match version {
            Some(version) if version >= first => Ok(()),
            Some(_) => refuse(format!("btcd supports it from v{major}.{minor}.{patch}")),
            None => {
                refuse(format!("cannot tell the btcd release of {tag:?} (needs v{major}.{minor}.{patch} or later)"))
            }
        }
    }
}

/// The container health check's timing (seconds); the deploy wait is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheckTiming {
    pub interval: u32,
    pub timeout: u32,
    pub retries: u32,
    /// The longest ECS allows: btcd opens its database before RPC answers.
    pub start_period: u32,
}

pub const HEALTH_CHECK: HealthCheckTiming =
    HealthCheckTiming { interval: 30, timeout: 10, retries: 3, start_period: 300 };

impl HealthCheckTiming {
    /// HEALTH_CHECK with the interval of SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS: 5 (ECS's least)
    /// to 30. Never longer than HEALTH_CHECK's, which the deploy wait is derived from.
    pub fn from_env(env: &Env) -> Result<Self> {
        let interval: u32 = env.parsed_or("SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS", HEALTH_CHECK.interval)?;
        if !(5..=HEALTH_CHECK.interval).contains(&interval) {
            return Err(Error::config(format!(
                "SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS={interval} is not valid: 5 to {} seconds",
                HEALTH_CHECK.interval
            )));
        }
        Ok(HealthCheckTiming { interval, ..HEALTH_CHECK })
    }
}

pub struct TaskConfig {
    pub family: String,
    /// The running service, whose profile a release keeps.
    pub cluster: String,
    pub service: String,
    /// The steady profile's size: the sizing table's, or the stack's TaskCpu/TaskMemory.
    pub steady: crate::sizing::TaskSize,
    /// The sync profile's size: the sizing table's.
    pub sync: crate::sizing::TaskSize,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub log_group: String,
    pub region: String,
    pub file_system_id: String,
    pub access_point_id: String,
    pub network: Network,
    pub extra_args: Vec<String>,
    pub health_check_timing: HealthCheckTiming,
    /// Secrets Manager secret with `username` and `password` keys for btcd's RPC.
    pub rpc_secret_arn: String,
}

impl TaskConfig {
    pub fn size(&self, profile: Profile) -> crate::sizing::TaskSize {
        match profile {
            Profile::Steady => self.steady,
            Profile::Sync => self.sync,
        }
    }

    /// The task's size is the sizing table's steady size for the network
    /// ([`crate::sizing`]) unless SIGSHIP_TASK_CPU and SIGSHIP_TASK_MEMORY name another valid
    /// Fargate pair (empty: the table's).
    pub fn from_env(env: &Env) -> Result<Self> {
        let network = Network::parse(&env.optional("SIGSHIP_NETWORK").unwrap_or_else(|| "mainnet".into()))?;
        let table = crate::sizing::for_network(network);
        let steady = table.steady;
        let given = |name: &str| env.optional(name).filter(|v| !v.trim().is_empty());
        let number = |name: &str, default: u32| -> Result<u32> {
            given(name).map_or(Ok(default), |v| {
                v.trim().parse().map_err(|_| Error::config(format!("{name}={v:?} is not a number")))
            })
        };
        let size = crate::sizing::TaskSize {
            cpu: number("SIGSHIP_TASK_CPU", steady.cpu)?,
            memory_mib: number("SIGSHIP_TASK_MEMORY", steady.memory_mib)?,
            utxo_cache_mib: steady.utxo_cache_mib,
        };
        if !size.is_valid_on_fargate() {
            return Err(Error::config(format!(
                "TaskCpu {} with TaskMemory {} is not a Fargate size (see Fargate's table of CPU and memory pairs); \
                 leave both empty for the sizing table's {} vCPU, {} GB",
                size.cpu,
                size.memory_mib,
                steady.vcpu(),
                steady.memory_gb()
            )));
        }
        Ok(TaskConfig {
            family: env.optional("SIGSHIP_TASK_FAMILY").unwrap_or_else(|| "btcd".into()),
            cluster: env.required("SIGSHIP_CLUSTER")?,
            service: env.optional("SIGSHIP_SERVICE").unwrap_or_else(|| "btcd".into()),
            steady: size,
            sync: table.sync,
            execution_role_arn: env.required("SIGSHIP_EXECUTION_ROLE_ARN")?,
            task_role_arn: env.required("SIGSHIP_TASK_ROLE_ARN")?,
            log_group: env.required("SIGSHIP_LOG_GROUP")?,
            region: env.required("AWS_REGION")?,
            file_system_id: env.required("SIGSHIP_FILE_SYSTEM_ID")?,
            access_point_id: env.required("SIGSHIP_ACCESS_POINT_ID")?,
            network,
            extra_args: env
                .optional("SIGSHIP_BTCD_ARGS")
                .map(|a| a.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            health_check_timing: HealthCheckTiming::from_env(env)?,
            rpc_secret_arn: env.required("SIGSHIP_RPC_SECRET_ARN")?,
        })
    }
}

/// Everything the AWS adapter needs to register the task definition.
#[derive(Debug, Clone, PartialEq)]
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
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredTask {
    pub task_definition_arn: String,
    pub image: String,
    /// False when the latest revision already had exactly this content and was reused.
    pub registered: bool,
    /// The execution asked to deploy it even if it is older than the running release.
    #[serde(default)]
    pub allow_downgrade: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    pub verified: VerifiedTag,
    pub build: BuildState,
}

/// The newest ACTIVE revision of a family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestRevision {
    pub arn: String,
    /// Its [`SPEC_TAG`] value, if it has one (revisions from before the tag have none).
    pub fingerprint: Option<String>,
}

pub trait TaskDefinitions {
    async fn latest(&self, family: &str) -> Result<Option<LatestRevision>>;
    async fn register(&self, spec: &TaskSpec) -> Result<String>;
}

impl TaskSpec {
    /// A digest of everything the revision would contain except its tags: any change of image,
    /// command, size, roles, volume or secrets yields a new revision; nothing else does.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let content = TaskSpec { tags: Vec::new(), ..self.clone() };
        hex::encode(&sha2::Sha256::digest(format!("{content:?}").as_bytes())[..12])
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

/// The release a revision runs: its tag and commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub tag: String,
    pub commit: String,
}

impl From<&VerifiedTag> for Release {
    fn from(verified: &VerifiedTag) -> Self {
        Release { tag: verified.tag.clone(), commit: verified.commit.clone() }
    }
}

pub fn task_spec(config: &TaskConfig, profile: Profile, image: String, release: &Release) -> TaskSpec {
    let size = config.size(profile);
    let mut command = vec![
        format!("--datadir={CHAIN_DATA_PATH}/btcd"),
        format!("--logdir={}", log_dir()),
        // RPC stays inside the task: the health check reaches it on loopback, nothing else can.
        "--rpclisten=127.0.0.1".to_string(),
        "--notls".to_string(),
    ];
    command.extend(config.network.flag().map(String::from));
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
        p2p_port: config.network.p2p_port(),
        // Healthy means "RPC answers"; the image's entrypoint passes the credentials to btcd.
        // The RPC port is the network's: btcctl's default is mainnet's.
        health_check: vec!["CMD-SHELL".into(), health_check(config.network)],
        // Go's collector works harder as the heap nears 90 % of the task: btcd's cache and the
        // flush transaction beside it stay within the memory instead of being killed at its edge.
        environment: vec![
            (LOG_DIR_VARIABLE.into(), log_dir()),
            ("GOMEMLIMIT".into(), format!("{}MiB", size.memory_mib / 10 * 9)),
        ],
        health_check_timing: config.health_check_timing,
        secrets: vec![("BTCD_RPCUSER".into(), secret("username")), ("BTCD_RPCPASS".into(), secret("password"))],
        log_group: config.log_group.clone(),
        log_region: config.region.clone(),
        file_system_id: config.file_system_id.clone(),
        access_point_id: config.access_point_id.clone(),
        tags: vec![
            (MANAGED_TAG.into(), "true".into()),
            (RELEASE_TAG.into(), release.tag.clone()),
            (COMMIT_TAG.into(), release.commit.clone()),
            (PROFILE_TAG.into(), profile.name().into()),
        ],
    }
}

/// What register-task is asked: a release's revision (at the profile that runs now), or the
/// running release's revision at another profile (an execution `{"profile": …}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RegisterInput {
    Release(Box<RegisterRequest>),
    Reprofile(ReprofileRequest),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReprofileRequest {
    pub profile: Profile,
}

pub async fn handle(
    input: &RegisterInput,
    config: &TaskConfig,
    images: &impl ImageRegistry,
    tasks: &impl TaskDefinitions,
    services: &impl crate::deployment::Services,
    revisions: &impl crate::node::Revisions,
) -> Result<RegisteredTask> {
    let running = match services.describe(&config.cluster, &config.service).await? {
        Some(service) if service.status != crate::deployment::ServiceStatus::Inactive => {
            revisions.deployed(&service.task_definition).await?
        }
        _ => None,
    };
    match input {
        RegisterInput::Release(request) => {
            let profile = running.and_then(|r| r.profile).unwrap_or_default();
            register(request, profile, config, images, tasks).await
        }
        RegisterInput::Reprofile(ReprofileRequest { profile }) => {
            let running = running.ok_or_else(|| {
                Error::InvalidInput(format!("no release runs: nothing to run at the {} profile", profile.name()))
            })?;
            let (Some(tag), Some(commit)) = (running.release_tag, running.commit) else {
                return Err(Error::InvalidInput(format!(
                    "the running revision {} names no release (sigship:tag, sigship:commit)",
                    running.task_definition
                )));
            };
            let spec = task_spec(config, *profile, running.image.clone(), &Release { tag, commit });
            tracing::info!(profile = profile.name(), release = ?spec.tags, "the running release at another profile");
            register_spec(spec, config, tasks, false).await
        }
    }
}

pub async fn register(
    request: &RegisterRequest,
    profile: Profile,
    config: &TaskConfig,
    images: &impl ImageRegistry,
    tasks: &impl TaskDefinitions,
) -> Result<RegisteredTask> {
    config.network.check_release(&request.verified.tag)?;
    let repository = images.repository_uri().await?;
    let digest = images.digest_of(&request.build.image_tag).await?.ok_or_else(|| Error::ImageMissing {
        repository_uri: repository.clone(),
        image_tag: request.build.image_tag.clone(),
    })?;
    let spec = task_spec(config, profile, format!("{repository}@{digest}"), &Release::from(&request.verified));
    register_spec(spec, config, tasks, request.verified.allow_downgrade).await
}

/// Registers `spec`, or reuses the latest revision when it has exactly this content.
async fn register_spec(
    mut spec: TaskSpec,
    config: &TaskConfig,
    tasks: &impl TaskDefinitions,
    allow_downgrade: bool,
) -> Result<RegisteredTask> {
    let image = spec.image.clone();
    let fingerprint = spec.fingerprint();
    if let Some(LatestRevision { arn, fingerprint: Some(latest) }) = tasks.latest(&config.family).await? {
        if latest == fingerprint {
            tracing::info!(task_definition = %arn, %image, "latest revision already has this content; reusing it");
            return Ok(RegisteredTask { task_definition_arn: arn, image, registered: false, allow_downgrade });
        }
    }
    spec.tags.push((SPEC_TAG.into(), fingerprint));
    let arn = tasks.register(&spec).await?;
    tracing::info!(task_definition = %arn, %image, "task definition registered");
    Ok(RegisteredTask { task_definition_arn: arn, image, registered: true, allow_downgrade })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::BuildStatus;
    use crate::testing::{verified_tag, FakeRegistry, FakeTaskDefinitions};

    pub fn config() -> TaskConfig {
        TaskConfig {
            family: "btcd".into(),
            cluster: "sigship".into(),
            service: "btcd".into(),
            steady: crate::sizing::for_network(Network::Testnet3).steady,
            sync: crate::sizing::for_network(Network::Testnet3).sync,
            execution_role_arn: "arn:aws:iam::123456789012:role/exec".into(),
            task_role_arn: "arn:aws:iam::123456789012:role/task".into(),
            log_group: "/sigship/btcd".into(),
            region: "us-east-1".into(),
            file_system_id: "fs-1".into(),
            access_point_id: "fsap-1".into(),
            network: Network::Testnet3,
            extra_args: vec!["--maxpeers=16".into()],
            health_check_timing: HEALTH_CHECK,
            rpc_secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:rpc".into(),
        }
    }

    #[test]
    fn the_task_is_sized_from_the_sizing_table_unless_the_stack_names_a_valid_fargate_size() {
        let env = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                ("SIGSHIP_EXECUTION_ROLE_ARN", "e"),
                ("SIGSHIP_TASK_ROLE_ARN", "t"),
                ("SIGSHIP_LOG_GROUP", "/l"),
                ("AWS_REGION", "us-east-1"),
                ("SIGSHIP_FILE_SYSTEM_ID", "fs-1"),
                ("SIGSHIP_ACCESS_POINT_ID", "fsap-1"),
                ("SIGSHIP_RPC_SECRET_ARN", "s"),
                ("SIGSHIP_CLUSTER", "sigship"),
            ];
            all.extend_from_slice(pairs);
            TaskConfig::from_env(&Env::from_pairs(all))
        };
        for network in Network::ALL {
            let table = crate::sizing::for_network(network).steady;
            let config =
                env(&[("SIGSHIP_NETWORK", network.name()), ("SIGSHIP_TASK_CPU", ""), ("SIGSHIP_TASK_MEMORY", "")])
                    .unwrap();
            assert_eq!(config.steady, table);
            let spec = task_spec(
                &env(&[("SIGSHIP_NETWORK", network.name())]).unwrap(),
                Profile::Steady,
                "i".into(),
                &release(),
            );
            assert!(
                spec.command.contains(&format!("--utxocachemaxsize={}", table.utxo_cache_mib)),
                "{:?}",
                spec.command
            );
        }
        let chosen = env(&[("SIGSHIP_TASK_CPU", "2048"), ("SIGSHIP_TASK_MEMORY", "8192")]).unwrap();
        assert_eq!((chosen.steady.cpu, chosen.steady.memory_mib), (2048, 8192));
        let Err(refused) = env(&[("SIGSHIP_TASK_CPU", "1024"), ("SIGSHIP_TASK_MEMORY", "16384")]) else {
            panic!("1 vCPU with 16 GB is not a Fargate size")
        };
        assert!(refused.to_string().contains("is not a Fargate size"), "{refused}");
        // BtcdArgs' own cache size wins over the table's.
        let own = env(&[("SIGSHIP_BTCD_ARGS", "--utxocachemaxsize=64")]).unwrap();
        let spec = task_spec(&own, Profile::Steady, "i".into(), &release());
        assert_eq!(spec.command.iter().filter(|a| a.starts_with(UTXO_CACHE_FLAG)).count(), 1, "{:?}", spec.command);
    }

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

    /// A release keeps the profile that runs; `{"profile": …}` re-registers the running release at
    /// the other size (image, release tags kept; size and cache flag from the table).
    #[tokio::test]
    async fn a_release_keeps_the_running_profile_and_a_reprofile_runs_the_same_release_at_the_other_size() {
        use crate::testing::{FakeRevisions, FakeServices};
        let services = FakeServices::running("td:7", 1, 1);
        let images = FakeRegistry::with_image("v0.24.2-0123456789ab", "sha256:bb");
        let tasks = FakeTaskDefinitions::default();
        let syncing = FakeRevisions(vec![("td:7", "v0.24.1", "1111111111111111")], Some(Profile::Sync));
        let table = crate::sizing::for_network(Network::Testnet3);

        let released =
            handle(&RegisterInput::Release(Box::new(request())), &config(), &images, &tasks, &services, &syncing).await;
        released.unwrap();
        let spec = tasks.registered.lock().unwrap().last().cloned().unwrap();
        assert_eq!((spec.cpu, spec.memory), (table.sync.cpu.to_string(), table.sync.memory_mib.to_string()));
        assert!(spec.tags.contains(&(PROFILE_TAG.into(), "sync".into())), "{:?}", spec.tags);
        assert!(spec.command.contains(&format!("--utxocachemaxsize={}", table.sync.utxo_cache_mib)));
        let limit = format!("{}MiB", table.sync.memory_mib / 10 * 9);
        assert!(spec.environment.contains(&("GOMEMLIMIT".into(), limit)), "{:?}", spec.environment);

        let input: RegisterInput = serde_json::from_value(serde_json::json!({"profile": "steady"})).unwrap();
        let steady = handle(&input, &config(), &images, &tasks, &services, &syncing).await.unwrap();
        assert!(steady.registered);
        let spec = tasks.registered.lock().unwrap().last().cloned().unwrap();
        assert_eq!((spec.cpu, spec.memory), (table.steady.cpu.to_string(), table.steady.memory_mib.to_string()));
        assert_eq!(spec.image, format!("{}@sha256:{}", FakeRegistry::URI, "a".repeat(64)), "the running image");
        assert!(spec.tags.contains(&(RELEASE_TAG.into(), "v0.24.1".into())), "the running release");
        assert!(spec.tags.contains(&(PROFILE_TAG.into(), "steady".into())));

        // Without a running release there is nothing to resize; a revision from before profiles is steady.
        let none = FakeServices::settling();
        let err = handle(&input, &config(), &images, &tasks, &none, &FakeRevisions::default()).await.unwrap_err();
        assert_eq!(err.name(), "InvalidInput");
        let old = FakeRevisions(vec![("td:7", "v0.24.1", "1111111111111111")], None);
        handle(&RegisterInput::Release(Box::new(request())), &config(), &images, &tasks, &services, &old)
            .await
            .unwrap();
        let spec = tasks.registered.lock().unwrap().last().cloned().unwrap();
        assert_eq!(spec.cpu, table.steady.cpu.to_string());
    }

    fn release() -> Release {
        Release::from(&verified_tag("v0.26.0"))
    }

    fn request() -> RegisterRequest {
        let verified = verified_tag("v0.24.2");
        RegisterRequest {
            build: BuildState {
                status: BuildStatus::Succeeded,
                image_tag: crate::build::image_tag(&verified.tag, &verified.commit),
                commit: verified.commit.clone(),
                build_id: None,
                skipped: true,
                attempt: 0,
                poll_seconds: 5,
            },
            verified,
        }
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
            let spec =
                task_spec(&TaskConfig { network, ..config() }, Profile::Steady, "img@sha256:0".into(), &release());
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

    #[test]
    fn the_health_check_interval_is_ecs_s_least_to_the_default() {
        let timing =
            |raw: &str| HealthCheckTiming::from_env(&Env::from_pairs([("SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS", raw)]));
        assert_eq!(timing("5").unwrap(), HealthCheckTiming { interval: 5, ..HEALTH_CHECK });
        assert_eq!(HealthCheckTiming::from_env(&Env::from_pairs([])).unwrap(), HEALTH_CHECK);
        for bad in ["4", "31", "soon"] {
            assert!(timing(bad).unwrap_err().to_string().contains("SIGSHIP_HEALTH_CHECK_INTERVAL_SECONDS"), "{bad}");
        }
    }

    #[test]
    fn a_release_older_than_the_network_is_refused_by_name() {
        for (network, tag, ok) in [
            // v0.25.0 is testnet4's first release (`--testnet4` in its config.go; run and seen).
            (Network::Testnet4, "v0.25.0", true),
            (Network::Testnet4, "v0.24.2", false),
            (Network::Regtest, "v0.20.1", true),
            (Network::Testnet4, "v1.0.0", true),
            (Network::Signet, "v0.22.0", true),
            (Network::Signet, "v0.21.5", false),
            (Network::Mainnet, "v0.20.1", true),
            (Network::Testnet3, "anything", true),
            (Network::Testnet4, "release-2026", false),
            (Network::Testnet4, "v0.25", false),
        ] {
            let checked = network.check_release(tag);
            assert_eq!(checked.is_ok(), ok, "{network:?} {tag}: {checked:?}");
            if let Err(err) = checked {
                assert_eq!(err.name(), "NetworkUnsupported");
                assert!(err.to_string().contains(network.name()) && err.to_string().contains(tag), "{err}");
            }
        }
    }

    #[tokio::test]
    async fn register_task_refuses_a_release_that_cannot_run_the_network() {
        let mut request = request();
        request.verified.tag = "v0.24.2".into();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let config = TaskConfig { network: Network::Testnet4, ..config() };
        let err = register(&request, Profile::Steady, &config, &images, &tasks).await.unwrap_err();
        assert_eq!(err.name(), "NetworkUnsupported", "{err}");
        assert!(tasks.registered.lock().unwrap().is_empty(), "no task definition for a release that would crash-loop");
    }

    #[tokio::test]
    async fn registers_the_image_by_digest_with_secrets_by_reference() {
        let request = request();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let registered = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        assert!(registered.registered);
        assert_eq!(registered.image, format!("{}@sha256:abc", FakeRegistry::URI));
        let specs = tasks.registered.lock().unwrap();
        let spec = &specs[0];
        assert_eq!(spec.image, registered.image);
        assert!(spec.command.contains(&"--testnet".to_string()));
        assert!(spec.command.contains(&"--maxpeers=16".to_string()));
        assert_eq!(spec.p2p_port, 18333);
        assert!(spec.health_check[1].contains("--rpcserver=127.0.0.1:18334 "), "{:?}", spec.health_check);
        assert!(spec.secrets.iter().all(|(_, from)| from.starts_with("arn:aws:secretsmanager:")));
        assert!(spec.tags.contains(&(COMMIT_TAG.into(), request.verified.commit.clone())));
    }

    #[tokio::test]
    async fn reuses_the_latest_revision_when_it_runs_the_same_image() {
        let request = request();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let first = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        let second = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        assert_eq!(first.task_definition_arn, second.task_definition_arn);
        assert!(!second.registered);
        assert_eq!(tasks.registered.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_configuration_change_registers_a_new_revision() {
        let request = request();
        let images = FakeRegistry::with_image(&request.build.image_tag, "sha256:abc");
        let tasks = FakeTaskDefinitions::default();
        let first = register(&request, Profile::Steady, &config(), &images, &tasks).await.unwrap();
        let bigger = TaskConfig { steady: crate::sizing::TaskSize { memory_mib: 8192, ..config().steady }, ..config() };
        let second = register(&request, Profile::Steady, &bigger, &images, &tasks).await.unwrap();
        assert!(second.registered);
        assert_ne!(first.task_definition_arn, second.task_definition_arn);
        assert_eq!(tasks.registered.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_missing_image_is_a_named_error() {
        let err =
            register(&request(), Profile::Steady, &config(), &FakeRegistry::default(), &FakeTaskDefinitions::default())
                .await
                .unwrap_err();
        assert_eq!(err.name(), "ImageMissing");
    }
}
