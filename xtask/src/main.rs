//! Developer commands. `cargo xtask local` runs the pipeline on the local cloud,
//! `cargo xtask test` is the README's test command, `cargo xtask bench` prints the function figures,
//! `cargo xtask layers` checks the pipeline library's layers (part of `test`).

mod bench;
mod faults;
mod layers;
mod local;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("local") => local::run(&args[1..]),
        Some("test") => test(),
        Some("bench") if args.get(1).map(String::as_str) == Some("sync") => bench::sync::run(),
        Some("bench") if args.get(1).map(String::as_str) == Some("reproduce") => bench::reproduce::run(),
        Some("bench") => bench::run(),
        Some("faults") => faults::run(),
        Some("layers") => layers::run(&args[1..]),
        _ => Err(format!(
            "usage: cargo xtask <{} | test | bench | bench sync | bench reproduce | faults | layers [SRC]>",
            local::USAGE
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Static checks of the state machine, then every test of the workspace, the end-to-end ones
/// on the local cloud included.
fn test() -> Result<(), String> {
    let root = localcloud::workspace_root();
    let venv = tools::ensure_local_cloud()?;
    let asl_validator = tools::ensure_asl_validator()?;
    let asl = "statemachine/sigship.asl.json";
    println!("xtask: statelint {asl}");
    tools::run(venv.join("bin/statelint"), &[asl], &root)?;
    println!("xtask: asl-validator {asl}");
    tools::run(&asl_validator, &["--json-path", asl], &root)?;
    let lint = tools::ensure_lint_tools()?;
    let template = "infrastructure/sigship.yaml";
    println!("xtask: cfn-lint {template} (with the serverless rules)");
    tools::run(lint.join("bin/cfn-lint"), &[template, "-a", "cfn_lint_serverless.rules"], &root)?;
    println!("xtask: checkov {template}");
    tools::run(
        lint.join("bin/checkov"),
        &["-f", template, "--framework", "cloudformation", "--skip-download", "--compact", "--quiet"],
        &root,
    )?;
    let dockerfiles = ["infrastructure/Dockerfile", "source/Dockerfile"];
    println!("xtask: checkov {}", dockerfiles.join(" "));
    tools::run(
        lint.join("bin/checkov"),
        &[
            "-f",
            dockerfiles[0],
            "-f",
            dockerfiles[1],
            "--framework",
            "dockerfile",
            "--skip-download",
            "--compact",
            "--quiet",
        ],
        &root,
    )?;
    check_compose(&root)?;
    println!("xtask: the pipeline library's layers (cargo xtask layers)");
    layers::run(&[])?;
    // The habits, enforced: unformatted code or any clippy warning fails the test command.
    println!("xtask: cargo fmt --check");
    tools::run(tools::cargo(), &["fmt", "--all", "--check"], &root)?;
    println!("xtask: cargo clippy --workspace --all-targets -- -D warnings");
    tools::run(tools::cargo(), &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"], &root)?;
    println!("xtask: building the function binaries");
    tools::build_functions(false)?;
    let (passed, failed) = cargo_test(&root)?;
    // The fault matrix on the local cloud; each case counts as one test.
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (cases_passed, cases) = runtime.block_on(faults::matrix());
    let (passed, failed) = (passed + cases_passed as u64, failed + (cases - cases_passed) as u64);
    println!("tests: {passed} passed, {failed} failed");
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} tests failed"))
    }
}

/// `docker-compose config` (no Docker engine needed) on the compose file alone and with the
/// example override: both parse, variables pass through from the environment, nothing in the
/// files carries a credential, and the design's three commands resolve — `up` starts the one
/// `sigship` container; `run ci …` runs the same image, on the override's stack when given.
fn check_compose(root: &std::path::Path) -> Result<(), String> {
    tools::ensure_command("docker-compose", "docker-compose")?;
    type Expected<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str]);
    // (files, in `sigship`, in `ci`)
    let cases: [Expected<'_>; 2] = [
        (
            &["docker-compose.yml"],
            &["AWS_REGION: eu-west-1", "AWS_SECRET_ACCESS_KEY: null", "- up", "image: sigship-bootstrap"],
            &["AWS_REGION: eu-west-1", "image: sigship-bootstrap", "profiles:\n    - ci\n"],
        ),
        (
            &["docker-compose.yml", "infrastructure/override.example.yml"],
            &["SIGSHIP_STACK_NAME: btcd-testnet", "Network=testnet3", "AWS_SECRET_ACCESS_KEY: null"],
            &["SIGSHIP_STACK_NAME: btcd-testnet", "AWS_SECRET_ACCESS_KEY: null", "image: sigship-bootstrap"],
        ),
    ];
    for (files, in_sigship, in_ci) in cases {
        println!(
            "xtask: docker-compose {} config (up, and run ci)",
            files.iter().map(|f| format!("-f {f}")).collect::<Vec<_>>().join(" ")
        );
        let mut args: Vec<&str> = files.iter().flat_map(|f| ["-f", *f]).collect();
        args.push("config");
        let out = std::process::Command::new("docker-compose")
            .args(&args)
            .current_dir(root)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
            .env("AWS_REGION", "eu-west-1")
            .output()
            .map_err(|e| format!("cannot run docker-compose: {e}"))?;
        let config = String::from_utf8_lossy(&out.stdout).to_string();
        if !out.status.success() {
            return Err(format!("docker-compose config failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        // Each service's block of the resolved file.
        let block = |name: &str| {
            let start = config.find(&format!("\n  {name}:\n"))? + name.len() + 5;
            let rest = &config[start..];
            let end: usize = rest.lines().take_while(|l| l.starts_with("    ")).map(|l| l.len() + 1).sum();
            Some(rest[..end.min(rest.len())].to_string())
        };
        for (service, expected) in [("sigship", in_sigship), ("ci", in_ci)] {
            let found = block(service).ok_or(format!("docker-compose config: no service {service} in\n{config}"))?;
            for line in expected {
                if !found.contains(line) {
                    return Err(format!("docker-compose config: expected {line:?} in {service}:\n{found}"));
                }
            }
        }
        if block("sigship").is_some_and(|b| b.contains("profiles:")) {
            return Err("the sigship service has a profile: `docker-compose up` would start nothing".into());
        }
    }
    Ok(())
}

/// `cargo test --workspace`, streamed; returns the tests passed and failed over every test binary
/// (cargo's own last line is a doc-test summary that says nothing about the rest).
fn cargo_test(root: &std::path::Path) -> Result<(u64, u64), String> {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(tools::cargo())
        .args(["test", "--workspace", "--no-fail-fast", "--", "--test-threads=2"])
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let (mut passed, mut failed) = (0u64, 0u64);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(summary) = line.strip_prefix("test result: ") {
            let count = |word: &str| {
                summary.split(';').find_map(|part| {
                    part.trim()
                        .trim_start_matches("ok. ")
                        .trim_start_matches("FAILED. ")
                        .strip_suffix(word)?
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
            };
            passed += count("passed").unwrap_or(0);
            failed += count("failed").unwrap_or(0);
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() && failed == 0 {
        return Err(format!("cargo test failed ({status}) with {passed} passed"));
    }
    Ok((passed, failed))
}
