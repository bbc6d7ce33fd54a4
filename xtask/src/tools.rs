//! Installs what the commands need on a fresh machine: the few Debian packages that are missing
//! (one per need), a project venv with the pinned Python tools, npm's asl-validator, and (for
//! bench) the arm64 Rust target.

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

fn have(command: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {command}")]).output().is_ok_and(|o| o.status.success())
}

/// Installs the Debian package that provides `command` when the command is missing. Only what is
/// missing, one package per need: a new machine's Node.js comes with its own npm, and Debian's
/// `npm` package conflicts with it (it would fail the whole install), so npm is never asked for
/// while `node` is there.
pub fn ensure_command(command: &str, package: &str) -> Result<(), String> {
    if have(command) {
        return Ok(());
    }
    if command == "npm" && have("node") {
        return Err("node is installed without npm; install npm with that Node.js (not Debian's package)".into());
    }
    eprintln!("xtask: {command} is missing");
    apt_install(package)
}

fn apt_install(package: &str) -> Result<(), String> {
    static UPDATED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let root = workspace_root();
    UPDATED.get_or_init(|| run("apt-get", &["update", "-qq"], &root)).clone()?;
    eprintln!("xtask: installing the Debian package {package}");
    run("apt-get", &["install", "-y", "-qq", "--no-install-recommends", package], &root)
        .map_err(|e| format!("{e}; install the Debian package {package} and run again"))
}

/// Python that can make venvs, git (the local cloud's git server), and what the local Fargate
/// runs tasks with: `ip` (network namespaces) and `nsenter`; Go comes with this project's machines.
fn ensure_python_and_git() -> Result<(), String> {
    ensure_command("git", "git")?;
    ensure_command("ip", "iproute2")?;
    ensure_command("nsenter", "util-linux")?;
    if !have("go") {
        return Err("go is missing: the local cloud compiles btcd with the Go release source/Dockerfile pins".into());
    }
    ensure_command("python3", "python3")?;
    let can_make_venvs = Command::new("python3").args(["-c", "import venv, ensurepip"]).status();
    if !can_make_venvs.is_ok_and(|s| s.success()) {
        // Debian's python3 ships venv's pip bootstrap separately.
        apt_install("python3-venv")?;
    }
    Ok(())
}

pub fn venv() -> PathBuf {
    workspace_root().join(".venv")
}

/// The venv with the local cloud's pinned tools; reinstalled only when the pins change.
fn ensure_python_tools() -> Result<PathBuf, String> {
    ensure_python_and_git()?;
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

/// What the local cloud runs besides the workspace's binaries: the venv with the pinned Python
/// tools, and the registry behind its ECR. Returns the venv.
pub fn ensure_local_cloud() -> Result<PathBuf, String> {
    let venv = ensure_python_tools()?;
    ensure_registry()?;
    Ok(venv)
}

/// The CNCF distribution registry, built from the Go module proxy into `.local/bin` (rebuilt when
/// the pinned release changes).
fn ensure_registry() -> Result<(), String> {
    let root = workspace_root();
    let binary = localcloud::registry::Registry::binary(&root);
    let (module, version) = localcloud::registry::DISTRIBUTION.split_once("/cmd/registry@").expect("module@version");
    let installed = Command::new(&binary).arg("--version").output();
    if installed.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(&format!("{module} {version}"))) {
        return Ok(());
    }
    eprintln!("xtask: building {} with go install (Go module proxy)", localcloud::registry::DISTRIBUTION);
    let bin = binary.parent().expect("a directory");
    std::fs::create_dir_all(bin).map_err(|e| e.to_string())?;
    let status = Command::new("go")
        .args(["install", localcloud::registry::DISTRIBUTION])
        .env("GOBIN", bin)
        .env("GOTOOLCHAIN", "local")
        .env_remove("GOFLAGS")
        .current_dir(&root)
        .status()
        .map_err(|e| format!("go (the local cloud's registry is built with it): {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("go install {} failed ({status})", localcloud::registry::DISTRIBUTION)),
    }
}

/// asl-validator from npm, installed under `.local/npm`.
pub fn ensure_asl_validator() -> Result<PathBuf, String> {
    ensure_command("npm", "npm")?;
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

/// The function packages (and binaries) the template deploys.
pub fn functions() -> impl Iterator<Item = &'static str> {
    localcloud::FUNCTIONS.into_iter()
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the function binaries (and `sigship`) for the host. Debug builds (tests, local) take the whole
/// workspace so dependency features match `cargo test --workspace` and `cargo xtask` itself — a
/// per-package selection would compile every AWS SDK crate a second time. Release builds (bench)
/// take the functions alone, as they ship, and `sigship`, which stands the local cloud's stack up.
pub fn build_functions(release: bool) -> Result<(), String> {
    let mut args = vec!["build", "--quiet"];
    if release {
        args.push("--release");
        args.extend(functions().chain(["sigship"]).flat_map(|f| ["-p", f]));
    } else {
        args.extend(["--workspace", "--bins"]);
    }
    run(cargo(), &args, &workspace_root())
}
