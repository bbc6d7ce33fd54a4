//! Running the `sigship` binary as an operator does, from the integration tests.

use std::process::Command;

/// Runs `sigship <args>` with `env` on the blocking pool; echoes and returns (exit code, stdout, stderr).
pub async fn sigship(args: Vec<String>, env: Vec<(&'static str, String)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_sigship")).args(&args).envs(env).output().unwrap();
        let (stdout, stderr) = (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
        print!("{stdout}");
        eprint!("{stderr}");
        (out.status.code().unwrap_or(-1), stdout, stderr)
    })
    .await
    .unwrap()
}
