//! `sigship`: the operator CLI. `verify` runs exactly the verify Lambda's code path; `up` and
//! `down` bootstrap and tear down the stack in `infrastructure/`.

mod artifacts;
mod bootstrap;
mod bucket;
mod cloud;
mod error;
mod execution;
mod stack;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::Result;

#[derive(Parser)]
#[command(name = "sigship", version, about = "Verify, build and run maintainer-signed releases")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the stack lives. Credentials come from the standard AWS chain (environment, profile, SSO).
#[derive(Args)]
struct StackOptions {
    /// CloudFormation stack name; also names the cluster, repository and functions.
    #[arg(long, env = "SIGSHIP_STACK_NAME", default_value = "sigship")]
    stack_name: String,
    /// Artifacts bucket [default: <stack>-artifacts-<account>-<region>].
    #[arg(long, env = "SIGSHIP_ARTIFACTS_BUCKET")]
    bucket: Option<String>,
    /// AWS region [default: from AWS_REGION or the profile].
    #[arg(long)]
    region: Option<String>,
    /// Send every AWS call here instead (the local cloud).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a release tag's signature and name against a trust root, as the pipeline does.
    Verify(verify::VerifyArgs),
    /// Upload the function zips, trust root and definitions, then create or update the stack.
    Up {
        #[command(flatten)]
        stack: StackOptions,
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
    },
    /// Destroy everything the pipeline deployed, then delete the stack and the artifacts bucket.
    Down {
        #[command(flatten)]
        stack: StackOptions,
        /// Keep the chain data file system (it keeps billing; the stack retains it).
        #[arg(long)]
        keep_chain_data: bool,
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
    let outcome = match Cli::parse().command {
        Command::Verify(args) => return runtime.block_on(verify::run(args)),
        Command::Up { stack, root, functions, trust, parameters } => {
            let checkout = artifacts::Checkout {
                functions: functions.unwrap_or_else(|| root.join("target/lambda")),
                trust_root: trust.unwrap_or_else(|| root.join("infrastructure/trust/btcd")),
                root,
            };
            runtime.block_on(async {
                let (cloud, target) = connect(stack).await?;
                bootstrap::up(&cloud, &target, &checkout, &parameters).await
            })
        }
        Command::Down { stack, keep_chain_data } => runtime.block_on(async {
            let (cloud, target) = connect(stack).await?;
            bootstrap::down(&cloud, &target, keep_chain_data).await
        }),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sigship: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn connect(options: StackOptions) -> Result<(cloud::Cloud, bootstrap::Target)> {
    bootstrap::check_stack_name(&options.stack_name)?;
    let cloud = cloud::Cloud::connect(options.region, options.endpoint_url).await?;
    Ok((cloud, bootstrap::Target { stack: options.stack_name, bucket: options.bucket }))
}
