//! Per function, on the local cloud with the host release binaries: Init (process spawn to its
//! first poll of the Runtime API: Lambda's Init phase — runtime, logging, SDK clients),
//! peak RSS and the first invocation; beside it a Python/boto3 function's Init measured the same
//! way by the same runtime host.

use std::path::Path;
use std::time::{Duration, Instant};

use localcloud::runtime::{Function, FunctionDefinition, Outcome};
use localcloud::LocalCloud;

use super::{Spread, RUNS};

pub struct Figures {
    pub name: &'static str,
    pub init: Spread,
    pub first_invocation: Spread,
    pub peak_rss_kib: u64,
    pub python_init: Spread,
}

/// A cheap but real first request per function: each parses its input and most make AWS calls.
fn payload(function: &str) -> serde_json::Value {
    use serde_json::json;
    match function {
        // Reads the trust root from S3 (first invocation); the name policy then refuses the tag.
        "verify" => json!({"tag": "btcec/v2.4.0"}),
        "trigger-build" => json!({"action": "poll", "build": {"status": "SUCCEEDED", "imageTag": "v0.0.0-000000000000",
            "commit": "0000000000000000000000000000000000000000", "buildId": null, "skipped": true, "attempt": 0, "pollSeconds": 1}}),
        "register-task" => {
            json!({"verified": {"repository": "git://127.0.0.1/btcd", "tag": "v0.0.0", "tagObjectId": "0", "commit": "0",
            "signers": [], "signedAt": "2026-01-01T00:00:00Z"}, "build": {"status": "SUCCEEDED", "imageTag": "v0.0.0-000000000000",
            "commit": "0", "buildId": null, "skipped": true, "attempt": 0, "pollSeconds": 1}})
        }
        "deploy" => {
            json!({"action": "poll", "deployment": {"status": "IN_PROGRESS", "cluster": "sigship", "service": "btcd",
            "taskDefinitionArn": "btcd:1", "change": "created", "attempt": 0, "pollSeconds": 1}})
        }
        "destroy" => json!({"destroy": "service"}),
        // Lists the running executions.
        "queue" => json!({"execution": "arn:aws:states:us-east-1:123456789012:execution:sigship:bench",
            "startedAt": "2026-01-01T00:00:00Z"}),
        // Reads trust root and secret (first invocation); an unsigned delivery is refused (401).
        "tag-push" => {
            json!({"version": "2.0", "headers": {"x-github-event": "push"}, "body": "{}", "isBase64Encoded": false,
            "requestContext": {"timeEpoch": 0, "http": {"method": "POST", "path": "/"}}})
        }
        // Lists the repository's tags over git and the executions.
        "tag-watch" => json!({}),
        other => unreachable!("no bench request for {other}"),
    }
}

/// The boto3 clients a Python function doing the same job builds at Init.
fn boto3_clients(function: &str) -> &'static [&'static str] {
    match function {
        "verify" => &["s3"],
        "trigger-build" => &["codebuild", "ecr"],
        "register-task" => &["ecr", "ecs"],
        "deploy" => &["ecs"],
        "destroy" => &["ecr", "ecs", "efs"],
        "queue" => &["stepfunctions"],
        "tag-push" => &["s3", "secretsmanager", "stepfunctions"],
        "tag-watch" => &["s3", "stepfunctions"],
        other => unreachable!("no boto3 equivalent for {other}"),
    }
}

/// A Python Lambda function reduced to its Init: import boto3, build the clients, then serve the
/// Runtime API with the standard library (what a custom runtime does; the managed Python runtime
/// adds its own bootstrap on top).
fn python_function(python: &Path, clients: &[&str]) -> String {
    format!(
        r#"#!{python}
import os, urllib.request
import boto3
clients = [boto3.client(name) for name in {clients:?}]
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as next_invocation:
        request_id = next_invocation.headers["lambda-runtime-aws-request-id"]
        next_invocation.read()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=b"{{}}", method="POST")).read()
"#,
        python = python.display()
    )
}

/// Cold starts `function` [`RUNS`] times: its Init, the invocation after it, and the peak RSS.
async fn cold_starts(
    function: &std::sync::Arc<Function>,
    definition: &FunctionDefinition,
    body: &bytes::Bytes,
) -> Result<(Vec<Duration>, Vec<Duration>, u64), String> {
    let (mut inits, mut invocations, mut peak) = (Vec::new(), Vec::new(), 0);
    for _ in 0..RUNS {
        function.stop().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let outcome = function.invoke(body.clone(), async || definition.clone()).await;
        let total = started.elapsed();
        let Some(init) = function.init_duration().await else {
            let (Outcome::Response(body) | Outcome::Error(body)) = outcome;
            return Err(format!("{}: no Init recorded; it answered {}", function.name, String::from_utf8_lossy(&body)));
        };
        inits.push(init);
        invocations.push(total.saturating_sub(init));
        peak = peak.max(function.peak_rss_kib().await.unwrap_or(0));
    }
    function.stop().await;
    Ok((inits, invocations, peak))
}

pub async fn measure(cloud: &LocalCloud, python: &Path, scratch: &Path) -> Result<Vec<Figures>, String> {
    let mut rows = Vec::new();
    for name in crate::tools::functions() {
        let deployed = cloud.stack.function(name);
        let function = cloud.router.functions[&deployed].clone();
        let definition = cloud.router.definition(&deployed).await;
        let (inits, invocations, peak_rss_kib) =
            cold_starts(&function, &definition, &bytes::Bytes::from(payload(name).to_string())).await?;

        // Not `<name>.py`: the script's directory is on sys.path, and `queue.py` would shadow the standard library's.
        let script = scratch.join(format!("{name}.python"));
        std::fs::write(&script, python_function(python, boto3_clients(name))).expect("python function");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let log = scratch.join(format!("{name}.python.log"));
        let boto3 = Function::host(name, script, log, function.base_env().to_vec(), None).await;
        let (python_inits, _, _) = cold_starts(&boto3, &definition, &bytes::Bytes::from_static(b"{}")).await?;

        rows.push(Figures {
            name,
            init: Spread::of(inits),
            first_invocation: Spread::of(invocations),
            peak_rss_kib,
            python_init: Spread::of(python_inits),
        });
    }
    Ok(rows)
}
