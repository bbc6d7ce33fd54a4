//! The runtime host's failure semantics, the ones Step Functions sees: a function process that
//! dies is `Runtime.ExitError`, one that does not answer in time is `Sandbox.Timedout`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use localcloud::runtime::{Function, FunctionDefinition, Outcome};

fn script(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("bootstrap");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn definition(timeout: Duration) -> FunctionDefinition {
    FunctionDefinition {
        arn: "arn:aws:lambda:us-east-1:123456789012:function:probe".into(),
        environment: vec![],
        timeout,
        memory_mb: 128,
        credentials: None,
    }
}

async fn error_type(function: &std::sync::Arc<Function>, timeout: Duration) -> String {
    let outcome = function.invoke("{}".into(), async || definition(timeout)).await;
    let Outcome::Error(body) = outcome else { panic!("expected a function error") };
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    body["errorType"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_crashing_function_is_an_exit_error_and_restarts_cold() {
    let dir = tempfile::tempdir().unwrap();
    let binary = script(dir.path(), "exit 3");
    let function = Function::host("probe", binary, dir.path().join("log"), vec![], None).await;
    assert_eq!(error_type(&function, Duration::from_secs(5)).await, "Runtime.ExitError");
    assert_eq!(error_type(&function, Duration::from_secs(5)).await, "Runtime.ExitError");
    assert_eq!(function.cold_starts.load(std::sync::atomic::Ordering::Relaxed), 2);
}

#[tokio::test]
async fn a_function_that_never_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let binary = script(dir.path(), "sleep 30");
    let function = Function::host("probe", binary, dir.path().join("log"), vec![], None).await;
    let started = std::time::Instant::now();
    assert_eq!(error_type(&function, Duration::from_millis(500)).await, "Sandbox.Timedout");
    assert!(started.elapsed() < Duration::from_secs(5));
}
