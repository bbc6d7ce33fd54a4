//! `sigship verify`: the verify Lambda's code path against any repository and trust root.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use pipeline::verify::{self, TagRequest, TrustRoot, VerifiedTag, VerifyConfig};

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Git URL (https; http or git:// on loopback) or a local repository path.
    #[arg(long)]
    repository: String,
    /// The tag to verify, e.g. v0.24.2.
    #[arg(long)]
    tag: String,
    /// Trust root directory: policy.toml plus the signers' certificates.
    #[arg(long)]
    trust: PathBuf,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
    /// Give up on the remote after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

pub async fn run(args: VerifyArgs) -> ExitCode {
    let VerifyArgs { repository, tag, trust, json, timeout } = args;
    let outcome = async {
        let trust = TrustRoot::from_dir(&trust)?;
        let config = VerifyConfig {
            default_repository_url: None,
            fetch_timeout: Duration::from_secs(timeout),
            allow_local_paths: true,
        };
        verify::verify(
            &TagRequest { tag: tag.clone(), repository: Some(repository), allow_downgrade: false, requested_by: None },
            &config,
            &trust,
        )
        .await
    }
    .await;
    match outcome {
        Ok(verified) => {
            if json {
                println!("{}", serde_json::json!({"verdict": "verified", "result": verified}));
            } else {
                print_verified(&verified);
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"verdict": "rejected", "errorType": err.name(), "errorMessage": err.to_string()})
                );
            } else {
                eprintln!("REJECTED {tag}: {}: {err}", err.name());
            }
            ExitCode::FAILURE
        }
    }
}

fn print_verified(verified: &VerifiedTag) {
    println!("VERIFIED {} in {}", verified.tag, verified.repository);
    for signer in &verified.signers {
        println!("  signer      {} ({})", signer.label, signer.fingerprint);
    }
    println!("  signed at   {}", verified.signed_at);
    println!("  tag object  {}", verified.tag_object_id);
    println!("  commit      {}", verified.commit);
}
