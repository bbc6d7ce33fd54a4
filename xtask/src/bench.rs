//! `cargo xtask bench`: per function, the size of the arm64 zip that cargo-lambda builds for AWS,
//! and on this machine (host target, release) the cold start — process spawn to first response
//! through the Runtime API, median of 21 — and the peak RSS. Targets (not tests): ≤ 4 MB zip,
//! ≤ 15 ms median cold start, ≤ 16 MiB RSS.

use std::time::{Duration, Instant};

use localcloud::{LocalCloud, Options};

use crate::tools;

const RUNS: usize = 21;

/// A cheap but real first request per function: each parses its input and most make AWS calls.
fn payload(function: &str) -> serde_json::Value {
    use serde_json::json;
    match function {
        // Loads the trust root from S3 at init; the name policy then refuses the tag (no network).
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
        // Loads trust root and secret at init; an unsigned delivery is refused (401).
        "tag-push" => {
            json!({"version": "2.0", "headers": {"x-github-event": "push"}, "body": "{}", "isBase64Encoded": false,
            "requestContext": {"timeEpoch": 0, "http": {"method": "POST", "path": "/"}}})
        }
        // Lists the repository's tags over git and the executions.
        "tag-watch" => json!({}),
        other => unreachable!("no bench request for {other}"),
    }
}

pub fn run() -> Result<(), String> {
    let root = localcloud::workspace_root();
    let venv = tools::ensure_python_tools()?;
    tools::ensure_arm64_target()?;
    println!("bench: cargo lambda build --release --arm64 --output-format zip (5 functions)…");
    let path = format!("{}:{}", venv.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut args = vec!["lambda", "build", "--release", "--arm64", "--output-format", "zip"];
    for f in tools::functions() {
        args.extend(["-p", f]);
    }
    let status = std::process::Command::new(tools::cargo())
        .args(&args)
        .current_dir(&root)
        .env("PATH", &path)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("cargo lambda build failed".into());
    }
    println!("bench: cargo build --release (host target, for the cold-start runs)…");
    tools::build_functions(true)?;

    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("target"));
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let rows = runtime.block_on(async {
        let options = Options { binaries: target.join("release"), ..Options::default() };
        let cloud = LocalCloud::start(options).await;
        let mut rows = Vec::new();
        for name in tools::functions() {
            let deployed = cloud.stack.function(name);
            let function = cloud.router.functions[&deployed].clone();
            let definition = cloud.router.definition(&deployed).await;
            let body = bytes::Bytes::from(payload(name).to_string());
            let mut times = Vec::new();
            let mut peak = 0;
            for _ in 0..RUNS {
                function.stop().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let started = Instant::now();
                let _ = function.invoke(body.clone(), async || definition.clone()).await;
                times.push(started.elapsed());
                peak = peak.max(function.peak_rss_kib().await.unwrap_or(0));
            }
            function.stop().await;
            times.sort();
            let zip =
                std::fs::metadata(target.join("lambda").join(name).join("bootstrap.zip")).map(|m| m.len()).unwrap_or(0);
            rows.push((name, zip, times[RUNS / 2], times[0], times[RUNS - 1], peak));
        }
        rows
    });
    println!();
    println!("| function | arm64 zip | cold start median (min–max), host | peak RSS |");
    println!("|---|---:|---:|---:|");
    for (name, zip, median, min, max, peak) in rows {
        println!(
            "| {name} | {:.2} MB | {:.1} ms ({:.1}–{:.1}) | {:.1} MiB |",
            zip as f64 / 1e6,
            median.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            peak as f64 / 1024.0
        );
    }
    println!("targets: ≤ 4 MB zip, ≤ 15 ms median cold start, ≤ 16 MiB peak RSS; {RUNS} cold starts each, AWS calls to moto on loopback");
    println!("bench: verification, sigship against git verify-tag (gpg)…");
    tools::run(tools::cargo(), &["bench", "--quiet", "-p", "sigship-pipeline", "--bench", "verify_vs_gpg"], &root)
}
