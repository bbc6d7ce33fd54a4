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
    println!("xtask: building the function binaries");
    tools::build_functions(false)?;
    tools::run(tools::cargo(), &["test", "--workspace", "--", "--test-threads=2"], &root)
}
