//! Running the `sigship` binary as an operator does, from the integration tests.

/// Runs `sigship <args>` with `env`; echoes and returns (exit code, stdout, stderr).
#[allow(dead_code)]
pub async fn sigship(args: Vec<String>, env: Vec<(&'static str, String)>) -> (i32, String, String) {
    localcloud::stack::sigship(std::path::Path::new(env!("CARGO_BIN_EXE_sigship")), args, env).await
}

/// A CloudFormation template as JSON, decoded by cfn-lint's own parser (short-form tags read as
/// CloudFormation reads them).
#[allow(dead_code)]
pub fn decoded_template(path: &std::path::Path) -> serde_json::Value {
    let python = localcloud::workspace_root().join(".venv-lint/bin/python");
    assert!(python.exists(), "{} is missing: run `cargo xtask test`, which installs cfn-lint", python.display());
    let decode = "import json, sys\nfrom cfnlint.decode import decode\ntemplate, errors = decode(sys.argv[1])\n\
                  assert not errors, errors\nprint(json.dumps(template, default=str))";
    let out = std::process::Command::new(python).args(["-c", decode, path.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
