//! The stack the local cloud runs: stood up by `sigship up` from `infrastructure/sigship.yaml`,
//! exactly as in AWS (same template, artifacts, substitutions, variables and roles). Only the
//! parameter values differ: the repository is the local git server's, and the poll intervals are
//! one second so a run takes seconds rather than minutes.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// The name the local cloud deploys its stack under (`sigship up`'s default too).
pub const STACK_NAME: &str = "sigship";

/// Where the stack's parts are, read from its outputs and parameters.
#[derive(Clone, Debug)]
pub struct Stack {
    pub name: String,
    pub state_machine_arn: String,
    pub cluster: String,
    pub service: String,
    /// The ECR repository's name (the output is its URI).
    pub ecr_repository: String,
    pub build_project: String,
    pub file_system_id: String,
    /// Where btcd's tasks log (the awslogs driver's group).
    pub daemon_log_group: String,
    pub artifacts_bucket: String,
    pub webhook_secret_arn: String,
    pub operator_policy_arn: String,
    /// The tag-push function's URL on the router (see [`crate::router`]).
    pub webhook_path: String,
    /// Every parameter's current value.
    pub parameters: HashMap<String, String>,
}

impl Stack {
    /// The ARN of the state machine's execution called `name`.
    pub fn execution_arn(&self, name: &str) -> String {
        pipeline::queue::execution_arn(&self.state_machine_arn, name).expect("the stack's state machine ARN")
    }

    /// The deployed name of one of [`crate::FUNCTIONS`].
    pub fn function(&self, name: &str) -> String {
        format!("{}-{name}", self.name)
    }

    pub async fn describe(sdk: &aws_config::SdkConfig, name: &str) -> Self {
        let cfn = aws_sdk_cloudformation::Client::new(sdk);
        let described = cfn.describe_stacks().stack_name(name).send().await.expect("describe the stack");
        let stack = described.stacks().first().expect("the stack exists");
        let pairs = |pairs: Vec<(Option<&str>, Option<&str>)>| -> HashMap<String, String> {
            pairs.into_iter().filter_map(|(k, v)| Some((k?.to_string(), v?.to_string()))).collect()
        };
        let outputs = pairs(stack.outputs().iter().map(|o| (o.output_key(), o.output_value())).collect());
        let parameters = pairs(stack.parameters().iter().map(|p| (p.parameter_key(), p.parameter_value())).collect());
        let output =
            |key: &str| outputs.get(key).cloned().unwrap_or_else(|| panic!("stack {name} has no output {key}"));
        let repository_uri = output("ImageRepositoryUri");
        Stack {
            name: name.to_string(),
            state_machine_arn: output("StateMachineArn"),
            cluster: output("ClusterName"),
            service: output("ServiceName"),
            ecr_repository: repository_uri.rsplit('/').next().unwrap_or_default().to_string(),
            build_project: output("BuildProjectName"),
            file_system_id: output("ChainDataFileSystemId"),
            daemon_log_group: output("DaemonLogGroup"),
            artifacts_bucket: parameters.get("ArtifactsBucket").cloned().unwrap_or_default(),
            webhook_secret_arn: output("WebhookSecretArn"),
            operator_policy_arn: output("OperatorPolicyArn"),
            webhook_path: format!("/lambda-url/{name}-tag-push/"),
            parameters,
        }
    }
}

/// `<dir>/<name>/bootstrap.zip` as `cargo lambda build --output-format zip` lays them out. The
/// runtime host runs the host binaries itself; each zip's `bootstrap` names the one it stands for.
pub fn function_zips(dir: &Path, binaries: &Path) {
    for name in crate::FUNCTIONS {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join(name).join("bootstrap.zip")).unwrap());
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        zip.start_file("bootstrap", options).unwrap();
        writeln!(zip, "#!/bin/sh\nexec {} \"$@\"", binaries.join(name).display()).unwrap();
        zip.finish().unwrap();
    }
}

/// The trust root `sigship up` uploads, as a directory.
pub fn write_trust_root(dir: &Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Runs the `sigship` binary with `env`; echoes and returns (exit code, stdout, stderr).
pub async fn sigship(binary: &Path, args: Vec<String>, env: Vec<(&'static str, String)>) -> (i32, String, String) {
    let binary = binary.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(&binary)
            .args(&args)
            .envs(env)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
        print!("{stdout}");
        eprint!("{stderr}");
        (out.status.code().unwrap_or(-1), stdout, stderr)
    })
    .await
    .unwrap()
}
