//! Running the `sigship` binary as an operator does, from the integration tests.

/// Runs `sigship <args>` with `env`; echoes and returns (exit code, stdout, stderr).
pub async fn sigship(args: Vec<String>, env: Vec<(&'static str, String)>) -> (i32, String, String) {
    localcloud::stack::sigship(std::path::Path::new(env!("CARGO_BIN_EXE_sigship")), args, env).await
}
