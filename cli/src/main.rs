//! `sigship`: the operator CLI. `verify` runs exactly the verify Lambda's code path; `up` and
//! `down` bootstrap and tear down the stack in `infrastructure/`; `run`, `status`, `destroy` and
//! `logs` operate the deployed pipeline.

mod artifacts;
mod bootstrap;
mod bucket;
mod cloud;
mod compose_form;
mod doctor;
mod error;
mod execution;
mod operate;
mod registry;
mod releases;
mod reproduce;
mod stack;
mod triggers;
mod trust;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, Result};

/// Where a checkout keeps the btcd trust root.
const DEFAULT_TRUST_ROOT: &str = "infrastructure/trust/btcd";

#[derive(Parser)]
#[command(name = "sigship", version, about = "Verify, build and run maintainer-signed releases")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the stack lives. Credentials come from the standard AWS chain (environment, profile, SSO).
#[derive(Args)]
struct Connection {
    /// CloudFormation stack name; also names the cluster, repository and functions.
    #[arg(long, env = "SIGSHIP_STACK_NAME", default_value = "sigship")]
    stack_name: String,
    /// AWS region [default: from AWS_REGION or the profile].
    #[arg(long)]
    region: Option<String>,
    /// Send every AWS call here instead (the local cloud).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

/// A deployed pipeline: the connection and where its state machine and service are.
#[derive(Args)]
struct Deployed {
    #[command(flatten)]
    connection: Connection,
    #[command(flatten)]
    pipeline: operate::PipelineOptions,
}

#[derive(Subcommand)]
enum TrustAction {
    /// Download the certificates the policy pins that the directory lacks; check every pinned one.
    Fetch {
        /// Trust root directory [default: <root>/infrastructure/trust/btcd].
        #[arg(long)]
        trust: Option<PathBuf>,
        /// The sigship checkout.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Verify a release tag's signature and name against a trust root, as the pipeline does.
    Verify(verify::VerifyArgs),
    /// Upload the function zips, trust root and definitions, then create or update the stack.
    Up {
        #[command(flatten)]
        connection: Connection,
        /// Artifacts bucket [default: the stack's, else <stack>-<account>-<region>-an, in the account regional namespace].
        #[arg(long, env = "SIGSHIP_ARTIFACTS_BUCKET")]
        bucket: Option<String>,
        /// The sigship checkout (infrastructure/, statemachine/, source/).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Output of `cargo lambda build --release --arm64 --output-format zip` [default: <root>/target/lambda].
        #[arg(long)]
        functions: Option<PathBuf>,
        /// Trust root directory: policy.toml plus the signers' certificates [default: <root>/infrastructure/trust/btcd].
        #[arg(long)]
        trust: Option<PathBuf>,
        /// A stack parameter, e.g. Network=testnet (repeatable). Parameters not given keep their current value.
        #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = parse_parameter)]
        parameters: Vec<(String, String)>,
        /// Deploy a release once the stack is up: `newest`, or a tag such as v0.24.2. Nothing
        /// is deployed unless asked; the watch starts only releases that appear later.
        #[arg(long, value_name = "newest|TAG")]
        release: Option<String>,
        /// Create the stack without asking (it bills monthly; the preflight says how much).
        #[arg(long)]
        yes: bool,
    },
    /// The preflight `up` runs before it creates anything: account and region, CodeBuild's ARM
    /// build quota, the stack's state, the node's monthly cost.
    Doctor {
        #[command(flatten)]
        connection: Connection,
        /// The network the node would join [default: the stack's, else mainnet].
        #[arg(long, value_enum)]
        network: Option<pipeline::network::Network>,
        /// A stack parameter as `up` would be given it, e.g. SyncTaskCpu=4096 (repeatable).
        #[arg(long = "parameter", value_name = "KEY=VALUE", value_parser = parse_parameter)]
        parameters: Vec<(String, String)>,
        /// The artifacts bucket `up` would be given [default: the stack's, else <stack>-<account>-<region>-an].
        #[arg(long, env = "SIGSHIP_ARTIFACTS_BUCKET")]
        bucket: Option<String>,
    },
    /// Destroy everything the pipeline deployed, then delete the stack and the artifacts bucket.
    Down {
        #[command(flatten)]
        connection: Connection,
        /// Artifacts bucket [default: the stack's, else <stack>-<account>-<region>-an, in the account regional namespace].
        #[arg(long, env = "SIGSHIP_ARTIFACTS_BUCKET")]
        bucket: Option<String>,
        /// Keep the chain data file system (it keeps billing; the stack retains it).
        #[arg(long)]
        keep_chain_data: bool,
    },
    /// Deploy a release tag: start an execution and follow it state by state until it ends.
    Run {
        #[command(flatten)]
        at: Deployed,
        /// The release tag, e.g. v0.24.2.
        #[arg(long, required_unless_present = "profile")]
        tag: Option<String>,
        /// Deploy it even if it is older than the running release (refused otherwise, as `Downgrade`).
        #[arg(long, requires = "tag")]
        allow_downgrade: bool,
        /// Run the running release at this profile's size instead: sync (catching up: the whole
        /// UTXO set in btcd's cache) or steady (following the tip); see `sigship plan`.
        #[arg(long, value_enum, conflicts_with = "tag")]
        profile: Option<pipeline::sizing::Profile>,
        /// Deploy even while the node syncs at its sync size (refused otherwise: the stop would
        /// cost the sync; the refusal says what).
        #[arg(long)]
        now: bool,
    },
    /// The digests builds pull the base images by (recorded by the first build that pulled
    /// each); with --move, forget them: the next build pulls by tag and records anew.
    BaseImages {
        #[command(flatten)]
        connection: Connection,
        /// Forget the recorded digests (an explicit move to what the tags name now).
        #[arg(long = "move")]
        move_them: bool,
    },
    /// Lift the pin an operator's run of an older release set: the watch starts newer releases
    /// again as they appear.
    Follow {
        #[command(flatten)]
        at: Deployed,
    },
    /// Show an execution (default: the newest), its states, and the node: release, tasks, sync height and lag.
    Status {
        #[command(flatten)]
        at: Deployed,
        /// Execution name or ARN.
        execution: Option<String>,
        /// Follow it until it ends, if it is running.
        #[arg(long, conflicts_with = "json")]
        follow: bool,
        /// Print one JSON document (the execution and the node) for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Tear down by execution: the service, the images, or everything.
    Destroy {
        #[command(flatten)]
        at: Deployed,
        /// What to tear down.
        #[arg(value_enum, default_value = "service")]
        scope: pipeline::teardown::Scope,
        /// With `everything`: delete the chain data file system too.
        #[arg(long)]
        delete_chain_data: bool,
    },
    /// What a node of a network needs and costs: data size, initial sync estimate per profile,
    /// the monthly bill line by line (from the sizing table register-task uses).
    Plan {
        /// The network.
        #[arg(long, value_enum, default_value = "mainnet")]
        network: pipeline::network::Network,
        /// Print the cost page for every network (docs/costs.md is this output).
        #[arg(long, conflicts_with = "network")]
        markdown: bool,
        /// CPU units of a sync task of your own (the stack's SyncTaskCpu), e.g. one your Fargate
        /// vCPU quota can place; with --sync-memory.
        #[arg(long, requires = "sync_memory")]
        sync_cpu: Option<String>,
        /// Its memory, MiB (SyncTaskMemory); the plan gives it the largest cache that fits.
        #[arg(long, requires = "sync_cpu")]
        sync_memory: Option<String>,
    },
    /// The trust root's certificates: `fetch` downloads each one its policy pins and the
    /// directory lacks (HTTPS, SHA-256 and fingerprint checked) and saves it there for review.
    Trust {
        #[command(subcommand)]
        action: TrustAction,
    },
    /// Prove the node runs exactly the signed source: verify the release tag against the trust
    /// root here, rebuild btcd and btcctl from its commit with the image's Go, pull the image
    /// from the registry by digest and compare the binaries byte for byte. Exits 1 on a mismatch.
    Reproduce {
        #[command(flatten)]
        at: Deployed,
        #[command(flatten)]
        which: reproduce::Which,
        /// Trust root directory [default: <root>/infrastructure/trust/btcd].
        #[arg(long)]
        trust: Option<PathBuf>,
        /// The sigship checkout holding the trust root.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Fetch the release from this repository [default: the stack's RepositoryUrl].
        #[arg(long)]
        repository: Option<String>,
        #[command(flatten)]
        release: reproduce::ReleaseFiles,
    },
    /// Show the functions' log lines written while an execution ran (default: the newest).
    Logs {
        #[command(flatten)]
        at: Deployed,
        /// Execution name or ARN.
        execution: Option<String>,
        /// Log groups to read [default: /aws/lambda/<stack>-].
        #[arg(long)]
        log_group_prefix: Option<String>,
    },
}

fn parse_parameter(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

fn main() -> ExitCode {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    // The design's `destroy=everything` (docker-compose run ci destroy=everything) is `down`.
    let args = match compose_form::rewrite(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(refused) => {
            eprintln!("sigship: {refused}");
            return ExitCode::from(2);
        }
    };
    let outcome = match Cli::parse_from(args).command {
        Command::Verify(args) => return runtime.block_on(verify::run(args)),
        Command::Plan { network, markdown, sync_cpu, sync_memory } => {
            if markdown {
                print!("{}", pipeline::sizing::cost_page());
                return ExitCode::SUCCESS;
            }
            let chain = pipeline::sizing::for_network(network);
            match chain.chosen(pipeline::sizing::Profile::Sync, sync_cpu.as_deref(), sync_memory.as_deref()) {
                Ok(sync) => {
                    print!("{}", pipeline::sizing::plan(network, Some(sync)));
                    Ok(())
                }
                Err(e) => Err(Error::Usage(e.to_string())),
            }
        }
        Command::Trust { action: TrustAction::Fetch { trust, root } } => runtime.block_on(async {
            let dir = trust.unwrap_or_else(|| root.join(DEFAULT_TRUST_ROOT));
            let outcomes = trust::complete(&dir).await?;
            println!("trust root {}: {} pinned certificates", dir.display(), outcomes.len());
            trust::describe(&outcomes, &dir).iter().for_each(|line| println!("{line}"));
            pipeline::verify::TrustRoot::from_dir(&dir).map(|_| ()).map_err(Error::TrustRoot)
        }),
        Command::Doctor { connection, network, mut parameters, bucket } => runtime.block_on(async {
            let (cloud, stack) = connect(connection).await?;
            parameters.extend(network.map(|n| ("Network".to_string(), n.name().to_string())));
            let node = bootstrap::node_of(&cloud, &stack, &parameters).await?;
            let preflight = doctor::run(&cloud, &stack, &node, bucket.as_deref()).await;
            preflight.print();
            preflight.check()
        }),
        Command::Up { connection, bucket, root, functions, trust, parameters, release, yes } => {
            let checkout = artifacts::Checkout {
                functions: functions.unwrap_or_else(|| root.join("target/lambda")),
                trust_root: trust.unwrap_or_else(|| root.join(DEFAULT_TRUST_ROOT)),
                root,
            };
            runtime.block_on(async {
                let (cloud, stack) = connect(connection).await?;
                let target = bootstrap::Target { stack, bucket };
                let deploy = bootstrap::Deploy::parse(release.as_deref());
                bootstrap::up(&cloud, &target, &checkout, &parameters, &deploy, yes).await
            })
        }
        Command::Down { connection, bucket, keep_chain_data } => runtime.block_on(async {
            let (cloud, stack) = connect(connection).await?;
            bootstrap::down(&cloud, &bootstrap::Target { stack, bucket }, keep_chain_data).await
        }),
        Command::Run { at, tag, allow_downgrade, profile, now } => runtime.block_on(async {
            let (cloud, _, located) = locate(at).await?;
            if profile != Some(pipeline::sizing::Profile::Sync) {
                operate::check_not_syncing(&cloud, &located, tag.as_deref(), now).await?;
            }
            match (tag, profile) {
                (Some(tag), _) => operate::run_release(&cloud, &located, &tag, allow_downgrade).await,
                (None, Some(profile)) => {
                    operate::check_profile_fits(&cloud, &located, profile).await?;
                    let input = serde_json::json!({ "profile": profile });
                    operate::start_and_follow(&cloud, &located, &operate::profile_name(profile), input).await
                }
                (None, None) => Err(Error::Usage("--tag or --profile".into())),
            }
        }),
        Command::BaseImages { connection, move_them } => runtime.block_on(async {
            let (cloud, stack) = connect(connection).await?;
            let parameter = pipeline::aws::BaseImagesParameter::of_stack(&cloud.sdk, &stack);
            println!("{}", releases::base_images(&parameter, move_them).await?);
            Ok(())
        }),
        Command::Follow { at } => runtime.block_on(async {
            let (_, stack, located) = locate(at).await?;
            let parameters = located.watch.as_ref().ok_or_else(|| {
                Error::Usage(format!("stack {stack} keeps no release pin (run `sigship up` to update it)"))
            })?;
            println!("{}", releases::follow(parameters).await?);
            Ok(())
        }),
        Command::Status { at, execution, follow, json } => runtime.block_on(async {
            let (cloud, _, located) = locate(at).await?;
            let output = if json { operate::Output::Json } else { operate::Output::Text };
            operate::status(&cloud, &located, execution.as_deref(), follow, output).await?;
            if !json {
                if let Some(line) = operate::watch_line(&located).await? {
                    println!("{line}");
                }
            }
            Ok(())
        }),
        Command::Destroy { at, scope, delete_chain_data } => runtime.block_on(async {
            use pipeline::teardown::{ChainData, DestroyRequest, Scope};
            if delete_chain_data && scope != Scope::Everything {
                return Err(Error::Usage("--delete-chain-data goes with `everything`".into()));
            }
            let (cloud, _, located) = locate(at).await?;
            let chain_data = if delete_chain_data { ChainData::Delete } else { ChainData::Keep };
            let input = DestroyRequest { destroy: scope, chain_data }.input();
            operate::start_and_follow(&cloud, &located, &operate::destroy_name(scope.name()), input).await
        }),
        Command::Reproduce { at, which, trust, root, repository, release } => {
            let verdict = runtime.block_on(async {
                let (cloud, stack, located) = locate(at).await?;
                let trust = trust.unwrap_or_else(|| root.join(DEFAULT_TRUST_ROOT));
                let release = release.archive.is_some().then_some(&release);
                let options = reproduce::Options { trust: &trust, repository, release };
                reproduce::run(&cloud, &stack, &located, &which, &options).await
            });
            match verdict {
                Ok(pipeline::build::reproduce::Verdict::Match) => return ExitCode::SUCCESS,
                Ok(pipeline::build::reproduce::Verdict::Mismatch) => return ExitCode::FAILURE,
                Err(err) => Err(err),
            }
        }
        Command::Logs { at, execution, log_group_prefix } => runtime.block_on(async {
            let (cloud, stack, located) = locate(at).await?;
            let prefix = log_group_prefix.unwrap_or_else(|| format!("/aws/lambda/{stack}-"));
            operate::logs(&cloud, &located, execution.as_deref(), &prefix).await
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err @ Error::Interrupted { .. }) => {
            eprintln!("sigship: {err}");
            ExitCode::from(130)
        }
        Err(err) => {
            eprintln!("sigship: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn locate(at: Deployed) -> Result<(cloud::Cloud, String, operate::Pipeline)> {
    let (cloud, stack) = connect(at.connection).await?;
    let located = operate::locate(&cloud, &stack, &at.pipeline).await?;
    Ok((cloud, stack, located))
}

async fn connect(options: Connection) -> Result<(cloud::Cloud, String)> {
    bootstrap::check_stack_name(&options.stack_name)?;
    let cloud = cloud::Cloud::connect(options.region, options.endpoint_url).await?;
    Ok((cloud, options.stack_name))
}
