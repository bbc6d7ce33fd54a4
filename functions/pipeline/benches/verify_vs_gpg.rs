//! Verification of one release tag, sigship against `git verify-tag` (gpg), on the same tag made
//! by a real `git tag -s` with a gpg key: parse + verify, no network. Run by `cargo xtask bench`
//! (`cargo bench -p pipeline --bench verify_vs_gpg`); needs git and gpg.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use pipeline::verify::signature::verify_tag_object;
use pipeline::verify::TrustRoot;

const SIGSHIP_RUNS: usize = 201;
const GPG_RUNS: usize = 21;

fn sh(dir: &Path, home: &Path, program: &str, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GNUPGHOME", home)
        .output()
        .map_err(|e| format!("{program}: {e} (install gnupg and git)"))?;
    if !out.status.success() {
        return Err(format!("{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(out.stdout)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (home, repo) = (scratch.path().join("gnupg"), scratch.path().join("repo"));
    std::fs::create_dir_all(&home).and_then(|_| std::fs::create_dir_all(&repo)).map_err(|e| e.to_string())?;
    // gpg refuses a home directory others can read.
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(|e| e.to_string())?;
    let uid = "Bench Maintainer <bench@example.org>";
    sh(&repo, &home, "gpg", &["--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"])?;
    let fingerprint = String::from_utf8_lossy(&sh(&repo, &home, "gpg", &["--with-colons", "--list-keys", uid])?)
        .lines()
        .find_map(|l| l.strip_prefix("fpr:").map(|r| r.trim_matches(':').to_string()))
        .ok_or("no fingerprint")?;
    let git = |args: &[&str]| sh(&repo, &home, "git", args);
    git(&["init", "-q"])?;
    git(&[
        "-c",
        "user.name=Bench",
        "-c",
        "user.email=bench@example.org",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "release",
    ])?;
    git(&[
        "-c",
        "user.name=Bench",
        "-c",
        "user.email=bench@example.org",
        "-c",
        &format!("user.signingkey={fingerprint}"),
        "tag",
        "-s",
        "v1.2.3",
        "-m",
        "btcd v1.2.3",
    ])?;
    let raw = git(&["cat-file", "tag", "v1.2.3"])?;
    let cert = sh(&repo, &home, "gpg", &["--export", "--armor", &fingerprint])?;
    let policy = format!("[[signers]]\nlabel = \"Bench\"\nfingerprint = \"{fingerprint}\"\n");
    let trust = TrustRoot::from_files(vec![("policy.toml".into(), policy.into_bytes()), ("bench.asc".into(), cert)])
        .map_err(|e| e.to_string())?;

    // Both must accept the tag before their times mean anything.
    verify_tag_object(&raw, "v1.2.3", &trust).map_err(|e| format!("sigship refused the gpg-made tag: {e}"))?;
    git(&["verify-tag", "v1.2.3"])?;

    let sigship: Vec<Duration> = (0..SIGSHIP_RUNS)
        .map(|_| {
            let started = Instant::now();
            verify_tag_object(&raw, "v1.2.3", &trust).expect("verifies");
            started.elapsed()
        })
        .collect();
    let gpg: Vec<Duration> = (0..GPG_RUNS)
        .map(|_| {
            let started = Instant::now();
            git(&["verify-tag", "v1.2.3"]).expect("git verify-tag");
            started.elapsed()
        })
        .collect();
    let (ours, theirs) = (median(sigship), median(gpg));
    println!();
    println!("| verify one tag (same tag, same key) | median | runs |");
    println!("|---|---:|---:|");
    println!(
        "| sigship parse + verify (in process, release profile) | {:.3} ms | {SIGSHIP_RUNS} |",
        ours.as_secs_f64() * 1e3
    );
    println!("| `git verify-tag` with gpg (process per check) | {:.3} ms | {GPG_RUNS} |", theirs.as_secs_f64() * 1e3);
    println!("ratio: gpg / sigship = {:.1}×", theirs.as_secs_f64() / ours.as_secs_f64());
    Ok(())
}
