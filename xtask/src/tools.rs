//! Installs what the commands need on a fresh machine: a project venv with the pinned Python
//! tools, npm's asl-validator, and (for bench) the arm64 Rust target.

use std::path::{Path, PathBuf};
use std::process::Command;

use localcloud::workspace_root;

pub const ASL_VALIDATOR: &str = "asl-validator@4.0.0";

pub fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str], dir: &Path) -> Result<(), String> {
    let program = program.as_ref();
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} {} failed ({status})", program.to_string_lossy(), args.join(" ")))
    }
}

pub fn venv() -> PathBuf {
    workspace_root().join(".venv")
}

/// The venv with the local cloud's pinned tools; reinstalled only when the pins change.
pub fn ensure_python_tools() -> Result<PathBuf, String> {
    ensure_venv(&venv(), ".ci/requirements.txt")
}

/// The template checkers (cfn-lint, its serverless rules, checkov), in a venv of their own.
pub fn ensure_lint_tools() -> Result<PathBuf, String> {
    ensure_venv(&workspace_root().join(".venv-lint"), ".ci/requirements-lint.txt")
}

fn ensure_venv(venv: &Path, requirements: &str) -> Result<PathBuf, String> {
    let root = workspace_root();
    let venv = venv.to_path_buf();
    let requirements = root.join(requirements);
    let wanted = std::fs::read_to_string(&requirements).map_err(|e| e.to_string())?;
    let stamp = venv.join(".sigship-requirements");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(venv);
    }
    eprintln!("xtask: installing pinned Python tools into {}", venv.display());
    run("python3", &["-m", "venv", venv.to_str().unwrap()], &root)?;
    run(
        venv.join("bin/pip"),
        &["install", "--quiet", "--disable-pip-version-check", "-r", requirements.to_str().unwrap()],
        &root,
    )?;
    std::fs::write(stamp, wanted).map_err(|e| e.to_string())?;
    Ok(venv)
}

/// asl-validator from npm, installed under `.local/npm`.
pub fn ensure_asl_validator() -> Result<PathBuf, String> {
    let prefix = workspace_root().join(".local/npm");
    let binary = prefix.join("node_modules/.bin/asl-validator");
    if !binary.exists() {
        eprintln!("xtask: installing {ASL_VALIDATOR} with npm");
        std::fs::create_dir_all(&prefix).map_err(|e| e.to_string())?;
        run(
            "npm",
            &["install", "--silent", "--no-audit", "--no-fund", "--prefix", prefix.to_str().unwrap(), ASL_VALIDATOR],
            &prefix,
        )?;
    }
    Ok(binary)
}

pub fn ensure_arm64_target() -> Result<(), String> {
    run("rustup", &["target", "add", "aarch64-unknown-linux-gnu"], &workspace_root())
}

/// The five function packages (and binaries), as the local cloud defines them.
pub fn functions() -> impl Iterator<Item = &'static str> {
    localcloud::provision::FUNCTIONS.into_iter().map(|(name, _)| name)
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the five function binaries for the host. Debug builds (tests, local) take the whole
/// workspace so dependency features match `cargo test --workspace` and `cargo xtask` itself — a
/// per-package selection would compile every AWS SDK crate a second time. Release builds (bench)
/// take the functions alone, as they ship.
pub fn build_functions(release: bool) -> Result<(), String> {
    let mut args = vec!["build", "--quiet"];
    if release {
        args.push("--release");
        args.extend(functions().flat_map(|f| ["-p", f]));
    } else {
        args.extend(["--workspace", "--bins"]);
    }
    run(cargo(), &args, &workspace_root())
}
