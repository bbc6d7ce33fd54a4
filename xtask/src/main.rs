//! Developer commands. `cargo xtask local` runs the pipeline on the local cloud,
//! `cargo xtask test` is the README's test command, `cargo xtask bench` prints the function figures.

mod bench;
mod local;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("local") => local::run(&args[1..]),
        Some("test") => test(),
        Some("bench") => bench::run(),
        _ => Err("usage: cargo xtask <local [--tag vX.Y.Z] | test | bench>".to_string()),
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
    let venv = tools::ensure_python_tools()?;
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
    println!("xtask: building the function binaries");
    tools::build_functions(false)?;
    cargo_test(&root)
}

/// `cargo test --workspace`, streamed, closing with one line that totals every test binary
/// (cargo's own last line is a doc-test summary that says nothing about the rest).
fn cargo_test(root: &std::path::Path) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(tools::cargo())
        .args(["test", "--workspace", "--", "--test-threads=2"])
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
    println!("tests: {passed} passed, {failed} failed");
    if status.success() && failed == 0 {
        Ok(())
    } else {
        Err(format!("cargo test failed ({status})"))
    }
}
